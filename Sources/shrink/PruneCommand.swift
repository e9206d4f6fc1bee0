import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant

/// `shrink prune MODEL --structured mlp|heads`: removes a fraction of every MLP's channels or of every attention
/// layer's heads and writes the smaller model (shapes shrunk, widths in config.json), which every other command
/// reads as it reads the original.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove MLP channels or attention heads (structured pruning), shrinking the shapes and the config to match.")

    @Argument(help: "Model directory.")
    var model: String

    @Option(help: "What to remove: mlp (the SwiGLU channels of every block, and TRM-MLP's token-MLP rows) or heads (every attention layer's heads).")
    var structured = "mlp"

    @Option(help: "Channel score: magnitude (L1 norm of the consumer's columns: down_proj, or the head's o_proj columns) or wanda (each column times its input norm; needs --calib).")
    var method = "magnitude"

    @Option(help: "Fraction of each layer's channels or heads removed, in (0, 1), e.g. 0.25.")
    var sparsity: Double

    @Option(help: "With --method wanda: calibration data (training puzzles) for the channels' input norms.")
    var calib: String?

    @Option(help: "Calibration units to run.")
    var calibCount = 256

    @Option(name: [.short, .long], help: "Output directory.")
    var output: String

    @Flag(help: "Replace an existing output directory.")
    var overwrite = false

    @OptionGroup var out: OutputOptions

    func run() throws {
        guard let target = StructuredPruning.Target(rawValue: structured) else {
            throw ValidationError("--structured '\(structured)' is unknown; use " + StructuredPruning.Target.allCases.map(\.rawValue).joined(separator: " or "))
        }
        guard let m = StructuredPruning.Method(rawValue: method) else {
            throw ValidationError("--method '\(method)' is unknown; use " + StructuredPruning.Method.allCases.map(\.rawValue).joined(separator: " or "))
        }
        guard sparsity > 0 && sparsity < 1 else { throw ValidationError("--sparsity \(sparsity) must be a fraction in (0, 1)") }
        if m.needsCalibration && calib == nil { throw ValidationError("--method wanda needs --calib DATA (training puzzles)") }
        let loaded = try ModelRegistry.load(model)
        guard let family = loaded.familyDescription as? any StructurallyPrunable else {
            throw ValidationError("\(model) is a \(type(of: loaded.familyDescription).familyName) model, whose channels shrink cannot remove yet")
        }
        var statistics: [String: LayerStatistics] = [:]
        if let calib, m.needsCalibration, let compressible = loaded as? any CompressibleModel {
            statistics = try TaskRegistry.calibrationStatistics(compressible, calibration: calib, count: calibCount, progress: out.progress).0
        }
        let report = try StructuredPruning.run(model: model, family: family, target: target, fraction: sparsity, method: m, statistics: statistics,
                                               outputDirectory: output, overwrite: overwrite)
        try out.emit(report) {
            "wrote \(output)/: \(report.groups.count) \(target == .heads ? "attention layers' heads" : "channel groups") pruned by \(m.rawValue), "
                + "widths \(Set(report.groups.map { "\($0.widthBefore) → \($0.widthAfter)" }).sorted().joined(separator: ", ")); "
                + "\(report.parametersBefore) → \(report.parametersAfter) parameters, \(report.bytesBefore) → \(report.bytesAfter) bytes"
        }
    }
}
