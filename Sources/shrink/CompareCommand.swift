import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkModels

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an original and a compressed model on the same units: a reasoner on puzzles (--data), or a sentence encoder on sentences (--sentences).")

    @Argument(help: "The original model: its directory or weights file.")
    var original: String

    @Argument(help: "The compressed model directory (from `shrink quantize` on the original).")
    var compressed: String

    @Option(help: "Puzzle set (held-out test split for validated results).")
    var data: String?

    @OptionGroup var embeddings: EmbeddingCompareOptions

    @OptionGroup var depth: RunOptions

    @Option(help: "Equivalence margin for puzzle-exact accuracy, as a fraction.")
    var margin = 0.02

    @OptionGroup var out: OutputOptions

    func run() throws {
        if embeddings.sentences != nil { return try runEmbeddings() }
        guard let data else { throw ValidationError("pass --data PUZZLES (a reasoner) or --sentences TEXT (a sentence encoder)") }
        var o = Comparison.Options()
        o.equivalenceMargin = margin
        let r = try Comparison.compare(original: RecursiveReasoner.load(directory: original),
                                       compressed: RecursiveReasoner.load(directory: compressed),
                                       on: depth.task(data), options: o, progress: out.progress)
        try out.emit(r) { Format.comparison(r) }
    }
}

extension Format {
    static func comparison(_ r: Comparison.Report<PuzzleTask>) -> String {
        let pts = { (x: Double) in String(format: "%+.2f", 100 * x) }
        var s = "\(r.puzzles) puzzles of \(r.data) (\(r.split ?? "unknown split")), \(r.depth.steps) step\(r.depth.steps == 1 ? "" : "s") × \(r.depth.hCycles) H × \(r.depth.lCycles) L\n"
        s += table(["model", "weights", "puzzle-exact (95%)", "cell (95%)"], [
            ["original", bytes(r.original.weightBytes), interval(r.original.accuracy.exact), interval(r.original.accuracy.cell)],
            ["compressed", bytes(r.compressed.weightBytes), interval(r.compressed.accuracy.exact), interval(r.compressed.accuracy.cell)],
        ]) + "\n"
        s += "Δ exact \(pts(r.exactDifference.estimate)) points [\(pts(r.exactDifference.lower)), \(pts(r.exactDifference.upper))], "
        s += "exact McNemar p = \(String(format: "%.3g", r.exactMcNemarP)) (\(r.discordant[0]) lost, \(r.discordant[1]) gained)\n"
        s += "Δ cell  \(pts(r.cellDifference.estimate)) points [\(pts(r.cellDifference.lower)), \(pts(r.cellDifference.upper))], paired bootstrap p \(r.cellP == 0 ? "< 0.0005" : "= " + String(format: "%.3g", r.cellP)) (2,000 resamples)\n"
        s += "carry-trajectory fidelity (cosine to the original's carry, by step): "
        s += r.fidelity.map { "\($0.step): \(fixed($0.carry.estimate, 4))" }.joined(separator: "  ") + "\n"
        if let worst = r.layers.min(by: { $0.error.sqnrDB < $1.error.sqnrDB }) {
            s += "weights: lowest SQNR \(fixed(worst.error.sqnrDB, 1)) dB in \(worst.name)\n"
        }
        s += "\(r.label.evidence.rawValue): \(r.label.claim) (\(r.label.reason))"
        return s
    }
}
