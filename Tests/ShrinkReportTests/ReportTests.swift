import Foundation
import Testing
import ShrinkEval
import ShrinkModels
import ShrinkPlan
import ShrinkTestSupport
@testable import ShrinkReport

/// The committed results that the pages are drawn from: the study's sweeps, the plans, and two comparisons
/// made by tools/report_fixtures.sh.
enum Inputs {
    static func files(_ folder: String, suffix: String = ".json") -> [String] {
        let dir = Fixtures.path(folder)
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(suffix) }.sorted().map { dir + "/" + $0 }
    }
    static var sweeps: [String] { files("study") }
    static var plans: [String] { files("plans") }
    static let comparePuzzles = Fixtures.path("Tests/Fixtures/report/compare_puzzles.json")
    static let compareText = Fixtures.path("Tests/Fixtures/report/compare_text.json")
    static let pointsLlama = Fixtures.path("Tests/Fixtures/report/points_llama.json")

    static func sweep(_ path: String) throws -> Sweep.Report<RecursionDepth> {
        guard case let .sweep(r) = try ReportInput.load(path).content else { throw Unexpected.kind(path) }
        return r
    }
    enum Unexpected: Error { case kind(String) }
}

/// Structural checks every page must pass: each plot parses as XML, no two labels' boxes meet, every series
/// draws as many markers as it has points, and every marker lies inside the plot area (the axes hold the data).
func checkPlots(_ html: String, expected: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> [PlotSVG] {
    let plots = try PlotSVG.all(in: html)
    #expect(plots.count == expected, "plots", sourceLocation: sourceLocation)
    for (i, p) in plots.enumerated() {
        let overlaps = p.overlaps()
        #expect(overlaps.isEmpty, "plot \(i): labels overlap: \(overlaps.prefix(5))", sourceLocation: sourceLocation)
        for b in p.boxes() {
            #expect(b.1.x >= 0 && b.1.x + b.1.w <= p.viewBox.width + 0.5 && b.1.y >= 0 && b.1.y + b.1.h <= p.viewBox.height + 0.5,
                    "plot \(i): label '\(b.0)' leaves the viewBox", sourceLocation: sourceLocation)
        }
        guard let area = p.area else { Issue.record("plot \(i) has no plot area", sourceLocation: sourceLocation); continue }
        for s in p.series {
            if s.name != "bars" && !s.markers.isEmpty {
                #expect(s.markers.count == s.declaredPoints, "plot \(i) series \(s.name)", sourceLocation: sourceLocation)
            }
            // A marker's centre is read from its outline (a triangle's centroid sits 0.17 r off the point): 1.5 units of slack.
            for m in s.markers {
                #expect(m.x >= area.x - 1.5 && m.x <= area.x + area.width + 1.5 && m.y >= area.y - 1.5 && m.y <= area.y + area.height + 1.5,
                        "plot \(i) series \(s.name): a point at (\(m.x), \(m.y)) is outside the axes", sourceLocation: sourceLocation)
            }
        }
    }
    return plots
}

/// The figure's caption (text between <figcaption> and </figcaption>) with the given id.
func caption(_ html: String, figure id: String) -> String? {
    guard let f = html.range(of: "<figure id=\"\(id)\">"), let c = html.range(of: "<figcaption>", range: f.upperBound..<html.endIndex),
          let e = html.range(of: "</figcaption>", range: c.upperBound..<html.endIndex) else { return nil }
    return String(html[c.upperBound..<e.lowerBound])
}

func pct(_ i: Statistics.Interval) -> String { String(format: "%.2f%% [%.2f, %.2f]", 100 * i.estimate, 100 * i.lower, 100 * i.upper) }

