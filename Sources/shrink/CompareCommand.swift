import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkModels
import ShrinkReport
import ShrinkFormats

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an original and a compressed model on the same units: a reasoner on puzzles (--data: accuracies, paired tests, carry-trajectory fidelity), a language model on a text (--text: llama-perplexity's KL-divergence statistics, paired test, hidden-state cosine by layer), a sentence encoder on sentences (--sentences: embedding cosine, retrieval agreement), or two VAEs on IDX images (--data: paired −ELBO/PSNR/SSIM, latent cosine, PSNR between reconstructions).")

    @Argument(help: "The original model: its directory or weights file.")
    var original: String

    @Argument(help: "The compressed model: a directory from `shrink quantize` on the original, or a .gguf file.")
    var compressed: String

    @Option(help: "Puzzle set (held-out test split for validated results), for reasoners; IDX images (the t10k file), for VAEs.")
    var data: String?

    @OptionGroup var textFlags: TextFlags

    @OptionGroup var embeddings: EmbeddingCompareOptions

    @OptionGroup var depth: RunOptions

    @Option(help: "Equivalence margin: puzzle-exact accuracy as a fraction (default 0.02), or |ln PPL ratio| in nats for --text (default 0.01).")
    var margin: Double?

    @Option(help: "Also write the comparison as a self-contained HTML page (the `shrink report` views) to this file.")
    var html: String?

    @OptionGroup var out: OutputOptions

    /// The single-comparison page, named after the compressed model.
    func writeHTML(_ content: ReportContent) throws {
        guard let html else { return }
        try AtomicFile.write(HTMLReport.render([ReportInput(name: FileSystem.lastComponent(compressed), content: content)]), to: html)
    }

    func run() throws {
        if let text = textFlags.text {
            if data != nil || embeddings.sentences != nil { throw ValidationError("pass one of --data (puzzles), --text (language models) or --sentences (sentence encoders)") }
            var o = LanguageComparison.Options()
            if let margin { o.equivalenceMargin = margin }
            let r = try LanguageComparison.compare(originalAt: original, compressedAt: compressed, text: textFlags.options(text),
                                                   options: o, progress: out.progress)
            try writeHTML(.languageComparison(r))
            return try out.emit(r) { Format.languageComparison(r) }
        }
        if embeddings.sentences != nil { return try runEmbeddings() }
        guard let data else { throw ValidationError("pass --data PUZZLES (a reasoner), --text FILE (a language model) or --sentences TEXT (a sentence encoder)") }
        if ImageCommands.isVAE(original) {
            let r = try ImageCommands.compare(original, compressed, data: data, limit: depth.limit, batchSize: depth.batchSize, margin: margin, out: out)
            return try writeHTML(.imageComparison(r))
        }
        var o = Comparison.Options()
        if let margin { o.equivalenceMargin = margin }
        let r = try Comparison.compare(original: RecursiveReasoner.load(directory: original),
                                       compressed: RecursiveReasoner.load(directory: compressed),
                                       on: depth.task(data), options: o, progress: out.progress)
        try writeHTML(.comparison(r))
        try out.emit(r) { Format.comparison(r) }
    }
}

extension Format {
    static func languageComparison(_ r: LanguageComparison.Report) -> String {
        let pm = { (e: LanguageComparison.Estimate, digits: Int) in "\(fixed(e.value, digits)) ± \(fixed(e.error, digits))" }
        let pct = { (e: LanguageComparison.Estimate) in "\(fixed(100 * e.value, 3)) ± \(fixed(100 * e.error, 3)) %" }
        var s = "\(r.chunks) chunks of \(r.context) tokens of \(r.text) (\(r.split ?? "unknown split")), \(r.tokens) tokens scored\n"
        s += table(["model", "weights", "PPL"], [
            ["original (base)", bytes(r.original.weightBytes), pm(r.original.perplexity, 4)],
            ["compressed (Q)", bytes(r.compressed.weightBytes), pm(r.compressed.perplexity, 4)],
        ]) + "\n"
        s += "Cor(ln PPL(Q), ln PPL(base)): \(fixed(100 * r.nllCorrelation, 2))%\n"
        s += "Mean ln(PPL(Q)/PPL(base)): \(pm(r.lnPerplexityRatio, 6))   PPL(Q)/PPL(base): \(pm(r.perplexityRatio, 6))   "
        s += "PPL(Q)−PPL(base): \(pm(r.perplexityDifference, 6))\n"
        let k = r.kldDistribution
        s += "KLD: mean \(pm(r.kld, 6))  max \(fixed(k.max, 6))  99.9% \(fixed(k.p99_9, 6))  99% \(fixed(k.p99, 6))  95% \(fixed(k.p95, 6))  "
        s += "90% \(fixed(k.p90, 6))  median \(fixed(k.median, 6))  10% \(fixed(k.p10, 6))  5% \(fixed(k.p5, 6))  1% \(fixed(k.p1, 6))\n"
        let d = r.deltaPDistribution
        s += "Δp: mean \(pct(r.deltaP))  RMS \(pct(r.deltaPRMS))  max \(fixed(100 * d.max, 3))%  99% \(fixed(100 * d.p99, 3))%  "
        s += "median \(fixed(100 * d.median, 3))%  1% \(fixed(100 * d.p1, 3))%  min \(fixed(100 * d.min, 3))%\n"
        s += "same top p: \(pct(r.sameTop))\n"
        let c = r.chunkNLLDifference
        s += "Δ NLL per chunk (B − A): \(fixed(c.estimate, 5)) [\(fixed(c.lower, 5)), \(fixed(c.upper, 5))] nats, paired bootstrap p "
        s += (r.chunkNLLDifferenceP == 0 ? "< 0.0005" : "= " + String(format: "%.3g", r.chunkNLLDifferenceP)) + "\n"
        s += "hidden-state cosine by layer: " + r.hiddenStateCosine.map { "\($0.state): \(fixed($0.cosine.estimate, 4))" }.joined(separator: "  ") + "\n"
        if let worst = r.layers.min(by: { $0.error.sqnrDB < $1.error.sqnrDB }) {
            s += "weights: lowest SQNR \(fixed(worst.error.sqnrDB, 1)) dB in \(worst.name)\n"
        }
        if let bad = r.nonFinite { s += "warning: " + bad.description(unitName: "chunks") + "; the means over them are not numbers\n" }
        s += "\(r.label.evidence.rawValue): \(r.label.claim) (\(r.label.reason))"
        return s
    }

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
        if let bad = r.nonFinite { s += "warning: " + bad.description(unitName: "puzzles") + "; they count as wrong, and the fidelity over them is not a number\n" }
        s += "\(r.label.evidence.rawValue): \(r.label.claim) (\(r.label.reason))"
        return s
    }
}
