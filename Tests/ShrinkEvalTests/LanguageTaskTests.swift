import CShrinkKernels
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// A byte tokenizer over a 16-token vocabulary (byte mod 16).
private struct NibbleTokenizer: Tokenizer {
    var addsBOS = false
    func encode(_ text: String) -> [Int32] { text.utf8.map { Int32($0 % 16) } }
    func decode(_ ids: [Int32]) -> String { "" }
    var vocabularySize: Int { 16 }
    var bosID: Int32? { 15 }
}

private struct FakeFamily: ModelFamily {
    static var familyName: String { "fake-lm" }
    static var claimedBy: String { "nothing" }
    static func claims(_ config: ConfigSummary) -> Bool { false }
    init() {}
    init(config data: Data, file: String) throws {}
    var variant: String { "fake-lm" }
    var tensorLayout: [TensorSpec] { [] }
    var scaleFolds: [ScaleFold] { [] }
    func cost(_ query: CostQuery) -> ForwardCost {
        ForwardCost(arena: ActivationArena(persistent: [], phases: []), flops: 0, flopsUnit: "per chunk")
    }
}

/// Logits that depend on the current token and the position, perturbed by `noise`: enough to make every
/// statistic non-trivial, and computable independently in double precision.
private final class FakeLM: CausalLanguageModel, @unchecked Sendable {
    let noise: Float
    let location: String
    /// The call (0-based) whose fourth scored row of logits holds a NaN and whose linear input an infinity.
    let poisonCall: Int?
    private var calls = 0
    init(noise: Float, poisonCall: Int? = nil) {
        self.noise = noise; self.poisonCall = poisonCall; location = Fixtures.path("Tests/Fixtures/tiny/trm-learned")
    }
    var familyDescription: any ModelFamily { FakeFamily() }
    var parameterCount: Int { 0 }
    func hasSameArchitecture(as other: any CompressibleModel) -> Bool { other is FakeLM }
    var vocabularySize: Int { 16 }
    var hiddenSize: Int { 4 }
    var hiddenStateCount: Int { 2 }
    func makeTokenizer() throws -> any Tokenizer { NibbleTokenizer() }

    static func logit(token: Int32, position: Int, j: Int, noise: Float) -> Float {
        Float(sin(Double(Int(token) * 7 + j * 3 + position % 5))) * 3 + noise * Float(cos(Double(j * 11 + position)))
    }

    func logits(_ tokens: [Int32], from first: Int, hiddenStates: ((Int, UnsafeBufferPointer<Float>) -> Void)?,
                linearInputs: LinearInputObserver?) throws -> [Float] {
        let poisoned = calls == poisonCall
        calls += 1
        if let linearInputs {
            var x = tokens.enumerated().flatMap { p, t in (0..<4).map { Float(Int(t) * 4 + $0 + p % 3) } }
            if poisoned { x[5 * 4 + 2] = .infinity }
            x.withUnsafeBufferPointer { linearInputs.observe(layer: "fake.proj", inputs: $0.baseAddress!, rows: tokens.count, columns: 4) }
        }
        if let hiddenStates {
            for s in 0..<hiddenStateCount {
                let h = tokens.enumerated().flatMap { p, t in (0..<4).map { Float(Int(t) + p + $0 + s) + noise * Float($0) } }
                h.withUnsafeBufferPointer { hiddenStates(s, $0) }
            }
        }
        var logits = (first..<tokens.count).flatMap { p in (0..<16).map { Self.logit(token: tokens[p], position: p, j: $0, noise: noise) } }
        if poisoned { logits[3 * 16 + 7] = .nan }
        return logits
    }
}

private func corpus() throws -> (TemporaryDirectory, String) {
    let dir = TemporaryDirectory()
    var text = ""
    for i in 0..<400 { text += "line \(i): the quick brown fox \(i * 7919 % 1000) jumps.\n" }
    let path = dir.path + "/text.txt"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return (dir, path)
}

/// log-softmax in double precision, written independently of the C kernels.
private func logProbabilities(_ row: [Float]) -> [Double] {
    let m = Double(row.max()!)
    let lse = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
    return row.map { Double($0) - lse }
}

