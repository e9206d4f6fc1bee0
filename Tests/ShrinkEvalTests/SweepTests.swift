import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing

@Suite struct SweepTests {
    @Test func spearmanMatchesKnownValues() {
        #expect(Sweep.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1)
        #expect(Sweep.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
        // Ties take average ranks: x ranks 1.5,1.5,3,4; y ranks 1..4 → ρ = 0.9487 (Pearson of ranks).
        #expect(abs(Sweep.spearman([1, 1, 2, 3], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-12)
    }

    /// The generic report (rows generic over the task's depth) writes exactly the JSON the study's sweeps were
    /// written in: a committed sweep decodes and re-encodes byte for byte.
    @Test(arguments: ["hrm_sudoku6", "trm_mlp_sudoku9"])
    func aCommittedSweepReencodesByteForByte(_ name: String) throws {
        let bytes = try fileBytes(Fixtures.path("study/\(name).json"))
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        let report = try d.decode(Sweep.Report<RecursionDepth>.self, from: Data(bytes))
        #expect(report.rows.count > 100 && report.trainedDepth.steps == report.rows.map(\.steps).max())
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        #expect(Array(try e.encode(report)) + Array("\n".utf8) == bytes)
    }

    @Test func theGridReusesOneFP32RunAndReportsEveryStep() throws {
        let dir = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        var o = Sweep.Options()
        o.bits = [8, 2]
        o.methods = [.rtn]
        o.granularities = [.channel]
        let r = try Sweep.run(model: RecursiveReasoner.load(directory: dir), data: PuzzleDataset(path: dir + "/data.safetensors"), options: o)
        #expect(r.rows.count == 3 * 2)  // fp32, int8, int2 × 2 steps
        let fp32 = r.rows.filter { $0.recipe == "fp32" }
        #expect(fp32.allSatisfy { $0.fidelity == 1 && $0.exactVersusFP32.estimate == 0 })
        let int8 = r.rows.first { $0.bits == 8 && $0.steps == 2 }!, int2 = r.rows.first { $0.bits == 2 && $0.steps == 2 }!
        #expect(int2.fidelity < int8.fidelity && int8.fidelity < 1)
        #expect(int2.weightBytes < int8.weightBytes && int8.weightBytes < fp32[0].weightBytes)
        #expect(r.rows.first { $0.steps == 1 }!.flopsPerPuzzle * 2 == r.rows.first { $0.steps == 2 }!.flopsPerPuzzle)
    }

    @Test func fewerOuterCyclesAddRowsForFP32AndTheCycleBitsOnly() throws {
        let dir = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")  // trained with H_cycles 2
        let model = try RecursiveReasoner.load(directory: dir), data = try PuzzleDataset(path: dir + "/data.safetensors")
        var o = Sweep.Options()
        o.bits = [8, 2]
        o.methods = [.rtn]
        o.granularities = [.channel]
        let plain = try Sweep.run(model: model, data: data, options: o)
        let r = try Sweep.run(model: model, data: data, extraHCycles: [1, 2], options: o)
        #expect(r.trainedHCycles == 2)
        let extra = r.rows.filter { $0.hCycles == 1 }
        #expect(extra.count == 2 * 2 && Set(extra.map(\.recipe)) == ["fp32", "int8 per-channel rtn"])
        // The trained grid is unchanged by the extra depth.
        let trained = r.rows.filter { $0.hCycles == 2 }
        #expect(trained.map(\.exact.estimate) == plain.rows.map(\.exact.estimate) && trained.map(\.fidelity) == plain.rows.map(\.fidelity))
        // FP32 at one cycle is its own reference (fidelity 1, Δ 0) but is paired with full depth for the depth question.
        let fp32One = try #require(extra.first { $0.bits == nil && $0.steps == 2 })
        #expect(fp32One.fidelity == 1 && fp32One.exactVersusFP32.estimate == 0)
        let fullExact = try #require(trained.first { $0.bits == nil && $0.steps == 2 }).exact.estimate
        #expect(abs(fp32One.exactVersusFP32FullDepth.estimate - (fp32One.exact.estimate - fullExact)) < 1e-12)
        // H_cycles 1 runs 1·(L + 1) module calls per step instead of 2·(L + 1).
        let c = model.config
        #expect(fp32One.flopsPerPuzzle == ReasonerCost.puzzleFLOPs(c, depth: RecursionDepth(steps: 2, hCycles: 1, lCycles: c.lCycles)))
    }
}

