import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// all-MiniLM-L6-v2 against transformers' BertModel + sentence-transformers pooling
/// (tools/reference/minilm_goldens.py → Tests/Fixtures/minilm).
@Suite struct BertTests {
    static let modelDirectory = Fixtures.path("models/minilm")
    static let goldensPath = Fixtures.path("Tests/Fixtures/minilm/goldens.safetensors")
    /// Sentence embeddings: 1 − cos(Shrink, PyTorch), worst over the 64 sentences (issue 13 §5: 1e-5).
    static let embeddingCosineTolerance = 1e-5
    /// Per-layer hidden states: max |Δ| / max |reference| of each layer (float32 sums in another order).
    static let hiddenStateRelativeTolerance: Float = 1e-4

    /// Loaded once for the suite (tests run in parallel).
    static let loaded = Result { () throws -> BertEncoder in
        guard FileSystem.exists(modelDirectory + "/model.safetensors") else {
            throw ModelError.badRequest(flag: modelDirectory, reason: "is missing: run tools/fetch_real.sh")
        }
        return try BertEncoder.load(modelDirectory)
    }

    static func model() throws -> BertEncoder { try loaded.get() }

    struct Goldens {
        let sentences: [[Int32]]
        let embeddings: [Float], pooler: [Float], layerMeans: [Float], hiddenShort: [Float]
        let shortIndex: Int
        init() throws {
            let g = try Checkpoint.open(BertTests.goldensPath)
            let ids = try g.floats("input_ids").map { Int32($0) }, offsets = try g.floats("offsets").map { Int($0) }
            sentences = (0..<(offsets.count - 1)).map { Array(ids[offsets[$0]..<offsets[$0 + 1]]) }
            embeddings = try g.floats("embeddings"); pooler = try g.floats("pooler_output")
            layerMeans = try g.floats("layer_means"); hiddenShort = try g.floats("hidden_states_short")
            shortIndex = Int(g.metadata["short_index"] ?? "") ?? -1
        }
    }