@Suite struct LanguageTaskTests {
    @Test func perplexityMatchesAnIndependentDoubleReference() throws {
        let (dir, path) = try corpus()
        _ = dir
        let model = FakeLM(noise: 0)
        let task = try LanguageTask<FakeLM>(text: path, tokenizer: NibbleTokenizer(), context: 64, chunks: 10, split: "test")
        #expect(task.unitCount == 10)
        #expect(task.scoredPerChunk == 31)
        let r = try LanguageEvaluation.evaluate(model, on: task)
        var nll: [Double] = []
        for c in 0..<10 {
            let t = task.tokens[(c * 64)..<((c + 1) * 64)].map { $0 }
            for p in 32..<63 {
                let row = (0..<16).map { FakeLM.logit(token: t[p], position: p, j: $0, noise: 0) }
                nll.append(-logProbabilities(row)[Int(t[p + 1])])
            }
        }
        let mean = nll.reduce(0, +) / Double(nll.count)
        let variance = nll.map { $0 * $0 }.reduce(0, +) / Double(nll.count) - mean * mean
        #expect(r.perplexity.tokens == 310)
        #expect(abs(r.perplexity.value / exp(mean) - 1) < 1e-5)
        #expect(abs(r.perplexity.error / (exp(mean) * (variance / 309).squareRoot()) - 1) < 1e-4)
        #expect(r.running.count == 10 && abs(r.running[9] - r.perplexity.value) < 1e-9 * r.perplexity.value)
    }

    @Test func bosReplacesTheFirstTokenOfEveryChunkWhenTheVocabularyAddsOne() throws {
        let (dir, path) = try corpus()
        _ = dir
        var tok = NibbleTokenizer()
        tok.addsBOS = true
        let task = try LanguageTask<FakeLM>(text: path, tokenizer: tok, context: 64, split: nil)
        #expect(task.tokens[0] == 15, "llama-perplexity tokenizes with add_special: BOS starts the stream")
        for c in [0, 3] { #expect(task.chunkTokens(c)[0] == 15) }
        #expect(task.chunkTokens(3)[1] == task.tokens[3 * 64 + 1])
    }

    @Test func identicalModelsHaveZeroDivergence() throws {
        let (dir, path) = try corpus()
        _ = dir
        let task = try LanguageTask<FakeLM>(text: path, tokenizer: NibbleTokenizer(), context: 64, chunks: 24, split: "test")
        let r = try LanguageComparison.compare(original: FakeLM(noise: 0), compressed: FakeLM(noise: 0), on: task)
        #expect(r.kld.value == 0 && r.kldDistribution.max == 0)
        #expect(r.sameTop.value == 1)
        #expect(r.perplexityRatio.value == 1 && r.lnPerplexityRatio.value == 0)
        #expect(r.hiddenStateCosine.count == 2 && r.hiddenStateCosine.allSatisfy { abs($0.cosine.estimate - 1) < 1e-12 })
        #expect(r.label.evidence == .validated, "an interval of exactly 0 lies inside the equivalence margin")
    }

    @Test func divergenceStatisticsMatchAnIndependentDoubleReference() throws {
        let (dir, path) = try corpus()
        _ = dir
        let task = try LanguageTask<FakeLM>(text: path, tokenizer: NibbleTokenizer(), context: 64, chunks: 12, split: "train")
        let r = try LanguageComparison.compare(original: FakeLM(noise: 0), compressed: FakeLM(noise: 0.7), on: task)
        var kld: [Double] = [], same = 0, pDiff: [Double] = []
        for c in 0..<12 {
            let t = task.tokens[(c * 64)..<((c + 1) * 64)].map { $0 }
            for p in 32..<63 {
                let a = logProbabilities((0..<16).map { FakeLM.logit(token: t[p], position: p, j: $0, noise: 0) })
                let b = logProbabilities((0..<16).map { FakeLM.logit(token: t[p], position: p, j: $0, noise: 0.7) })
                kld.append(zip(a, b).reduce(0) { $1.0 > -16 ? $0 + exp($1.0) * ($1.0 - $1.1) : $0 })
                if a.firstIndex(of: a.max()!) == b.firstIndex(of: b.max()!) { same += 1 }
                pDiff.append(exp(b[Int(t[p + 1])]) - exp(a[Int(t[p + 1])]))
            }
        }
        let meanKLD = kld.reduce(0, +) / Double(kld.count)
        #expect(meanKLD > 0.01, "the perturbation must matter for the test to mean anything")
        #expect(abs(r.kld.value / meanKLD - 1) < 1e-4)
        #expect(abs(r.kldDistribution.max - kld.max()!) < 1e-4 * kld.max()!)
        #expect(r.sameTop.value == Double(same) / Double(kld.count))
        #expect(abs(r.deltaP.value - pDiff.reduce(0, +) / Double(pDiff.count)) < 1e-5)
        #expect(r.label.evidence == .exploratory, "a training split is never validated")
        #expect(r.hiddenStateCosine[1].cosine.estimate < 1)
    }

    @Test func aNaNLogitIsReportedWithItsChunkNotAveragedAway() throws {
        let (dir, path) = try corpus()
        _ = dir
        let task = try LanguageTask<FakeLM>(text: path, tokenizer: NibbleTokenizer(), context: 64, chunks: 12, split: "test")
        // The compressed model's third call (chunk 2) gives one NaN row.
        let r = try LanguageComparison.compare(original: FakeLM(noise: 0), compressed: FakeLM(noise: 0.1, poisonCall: 2), on: task)
        #expect(r.nonFinite == NonFiniteUnits(units: [2], of: 12, positions: 1))
        #expect(r.kld.value.isNaN && r.compressed.perplexity.value.isNaN && r.kldDistribution.p99.isNaN)
        #expect(r.label.evidence == .exploratory && r.label.reason.hasPrefix("1 of 12 chunks (2) gave NaN or infinite outputs at 1 scored positions"),
                "\(r.label.reason)")
        let clean = try LanguageComparison.compare(original: FakeLM(noise: 0), compressed: FakeLM(noise: 0.1), on: task)
        #expect(clean.nonFinite == nil && clean.kld.value.isFinite)

        let e = try LanguageEvaluation.evaluate(FakeLM(noise: 0, poisonCall: 5), on: task)
        #expect(e.nonFinite?.units == [5] && e.perplexity.value.isNaN && e.chunkPerplexities[5].isNaN && e.chunkPerplexities[4].isFinite)
    }

