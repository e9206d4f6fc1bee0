import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// GPTQ's sequential mode on the tiny random Llama committed under Tests/Fixtures/llama (2 blocks, GQA): every
/// block is solved on inputs from the blocks before it as compressed, which a whole-model capture of the hybrid
/// model (compressed prefix, original rest) reproduces bit for bit.
@Suite struct SequentialCalibrationTests {
    static let tiny = Fixtures.path("Tests/Fixtures/llama/llama-tiny")

    static func units(count: Int = 3, tokens: Int = 24) throws -> [[Int32]] {
        let family = try #require(try ModelRegistry.family(config: tiny) as? LlamaFamily)
        return try TextCalibration.units("random:7", family: family, location: tiny, vocabulary: family.vocabularySize,
                                         count: count, context: tokens).0
    }

    /// Statistics of every linear input of `weights` run as a whole model on `units`.
    static func capture(_ weights: any TensorSource, config: LlamaConfig, units: [[Int32]]) throws -> [String: LayerStatistics] {
        let model = try LlamaModel(config: config, weights: weights, location: tiny)
        let collector = LayerStatisticsCollector()
        for u in units { _ = try model.logits(u, from: u.count, hiddenStates: nil, linearInputs: collector) }
        return collector.layers
    }

    @Test func eachBlockIsSolvedOnInputsFromTheCompressedPrefix() throws {
        let family = try #require(try ModelRegistry.family(config: Self.tiny) as? LlamaFamily)
        let units = try Self.units()
        let source = try Checkpoint.open(Self.tiny)
        var options = QuantizeOptions()
        options.bits = 3
        options.granularity = .group(16)
        options.method = .gptq
        options.keep = "lm_head"  // outside the blocks (QuantizePipeline keeps it so)
        let dir = TemporaryDirectory()
        let sequential = try SequentialCalibration(family: family, weights: source, location: Self.tiny, units: units,
                                                   decisions: QuantizeJob.plan(source, options: options), awq: [])
        try QuantizeJob.run(source, options: options, outputDirectory: dir.path + "/out", calibrationSource: sequential)
        let written = try CompressedCheckpoint(directory: dir.path + "/out")
        #expect(sequential.blockSeconds.count == family.config.layers)

        // Block 0 sees the embeddings: the whole-model capture of the original gives its statistics.
        let original = try Self.capture(source, config: family.config, units: units)
        // Block 1 sees block 0's compressed output: the capture of the hybrid model gives its statistics.
        let hybrid = OverlaySource(base: source)
        for name in family.blocks[0] where written.info(name) != nil { try hybrid.replace(name, with: try written.floats(name)) }
        let prefixed = try Self.capture(hybrid, config: family.config, units: units)

        var checked = 0
        for (b, statistics) in [(0, original), (1, prefixed)] {
            for name in family.blocks[b] {
                let info = try source.requireInfo(name)
                guard info.shape.rank == 2 else { continue }
                let scheme = QuantScheme(bits: 3, granularity: .group(16), scaleDType: .f32)
                let expected = try GPTQ.quantize(try source.floats(name), rows: info.shape.dims[0], columns: info.shape.dims[1],
                                                 hessian: try #require(statistics[name]).hessian, scheme: scheme, name: name)
                #expect(try written.floats(name) == expected.dequantized(), "\(name)")
                checked += 1
            }
        }
        #expect(checked == 14)
        // The test can fail: block 1 solved on the original model's inputs is a different tensor.
        let name = family.blocks[1][1], info = try source.requireInfo(name)
        let stale = try GPTQ.quantize(try source.floats(name), rows: info.shape.dims[0], columns: info.shape.dims[1],
                                      hessian: try #require(original[name]).hessian,
                                      scheme: QuantScheme(bits: 3, granularity: .group(16), scaleDType: .f32), name: name)
        #expect(try written.floats(name) != stale.dequantized())
    }

    @Test func awqFoldsIntoTheNormsWithoutChangingTheFunction() throws {
        let family = try #require(try ModelRegistry.family(config: Self.tiny) as? LlamaFamily)
        let units = try Self.units(count: 2)
        let source = try Checkpoint.open(Self.tiny)
        let statistics = try Self.capture(source, config: family.config, units: units)
        var options = QuantizeOptions()
        options.method = .awq
        options.granularity = .group(16)
        let overlay = OverlaySource(base: source)
        let methods = try AWQ.apply(to: overlay, decisions: QuantizeJob.plan(source, options: options), folds: family.scaleFolds,
                                    statistics: statistics)
        // Two norms per block fold into q/k/v and gate/up, up into down; GQA (4 heads, 2 KV heads) leaves o_proj unfolded.
        let folded = methods.filter { $0.value.hasPrefix("awq(") }
        #expect(folded.count == 12)
        #expect(methods[LlamaNames.layer(0).o]?.hasPrefix("rtn (awq: no producer") == true)
        #expect(overlay.isReplaced(LlamaNames.layer(1).inputNorm) && overlay.isReplaced(LlamaNames.layer(1).postNorm))
        let a = try LlamaModel(config: family.config, weights: source, location: Self.tiny)
        let b = try LlamaModel(config: family.config, weights: overlay, location: Self.tiny)
        let la = try a.logits(units[0], from: 0, hiddenStates: nil, linearInputs: nil)
        let lb = try b.logits(units[0], from: 0, hiddenStates: nil, linearInputs: nil)
        let scale = la.map(abs).max()!
        let worst = zip(la, lb).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4 * scale, "folding changed the logits by \(worst) (scale \(scale))")
        #expect(try source.floats(LlamaNames.layer(0).inputNorm) != overlay.floats(LlamaNames.layer(0).inputNorm))
    }

    @Test func aGGUFDecoderIsWrittenUnderTransformersNamesWithItsConfig() throws {
        let gguf = Fixtures.path("Tests/Fixtures/llama/qwen2-tiny/model.gguf")
        let dir = TemporaryDirectory()
        var options = QuantizeOptions()
        options.bits = 8
        options.granularity = .group(16)
        try QuantizePipeline.run(checkpoint: gguf, options: options, calibration: nil, outputDirectory: dir.path + "/q", overwrite: false)
        let written = try CompressedCheckpoint(directory: dir.path + "/q")
        #expect(written.info("model.layers.1.self_attn.q_proj.weight") != nil)
        #expect(written.tensorNames.allSatisfy { !$0.hasPrefix("blk.") })
        let config = try LlamaConfig(json: try Data(contentsOf: URL(fileURLWithPath: dir.path + "/q/config.json")), file: "config.json")
        let fromGGUF = try LlamaConfig(gguf: try GGUFReader(path: gguf))
        #expect(config.sameArchitecture(as: fromGGUF))
        let original = try LlamaModel.load(gguf)
        let compressed = try LlamaModel.load(dir.path + "/q")
        #expect(original.hasSameArchitecture(as: compressed))
        let tokens: [Int32] = [1, 5, 9, 3, 7, 2, 8]
        let la = try original.logits(tokens, from: 0, hiddenStates: nil, linearInputs: nil)
        let lb = try compressed.logits(tokens, from: 0, hiddenStates: nil, linearInputs: nil)
        // 8-bit groups of 16: the logits move by well under a percent of their range.
        let range = la.max()! - la.min()!
        #expect(zip(la, lb).map { abs($0 - $1) }.max()! < 0.01 * range)
        #expect(la != lb)
    }
}