@Suite struct StudyPageTests {
    @Test func studyPageDrawsEverySweep() throws {
        let paths = Inputs.sweeps
        #expect(paths.count == 5, "study/*.json: the five fixtures' sweeps")
        let html = try HTMLReport.render(paths: paths, title: "study")
        // The overview, then four views per sweep: bits, steps, Pareto, fidelity.
        let plots = try checkPlots(html, expected: 1 + 4 * paths.count)
        #expect(plots[0].series.count == paths.count)
        // The overview's numbers: trm_att_sudoku6's best INT4 recipe as a share of FP32, from its rows.
        let r = try Inputs.sweep(Fixtures.path("study/trm_att_sudoku6.json"))
        let full = SweepViews.fullDepth(r)
        let fp32 = try #require(full.first { $0.bits == nil }).exact.estimate
        let best4 = try #require(full.filter { $0.bits == 4 }.map(\.exact.estimate).max())
        let overview = try #require(caption(html, figure: "study-best"))
        #expect(overview.contains("trm_att_sudoku6"))
        #expect(html.contains("<td>trm_att_sudoku6</td><td class=\"n\">4</td>") && html.contains(String(format: "%.1f", 100 * best4 / fp32)))
        #expect(!html.contains("<script"), "no script")
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count - 1 == html.components(separatedBy: "xmlns=\"http://www.w3.org/2000/svg\"").count - 1,
                "nothing fetched: the only URL is the SVG namespace")
        #expect(!html.contains("https://") && !html.contains("@import") && !html.contains("url("))
        #expect(html.utf8.count < 400_000, "the study page is \(html.utf8.count) bytes")
    }

    /// study/report.html is what tools/run_study.sh --render draws from the committed sweeps, byte for byte.
    @Test func committedStudyPageIsCurrent() throws {
        let committed = String(decoding: fileBytes(Fixtures.path("study/report.html")), as: UTF8.self)
        let drawn = try HTMLReport.render(paths: Inputs.sweeps, title: "What survives compression: the study")
        #expect(committed == drawn, "study/report.html is stale: run tools/run_study.sh --render")
    }

    @Test func sameJSONSameBytes() throws {
        let a = try HTMLReport.render(paths: Inputs.sweeps)
        let b = try HTMLReport.render(paths: Inputs.sweeps)
        #expect(a == b)
        #expect(!a.contains("seconds"), "no wall-clock figure in the page")
    }

    /// A 30-recipe × 8-step sweep (trm_att_maze7: 31 recipes, 8 steps, plus the H_cycles 1 rows) stays small.
    @Test func eightStepSweepIsSmall() throws {
        let path = Fixtures.path("study/trm_att_maze7.json")
        let r = try Inputs.sweep(path)
        #expect(SweepViews.fullDepth(r).count == 31 && r.trainedDepth.steps == 8)
        let html = try HTMLReport.render(paths: [path])
        #expect(html.utf8.count < 120_000, "\(html.utf8.count) bytes")
    }

    @Test func captionsStateTheSweepsNumbers() throws {
        for path in Inputs.sweeps {
            let r = try Inputs.sweep(path)
            let html = HTMLReport.render([ReportInput(name: "x", content: .sweep(r))])
            let full = SweepViews.fullDepth(r)
            let fp32 = try #require(full.first { $0.bits == nil })
            let bits = try #require(caption(html, figure: "s1-x-bits"))
            #expect(bits.contains("FP32 (dashed): " + pct(fp32.exact)), "\(path): \(bits)")
            #expect(bits.contains("\(full.count - 1) recipes"))
            if let rho = r.fidelityExactSpearman {
                let ctf = try #require(caption(html, figure: "s1-x-ctf"))
                #expect(ctf.contains(String(format: "%.3f [%.3f, %.3f]", rho.estimate, rho.lower, rho.upper)), "\(path): \(ctf)")
            }
            // Exact by step of FP32 at the trained depth, as the study's table states it.
            let steps = try #require(caption(html, figure: "s1-x-steps"))
            let byStep = r.rows.filter { $0.bits == nil && $0.hCycles == r.trainedDepth.hCycles }.sorted { $0.steps < $1.steps }
            #expect(steps.contains("FP32, H_cycles \(r.trainedDepth.hCycles) (trained): " + byStep.map { String(format: "%.1f", 100 * $0.exact.estimate) }.joined(separator: ", ")))
        }
    }

    /// The frontier against a brute-force dominance check: a recipe is on it when no other has fewer or equal
    /// bytes and higher or equal exact accuracy, one of them strictly.
    @Test func paretoFrontierIsTheUndominatedRecipes() throws {
        var checked = 0
        for path in Inputs.sweeps {
            let r = try Inputs.sweep(path)
            let rows = SweepViews.fullDepth(r)
            let undominated = Set(rows.filter { a in
                !rows.contains { b in b.weightBytes <= a.weightBytes && b.exact.estimate >= a.exact.estimate
                    && (b.weightBytes < a.weightBytes || b.exact.estimate > a.exact.estimate) }
            }.map(\.recipe))
            let frontier = SweepViews.paretoFrontier(rows)
            #expect(Set(frontier.map(\.recipe)) == undominated, "\(path)")
            let html = HTMLReport.render([ReportInput(name: "x", content: .sweep(r))])
            let c = try #require(caption(html, figure: "s1-x-pareto"))
            for (i, f) in frontier.enumerated() { #expect(c.contains("\(i + 1) \(f.recipe) (\(f.weightBytes) B"), "\(path): \(f.recipe)") }
            checked += 1
        }
        #expect(checked == 5)
        // One known case, read off study/trm_att_sudoku6.md: FP32 is dominated (INT8 per-channel MSE is smaller and more exact).
        let r = try Inputs.sweep(Fixtures.path("study/trm_att_sudoku6.json"))
        #expect(!SweepViews.paretoFrontier(SweepViews.fullDepth(r)).contains { $0.recipe == "fp32" })
    }

    @Test func seriesMatchTheirData() throws {
        let r = try Inputs.sweep(Fixtures.path("study/trm_att_sudoku6.json"))
        let html = HTMLReport.render([ReportInput(name: "x", content: .sweep(r))])
        let plots = try checkPlots(html, expected: 4)
        let full = SweepViews.fullDepth(r)
        let quantized = full.filter { $0.bits != nil }
        // Bits view: one series per method × granularity, every quantized recipe once.
        #expect(plots[0].series.count == Set(quantized.map { "\($0.method) \($0.granularity)" }).count)
        #expect(plots[0].series.map(\.declaredPoints).reduce(0, +) == quantized.count)
        // Steps view: FP32 and INT8 per-channel RTN at both H_cycles, one point per step.
        #expect(plots[1].series.count == 4)
        #expect(plots[1].series.allSatisfy { $0.declaredPoints == r.trainedDepth.steps })
        // Pareto: every recipe (FP32 too) as a marker; the frontier line has no markers.
        #expect(plots[2].series.filter { $0.name != "Pareto frontier" }.map(\.declaredPoints).reduce(0, +) == full.count)
    }
}

