import Foundation
import ShrinkEval
import ShrinkModels
import ShrinkTensor

/// Views of one comparison of an original and a compressed model: a reasoner on puzzles, a language model on a
/// text, a sentence encoder on sentences; and of one evaluation.
enum CompareViews {
    static func label(_ l: Comparison.Label) -> String { "\(l.evidence.rawValue): \(l.claim) (\(l.reason))" }

    // MARK: reasoner on puzzles

    static func section(_ r: Comparison.Report<PuzzleTask>, name: String, id: String) -> Section {
        let intro = "\(r.compressed.model) against \(r.original.model) on \(r.puzzles) puzzles of \(r.data) (\(r.split ?? "unknown split")), "
            + "\(r.depth.steps) supervision steps × H_cycles \(r.depth.hCycles) × L_cycles \(r.depth.lCycles). " + label(r.label) + "."
        return Section(id: id, title: "compare: \(name)", intro: intro,
                       figures: [accuracy(r, id: id), carry(r, id: id), sqnr(r.layers, id: id)].compactMap { $0 })
    }

    static func accuracy(_ r: Comparison.Report<PuzzleTask>, id: String) -> Figure {
        let sides = [("original", r.original), ("compressed", r.compressed)]
        let series = sides.enumerated().map { i, side in
            let a = side.1.accuracy
            let dx = i == 0 ? -0.12 : 0.12
            return Series(name: "\(side.0) (\(Text.bytes(side.1.weightBytes)))", style: i, points: [
                .init(x: 1 + dx, y: 100 * a.exact.estimate, lower: 100 * a.exact.lower, upper: 100 * a.exact.upper),
                .init(x: 2 + dx, y: 100 * a.cell.estimate, lower: 100 * a.cell.lower, upper: 100 * a.cell.upper),
            ], line: false, interval: .bars)
        }
        let x = Axis(label: "measure", lower: 0.5, upper: 2.5, ticks: [(1, "puzzle-exact"), (2, "cell")])
        let chart = XYChart(x: x, y: SweepViews.percentAxis("accuracy (%)"), series: series, height: 320, title: "Accuracy of both models")
        let (o, c) = (r.original.accuracy, r.compressed.accuracy)
        var caption = "Accuracy on \(r.puzzles) puzzles with 95% intervals (Wilson for puzzle-exact, bootstrap over puzzles for cells). "
        caption += "Original: exact \(Text.interval(o.exact.estimate, o.exact.lower, o.exact.upper)), cell \(Text.interval(o.cell.estimate, o.cell.lower, o.cell.upper)). "
        caption += "Compressed: exact \(Text.interval(c.exact.estimate, c.exact.lower, c.exact.upper)), cell \(Text.interval(c.cell.estimate, c.cell.lower, c.cell.upper)). "
        caption += "Δexact \(Text.interval(r.exactDifference.estimate, r.exactDifference.lower, r.exactDifference.upper, digits: 1)) points, exact McNemar p = \(Text.p(r.exactMcNemarP))"
        if r.discordant.count == 2 { caption += " (\(r.discordant[0]) lost, \(r.discordant[1]) gained)" }
        caption += "; Δcell \(Text.interval(r.cellDifference.estimate, r.cellDifference.lower, r.cellDifference.upper)) points."
        let rows = sides.map { side in
            [side.0, side.1.model, String(side.1.weightBytes), Text.interval(side.1.accuracy.exact.estimate, side.1.accuracy.exact.lower, side.1.accuracy.exact.upper),
             Text.interval(side.1.accuracy.cell.estimate, side.1.accuracy.cell.lower, side.1.accuracy.cell.upper), String(side.1.accuracy.exactCount)]
        }
        return Figure(id: id + "-accuracy", title: "Accuracy of both models", svg: chart.render(),
                      legend: series.map { ($0.style, $0.name, .marker) }, caption: caption,
                      table: Table(header: ["model", "path", "weight bytes", "exact [95%]", "cell [95%]", "puzzles solved"], rows: rows, numeric: [2, 5]))
    }

