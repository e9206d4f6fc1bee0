import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkModels

/// Depth and batching flags shared by the commands that run a reasoner.
struct RunOptions: ParsableArguments {
    @Option(help: "Supervision steps (default: the config's halt_max_steps).")
    var steps: Int?

    @Option(name: .customLong("h-cycles"), help: "H cycles per step (default: the config's).")
    var hCycles: Int?

    @Option(name: .customLong("l-cycles"), help: "L cycles per H cycle (default: the config's).")
    var lCycles: Int?

    @Option(help: "Puzzles per forward batch.")
    var batchSize = 256

    @Option(help: "Evaluate only the first N puzzles.")
    var limit: Int?

    /// The puzzle task on `data` at these depth and batching flags.
    func task(_ data: String) throws -> PuzzleTask {
        try PuzzleTask(PuzzleDataset(path: data), limit: limit, batchSize: batchSize, steps: steps, hCycles: hCycles, lCycles: lCycles)
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a recursive reasoner (TRM/HRM) on a puzzle set: cell and puzzle-exact accuracy with 95% intervals.")

    @Argument(help: "Model directory (config.json + model.safetensors, or a compressed directory).")
    var model: String

    @Option(help: "Puzzle set (.safetensors from `shrink data`).")
    var data: String

    @OptionGroup var depth: RunOptions

    @Flag(help: "Include per-puzzle results (JSON).")
    var perPuzzle = false

    @Option(help: "Write the last step's logits (F32 [N, L, V]) and predictions (I32 [N, L]) to this .safetensors file.")
    var predictions: String?

    @OptionGroup var out: OutputOptions

    func run() throws {
        let m = try RecursiveReasoner.load(directory: model)
        let task = try depth.task(data)
        let r = try Evaluation.evaluate(m, on: task, perUnit: perPuzzle, progress: out.progress)
        if let predictions { try task.writePredictions(of: m, to: predictions) }
        try out.emit(r) { Format.evaluation(r) }
    }
}

extension Format {
    static func interval(_ i: Statistics.Interval) -> String {
        "\(fixed(100 * i.estimate, 2))%  [\(fixed(100 * i.lower, 2)), \(fixed(100 * i.upper, 2))]"
    }

    static func evaluation(_ r: Evaluation.Report<PuzzleTask>) -> String {
        var s = "\(r.model) on \(r.data): \(r.puzzles) \(r.task) puzzles, \(count(r.parameters)) parameters, "
        s += "\(r.depth.steps) step\(r.depth.steps == 1 ? "" : "s") × \(r.depth.hCycles) H × \(r.depth.lCycles) L cycles\n"
        s += "  puzzle-exact   \(interval(r.accuracy.exact))  (Wilson 95%)\n"
        s += "  cell           \(interval(r.accuracy.cell))  (bootstrap over puzzles, 95%)\n"
        s += "  blank cells    \(interval(r.accuracy.blankCell))\n"
        s += "  by step (exact): " + r.perStep.map { "\($0.step): \(fixed(100 * $0.accuracy.exact.estimate, 1))%" }.joined(separator: "  ") + "\n"
        s += "  \(fixed(r.puzzlesPerSecond, 1)) puzzles/s on \(r.threads) threads"
        return s
    }
}