@Suite struct CompareAndPlanPageTests {
    @Test func puzzleComparison() throws {
        guard case let .comparison(r) = try ReportInput.load(Inputs.comparePuzzles).content else { Issue.record("not compare --data"); return }
        let html = HTMLReport.render([ReportInput(name: "c", content: .comparison(r))])
        let plots = try checkPlots(html, expected: 3)
        let acc = try #require(caption(html, figure: "s1-c-accuracy"))
        #expect(acc.contains("Original: exact " + pct(r.original.accuracy.exact)))
        #expect(acc.contains("Compressed: exact " + pct(r.compressed.accuracy.exact)))
        #expect(acc.contains("(\(r.discordant[0]) lost, \(r.discordant[1]) gained)"))
        // Carry fidelity: one point per step for the whole carry and each part (z_H, z_L).
        #expect(plots[1].series.count == 3 && plots[1].series.allSatisfy { $0.declaredPoints == r.fidelity.count })
        let carry = try #require(caption(html, figure: "s1-c-carry"))
        #expect(carry.contains("step 1 " + String(format: "%.4f", r.fidelity[0].carry.estimate)))
        // SQNR bars: the changed tensors, worst first, the unchanged counted.
        let changed = r.layers.filter { $0.error.sqnrDB.isFinite }.sorted { $0.error.sqnrDB < $1.error.sqnrDB }
        #expect(plots[2].series[0].declaredPoints == min(30, changed.count))
        let sq = try #require(caption(html, figure: "s1-c-sqnr"))
        #expect(sq.contains("Worst: \(changed[0].name) at " + String(format: "%.2f", changed[0].error.sqnrDB) + " dB"))
        #expect(sq.contains("\(r.layers.count - changed.count) tensors are stored unchanged"))
    }