    static func carry(_ r: Comparison.Report<PuzzleTask>, id: String) -> Figure? {
        guard !r.fidelity.isEmpty else { return nil }
        let parts = Array(Set(r.fidelity.flatMap { $0.parts.keys })).sorted()
        var series = [Series(name: "whole carry", style: 0, points: r.fidelity.map {
            .init(x: Double($0.step), y: $0.carry.estimate, lower: $0.carry.lower, upper: $0.carry.upper)
        }, interval: .band)]
        for (i, p) in parts.enumerated() {
            series.append(Series(name: p, style: i + 1, points: r.fidelity.compactMap { f in f.parts[p].map { .init(x: Double(f.step), y: $0) } }))
        }
        let values = r.fidelity.flatMap { [$0.carry.lower, $0.carry.upper] + Array($0.parts.values) }
        let chart = XYChart(x: .integers("supervision step", 1...(r.fidelity.map(\.step).max() ?? 1)),
                            y: .linear("cosine to the original's carry", values: values, clamp: -1...1), series: series,
                            title: "Carry-trajectory fidelity by step")
        let worst = r.fidelity.min { $0.carry.estimate < $1.carry.estimate }!
        var caption = "Cosine of the compressed model's carry to the original's after each supervision step, mean over puzzles (band: bootstrap 95%): "
        caption += r.fidelity.map { "step \($0.step) \(Text.fixed($0.carry.estimate, 4))" }.joined(separator: ", ")
        caption += ". Lowest: \(Text.fixed(worst.carry.estimate, 4)) after step \(worst.step)."
        if !parts.isEmpty { caption += " Parts drawn separately: \(parts.joined(separator: ", "))." }
        let rows = r.fidelity.map { f in [String(f.step), Text.interval(f.carry.estimate, f.carry.lower, f.carry.upper, percent: false, digits: 5)] + parts.map { f.parts[$0].map { Text.fixed($0, 5) } ?? "" } }
        return Figure(id: id + "-carry", title: "Carry-trajectory fidelity by step", svg: chart.render(),
                      legend: series.map { ($0.style, $0.name, .line) }, caption: caption,
                      table: Table(header: ["step", "carry cosine [95%]"] + parts, rows: rows, numeric: Set(0..<(2 + parts.count))))
    }

    /// Per-tensor SQNR of the compressed weights, worst first; tensors stored unchanged (SQNR ∞) are counted, not drawn.
    static func sqnr(_ layers: [DiffReport.Entry], id: String, shown: Int = 30) -> Figure? {
        let finite = layers.filter { $0.error.sqnrDB.isFinite }.sorted { ($0.error.sqnrDB, $0.name) < ($1.error.sqnrDB, $1.name) }
        guard !finite.isEmpty else { return nil }
        let drawn = Array(finite.prefix(shown))
        let x = Axis.linear("weight SQNR (dB)", values: drawn.map(\.error.sqnrDB), include: [0])
        let chart = BarChart(x: x, rows: drawn.map { .init(label: $0.name, segments: [($0.error.sqnrDB, 0)], note: Text.fixed($0.error.sqnrDB, 1) + " dB") },
                             title: "Per-tensor SQNR, worst first")
        let unchanged = layers.count - finite.count
        var caption = "Signal-to-quantization-noise ratio of each compressed weight against the original, worst first"
        caption += finite.count > shown ? " (the worst \(shown) of \(finite.count) drawn; all in the table). " : ". "
        caption += "Worst: \(drawn[0].name) at \(Text.fixed(drawn[0].error.sqnrDB, 2)) dB; median of the \(finite.count) changed tensors "
        caption += "\(Text.fixed(finite[finite.count / 2].error.sqnrDB, 2)) dB."
        if unchanged > 0 { caption += " \(unchanged) tensors are stored unchanged (SQNR ∞) and not drawn." }
        let rows = finite.map { [$0.name, $0.shape.description, Text.fixed($0.error.sqnrDB, 2), Text.fixed($0.error.cosine, 6), String(format: "%.3e", $0.error.relativeError)] }
        return Figure(id: id + "-sqnr", title: "Per-tensor SQNR, worst first", svg: chart.render(), caption: caption,
                      table: Table(header: ["tensor", "shape", "SQNR dB", "cosine", "relative error"], rows: rows, numeric: [2, 3, 4]))
    }

