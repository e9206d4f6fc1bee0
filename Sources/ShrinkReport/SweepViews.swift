import Foundation
import ShrinkEval
import ShrinkModels

/// The views of one `shrink sweep` (a study is several): what bits cost, what depth buys, which recipes are
/// worth their bytes, and whether the label-free fidelity ranks recipes as accuracy does.
enum SweepViews {
    typealias Row = Sweep.Row<RecursionDepth>
    typealias Report = Sweep.Report<RecursionDepth>

    /// Every recipe at the trained depth, all steps (the grid's full-depth rows).
    static func fullDepth(_ r: Report) -> [Row] {
        r.rows.filter { $0.hCycles == r.trainedDepth.hCycles && $0.steps == r.trainedDepth.steps }
    }

    static func fp32(_ r: Report) -> Row? { fullDepth(r).first { $0.bits == nil } }

    /// Bits per weight as stored: 32 × weight bytes / FP32 weight bytes (scales, zero points and the tensors
    /// kept in FP32 included), so recipes of one nominal width but different granularity sit apart.
    static func bitsPerWeight(_ row: Row, fp32Bytes: Int) -> Double { 32 * Double(row.weightBytes) / Double(max(1, fp32Bytes)) }

    /// Recipes no other recipe beats on both weight bytes (fewer or equal) and exact accuracy (higher or
    /// equal, one strictly): sorted by bytes, each kept if it is more exact than every smaller one, or ties the
    /// last one kept on both.
    static func paretoFrontier(_ rows: [Row]) -> [Row] {
        let sorted = rows.sorted { ($0.weightBytes, -$0.exact.estimate, $0.recipe) < ($1.weightBytes, -$1.exact.estimate, $1.recipe) }
        var frontier: [Row] = []
        for row in sorted {
            guard let last = frontier.last else { frontier.append(row); continue }
            if row.exact.estimate > last.exact.estimate || (row.exact.estimate == last.exact.estimate && row.weightBytes == last.weightBytes) {
                frontier.append(row)
            }
        }
        return frontier
    }

    static func section(_ r: Report, name: String, id: String) -> Section {
        let full = fullDepth(r)
        let figures = [bits(r, id: id), steps(r, id: id), pareto(r, id: id), fidelity(r, id: id)].compactMap { $0 }
        var intro = "\(r.model) (\(r.architecture)) on \(r.puzzles) puzzles of \(r.data): \(full.count) recipes at the trained depth "
        intro += "(\(r.trainedDepth.steps) supervision steps, H_cycles \(r.trainedDepth.hCycles), L_cycles \(r.trainedDepth.lCycles)), \(r.rows.count) rows in all."
        return Section(id: id, title: "sweep: \(name)", intro: intro, figures: figures)
    }

    static func depthText(_ r: Report) -> String {
        "full depth (\(r.trainedDepth.steps) steps, H_cycles \(r.trainedDepth.hCycles))"
    }

    static func percentAxis(_ label: String) -> Axis { Axis.linear(label, values: [], include: [0, 100]) }

    // MARK: several sweeps: the study

