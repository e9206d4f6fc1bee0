import ArgumentParser
import ShrinkExport
import ShrinkFormats

struct ExportGGUFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gguf",
        abstract: "Write the tensors as GGUF v3 (ggml block formats) with the config as metadata.")

    @Argument(help: "Model directory (FP32, or a compressed directory: its weights are dequantized first).")
    var model: String

    @Option(name: [.short, .long], help: "Output .gguf file.")
    var output: String

    @Option(help: "Type of the linear weights: q8_0, q4_0, q4_1, q4_k, q6_k, f16 or f32.")
    var type = "q8_0"

    @Option(help: "Also write Shrink's dequantized tensors (and their FP32 sources as '<name>:source') to this .safetensors file, for tools/check_gguf.py.")
    var verifyDump: String?

    @OptionGroup var out: OutputOptions

    func run() throws {
        guard let t = GGMLType(exportFlag: type) else {
            throw ValidationError("--type '\(type)' is unknown; use " + GGMLType.exportable.map(\.name).joined(separator: ", "))
        }
        let s = try GGUFExport.run(model: model, output: output, type: t, verifyDump: verifyDump, progress: out.progress)
        try out.emit(s) {
            var lines = ["wrote \(s.output): GGUF v3, \(s.architecture), \(s.tensors.count) tensors, \(s.metadataKeys) metadata keys, \(Format.bytes(s.bytes))"]
            lines.append(Format.table(["tensor", "shape", "type", "bytes"],
                                      s.tensors.map { [$0.name, $0.shape.map(String.init).joined(separator: "×"), $0.type, String($0.bytes)] },
                                      rightAligned: [3]))
            for e in s.tensors { if let n = e.note { lines.append("note: \(e.name): \(n)") } }
            return lines.joined(separator: "\n")
        }
    }
}