    // MARK: language model on a text

    static func section(_ r: LanguageComparison.Report, name: String, id: String) -> Section {
        let intro = "\(r.compressed.model) against \(r.original.model) on \(r.chunks) chunks of \(r.context) tokens of \(r.text) "
            + "(\(r.split ?? "unknown split")), \(r.tokens) tokens scored. " + label(r.label) + "."
        return Section(id: id, title: "compare --text: \(name)", intro: intro,
                       figures: [perplexity(r, id: id), kldPercentiles(r, id: id), hiddenStates(r, id: id), sqnr(r.layers, id: id)].compactMap { $0 })
    }

    static func perplexity(_ r: LanguageComparison.Report, id: String) -> Figure {
        let sides = [("original (base)", r.original), ("compressed (Q)", r.compressed)]
        let series = sides.enumerated().map { i, s in
            Series(name: "\(s.0), \(Text.bytes(s.1.weightBytes))", style: i, points: [.init(x: Double(i + 1), y: s.1.perplexity.value,
                   lower: s.1.perplexity.value - s.1.perplexity.error, upper: s.1.perplexity.value + s.1.perplexity.error)], line: false, interval: .bars)
        }
        let values = sides.flatMap { [$0.1.perplexity.value - $0.1.perplexity.error, $0.1.perplexity.value + $0.1.perplexity.error] }
        let chart = XYChart(x: Axis(label: "model", lower: 0.5, upper: 2.5, ticks: [(1, "original"), (2, "compressed")]),
                            y: .linear("perplexity (tokens, ± llama-perplexity's error)", values: values), series: series, height: 300,
                            title: "Perplexity of both models")
        var caption = "Perplexity over the same \(r.tokens) scored tokens, ± llama-perplexity's uncertainty. "
        caption += "Original \(Text.fixed(r.original.perplexity.value, 4)) ± \(Text.fixed(r.original.perplexity.error, 4)), "
        caption += "compressed \(Text.fixed(r.compressed.perplexity.value, 4)) ± \(Text.fixed(r.compressed.perplexity.error, 4)); "
        caption += "PPL(Q)/PPL(base) \(Text.fixed(r.perplexityRatio.value, 5)) ± \(Text.fixed(r.perplexityRatio.error, 5)); "
        caption += "same top token \(Text.pct(r.sameTop.value)) ± \(Text.fixed(100 * r.sameTop.error, 2)) %."
        let rows = sides.map { [$0.0, $0.1.model, String($0.1.weightBytes), Text.fixed($0.1.perplexity.value, 4), Text.fixed($0.1.perplexity.error, 4)] }
        return Figure(id: id + "-ppl", title: "Perplexity of both models", svg: chart.render(), legend: series.map { ($0.style, $0.name, .marker) },
                      caption: caption, table: Table(header: ["model", "path", "weight bytes", "perplexity", "±"], rows: rows, numeric: [2, 3, 4]))
    }

    static func percentiles(_ d: LanguageComparison.Distribution) -> [(String, Double)] {
        [("0.1%", d.p0_1), ("1%", d.p1), ("5%", d.p5), ("10%", d.p10), ("25%", d.p25), ("median", d.median), ("75%", d.p75),
         ("90%", d.p90), ("95%", d.p95), ("99%", d.p99), ("99.9%", d.p99_9), ("max", d.max)]
    }