@Suite struct CostTests {
    @Test func flopsOfATinyTRMMatchAHandCount() throws {
        // P = 12, D = 16, 2 heads, 1 layer, SwiGLU width 256, V = 7, H = 2, L = 2 cycles.
        let c = try RecursiveReasoner.load(directory: Fixtures.path("Tests/Fixtures/tiny/trm-learned")).config
        let mlp = 2 * 12 * 16 * 512 + 2 * 12 * 256 * 16
        let projections = 2 * 12 * 16 * 48 + 2 * 12 * 16 * 16
        let attention = 2 * 2 * 12 * 12 * 16
        #expect(ReasonerCost.blockFLOPs(c) == mlp + projections + attention)
        let heads = 2 * 12 * 16 * 7 + 2 * 16 * 2
        // TRM: H·(L + 1) module calls of one layer each.
        #expect(ReasonerCost.stepFLOPs(c, hCycles: 2, lCycles: 2) == 6 * (mlp + projections + attention) + heads)
        #expect(ReasonerCost.puzzleFLOPs(c, depth: RecursionDepth(steps: 3, hCycles: 1, lCycles: 1)) == 3 * (2 * (mlp + projections + attention) + heads))
    }
}

@Suite struct StudyReportTests {
    static func interval(_ e: Double, _ lo: Double, _ hi: Double) -> Statistics.Interval {
        Statistics.Interval(estimate: e, lower: lo, upper: hi, level: 0.95)
    }

    @Test func verdictsFollowThePairedStatistics() {
        typealias V = StudyReport.Verdict
        // 80% → 30%: significant and below half of FP32.
        #expect(V.of(difference: Self.interval(-0.5, -0.55, -0.45), p: 1e-9, reference: 0.8, margin: 0.02) == .collapse)
        // 80% → 70%: significant, not a collapse.
        #expect(V.of(difference: Self.interval(-0.1, -0.13, -0.07), p: 1e-5, reference: 0.8, margin: 0.02) == .drop)
        #expect(V.of(difference: Self.interval(0.01, -0.005, 0.015), p: 0.4, reference: 0.8, margin: 0.02) == .unchanged)
        #expect(V.of(difference: Self.interval(-0.01, -0.04, 0.01), p: 0.3, reference: 0.8, margin: 0.02) == .inconclusive)
        #expect(V.of(difference: Self.interval(0.05, 0.02, 0.08), p: 0.001, reference: 0.8, margin: 0.02) == .gain)
    }

    @Test func theStudyStatesEachFindingFromASweep() throws {
        let dir = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        var o = Sweep.Options()
        o.bits = [8, 4]
        o.methods = [.rtn]
        o.granularities = [.tensor, .channel]
        let r = try Sweep.run(model: RecursiveReasoner.load(directory: dir), data: PuzzleDataset(path: dir + "/data.safetensors"), extraHCycles: [1], options: o)
        // At full depth FP32 is paired with itself: Δ = 0 exactly.
        #expect(r.rows.filter { $0.bits == nil && $0.steps == 2 }.allSatisfy { $0.exactVersusFP32FullDepth.estimate == 0 })
        let md = StudyReport.markdown([StudyReport.Input(name: "tiny", report: r, tablePath: "study/tiny.md")], command: "make study")
        for heading in ["## 1. Does naive INT4", "## 2. Which calibrator", "## 3. Does INT8 at fewer", "**At fewer outer cycles.**", "## 4. Does carry-trajectory"] {
            #expect(md.contains(heading))
        }
        #expect(md.contains("Generated by `make study`"))
        #expect(md.contains("| tiny | 4 |") && md.contains("| tiny | 8 |"))
        // The compounding table: naive INT4's 1 − CTF at steps 1 and 2 and their ratio, from the sweep's rows.
        let naive = [1, 2].map { s in r.rows.first { $0.bits == 4 && $0.method == "rtn" && $0.granularity == "per-tensor" && $0.steps == s }! }
        let ratio = String(format: "%.2f×", (1 - naive[1].fidelity) / (1 - naive[0].fidelity))
        #expect(md.contains("| tiny | " + naive.map { String(format: "%.3f", 1 - $0.fidelity) }.joined(separator: " ") + " | " + ratio + " |"))
        // One row for H_cycles 1 (trained 2) with INT8 and FP32 exact at each step.
        let int8One = [1, 2].map { s in r.rows.first { $0.bits == 8 && $0.granularity == "per-channel" && $0.hCycles == 1 && $0.steps == s }! }
        #expect(md.contains("| tiny | 1 (2) | " + int8One.map { String(format: "%.0f", 100 * $0.exact.estimate) }.joined(separator: " ") + " | "))
        // Two INT8 rows (steps 1 and 2) in the fewer-steps table, each with a yes/no.
        #expect(md.components(separatedBy: "\n").filter { $0.hasPrefix("| tiny | ") && ($0.hasSuffix("| yes |") || $0.hasSuffix("| no |")) }.count == 2)
    }
}