    @Test func languageComparisonAndOtherToolsPoints() throws {
        guard case let .languageComparison(r) = try ReportInput.load(Inputs.compareText).content else { Issue.record("not compare --text"); return }
        guard case let .points(llama) = try ReportInput.load(Inputs.pointsLlama).content else { Issue.record("not points"); return }
        #expect(llama.points.count == 2)
        let html = try HTMLReport.render(paths: [Inputs.compareText, Inputs.pointsLlama])
        // PPL, KLD percentiles, hidden states, SQNR, then KLD against bits.
        let plots = try checkPlots(html, expected: 5)
        let kld = try #require(caption(html, figure: "s1-compare-text-kld"))
        #expect(kld.contains("Mean " + String(format: "%.6f", r.kld.value)))
        #expect(kld.contains("99% " + String(format: "%.6f", r.kldDistribution.p99)))
        #expect(plots[2].series[0].declaredPoints == r.hiddenStateCosine.count)
        let vs = try #require(caption(html, figure: "kld-bits"))
        let bpw = try #require(LanguageViews.bitsPerWeight(r))
        #expect(vs.contains("Shrink q4_0.gguf: " + String(format: "%.3f", bpw) + " bits, KLD " + String(format: "%.5f", r.kld.value)))
        for p in llama.points { #expect(vs.contains("llama.cpp b10605 \(p.label): " + String(format: "%.3f", p.bitsPerWeight) + " bits")) }
        #expect(plots[4].series.map(\.name) == ["Shrink", "llama.cpp b10605"])
        // The same llama-quantize Q4_0 file counted by Shrink (stored bytes of the compared tensors) and by gguf-py
        // (tools/report_fixtures.sh): the same bits per weight; and the two tools' mean KLD within 1%.
        let q4 = try #require(llama.points.first { $0.label == "Q4_0" })
        #expect(abs(bpw - q4.bitsPerWeight) < 1e-4, "\(bpw) vs \(q4.bitsPerWeight)")
        #expect(abs(r.kld.value / q4.meanKld - 1) < 0.01)
    }

    @Test func everyPlanRenders() throws {
        let paths = Inputs.plans
        #expect(paths.count == 18, "plans/*.json")
        var figures = 0
        for path in paths {
            guard case let .plan(p) = try ReportInput.load(path).content else { Issue.record("\(path): not a plan"); continue }
            let html = HTMLReport.render([ReportInput(name: "p", content: .plan(p))])
            let withRecipe = p.models.filter { !$0.quantize.isEmpty }.count
            _ = try checkPlots(html, expected: 1 + withRecipe)
            figures += 1 + withRecipe
            let c = try #require(caption(html, figure: "s1-p-budget"))
            let ram = p.models.reduce(0) { $0 + $1.prediction.ramBytes }
            #expect(c.contains("RAM \(ram) of \(p.budget.ramBytes) bytes"), "\(path): \(c)")
            for m in p.models where !m.quantize.isEmpty {
                #expect(html.contains("\(m.quantize.count) tensors: "), "\(path)")
            }
        }
        #expect(figures > paths.count)
    }

    @Test func stackPlanKeepsTensorNames() throws {
        guard case let .plan(p) = try ReportInput.load(Fixtures.path("plans/stack-trm_att+hrm-soc-8mb-sram-250KB.json")).content else {
            Issue.record("not a plan"); return
        }
        // Tensor names are keys of `quantize`: snake case must not be undone there, nor in the device profile.
        #expect(p.models[0].quantize["inner.L_level.layers.0.mlp.down_proj.weight"]?.bits == 4)
        #expect(p.device.ramBytes == 8_388_608 && p.budget.maxWeightBytes == 250_000)
        #expect(p.device.sources["ram_bytes"] != nil)
    }
}

@Suite struct ReportInputTests {
    func write(_ text: String, _ dir: TemporaryDirectory, _ name: String) -> String {
        let path = dir.file(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test func unknownOrMalformedInputNamesTheFile() throws {
        let dir = TemporaryDirectory("report")
        let cases: [(String, String, String)] = [
            ("notjson.json", "# a markdown table", "not a JSON object"),
            ("array.json", "[1, 2]", "the top level is not an object"),
            ("other.json", "{\"name\": \"x\"}", "not a Shrink result"),
            ("badsweep.json", "{\"rows\": [], \"trained_h_cycles\": 3}", "looks like sweep JSON but does not decode (key 'model' is missing)"),
            ("badpoints.json", "{\"kind\": \"points\", \"tool\": \"t\", \"points\": [{\"label\": \"a\", \"mean_kld\": 0.1}]}",
             "looks like points JSON but does not decode (key 'points.0.bits_per_weight' is missing)"),
        ]
        for (name, text, message) in cases {
            let path = write(text, dir, name)
            do {
                _ = try ReportInput.load(path)
                Issue.record("\(name) was accepted")
            } catch let e as ReportError {
                #expect(e.description.hasPrefix(path + ": "), "\(e)")
                #expect(e.description.contains(message), "\(e)")
                #expect(!e.description.contains("\n"), "one line")
            }
        }
        #expect(throws: ReportError.unreadable(path: dir.file("missing.json"))) { try ReportInput.load(dir.file("missing.json")) }
        #expect(throws: ReportError.noInputs) { try HTMLReport.render(paths: []) }
    }

    /// The points format as documented on `ToolPoints`, written by hand.
    @Test func documentedPointsFormatDecodes() throws {
        let dir = TemporaryDirectory("report")
        let path = write("""
        {"kind": "points", "tool": "llama.cpp b10605", "base": "SmolLM2-135M-Instruct Q4_1 release",
         "text": "data/text/evaluation.txt",
         "points": [{"label": "Q4_0", "bits_per_weight": 4.5, "mean_kld": 0.296, "mean_kld_error": 0.0021}]}
        """, dir, "points.json")
        guard case let .points(p) = try ReportInput.load(path).content else { Issue.record("not points"); return }
        #expect(p == ToolPoints(tool: "llama.cpp b10605", base: "SmolLM2-135M-Instruct Q4_1 release", text: "data/text/evaluation.txt",
                                points: [.init(label: "Q4_0", bitsPerWeight: 4.5, meanKld: 0.296, meanKldError: 0.0021)]))
        let html = try HTMLReport.render(paths: [path])
        _ = try checkPlots(html, expected: 1)
        #expect(caption(html, figure: "kld-bits")?.contains("1 llama.cpp b10605 Q4_0: 4.500 bits, KLD 0.29600 ± 0.00210") == true)
    }

    @Test func ticksAndAxesCoverTheirData() {
        let values = [0.0213, 0.47, 0.93]
        let a = Axis.linear("x", values: values)
        #expect(values.allSatisfy(a.contains) && a.ticks.count >= 3)
        let l = Axis.log("y", values: [41_800, 529_416])
        #expect(l.lower == 20_000 && l.upper == 1_000_000)
        #expect(l.ticks.map(\.value) == [20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000])
        #expect(Text.truncate("inner.L_level.layers.0.self_attn.qkv_proj.weight", 20).count == 20)
        #expect(Text.escape("<a & \"b\">") == "&lt;a &amp; &quot;b&quot;&gt;")
    }
}