    static func kldPercentiles(_ r: LanguageComparison.Report, id: String) -> Figure? {
        let all = percentiles(r.kldDistribution)
        let drawn = all.enumerated().filter { $0.element.1 > 0 }
        guard !drawn.isEmpty else { return nil }
        let series = [Series(name: "KLD percentile", style: 0, points: drawn.map { .init(x: Double($0.offset + 1), y: $0.element.1, name: $0.element.0) })]
        let x = Axis(label: "percentile of the per-token KLD", lower: 0.5, upper: Double(all.count) + 0.5,
                     ticks: all.enumerated().map { (Double($0.offset + 1), $0.element.0) })
        let y = Axis.log("KL divergence (nats, log scale)", values: drawn.map(\.element.1) + [r.kld.value])
        let chart = XYChart(x: x, y: y, series: series, references: [Reference(value: r.kld.value, label: "mean \(Text.fixed(r.kld.value, 4))")],
                            title: "Per-token KL divergence, percentiles")
        let d = r.kldDistribution
        var caption = "KL divergence of the compressed model's next-token distribution from the original's, per scored token (\(r.tokens) tokens), "
        caption += "as llama-perplexity's --kl-divergence reports it. Mean \(Text.fixed(r.kld.value, 6)) ± \(Text.fixed(r.kld.error, 6)) (dashed); "
        caption += "median \(Text.fixed(d.median, 6)), 90% \(Text.fixed(d.p90, 6)), 99% \(Text.fixed(d.p99, 6)), 99.9% \(Text.fixed(d.p99_9, 6)), max \(Text.fixed(d.max, 6))."
        if drawn.count < all.count { caption += " \(all.count - drawn.count) percentiles at or below 0 are not drawn (log scale)." }
        let rows = all.map { [$0.0, Text.fixed($0.1, 6)] } + [["min", Text.fixed(d.min, 6)], ["mean", Text.fixed(r.kld.value, 6)]]
        return Figure(id: id + "-kld", title: "Per-token KL divergence, percentiles", svg: chart.render(),
                      legend: [(0, "KLD percentile", .line), (0, "mean", .reference)], caption: caption,
                      table: Table(header: ["percentile", "KLD (nats)"], rows: rows, numeric: [1]))
    }

    static func hiddenStates(_ r: LanguageComparison.Report, id: String) -> Figure? {
        layerCosine(r.hiddenStateCosine.map { ($0.state, $0.cosine, $0.minimumChunk) }, id: id,
                    zero: "0 = the embeddings, the last after the final norm", per: "chunk")
    }

    static func layerCosine(_ layers: [(Int, Statistics.Interval, Double)], id: String, zero: String, per: String) -> Figure? {
        guard let last = layers.map(\.0).max(), let worst = layers.min(by: { $0.1.estimate < $1.1.estimate }) else { return nil }
        let series = [Series(name: "mean cosine", style: 0, points: layers.map { .init(x: Double($0.0), y: $0.1.estimate, lower: $0.1.lower, upper: $0.1.upper) },
                             interval: .band),
                      Series(name: "worst \(per)", style: 1, points: layers.map { .init(x: Double($0.0), y: $0.2) })]
        let values = layers.flatMap { [$0.1.lower, $0.1.upper, $0.2] }
        let chart = XYChart(x: .integers("hidden state (\(zero))", (layers.map(\.0).min() ?? 0)...last),
                            y: .linear("cosine to the original's hidden state", values: values, clamp: -1...1), series: series,
                            title: "Hidden-state cosine by layer")
        var caption = "Cosine of the compressed model's hidden states to the original's after each layer, mean over \(per)s (band: bootstrap 95%), "
        caption += "and the worst \(per). First \(Text.fixed(layers[0].1.estimate, 5)), last \(Text.fixed(layers[layers.count - 1].1.estimate, 5)), "
        caption += "lowest \(Text.fixed(worst.1.estimate, 5)) at state \(worst.0)."
        let rows = layers.map { [String($0.0), Text.interval($0.1.estimate, $0.1.lower, $0.1.upper, percent: false, digits: 5), Text.fixed($0.2, 5)] }
        return Figure(id: id + "-hidden", title: "Hidden-state cosine by layer", svg: chart.render(),
                      legend: series.map { ($0.style, $0.name, .line) }, caption: caption,
                      table: Table(header: ["state", "mean cosine [95%]", "worst \(per)"], rows: rows, numeric: [0, 2]))
    }