    /// Across fixtures: at each nominal bit width, the best recipe's exact accuracy as a share of its FP32's
    /// (full depth), so the cliff of every fixture sits on one chart.
    static func overview(_ sweeps: [(name: String, report: Report)], id: String) -> Section? {
        guard sweeps.count >= 2 else { return nil }
        var series: [Series] = []
        var table: [[String]] = []
        var lowest: [String] = []
        for (name, r) in sweeps {
            guard let base = fp32(r), base.exact.estimate > 0 else { continue }
            let quantized = fullDepth(r).filter { $0.bits != nil }
            let widths = Array(Set(quantized.compactMap(\.bits))).sorted()
            var points: [Series.Point] = []
            for b in widths {
                guard let best = quantized.filter({ $0.bits == b }).min(by: { ($0.exact.estimate, -$0.weightBytes, $1.recipe) > ($1.exact.estimate, -$1.weightBytes, $0.recipe) }) else { continue }
                let share = 100 * best.exact.estimate / base.exact.estimate
                points.append(.init(x: Double(b), y: share, name: best.recipe))
                table.append([name, String(b), best.recipe, Text.interval(best.exact.estimate, best.exact.lower, best.exact.upper),
                              Text.interval(base.exact.estimate, base.exact.lower, base.exact.upper), Text.fixed(share, 1)])
            }
            if let keep = points.filter({ $0.y >= 95 }).min(by: { $0.x < $1.x }) {
                lowest.append("\(name) \(Int(keep.x)) bits (\(keep.name ?? ""), \(Text.fixed(keep.y, 1))%)")
            } else {
                lowest.append("\(name) none")
            }
            series.append(Series(name: name, style: series.count, points: points))
        }
        guard !series.isEmpty else { return nil }
        let values = series.flatMap { $0.points.map(\.y) }
        let bits = Set(series.flatMap { $0.points.map { Int($0.x) } })
        let chart = XYChart(x: .integers("bits per weight of the format (nominal)", (bits.min() ?? 2)...(bits.max() ?? 8)),
                            y: .linear("best exact accuracy, % of FP32's", values: values, include: [0, 100]), series: series,
                            references: [Reference(value: 100, label: "FP32")], title: "Best recipe per bit width, every fixture")
        var caption = "For each fixture and bit width, the most exact recipe at full depth, its puzzle-exact accuracy as a share of FP32's on the same puzzles. "
        caption += "Fewest bits keeping at least 95% of FP32's exact accuracy: " + lowest.joined(separator: "; ") + "."
        let fig = Figure(id: id + "-best", title: "Best recipe per bit width, every fixture", svg: chart.render(),
                         legend: series.map { ($0.style, $0.name, .line) } + [(0, "FP32", .reference)], caption: caption,
                         table: Table(header: ["fixture", "bits", "best recipe", "exact [95%]", "FP32 exact [95%]", "% of FP32"], rows: table, numeric: [1, 5]))
        return Section(id: id, title: "study: every fixture", intro: "\(sweeps.count) sweeps; each has its own section below.", figures: [fig])
    }

    // MARK: exact against bits per weight

    static func bits(_ r: Report, id: String) -> Figure? {
        guard let base = fp32(r) else { return nil }
        let quantized = fullDepth(r).filter { $0.bits != nil }
        guard !quantized.isEmpty else { return nil }
        let groups = Dictionary(grouping: quantized) { "\($0.method) \($0.granularity)" }
        let names = groups.keys.sorted()
        let bpw = { (row: Row) in bitsPerWeight(row, fp32Bytes: base.weightBytes) }
        let series = names.enumerated().map { i, n in
            Series(name: n, style: i, points: groups[n]!.sorted { bpw($0) < bpw($1) }.map {
                .init(x: bpw($0), y: 100 * $0.exact.estimate, lower: 100 * $0.exact.lower, upper: 100 * $0.exact.upper, name: $0.recipe)
            }, interval: .band)
        }
        let x = Axis.linear("bits per weight (stored bytes × 8 / parameters)", values: quantized.map(bpw))
        let chart = XYChart(x: x, y: percentAxis("puzzle-exact accuracy (%)"), series: series,
                            references: [Reference(value: 100 * base.exact.estimate, label: "FP32 \(Text.pct(base.exact.estimate, 1))")],
                            title: "Exact accuracy against bits per weight")
        let within = quantized.filter { $0.exact.estimate >= base.exact.estimate - StudyReport.margin }.min { (bpw($0), $0.recipe) < (bpw($1), $1.recipe) }
        var caption = "Puzzle-exact accuracy of \(quantized.count) recipes at \(depthText(r)) on \(r.puzzles) held-out puzzles, against bits per weight "
        caption += "(32 × weight bytes / FP32 weight bytes: scales and unquantized tensors included); one line per method × granularity, bands: Wilson 95%. "
        caption += "FP32 (dashed): \(Text.interval(base.exact.estimate, base.exact.lower, base.exact.upper)). "
        if let w = within {
            caption += "Fewest bits within \(Text.fixed(100 * StudyReport.margin, 0)) points of FP32: \(w.recipe) at \(Text.fixed(bpw(w), 2)) bits per weight, "
            caption += "\(Text.interval(w.exact.estimate, w.exact.lower, w.exact.upper))."
        } else {
            caption += "No recipe comes within \(Text.fixed(100 * StudyReport.margin, 0)) points of FP32."
        }
        let rows = quantized.sorted { (bpw($0), $0.recipe) < (bpw($1), $1.recipe) }.map { row in
            [row.recipe, Text.fixed(bpw(row), 2), String(row.weightBytes), Text.interval(row.exact.estimate, row.exact.lower, row.exact.upper),
             Text.interval(row.exactVersusFP32.estimate, row.exactVersusFP32.lower, row.exactVersusFP32.upper, digits: 1), Text.p(row.mcNemarP)]
        }
        return Figure(id: id + "-bits", title: "Exact accuracy against bits per weight", svg: chart.render(),
                      legend: series.map { ($0.style, $0.name, .line) } + [(0, "FP32", .reference)], caption: caption,
                      table: Table(header: ["recipe", "bits/weight", "weight bytes", "exact [95%]", "Δexact vs FP32, points [95%]", "McNemar p"],
                                   rows: rows, numeric: [1, 2]))
    }

