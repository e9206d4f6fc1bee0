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

/// The language-modelling flags: a text, cut as llama-perplexity cuts it.
struct TextFlags: ParsableArguments {
    @Option(help: "A UTF-8 text: perplexity of a language model, as llama-perplexity computes it.")
    var text: String?

    @Option(help: "Context length of a chunk (tokens).")
    var ctx = 512

    @Option(help: "Evaluate only the first N chunks.")
    var chunks: Int?

    @Option(help: "The text's split: 'test' when it was never used to calibrate or train (validated results need it).")
    var split: String?

    func options(_ text: String) -> TextOptions { TextOptions(path: text, context: ctx, chunks: chunks, split: split) }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on its task: a reasoner on puzzles (exact and cell accuracy with 95% intervals), a language model on a text (perplexity), a VAE on IDX images (--data: −ELBO, MSE, PSNR, SSIM).")

    @Argument(help: "Model: a directory (config.json + weights), a compressed directory, or a .gguf file.")
    var model: String

    @Option(help: "Puzzle set (.safetensors from `shrink data`), for a reasoner; IDX images (data/fashion-mnist/t10k-images-idx3-ubyte), for a VAE.")
    var data: String?

    @OptionGroup var textFlags: TextFlags

    @OptionGroup var depth: RunOptions

    @Flag(help: "Include per-puzzle results (JSON).")
    var perPuzzle = false

    @Option(help: "Write the last step's logits (F32 [N, L, V]) and predictions (I32 [N, L]) to this .safetensors file.")
    var predictions: String?

    @Option(help: "For a VAE: fit a linear probe (logistic regression on μ) on this IDX train-images file and report its accuracy on --data.")
    var probeTrain: String?

    @Option(help: "Train images the probe is fitted on (the train part of the fixed split).")
    var probeCount = 55000

    @OptionGroup var out: OutputOptions

    func run() throws {
        if let text = textFlags.text {
            if data != nil { throw ValidationError("pass either --data (puzzles) or --text (a language model), not both") }
            let r = try LanguageEvaluation.evaluate(modelAt: model, text: textFlags.options(text), progress: out.progress)
            return try out.emit(r) { Format.language(r) }
        }
        guard let data else { throw ValidationError("pass --data PUZZLES (a reasoner) or --text FILE (a language model)") }
        if ImageCommands.isVAE(model) {
            let probe = probeTrain.map { ImageEvaluation.ProbeOptions(trainImages: $0, count: probeCount) }
            return try ImageCommands.evaluate(model, data: data, limit: depth.limit, batchSize: depth.batchSize, perImage: perPuzzle,
                                              probe: probe, out: out)
        }
        let m = try RecursiveReasoner.load(directory: model)
        let task = try depth.task(data)
        let r = try Evaluation.evaluate(m, on: task, perUnit: perPuzzle, progress: out.progress)
        if let predictions { try task.writePredictions(of: m, to: predictions) }
        try out.emit(r) { Format.evaluation(r) }
    }
}

extension Format {
    static func language(_ r: LanguageEvaluation.Report) -> String {
        var s = "\(r.model) (\(r.family), \(count(r.parameters)) parameters) on \(r.text): \(r.textTokens) tokens, "
        s += "\(r.chunks) chunks of \(r.context)\(r.bos.map { ", BOS \($0) first" } ?? ""), \(r.perplexity.tokens) tokens scored\n"
        s += "  perplexity     \(fixed(r.perplexity.value, 4)) ± \(fixed(r.perplexity.error, 5))  (llama-perplexity's estimate)\n"
        s += "  top-1          \(interval(r.top1))  (next token, bootstrap over chunks)\n"
        s += "  \(fixed(r.tokensPerSecond, 1)) tokens/s on \(r.threads) threads"
        if let bad = r.nonFinite { s += "\nwarning: " + bad.description(unitName: "chunks") + "; the perplexity over them is not a number" }
        return s
    }

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
        if let bad = r.accuracy.nonFinite { s += "\nwarning: " + bad.description(unitName: "puzzles") + "; they count as wrong" }
        return s
    }
}
