import Foundation
import ShrinkEval
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// `shrink sweep --text` on the tiny random Llama of Tests/Fixtures/llama (2 blocks, GQA, vocabulary 256), given a
/// byte-level tokenizer whose 256 tokens are the 256 bytes, so any text runs through it.
@Suite struct LanguageSweepTests {
    /// The tiny Llama with a tokenizer.json, a calibration text and a different evaluation text (`TinyDecoder`).
    static func setUp() throws -> (TemporaryDirectory, model: String, calibration: String, evaluation: String) {
        let dir = TemporaryDirectory()
        let (model, calibration, evaluation) = try TinyDecoder.setUp(in: dir)
        return (dir, model, calibration, evaluation)
    }

    @Test func everyRecipeOfTheGridIsWrittenReadBackAndJudged() throws {
        let (dir, model, calibration, evaluation) = try Self.setUp()
        _ = dir
        let original = try ModelRegistry.load(model, as: LlamaModel.self, needed: "the tiny decoder")
        var o = LanguageSweep.Options()
        o.bits = [8, 3]
        o.methods = [.rtn, .gptq]
        o.granularities = [.group(16)]
        o.calibrationChunks = 4
        o.calibrationContext = 32
        let r = try LanguageSweep.run(model: original, path: model, text: TextOptions(path: evaluation, context: 32, chunks: 6, split: "test"),
                                      calibration: calibration, options: o)
        #expect(r.rows.map(\.recipe) == ["int8 group-16 rtn", "int8 group-16 gptq", "int3 group-16 rtn", "int3 group-16 gptq"])
        #expect(r.chunks == 6 && r.context == 32 && r.originalPerplexity.value > 1)
        #expect(r.keptInEveryRow == ["lm_head.weight"], "the untied head stays as stored in every row, so rows compare at equal bytes")
        let row = Dictionary(uniqueKeysWithValues: r.rows.map { ($0.recipe, $0) })
        // Same bits and groups: the same bytes whatever the method; fewer bits, fewer bytes.
        #expect(row["int8 group-16 rtn"]!.tensorBytes == row["int8 group-16 gptq"]!.tensorBytes)
        #expect(row["int3 group-16 rtn"]!.tensorBytes < row["int8 group-16 rtn"]!.tensorBytes && row["int8 group-16 rtn"]!.tensorBytes < r.originalBytes)
        // Every recipe changed the model, 3 bits far more than 8.
        for method in ["rtn", "gptq"] {
            let (eight, three) = (row["int8 group-16 \(method)"]!, row["int3 group-16 \(method)"]!)
            #expect(eight.kld.value > 0 && eight.kld.value < three.kld.value / 10, "\(method): KLD \(eight.kld.value) at 8 bits, \(three.kld.value) at 3")
        }
        #expect(r.rows.allSatisfy { $0.label.evidence == .exploratory }, "6 chunks are too few to validate")
    }

    /// `--prune … --bits none`: each pruning choice alone, stored sparse; with bits, crossed with the grid. Every row
    /// is written, read back and judged like a quantized one, and says what it pruned.
    @Test func pruningChoicesAreRowsOfTheSweep() throws {
        let (dir, model, calibration, evaluation) = try Self.setUp()
        _ = dir
        let original = try ModelRegistry.load(model, as: LlamaModel.self, needed: "the tiny decoder")
        var o = LanguageSweep.Options()
        o.bits = []
        o.prunings = [PruneChoice(method: .magnitude, sparsity: try Sparsity(parsing: "0.5", flag: "--sparsity")),
                      PruneChoice(method: .sparsegpt, sparsity: try Sparsity(parsing: "2:4", flag: "--sparsity"))]
        o.calibrationChunks = 4
        o.calibrationContext = 32
        let text = TextOptions(path: evaluation, context: 32, chunks: 6, split: "test")
        let r = try LanguageSweep.run(model: original, path: model, text: text, calibration: calibration, options: o)
        #expect(r.rows.map(\.recipe) == ["prune magnitude 0.5", "prune sparsegpt 2:4"])
        #expect(r.rows.allSatisfy { $0.bits == nil && $0.method == nil && $0.prune != nil && $0.kld.value > 0 })
        #expect(r.rows.map(\.sparsity) == ["0.5", "2:4"])
        // Sparse storage: f32 values of the kept half plus one mask bit per weight, below the dense f32 bytes.
        #expect(r.rows.allSatisfy { $0.tensorBytes < r.originalBytes }, "\(r.rows.map(\.tensorBytes)) vs \(r.originalBytes)")
        // Crossed with a bit width: the pruned weights are then quantized.
        o.bits = [8]
        o.methods = [.rtn]
        o.granularities = [.group(16)]
        o.prunings = [o.prunings[0]]
        let crossed = try LanguageSweep.run(model: original, path: model, text: text, calibration: nil, options: o)
        #expect(crossed.rows.map(\.recipe) == ["prune magnitude 0.5, int8 group-16 rtn"] && crossed.rows[0].bits == 8)
        // Wanda and SparseGPT run the model on calibration text.
        o.prunings = [PruneChoice(method: .wanda, sparsity: try Sparsity(parsing: "0.5", flag: "--sparsity"))]
        #expect(throws: ModelError.badRequest(flag: "--calib", reason: "wanda and sparsegpt need a calibration text (never the evaluation one)")) {
            try LanguageSweep.run(model: original, path: model, text: text, calibration: nil, options: o)
        }
    }

    @Test func calibratedMethodsNeedACalibrationTextOtherThanTheEvaluationOne() throws {
        let (dir, model, _, evaluation) = try Self.setUp()
        _ = dir
        let original = try ModelRegistry.load(model, as: LlamaModel.self, needed: "the tiny decoder")
        var o = LanguageSweep.Options()
        o.bits = [4]
        o.methods = [.gptq]
        let text = TextOptions(path: evaluation, context: 32, chunks: 2, split: "test")
        #expect(throws: ModelError.badRequest(flag: "--calib", reason: "gptq and awq need a calibration text (never the evaluation one)")) {
            try LanguageSweep.run(model: original, path: model, text: text, calibration: nil, options: o)
        }
        #expect(throws: ModelError.badRequest(flag: "--calib", reason: "\(evaluation) is also the evaluation text; calibrate on other text")) {
            try LanguageSweep.run(model: original, path: model, text: text, calibration: evaluation, options: o)
        }
    }
}