    // MARK: exact by supervision step

    static func steps(_ r: Report, id: String) -> Figure? {
        let hs = Array(Set(r.rows.map(\.hCycles))).sorted { ($0 == r.trainedDepth.hCycles ? 0 : 1, -$0) < ($1 == r.trainedDepth.hCycles ? 0 : 1, -$1) }
        let int8Names = Set(r.rows.filter { $0.bits == 8 }.map(\.recipe))
        let int8 = int8Names.contains("int8 per-channel rtn") ? "int8 per-channel rtn" : int8Names.sorted().first
        var series: [Series] = []
        var captionParts: [String] = []
        var table: [[String]] = []
        for h in hs {
            for recipe in ["fp32"] + (int8.map { [$0] } ?? []) {
                let rows = r.rows.filter { $0.hCycles == h && $0.recipe == recipe }.sorted { $0.steps < $1.steps }
                guard !rows.isEmpty else { continue }
                let name = "\(recipe == "fp32" ? "FP32" : recipe), H_cycles \(h)\(h == r.trainedDepth.hCycles ? " (trained)" : "")"
                series.append(Series(name: name, style: series.count, points: rows.map {
                    .init(x: Double($0.steps), y: 100 * $0.exact.estimate, lower: 100 * $0.exact.lower, upper: 100 * $0.exact.upper)
                }, interval: .band))
                captionParts.append("\(name): " + rows.map { Text.fixed(100 * $0.exact.estimate, 1) }.joined(separator: ", ") + " %")
                for row in rows {
                    table.append([name, String(row.steps), String(row.flopsPerPuzzle), Text.interval(row.exact.estimate, row.exact.lower, row.exact.upper),
                                  Text.interval(row.exactVersusFP32FullDepth.estimate, row.exactVersusFP32FullDepth.lower, row.exactVersusFP32FullDepth.upper, digits: 1)])
                }
            }
        }
        guard !series.isEmpty else { return nil }
        let maxSteps = r.rows.map(\.steps).max() ?? 1
        let x = Axis.integers("supervision steps run", 1...maxSteps)
        let chart = XYChart(x: x, y: percentAxis("puzzle-exact accuracy (%)"), series: series, title: "Exact accuracy by supervision step")
        let caption = "Puzzle-exact accuracy after each supervision step (bands: Wilson 95%), steps 1 to \(maxSteps). " + captionParts.joined(separator: "; ") + "."
        return Figure(id: id + "-steps", title: "Exact accuracy by supervision step", svg: chart.render(),
                      legend: series.map { ($0.style, $0.name, .line) }, caption: caption,
                      table: Table(header: ["series", "steps", "FLOP/puzzle", "exact [95%]", "Δ vs FP32 at full depth, points [95%]"], rows: table, numeric: [1, 2]))
    }

    // MARK: Pareto frontier of bytes and exact accuracy