/// The sweep's pruning and low-rank axes evaluate in memory exactly what `shrink quantize --prune / --low-rank`
/// writes: the same values read back, and the same tensor bytes.
@Suite struct SweepPruningTests {
    static let model = "Tests/Fixtures/tiny/trm-rope-puzzle-emb"

    static func statistics(_ model: RecursiveReasoner) throws -> [String: LayerStatistics] {
        try PuzzleTask.calibrationStatistics(model, calibration: Fixtures.path(Self.model) + "/data.safetensors", count: 16).0
    }

    @Test(arguments: ["magnitude 0.5 dense", "wanda 2:4 dense", "sparsegpt 0.5 int4", "magnitude 2:4 int4", "none int3 rank 8"])
    func theInMemoryRoundTripIsWhatQuantizeWrites(_ recipe: String) throws {
        let dir = Fixtures.path(Self.model)
        let model = try RecursiveReasoner.load(directory: dir)
        let stats = try Self.statistics(model)
        let parts = recipe.split(separator: " ").map(String.init)
        var o = QuantizeOptions()
        if parts[0] != "none" { o.prune = PruneChoice(method: PruneMethod(rawValue: parts[0])!, sparsity: try Sparsity(parsing: parts[1], flag: "test")) }
        if parts.contains("dense") { o.quantize = false }
        if let i = parts.firstIndex(where: { $0.hasPrefix("int") }) { o.bits = Int(parts[i].dropFirst(3))!; o.granularity = .channel }
        if parts.contains("rank") { o.lowRank = .init(rank: 8, method: .eora) }
        if o.prune?.method == .sparsegpt && o.quantize { o.method = .gptq }
        let source = try Checkpoint.open(dir)
        let (memory, bytes) = try QuantizeJob.roundTrip(source, options: o, calibration: stats)
        let out = TemporaryDirectory()
        defer { withExtendedLifetime(out) {} }
        try QuantizeJob.run(source, options: o, outputDirectory: out.path + "/q", calibration: stats)
        let written = try CompressedCheckpoint(directory: out.path + "/q")
        #expect(try SafetensorsFile(path: out.path + "/q/model.safetensors").totalBytes == bytes, "\(recipe)")
        let compressed = try QuantizeJob.plan(source, options: o).filter { $0.scheme != nil || $0.prune != nil }.count
        var changed = 0
        for info in source.infos {
            let a = try memory.floats(info.name), b = try written.floats(info.name)
            #expect(a == b, "\(recipe): \(info.name)")
            if a != (try source.floats(info.name)) { changed += 1 }
        }
        #expect(compressed >= 4 && changed == compressed, "\(recipe): \(changed) of \(compressed) tensors changed")
    }

    /// A sparse-only sweep: two pruning methods at two sparsities, one row per choice and supervision step, each
    /// marked as a pruning row (no bits, dense values).
    @Test func aPruningSweepHasOneRowPerChoiceAndStep() throws {
        let dir = Fixtures.path(Self.model)
        let model = try RecursiveReasoner.load(directory: dir)
        let stats = try Self.statistics(model)
        var o = Sweep.Options()
        o.bits = []
        o.prunings = [PruneMethod.magnitude, .sparsegpt].flatMap { m in [Sparsity.unstructured(0.5), .unstructured(0.9)].map { PruneChoice(method: m, sparsity: $0) } }
        let r = try Sweep.run(model: model, data: PuzzleDataset(path: Fixtures.path(Self.model) + "/data.safetensors"), options: o, calibration: stats)
        let steps = model.fullDepth.steps
        #expect(r.rows.count == 5 * steps)
        let last = r.rows.filter { $0.steps == steps }
        #expect(last.map(\.recipe) == ["fp32", "prune magnitude 0.5", "prune magnitude 0.9", "prune sparsegpt 0.5", "prune sparsegpt 0.9"])
        #expect(last.dropFirst().allSatisfy { $0.bits == nil && $0.granularity == "dense" && $0.prune != nil && $0.sparsity != nil })
        // 90% removes more than 50% does: fewer bytes for each method; SparseGPT, which updates the kept weights to
        // minimise each layer's output error, keeps more fidelity than magnitude at both sparsities and loses it
        // with sparsity (magnitude's cosine on this random tiny model is not monotone: 0.61 at 50%, 0.66 at 90%).
        for m in ["magnitude", "sparsegpt"] {
            let half = last.first { $0.recipe == "prune \(m) 0.5" }!, most = last.first { $0.recipe == "prune \(m) 0.9" }!
            #expect(most.weightBytes < half.weightBytes, "\(m)")
        }
        #expect(last[3].fidelity > last[4].fidelity && last[3].fidelity > last[1].fidelity && last[4].fidelity > last[2].fidelity,
                "\(last.map(\.fidelity))")
    }
}
