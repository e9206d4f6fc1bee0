import ArgumentParser
import Foundation
import ShrinkExport

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model in a format a runtime runs (ONNX graph, GGUF tensors, self-contained C).",
        subcommands: [ExportONNX.self, ExportGGUFCommand.self, ExportCCommand.self])
}

extension ONNXExport.Style: ExpressibleByArgument {}

struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "Write a TRM/HRM reasoner (FP32 or compressed) as one ONNX graph, recursion unrolled.")

    @Argument(help: "Model directory (FP32, or compressed by `shrink quantize`).")
    var model: String

    @Option(name: [.short, .long], help: "Output .onnx file.")
    var output: String

    @Option(help: "Quantized weights as int8/int4 + DequantizeLinear (qdq) or com.microsoft MatMulNBits (matmulnbits, 4/8-bit).")
    var style: ONNXExport.Style = .qdq

    @Option(help: "Supervision steps to unroll (default: the config's halt_max_steps).")
    var steps: Int?

    @OptionGroup var out: OutputOptions

    func run() throws {
        let s = try ONNXExport.export(directory: model, to: output, options: ONNXExport.Options(style: style, steps: steps))
        try out.emit(s) {
            let ops = s.operators.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return "wrote \(s.output): \(Format.bytes(s.bytes)), \(s.steps) steps unrolled, \(s.nodes) nodes, "
                + "\(s.quantizedWeights) quantized + \(s.floatWeights) float weights (\(s.style.rawValue))"
                + (s.lowRankWeights > 0 ? ", \(s.lowRankWeights) with low-rank factors" : "") + "\n  ops: \(ops)"
        }
    }
}