    // MARK: sentence encoder

    static func section(_ r: EmbeddingComparison.Report, name: String, id: String) -> Section {
        var intro = "\(r.compressed.model) against \(r.original.model) on \(r.sentences) sentences of \(r.data) (\(r.tokens) tokens). "
        intro += "Embedding cosine \(Text.interval(r.embeddingCosine.estimate, r.embeddingCosine.lower, r.embeddingCosine.upper, percent: false, digits: 5)); "
        intro += "top-\(r.neighbours) retrieval agreement over \(r.queries) queries \(Text.interval(r.retrievalAgreement.estimate, r.retrievalAgreement.lower, r.retrievalAgreement.upper, percent: false, digits: 4)) "
        intro += "(\(r.identicalNeighbourSets) queries with identical neighbour sets)."
        let f = layerCosine(r.hiddenStates.map { ($0.layer, $0.cosine, $0.minimum) }, id: id, zero: "0 = the embedding output", per: "sentence")
        return Section(id: id, title: "compare --sentences: \(name)", intro: intro, figures: [f].compactMap { $0 })
    }

    // MARK: one evaluation

    static func section(_ r: Evaluation.Report<PuzzleTask>, name: String, id: String) -> Section {
        let series = [
            Series(name: "puzzle-exact", style: 0, points: r.perStep.map {
                .init(x: Double($0.step), y: 100 * $0.accuracy.exact.estimate, lower: 100 * $0.accuracy.exact.lower, upper: 100 * $0.accuracy.exact.upper) }, interval: .band),
            Series(name: "cell", style: 1, points: r.perStep.map {
                .init(x: Double($0.step), y: 100 * $0.accuracy.cell.estimate, lower: 100 * $0.accuracy.cell.lower, upper: 100 * $0.accuracy.cell.upper) }, interval: .band),
        ]
        let chart = XYChart(x: .integers("supervision step", 1...max(1, r.perStep.map(\.step).max() ?? 1)), y: SweepViews.percentAxis("accuracy (%)"),
                            series: series, title: "Accuracy by supervision step")
        var caption = "Accuracy after each supervision step on \(r.puzzles) puzzles (bands: Wilson 95% for exact, bootstrap for cells). Exact by step: "
        caption += r.perStep.map { Text.fixed(100 * $0.accuracy.exact.estimate, 1) }.joined(separator: ", ") + " %; at the last step "
        caption += "exact \(Text.interval(r.accuracy.exact.estimate, r.accuracy.exact.lower, r.accuracy.exact.upper)), cell \(Text.interval(r.accuracy.cell.estimate, r.accuracy.cell.lower, r.accuracy.cell.upper))."
        let rows = r.perStep.map { [String($0.step), Text.interval($0.accuracy.exact.estimate, $0.accuracy.exact.lower, $0.accuracy.exact.upper),
                                    Text.interval($0.accuracy.cell.estimate, $0.accuracy.cell.lower, $0.accuracy.cell.upper)] }
        let fig = Figure(id: id + "-steps", title: "Accuracy by supervision step", svg: chart.render(), legend: series.map { ($0.style, $0.name, .line) },
                         caption: caption, table: Table(header: ["step", "exact [95%]", "cell [95%]"], rows: rows, numeric: [0]))
        let intro = "\(r.model) (\(r.parameters) parameters) on \(r.puzzles) \(r.task) puzzles of \(r.data), \(r.depth.steps) steps × H_cycles \(r.depth.hCycles) × L_cycles \(r.depth.lCycles)."
        return Section(id: id, title: "eval: \(name)", intro: intro, figures: [fig])
    }
}