    static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
        return ab / (aa * bb).squareRoot()
    }

    static func relativeError(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        var diff: Float = 0, scale: Float = 0
        for (x, y) in zip(a, b) { diff = max(diff, abs(x - y)); scale = max(scale, abs(y)) }
        return diff / max(scale, .leastNormalMagnitude)
    }

    @Test func miniLMConfigIsABertFamilyOf22_71MParameters() throws {
        let model = try Self.model()  // fails with "run tools/fetch_real.sh" when the model is missing
        #expect(model.parameterCount == 22_713_216)
        let family = try ModelRegistry.family(config: Self.modelDirectory + "/config.json")
        let bert = try #require(family as? BertFamily)
        #expect(bert.tensorLayout.reduce(0) { $0 + $1.parameters } == 22_713_216)
        // The layout is the checkpoint: same names and shapes, less the position_ids buffer.
        let source = try Checkpoint.open(Self.modelDirectory + "/model.safetensors")
        let stored = source.infos.filter { $0.name != "embeddings.position_ids" }.map { TensorSpec($0.name, $0.shape.dims, .linear) }
        #expect(stored.map(\.name).sorted() == bert.tensorLayout.map(\.name))
        #expect(stored.sorted { $0.name < $1.name }.map(\.shape) == bert.tensorLayout.map(\.shape))
        #expect(bert.tensorLayout.filter { $0.role == .linear }.count == 6 * 6 + 1)
        #expect(bert.scaleFolds.count == 6)
        let layout = Dictionary(uniqueKeysWithValues: bert.tensorLayout.map { ($0.name, $0) })
        for f in bert.scaleFolds {
            let consumer = try #require(layout[f.consumers[0]]), producer = try #require(layout[f.producer])
            let biasName = try #require(f.producerBias)
            let bias = try #require(layout[biasName])
            #expect(f.rows.count == consumer.shape[1] && f.rows.upperBound <= producer.shape[0] && bias.shape == [producer.shape[0]])
        }
        #expect(bert.cost(CostQuery(context: 4096)).flopsUnit == "per sentence of 512 tokens")
    }

    @Test func otherTypesAreNotReadAsBert() throws {
        let tmp = TemporaryDirectory()
        try #"{"model_type": "roberta", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 8, "vocab_size": 4}"#
            .write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try ModelRegistry.family(config: tmp.file("config.json")) }
        try #"{"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 3, "intermediate_size": 8, "vocab_size": 4}"#
            .write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
        #expect(throws: ModelError.badConfig(file: tmp.file("config.json"), field: "num_attention_heads", reason: "must divide hidden_size 8, is 3")) {
            try ModelRegistry.family(config: tmp.file("config.json"))
        }
        try #"{"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 4, "hidden_act": "gelu_new"}"#
            .write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
        #expect(throws: ModelError.self) { try ModelRegistry.family(config: tmp.file("config.json")) }
    }

    @Test func kernelsMatchTheirScalarReferences() throws {
        var rng = TestRandom(seed: 13)
        let rows = 5, n = 384
        let x = rng.normals(rows * n, scale: 3), r = rng.normals(rows * n), g = rng.normals(n), b = rng.normals(n)
        var fast = [Float](repeating: 0, count: rows * n), reference = fast
        sk_add_layer_norm_rows(x, r, rows, n, g, b, 1e-12, &fast)
        sk_add_layer_norm_rows_ref(x, r, rows, n, g, b, 1e-12, &reference)
        #expect(Self.relativeError(fast[...], reference[...]) < 2e-6)

        var gelu = (0..<20001).map { Float($0 - 10000) / 1000 }, geluRef = gelu
        sk_gelu_erf(&gelu, gelu.count)
        sk_gelu_erf_ref(&geluRef, geluRef.count)
        let worst = zip(gelu, geluRef).map { abs($0 - $1) / max(1, abs($1)) }.max()!
        #expect(worst < 1e-6, "GELU off by \(worst)")
        // A few ulp of 1 near |erf| → 1.
        let erfWorst = stride(from: Float(-5), through: 5, by: 0.01).map { abs(sk_erf_approx($0) - Float(erf(Double($0)))) }.max()!
        #expect(erfWorst < 4e-7, "erf off by \(erfWorst)")

        let P = 37, d = 32, ld = 3 * d
        let qkv = rng.normals(P * ld, scale: 2)
        var out = [Float](repeating: 0, count: P * d), outRef = out
        var scratch = [Float](repeating: 0, count: P * (d + 1))
        qkv.withUnsafeBufferPointer { q in
            sk_attention_head(q.baseAddress!, q.baseAddress! + d, q.baseAddress! + 2 * d, ld, P, d, 0.17, &out, d, &scratch)
            sk_attention_head_ref(q.baseAddress!, q.baseAddress! + d, q.baseAddress! + 2 * d, ld, P, d, 0.17, &outRef, d)
        }
        #expect(Self.relativeError(out[...], outRef[...]) < 1e-5)
    }

    @Test func sentenceEmbeddingsAndHiddenStatesMatchTransformers() throws {
        let model = try Self.model()
        let g = try Goldens()
        #expect(g.sentences.count == 64 && g.shortIndex >= 0)
        let D = model.config.hiddenSize, L = model.config.numHiddenLayers, S = g.sentences.count
        let out = try model.encode(g.sentences, hiddenStates: true)
        var worst = 0.0
        for i in 0..<S { worst = max(worst, 1 - Self.cosine(out.embedding(i), g.embeddings[(i * D)..<((i + 1) * D)])) }
        print("MiniLM parity: worst 1 − cos over \(S) sentence embeddings = \(worst)")
        #expect(worst < Self.embeddingCosineTolerance)

        let states = try #require(out.hiddenStates)
        #expect(states.count == L + 1)
        var worstLayer: Float = 0
        for layer in 0...L {
            var means = [Float](repeating: 0, count: S * D)
            for i in 0..<S {
                let rows = out.tokens(of: i)
                for r in rows { for j in 0..<D { means[i * D + j] += states[layer][r * D + j] / Float(rows.count) } }
            }
            let e = Self.relativeError(means[...], g.layerMeans[(layer * S * D)..<((layer + 1) * S * D)])
            worstLayer = max(worstLayer, e)
            #expect(e < Self.hiddenStateRelativeTolerance, "layer \(layer): token-mean hidden state off by \(e)")
            let rows = out.tokens(of: g.shortIndex), T = rows.count
            let full = Self.relativeError(states[layer][(rows.lowerBound * D)..<(rows.upperBound * D)],
                                          g.hiddenShort[(layer * T * D)..<((layer + 1) * T * D)])
            worstLayer = max(worstLayer, full)
            #expect(full < Self.hiddenStateRelativeTolerance, "layer \(layer): hidden states of sentence \(g.shortIndex) off by \(full)")
        }
        print("MiniLM parity: worst per-layer hidden-state max rel error = \(worstLayer)")
        let pooler = try #require(out.poolerOutput)
        #expect(Self.relativeError(pooler[0..<(8 * D)], g.pooler[...]) < Self.hiddenStateRelativeTolerance)
    }

    @Test func batchingDoesNotChangeAnEmbedding() throws {
        let model = try Self.model()
        let g = try Goldens()
        let whole = try model.encode(g.sentences)
        var start = 0, worst = 0.0
        while start < g.sentences.count {
            let end = min(start + 7, g.sentences.count)
            let part = try model.encode(Array(g.sentences[start..<end]))
            for i in 0..<(end - start) { worst = max(worst, 1 - Self.cosine(part.embedding(i), whole.embedding(start + i))) }
            start = end
        }
        #expect(worst < 1e-7)
    }

    /// AWQ's fold (ShrinkQuant.AWQ.fold) on the family's pairs, with the statistics MiniLM's own linear inputs
    /// give: the folded weights, before any rounding, compute the same embeddings, so value's bias was divided too.
    @Test func awqFoldsIntoValueAndItsBiasWithoutChangingTheFunction() throws {
        let model = try Self.model()
        let g = try Goldens()
        let sentences = Array(g.sentences.prefix(8))
        let collector = LayerStatisticsCollector()
        let reference = try model.encode(sentences, linearInputs: collector).embeddings
        #expect(collector.layers.count == 6 * 6 + 1)  // q, k, v, attention output, intermediate, output per layer; the pooler
        let source = try Checkpoint.open(Self.modelDirectory + "/model.safetensors")
        var q = QuantizeOptions(); q.bits = 4; q.granularity = .group(32); q.method = .awq
        // One pair keeps the debug-build search short; every pair is the same code path.
        let (folded, methods) = try AWQ.fold(source, decisions: QuantizeJob.plan(source, options: q), folds: model.family.scaleFolds,
                                             statistics: collector.layers, only: [BertNames().layer(2).attentionOutput])
        #expect(methods.values.filter { $0.hasPrefix("awq(") }.count == 1)
        let a = try BertEncoder(config: model.config, weights: folded, location: "awq-folded").encode(sentences).embeddings
        let D = model.config.hiddenSize
        let worst = (0..<8).map { 1 - Self.cosine(a[($0 * D)..<(($0 + 1) * D)], reference[($0 * D)..<(($0 + 1) * D)]) }.max()!
        #expect(worst < 1e-9, "AWQ fold changed the function: 1 − cos = \(worst)")
    }

    /// A `BertFor*` checkpoint nests the names under `bert.`: the same weights bind and run the same, and a
    /// head the encoder does not use is an error naming it.
    @Test func aBertPrefixedCheckpointBindsLikeABertModelOne() throws {
        let json = #"{"model_type": "bert", "vocab_size": 11, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 9}"#
        let config = try JSONDecoder().decode(BertConfig.self, from: Data(json.utf8))
        var rng = TestRandom(seed: 3)
        let layout = BertFamily(config).tensorLayout
        #expect(layout.count == 7 + 2 * 16)
        let tensors = layout.map { ($0.name, $0.shape, rng.normals($0.parameters, scale: 0.5)) }
        let tmp = TemporaryDirectory()
        try writeF32(tensors, to: tmp.file("plain.safetensors"))
        try writeF32(tensors.map { ("bert." + $0.0, $0.1, $0.2) }, to: tmp.file("prefixed.safetensors"))
        let plain = try BertEncoder(config: config, weights: try Checkpoint.open(tmp.file("plain.safetensors")), location: "plain")
        let prefixed = try BertEncoder(config: config, weights: try Checkpoint.open(tmp.file("prefixed.safetensors")), location: "prefixed")
        #expect(prefixed.names.prefix == "bert." && plain.names.prefix == "")
        let sentences: [[Int32]] = [[1, 5, 7, 2], [1, 3, 2], [1, 10, 9, 8, 4, 6, 2]]
        #expect(try plain.encode(sentences).embeddings == prefixed.encode(sentences).embeddings)
        try writeF32(tensors.map { ("bert." + $0.0, $0.1, $0.2) } + [("cls.predictions.bias", [11], rng.normals(11))], to: tmp.file("mlm.safetensors"))
        #expect(throws: ModelError.unexpectedTensor(file: tmp.file("mlm.safetensors"), tensor: "cls.predictions.bias")) {
            try BertEncoder(config: config, weights: try Checkpoint.open(tmp.file("mlm.safetensors")), location: "mlm")
        }
    }

    @Test func badInputIsATypedErrorNamingTheSentence() throws {
        let model = try Self.model()
        #expect(throws: ModelError.badRequest(flag: "sentence 1", reason: "contains token 30522, outside the vocabulary 0..<30522")) {
            try model.encode([[101, 102], [101, 30522, 102]])
        }
        #expect(throws: ModelError.badRequest(flag: "sentence 0", reason: "has 513 tokens; the model takes 1 to 512 (truncate it)")) {
            try model.encode([[Int32](repeating: 100, count: 513)])
        }
        #expect(throws: ModelError.self) { try model.encode([]) }
    }

    /// The one fold the family lists (value → attention.output.dense, with value's bias) preserves the function;
    /// the LayerNorm → query/key/value fold it does not list does not.
    @Test func valueToOutputFoldPreservesTheFunction() throws {
        let model = try Self.model()
        let g = try Goldens()
        let sentences = Array(g.sentences.prefix(8))
        let reference = try model.encode(sentences).embeddings
        let source = try Checkpoint.open(Self.modelDirectory + "/model.safetensors")
        let D = model.config.hiddenSize
        var rng = TestRandom(seed: 5)
        let s = (0..<D).map { _ in Float(0.25 + Double(rng.next() % 1000) / 500) }
        let folded = OverlaySource(base: source)
        for fold in model.family.scaleFolds {
            var consumer = try source.floats(fold.consumers[0]), producer = try source.floats(fold.producer)
            var bias = try source.floats(try #require(fold.producerBias))
            for i in 0..<D { for j in 0..<D { consumer[i * D + j] *= s[j] } }
            for (k, row) in fold.rows.enumerated() { for j in 0..<D { producer[row * D + j] /= s[k] }; bias[row] /= s[k] }
            try folded.replace(fold.consumers[0], with: consumer); try folded.replace(fold.producer, with: producer); try folded.replace(fold.producerBias!, with: bias)
        }
        let a = try BertEncoder(config: model.config, weights: folded, location: "folded").encode(sentences).embeddings
        let worst = (0..<8).map { 1 - Self.cosine(a[($0 * D)..<(($0 + 1) * D)], reference[($0 * D)..<(($0 + 1) * D)]) }.max()!
        #expect(worst < 1e-9)

        // Dividing output.LayerNorm's γ and β by s and multiplying the next query/key/value columns by s keeps
        // the attention input, but the same LayerNorm output is the residual the block adds back.
        let norm = OverlaySource(base: source)
        let l = BertNames().layer(1), previous = BertNames().layer(0)
        for name in [l.query, l.key, l.value] {
            var w = try source.floats(name)
            for i in 0..<D { for j in 0..<D { w[i * D + j] *= s[j] } }
            try norm.replace(name, with: w)
        }
        for name in [previous.outputNormWeight, previous.outputNormBias] {
            var v = try source.floats(name)
            for j in 0..<D { v[j] /= s[j] }
            try norm.replace(name, with: v)
        }
        let b = try BertEncoder(config: model.config, weights: norm, location: "norm-folded").encode(sentences).embeddings
        let drift = (0..<8).map { 1 - Self.cosine(b[($0 * D)..<(($0 + 1) * D)], reference[($0 * D)..<(($0 + 1) * D)]) }.max()!
        #expect(drift > 1e-4)
    }
}
