import ShrinkEval
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
