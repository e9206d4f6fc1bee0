import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing

@Suite struct ComparisonTests {
    @Test func mcNemarMatchesTheExactBinomialTail() {
        // b = 1, c = 9: p = 2 · (C(10,0) + C(10,1)) / 2^10 = 22/1024.
        #expect(abs(Statistics.mcNemarExact(onlyFirstCorrect: 1, onlySecondCorrect: 9) - 22.0 / 1024) < 1e-12)
        // Agresti's presidential-approval table (794, 150; 86, 570): b = 150, c = 86; exact p ≈ 3.8e-5.
        let p = Statistics.mcNemarExact(onlyFirstCorrect: 150, onlySecondCorrect: 86)
        #expect(p > 2e-5 && p < 6e-5)
        #expect(Statistics.mcNemarExact(onlyFirstCorrect: 5, onlySecondCorrect: 5) == 1)
    }

    func tinyData(_ model: String) throws -> PuzzleDataset {
        try PuzzleDataset(path: Fixtures.path("Tests/Fixtures/tiny/\(model)/data.safetensors"))
    }

    @Test func aModelComparedWithItselfHasFidelityExactlyOne() throws {
        let dir = Fixtures.path("Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb")
        let r = try Comparison.compare(original: RecursiveReasoner.load(directory: dir), compressed: RecursiveReasoner.load(directory: dir),
                                       on: PuzzleTask(tinyData("trm-mlp-t-puzzle-emb")))
        #expect(r.fidelity.allSatisfy { $0.carry.estimate == 1 && $0.parts == ["zH": 1, "zL": 1] })
        #expect(r.discordant == [0, 0] && r.exactMcNemarP == 1)
        #expect(r.label.evidence == .exploratory)  // 3 random puzzles, not a test split
    }

    @Test func twoBitWeightsLowerTheCarryFidelity() throws {
        let dir = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        let tmp = TemporaryDirectory()
        var o8 = QuantizeOptions(); o8.bits = 8
        var o2 = QuantizeOptions(); o2.bits = 2; o2.granularity = .tensor
        try QuantizeJob.run(try Checkpoint.open(dir), options: o8, outputDirectory: tmp.file("q8"))
        try QuantizeJob.run(try Checkpoint.open(dir), options: o2, outputDirectory: tmp.file("q2"))
        let original = try RecursiveReasoner.load(directory: dir)
        let r8 = try Comparison.compare(original: original, compressed: RecursiveReasoner.load(directory: tmp.file("q8")), on: PuzzleTask(tinyData("trm-rope-puzzle-emb")))
        let r2 = try Comparison.compare(original: original, compressed: RecursiveReasoner.load(directory: tmp.file("q2")), on: PuzzleTask(tinyData("trm-rope-puzzle-emb")))
        #expect(r8.finalFidelity.carry.estimate > 0.99 && r8.finalFidelity.carry.estimate < 1)
        #expect(r2.finalFidelity.carry.estimate < r8.finalFidelity.carry.estimate)
        #expect(r8.compressed.weightBytes < r8.original.weightBytes)
        #expect(r2.layers.contains { $0.error.sqnrDB < 10 })
    }

    @Test func labelsFollowTheEvidence() {
        let tight = Statistics.Interval(estimate: -0.001, lower: -0.01, upper: 0.008, level: 0.95)
        #expect(Comparison.label(exactDifference: tight, p: 0.6, puzzles: 2000, split: "test", margin: 0.02).evidence == .validated)
        #expect(Comparison.label(exactDifference: tight, p: 0.6, puzzles: 2000, split: "train", margin: 0.02).evidence == .exploratory)
        let wide = Statistics.Interval(estimate: -0.03, lower: -0.08, upper: 0.02, level: 0.95)
        #expect(Comparison.label(exactDifference: wide, p: 0.2, puzzles: 2000, split: "test", margin: 0.02).evidence == .exploratory)
        let drop = Statistics.Interval(estimate: -0.3, lower: -0.33, upper: -0.27, level: 0.95)
        let l = Comparison.label(exactDifference: drop, p: 1e-9, puzzles: 2000, split: "test", margin: 0.02)
        #expect(l.evidence == .validated && l.claim.hasPrefix("compression lowers"))
    }
}

@Suite struct AWQFoldTests {
    @Test(arguments: ["trm-learned", "trm-mlp-t-puzzle-emb", "hrm-rope"])
    func foldingTheScalesLeavesTheFunctionUnchanged(_ name: String) throws {
        let dir = Fixtures.path("Tests/Fixtures/tiny/\(name)")
        let model = try RecursiveReasoner.load(directory: dir)
        let data = try PuzzleDataset(path: dir + "/data.safetensors")
        let collector = LayerStatisticsCollector()
        _ = try PuzzleTask(data).run(model, units: 0..<data.count, depth: model.fullDepth, trace: false, linearInputs: collector)
        let stats = collector.layers
        var o = QuantizeOptions(); o.bits = 4; o.granularity = .channel; o.method = .awq
        let source = try Checkpoint.open(dir)
        let (folded, methods) = try AWQ.fold(source, decisions: QuantizeJob.plan(source, options: o), folds: model.family.scaleFolds, statistics: stats)
        #expect(methods.values.filter { $0.hasPrefix("awq(") }.count == model.family.scaleFolds.count)  // every fold pair, nothing else
        #expect(methods.values.contains { $0.hasPrefix("awq(") })
        let refolded = try RecursiveReasoner(config: model.config, weights: folded, location: "folded")
        var a: [Float] = [], b: [Float] = []
        try model.run(inputs: data.inputs, puzzleIdentifiers: data.puzzleIdentifiers, batch: data.count) { _, out in a = out.logits }
        try refolded.run(inputs: data.inputs, puzzleIdentifiers: data.puzzleIdentifiers, batch: data.count) { _, out in b = out.logits }
        let worst = zip(a, b).map { abs($0 - $1) }.max()!, scale = a.map { abs($0) }.max()!
        #expect(worst <= 1e-4 * scale, "max |Δlogit| \(worst) of \(scale)")
    }
}
