import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Evaluate a grid of bits × method × granularity × supervision steps against the FP32 model.")

    @Argument(help: "Model directory.")
    var model: String

    @Option(help: "Held-out puzzle set.")
    var data: String

    @Option(help: "Bit widths, comma-separated.")
    var bits = "8,6,4,3,2"

    @Option(help: "Methods, comma-separated: rtn, mse, percentile, awq, gptq (the last two need --calib).")
    var methods = "rtn,mse"

    @Option(help: "Calibration puzzles (training split) for awq and gptq.")
    var calib: String?

    @Option(help: "Calibration puzzles to run.")
    var calibCount = 256

    @Option(help: "Granularities, comma-separated: tensor, channel, g32, g64, g128 …")
    var granularities = "tensor,channel,g32,g64,g128"

    @Option(help: "Puzzles per configuration.")
    var limit: Int?

    @Option(help: "Puzzles whose carries are compared for fidelity.")
    var fidelityPuzzles = 500

    @Option(help: "Outer recursion cycles (H_cycles) to evaluate besides the trained count, comma-separated, e.g. 1.")
    var hCycles: String?

    @Option(help: "Bit widths also evaluated at --h-cycles (FP32 always is), comma-separated.")
    var cycleBits = "8"

    @Option(name: [.short, .long], help: "Write the table as Markdown to this file (and JSON next to it).")
    var output: String?

    @OptionGroup var out: OutputOptions

    func run() throws {
        var o = Sweep.Options()
        o.bits = try bitWidths(bits)
        o.methods = try commaList(methods, flag: "--methods") { Method(rawValue: $0) }
        if o.methods.contains(where: \.needsCalibration) && calib == nil {
            throw ValidationError("--methods awq and gptq need --calib PUZZLES (a training split)")
        }
        o.granularities = try commaList(granularities, flag: "--granularities") { g -> Granularity? in
            if g == "tensor" { return .tensor }
            if g == "channel" { return .channel }
            if g.hasPrefix("g"), let n = Int(g.dropFirst()), n > 0 { return .group(n) }
            return nil
        }
        o.fidelityPuzzles = fidelityPuzzles
        let extraHCycles = try hCycles.map { try commaList($0, flag: "--h-cycles") { Int($0).flatMap { $0 >= 1 ? $0 : nil } } } ?? []
        o.cycleBits = try bitWidths(cycleBits, flag: "--cycle-bits")
        let m = try RecursiveReasoner.load(directory: model)
        var stats: [String: LayerStatistics]?
        if let calib {
            stats = try PuzzleTask.calibrationStatistics(m, calibration: calib, count: calibCount).0
        }
        let report = try Sweep.run(model: m, data: PuzzleDataset(path: data), limit: limit, extraHCycles: extraHCycles, options: o,
                                   calibration: stats, progress: out.progress)
        let markdown = Format.sweep(report)
        if let output {
            try AtomicFile.write(markdown + "\n", to: output)
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            e.keyEncodingStrategy = .convertToSnakeCase
            let jsonPath = output.hasSuffix(".md") ? String(output.dropLast(3)) + ".json" : output + ".json"
            try AtomicFile.write(String(decoding: try e.encode(report), as: UTF8.self) + "\n", to: jsonPath)
        }
        try out.emit(report) { markdown }
    }
}

extension Format {
    static func sweep(_ r: Sweep.Report<RecursionDepth>) -> String {
        var s = "### \(r.model) (\(r.architecture)) on \(r.puzzles) puzzles of \(r.data)\n\n"
        s += "| recipe | steps | H_cycles | weight bytes | MFLOP/puzzle | exact (95%) | cell (95%) | fidelity | Δexact vs FP32 | label |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|\n"
        for row in r.rows {
            s += "| \(row.recipe) | \(row.steps) | \(row.hCycles) | \(row.weightBytes) | \(fixed(Double(row.flopsPerPuzzle) / 1e6, 1)) | \(interval(row.exact)) | "
            s += "\(interval(row.cell)) | \(fixed(row.fidelity, 4)) | \(fixed(100 * row.exactVersusFP32.estimate, 1)) "
            s += "[\(fixed(100 * row.exactVersusFP32.lower, 1)), \(fixed(100 * row.exactVersusFP32.upper, 1))] | \(row.label.evidence.rawValue) |\n"
        }
        s += "\nFidelity and Δexact are against FP32 at the same steps and H_cycles; H_cycles \(r.trainedHCycles) is the trained count.\n"
        if let rho = r.fidelityExactSpearman {
            s += "\nSpearman ρ(fidelity, exact) over quantized recipes at full depth: \(fixed(rho.estimate, 3)) [\(fixed(rho.lower, 3)), \(fixed(rho.upper, 3))]\n"
        }
        s += "\nwall time \(fixed(r.seconds, 1)) s"
        return s
    }
}
