import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels

/// `shrink report`: one self-contained HTML page (inline SVG and CSS; no script, no font or image fetched) drawn
/// from the JSON that `eval`, `compare`, `sweep`, `study` (its sweeps) and `plan` write, plus points of other
/// tools (`ToolPoints`). The same inputs give the same bytes: fixed number formats, inputs in the order given,
/// keys sorted, no clock.
public enum HTMLReport {
    /// Reads every file (the kind of each told by its keys) and renders them.
    public static func render(paths: [String], title: String? = nil) throws -> String {
        guard !paths.isEmpty else { throw ReportError.noInputs }
        return render(try paths.map(ReportInput.load), title: title)
    }

    /// Reads and renders, then writes `output` atomically (never half written).
    public static func write(paths: [String], to output: String, title: String? = nil) throws {
        try AtomicFile.write(render(paths: paths, title: title), to: output)
    }

    public static func render(_ inputs: [ReportInput], title: String? = nil) -> String {
        var sections: [Section] = []
        var used = Set<String>()
        for (i, input) in inputs.enumerated() {
            var id = "s\(i + 1)-" + String(input.name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
            while used.contains(id) { id += "x" }
            used.insert(id)
            switch input.content {
            case let .sweep(r): sections.append(SweepViews.section(r, name: input.name, id: id))
            case let .comparison(r): sections.append(CompareViews.section(r, name: input.name, id: id))
            case let .languageComparison(r): sections.append(CompareViews.section(r, name: input.name, id: id))
            case let .embeddingComparison(r): sections.append(CompareViews.section(r, name: input.name, id: id))
            case let .evaluation(r): sections.append(CompareViews.section(r, name: input.name, id: id))
            case let .plan(p): sections.append(PlanViews.section(p, name: input.name, id: id))
            case let .imageComparison(r): sections.append(ImageViews.section(r, name: input.name, id: id))
            case let .trainingCurve(c): sections.append(ImageViews.section(c, name: input.name, id: id))
            case .points: break
            }
        }
        let sweeps = inputs.compactMap { i -> (name: String, report: Sweep.Report<RecursionDepth>)? in
            if case let .sweep(r) = i.content { return (i.name, r) }
            return nil
        }
        if let overview = SweepViews.overview(sweeps, id: "study") { sections.insert(overview, at: 0) }
        if let kld = LanguageViews.kldAgainstBits(inputs, id: "kld-bits") { sections.append(kld) }
        let pageTitle = title ?? (inputs.count == 1 ? "Shrink report: \(inputs[0].name)" : "Shrink report: \(inputs.count) results")
        let intro = ["Drawn by `shrink report` from " + inputs.map { "\($0.name) (\($0.content.kindName))" }.joined(separator: ", ")
                     + ". Every figure has its caption's numbers and, under “Table”, the values it plots."]
        return Page.html(title: pageTitle, intro: intro, sections: sections)
    }
}

/// Language-model views across inputs: mean KLD against bits per weight, Shrink's comparisons beside other tools' points.
enum LanguageViews {
    /// Bits per weight of a comparison's compressed model: its stored bytes × 8 / the parameters of the compared tensors.
    static func bitsPerWeight(_ r: LanguageComparison.Report) -> Double? {
        let parameters = r.layers.reduce(0) { $0 + $1.shape.dims.reduce(1, *) }
        return parameters > 0 ? 8 * Double(r.compressed.weightBytes) / Double(parameters) : nil
    }

    static func kldAgainstBits(_ inputs: [ReportInput], id: String) -> Section? {
        // (tool, label, bpw, kld, error)
        var points: [(tool: String, label: String, bpw: Double, kld: Double, error: Double?)] = []
        for input in inputs {
            switch input.content {
            case let .languageComparison(r):
                if let b = bitsPerWeight(r) {
                    points.append(("Shrink", FileSystem.lastComponent(r.compressed.model), b, r.kld.value, r.kld.error))
                }
            case let .points(t):
                points += t.points.map { (t.tool, $0.label, $0.bitsPerWeight, $0.meanKld, $0.meanKldError) }
            default: break
            }
        }
        let drawn = points.filter { $0.kld > 0 && $0.bpw.isFinite }
        guard !drawn.isEmpty else { return nil }
        var tools: [String] = []
        for p in drawn where !tools.contains(p.tool) { tools.append(p.tool) }
        let ordered = tools.flatMap { t in drawn.filter { $0.tool == t }.sorted { ($0.bpw, $0.label) < ($1.bpw, $1.label) } }
        let series = tools.enumerated().map { i, t in
            Series(name: t, style: i, points: ordered.filter { $0.tool == t }.map {
                 p in Series.Point(x: p.bpw, y: p.kld, lower: p.error.map { max(p.kld - $0, p.kld * 0.01) }, upper: p.error.map { p.kld + $0 }, name: p.label)
            }, line: true, interval: .bars)
        }
        var chart = XYChart(x: .linear("bits per weight (stored bytes × 8 / parameters)", values: drawn.map(\.bpw)),
                            y: .log("mean KLD from the base (nats, log)", values: drawn.flatMap { [$0.kld, $0.kld + ($0.error ?? 0)] }),
                            series: series, title: "Mean KLD against bits per weight")
        chart.numbered = ordered.map { ($0.bpw, $0.kld) }
        let listed = ordered.enumerated().map { i, p in
            "\(i + 1) \(p.tool) \(p.label): \(Text.fixed(p.bpw, 3)) bits, KLD \(Text.fixed(p.kld, 5))" + (p.error.map { " ± \(Text.fixed($0, 5))" } ?? "")
        }
        var caption = "Mean per-token KL divergence from the base model against bits per weight, one line per tool (± bars: the tool's uncertainty of the mean), "
        caption += "numbered on the plot: " + listed.joined(separator: "; ") + "."
        if drawn.count < points.count { caption += " \(points.count - drawn.count) points with KLD ≤ 0 are not drawn (log scale)." }
        let rows = ordered.enumerated().map { i, p in [String(i + 1), p.tool, p.label, Text.fixed(p.bpw, 3), Text.fixed(p.kld, 6), p.error.map { Text.fixed($0, 6) } ?? ""] }
        let fig = Figure(id: id, title: "Mean KLD against bits per weight", svg: chart.render(), legend: series.map { ($0.style, $0.name, Figure.Swatch.line) },
                         caption: caption, table: Table(header: ["#", "tool", "point", "bits/weight", "mean KLD", "±"], rows: rows, numeric: [0, 3, 4, 5]))
        return Section(id: id, title: "language models: KLD against bits per weight",
                       intro: "Shrink's points come from `shrink compare --text` results; other tools' from points files (\"kind\": \"points\").", figures: [fig])
    }
}