    @Test func aCalibrationChunkWithAnInfiniteActivationStopsNamingLayerAndChunk() throws {
        let (dir, path) = try corpus()
        _ = dir
        do {
            _ = try TextCalibration.statistics(FakeLM(noise: 0, poisonCall: 3), calibration: path, count: 6, context: 64)
            Issue.record("calibration went on past an infinite activation")
        } catch let ModelError.nonFiniteActivation(a) {
            #expect(a.layer == "fake.proj" && a.unit == 3 && a.row == 5 && a.column == 2 && a.value == .infinity)
            #expect(a.description.contains("layer 'fake.proj' is inf on chunk 3 of \(path) (position 5, channel 2)"), "\(a)")
        }
        _ = try TextCalibration.statistics(FakeLM(noise: 0), calibration: path, count: 6, context: 64)
    }

    @Test func textCalibrationSeesEveryLinearInputOfTheFirstChunks() throws {
        let (dir, path) = try corpus()
        _ = dir
        let (stats, summary) = try TextCalibration.statistics(FakeLM(noise: 0), calibration: path, count: 5, context: 64)
        #expect(summary.puzzles == 5 && summary.split == "calibration")
        let s = try #require(stats["fake.proj"])
        #expect(s.rows == 5 * 64 && s.columns == 4)
        // Column 0 is 4·token + position mod 3: its mean over the observed rows, recomputed from the tokens.
        let task = try LanguageTask<FakeLM>(text: path, tokenizer: NibbleTokenizer(), context: 64, chunks: 5, split: nil)
        let expected = (0..<5).flatMap { c in task.chunkTokens(c).enumerated().map { Double(Int($1) * 4 + $0 % 3) } }
        #expect(abs(s.meanAbs[0] - expected.reduce(0, +) / Double(expected.count)) < 1e-9)
    }

    @Test func aTextTooShortForTwoContextsIsAnErrorNamingTheFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/short.txt"
        try "too short".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ModelError.self) { try LanguageTask<FakeLM>(text: path, tokenizer: NibbleTokenizer(), context: 64, split: nil) }
        do { _ = try LanguageTask<FakeLM>(text: path, tokenizer: NibbleTokenizer(), context: 64, split: nil) } catch {
            #expect("\(error)".contains(path) && "\(error)".contains("128"))
        }
    }

    @Test func logSoftmaxKernelsAgreeWithTheirScalarReferences() {
        var rng = SeededGenerator(seed: 3)
        let n = 49_152
        let a = (0..<n).map { _ in Float(Double.random(in: -15..<15, using: &rng)) }
        let b = a.map { $0 + Float(Double.random(in: -0.5..<0.5, using: &rng)) }
        var (fa, ra, fb, rb) = (sk_logsumexp_t(), sk_logsumexp_t(), sk_logsumexp_t(), sk_logsumexp_t())
        sk_logsumexp_row(a, n, &fa); sk_logsumexp_row_reference(a, n, &ra)
        sk_logsumexp_row(b, n, &fb); sk_logsumexp_row_reference(b, n, &rb)
        #expect(fa.max == ra.max && fa.argmax == ra.argmax)
        #expect(abs(fa.sum_exp / ra.sum_exp - 1) < 1e-6)
        let fast = sk_kl_divergence_row(a, &fa, b, &fb, n, -16), ref = sk_kl_divergence_row_reference(a, &ra, b, &rb, n, -16)
        #expect(ref > 0 && abs(fast / ref - 1) < 1e-4)
    }
}
