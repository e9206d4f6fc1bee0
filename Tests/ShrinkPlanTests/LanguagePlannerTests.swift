import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkPlan
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// The language-model planner on the tiny random Llama (2 blocks, untied head): sensitivities are KLDs of the
/// model with one tensor compressed, the knapsack keeps the recipe under the budget, and the recipe spends the
/// bytes where the divergence is.
@Suite struct LanguagePlannerTests {
    static let tiny = Fixtures.path("Tests/Fixtures/llama/llama-tiny")

    @Test func theRecipeFitsTheBudgetAndFollowsTheSensitivities() throws {
        var o = LanguagePlanner.Options()
        o.bits = [8, 2]
        o.methods = [.rtn]
        o.granularities = [.group(16)]
        o.sensitivityChunks = 2
        o.sensitivityContext = 32
        o.maxBytes = 1 << 30
        let roomy = try LanguagePlanner.run(model: Self.tiny, calibration: "random:3", options: o)
        let parameters = try Checkpoint.open(Self.tiny).parameterCount
        #expect(roomy.parameters == parameters)
        // With room for everything, nothing is compressed: keeping a tensor costs no divergence.
        #expect(roomy.fits && roomy.quantize.isEmpty && roomy.predictedKld == 0)
        // 7 weights per block and the head, each: keep, int8, int2.
        #expect(roomy.candidates.count == 15 * 3)
        let byTensor = Dictionary(grouping: roomy.candidates, by: \.tensor)
        #expect(byTensor.count == 15)
        var keptBytes = 0, eightBytes = 0, eightKLD = 0.0
        for (name, list) in byTensor {
            let kept = try #require(list.first { $0.choice == nil }), eight = try #require(list.first { $0.choice?.bits == 8 })
            let two = try #require(list.first { $0.choice?.bits == 2 })
            #expect(kept.kld == 0, "\(name)")
            #expect(two.kld > eight.kld && eight.kld >= 0, "\(name): int2 \(two.kld) vs int8 \(eight.kld)")
            #expect(two.bytes < eight.bytes && eight.bytes < kept.bytes)
            keptBytes += kept.bytes; eightBytes += eight.bytes; eightKLD += eight.kld
        }
        // A budget of exactly "int8 everywhere": the optimum fits it and diverges no more than int8 everywhere.
        o.maxBytes = roomy.predictedBytes - keptBytes + eightBytes
        let tight = try LanguagePlanner.run(model: Self.tiny, calibration: "random:3", options: o)
        #expect(tight.fits && tight.predictedBytes <= o.maxBytes!)
        #expect(tight.predictedKld <= eightKLD + 1e-12 && tight.predictedKld > 0)
        #expect(tight.quantize.count == 15)
        // The recipe file is what `shrink quantize --recipe` reads.
        let dir = TemporaryDirectory()
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        try e.encode(tight).write(to: URL(fileURLWithPath: dir.path + "/plan.json"))
        let recipe = try RecipeFile.load(path: dir.path + "/plan.json", model: "llama-tiny")
        #expect(recipe.choices == tight.quantize)
    }

    @Test func aBudgetBelowTheSmallestRecipeSaysSo() throws {
        var o = LanguagePlanner.Options()
        o.bits = [4]
        o.methods = [.rtn]
        o.granularities = [.group(16)]
        o.sensitivityContext = 32
        o.maxBytes = 1000
        let plan = try LanguagePlanner.run(model: Self.tiny, calibration: "random:3", options: o)
        #expect(!plan.fits)
        #expect(plan.verdict.hasPrefix("nothing fits 1000 bytes"))
        #expect(plan.quantize.count == 15)
    }
}