    static func pareto(_ r: Report, id: String) -> Figure? {
        let rows = fullDepth(r)
        guard rows.count >= 2 else { return nil }
        let frontier = paretoFrontier(rows)
        let onFrontier = Set(frontier.map(\.recipe))
        let byBits = Dictionary(grouping: rows) { $0.bits ?? 32 }
        let widths = byBits.keys.sorted()
        var series = widths.enumerated().map { i, b in
            Series(name: b == 32 ? "FP32" : "INT\(b)", style: i, points: byBits[b]!.sorted { ($0.weightBytes, $0.recipe) < ($1.weightBytes, $1.recipe) }.map {
                .init(x: Double($0.weightBytes), y: 100 * $0.exact.estimate, name: $0.recipe)
            }, line: false)
        }
        series.append(Series(name: "Pareto frontier", style: 6, points: frontier.map { .init(x: Double($0.weightBytes), y: 100 * $0.exact.estimate, name: $0.recipe) },
                             line: true, markers: false, step: true))
        let x = Axis.log("weight bytes (log scale)", values: rows.map { Double($0.weightBytes) }, format: { Text.bytes(Int($0)) })
        var chart = XYChart(x: x, y: percentAxis("puzzle-exact accuracy (%)"), series: series, title: "Pareto frontier: weight bytes against exact accuracy")
        chart.numbered = frontier.map { (Double($0.weightBytes), 100 * $0.exact.estimate) }
        let names = frontier.enumerated().map { "\($0.offset + 1) \($0.element.recipe) (\($0.element.weightBytes) B, \(Text.pct($0.element.exact.estimate)))" }
        var caption = "Every recipe at \(depthText(r)): weight bytes (log scale) against puzzle-exact accuracy. "
        caption += "\(frontier.count) of \(rows.count) are on the Pareto frontier (no other recipe is both smaller and at least as exact; the steps show the best exact accuracy up to each size), numbered on the plot: "
        caption += names.joined(separator: "; ") + "."
        let table = rows.sorted { ($0.weightBytes, $0.recipe) < ($1.weightBytes, $1.recipe) }.map { row in
            [row.recipe, String(row.weightBytes), Text.interval(row.exact.estimate, row.exact.lower, row.exact.upper),
             onFrontier.contains(row.recipe) ? "yes (\(frontier.firstIndex { $0.recipe == row.recipe }! + 1))" : ""]
        }
        return Figure(id: id + "-pareto", title: "Pareto frontier: weight bytes against exact accuracy", svg: chart.render(),
                      legend: series.map { ($0.style, $0.name, $0.markers ? .marker : .lineOnly) }, caption: caption,
                      table: Table(header: ["recipe", "weight bytes", "exact [95%]", "on the frontier"], rows: table, numeric: [1]))
    }

    // MARK: fidelity against exact

    static func fidelity(_ r: Report, id: String) -> Figure? {
        let rows = fullDepth(r).filter { $0.bits != nil }
        let drawn = rows.filter { 1 - $0.fidelity > 0 }
        guard !drawn.isEmpty else { return nil }
        let byBits = Dictionary(grouping: drawn) { $0.bits ?? 32 }
        let widths = byBits.keys.sorted()
        let series = widths.enumerated().map { i, b in
            Series(name: "INT\(b)", style: i, points: byBits[b]!.sorted { ($0.fidelity, $0.recipe) < ($1.fidelity, $1.recipe) }.map {
                .init(x: 1 - $0.fidelity, y: 100 * $0.exact.estimate, name: $0.recipe)
            }, line: false)
        }
        let x = Axis.log("carry distance to FP32 after the last step, 1 − CTF (log scale)", values: drawn.map { 1 - $0.fidelity })
        let chart = XYChart(x: x, y: percentAxis("puzzle-exact accuracy (%)"), series: series, title: "Carry fidelity against exact accuracy")
        var caption = "Each quantized recipe at \(depthText(r)): carry-trajectory fidelity (CTF, the cosine of its carry to FP32's, mean over puzzles) against puzzle-exact accuracy. "
        if let rho = r.fidelityExactSpearman {
            caption += "Spearman ρ(CTF, exact) over the \(rows.count) recipes: \(Text.fixed(rho.estimate, 3)) [\(Text.fixed(rho.lower, 3)), \(Text.fixed(rho.upper, 3))] (bootstrap 95% over recipes, from the sweep)."
        } else {
            caption += "Too few recipes for Spearman ρ."
        }
        if drawn.count < rows.count { caption += " \(rows.count - drawn.count) recipes with CTF = 1 are not drawn (log scale)." }
        let table = rows.sorted { ($0.fidelity, $0.recipe) > ($1.fidelity, $1.recipe) }.map { row in
            [row.recipe, Text.fixed(row.fidelity, 6), Text.interval(row.exact.estimate, row.exact.lower, row.exact.upper)]
        }
        return Figure(id: id + "-ctf", title: "Carry fidelity against exact accuracy", svg: chart.render(),
                      legend: series.map { ($0.style, $0.name, .marker) }, caption: caption,
                      table: Table(header: ["recipe", "CTF", "exact [95%]"], rows: table, numeric: [1]))
    }
}

extension Axis {
    /// Whole numbers lo…hi, half a unit of room at each end.
    static func integers(_ label: String, _ range: ClosedRange<Int>) -> Axis {
        Axis(label: label, scale: .linear, lower: Double(range.lowerBound) - 0.5, upper: Double(range.upperBound) + 0.5,
             ticks: range.map { (Double($0), String($0)) })
    }
}
