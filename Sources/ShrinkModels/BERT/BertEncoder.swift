import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// A BERT encoder with its weights bound (Devlin et al., "BERT", arXiv 1810.04805; transformers'
/// modeling_bert.py `BertModel`), run as sentence-transformers runs all-MiniLM-L6-v2: Transformer → Pooling
/// (mean over the attention mask) → Normalize (L2), per its modules.json and 1_Pooling/config.json.
public final class BertEncoder: CompressibleModel, @unchecked Sendable {
    public let config: BertConfig
    public var family: BertFamily { BertFamily(config) }
    public var familyDescription: any ModelFamily { family }
    public func hasSameArchitecture(as other: any CompressibleModel) -> Bool { (other as? BertEncoder)?.config == config }
    public let location: String
    /// The checkpoint's names (with `bert.` when it was saved from a `BertFor*` model).
    public let names: BertNames

    /// Word embeddings: resident, or streamed a row at a time from the mapped file.
    let wordEmbeddings: any EmbeddingRows
    let positionEmbeddings: [Float], tokenTypeEmbeddings: [Float]
    let embeddingsNorm: Norm
    let layers: [Layer]
    /// `BertPooler` (tanh of a dense layer on the [CLS] state); absent from checkpoints saved without it.
    let pooler: PackedLinear?

    struct Norm { var weight: [Float], bias: [Float] }

    struct Layer {
        /// query, key and value fused into one [3D, D] product; `qkvNames` are the three weights it shows to a
        /// `LinearInputObserver` (they share their input).
        var qkv: PackedLinear
        var qkvNames: [String]
        var attentionOutput: PackedLinear
        var attentionNorm: Norm
        var intermediate: PackedLinear
        var output: PackedLinear
        var outputNorm: Norm
    }

    /// Binds a checkpoint named as `BertModel` (or under `bert.`) to `config`.
    /// - Parameter streamWordEmbeddings: read word-embedding rows from the source on demand (it must stay alive).
    public init(config: BertConfig, weights: any TensorSource, location: String, streamWordEmbeddings: Bool = false) throws {
        try config.validate(file: location)
        self.config = config
        self.location = location
        let c = config, D = c.hiddenSize, I = c.intermediateSize
        let n = BertNames.detect(in: Set(weights.tensorNames))
        names = n
        let bind = WeightBinder(source: weights, file: weights.location)
        if streamWordEmbeddings {
            wordEmbeddings = try bind.rows(n.wordEmbeddings, shape: [c.vocabSize, D])
        } else {
            wordEmbeddings = ResidentRows(values: try bind.tensor(n.wordEmbeddings, shape: [c.vocabSize, D]), rows: c.vocabSize, width: D)
        }
        positionEmbeddings = try bind.tensor(n.positionEmbeddings, shape: [c.maxPositionEmbeddings, D])
        tokenTypeEmbeddings = try bind.tensor(n.tokenTypeEmbeddings, shape: [c.typeVocabSize, D])
        embeddingsNorm = Norm(weight: try bind.tensor(n.embeddingsNormWeight, shape: [D]), bias: try bind.tensor(n.embeddingsNormBias, shape: [D]))
        // transformers registers position_ids as a non-persistent buffer and ignores a stored copy; so do we.
        if let info = weights.info(n.positionIds) { _ = try bind.tensor(n.positionIds, shape: info.shape.dims) }
        layers = try (0..<c.numHiddenLayers).map { i in
            let l = n.layer(i)
            let q = try bind.tensor(l.query, shape: [D, D]), k = try bind.tensor(l.key, shape: [D, D]), v = try bind.tensor(l.value, shape: [D, D])
            let qb = try bind.tensor(l.queryBias, shape: [D]), kb = try bind.tensor(l.keyBias, shape: [D]), vb = try bind.tensor(l.valueBias, shape: [D])
            return Layer(qkv: PackedLinear(weight: q + k + v, outFeatures: 3 * D, inFeatures: D, bias: qb + kb + vb, name: l.query),
                         qkvNames: [l.query, l.key, l.value],
                         attentionOutput: try bind.linear(l.attentionOutput, out: D, in: D, bias: l.attentionOutputBias),
                         attentionNorm: Norm(weight: try bind.tensor(l.attentionNormWeight, shape: [D]), bias: try bind.tensor(l.attentionNormBias, shape: [D])),
                         intermediate: try bind.linear(l.intermediate, out: I, in: D, bias: l.intermediateBias),
                         output: try bind.linear(l.output, out: D, in: I, bias: l.outputBias),
                         outputNorm: Norm(weight: try bind.tensor(l.outputNormWeight, shape: [D]), bias: try bind.tensor(l.outputNormBias, shape: [D])))
        }
        pooler = weights.info(n.poolerWeight) == nil ? nil : try bind.linear(n.poolerWeight, out: D, in: D, bias: n.poolerBias)
        try bind.finish()
    }

    /// Loads an encoder from a model directory, its weights file, or a compressed directory (dequantized on load).
    public static func load(_ path: String, streamWordEmbeddings: Bool = false) throws -> BertEncoder {
        try ModelRegistry.load(path, as: BertEncoder.self, needed: "a BERT encoder (model_type bert)", streamEmbeddings: streamWordEmbeddings)
    }

    public var parameterCount: Int {
        func count(_ l: PackedLinear) -> Int { l.outFeatures * l.inFeatures + (l.bias?.count ?? 0) }
        let D = config.hiddenSize
        let perLayer = layers.first.map { l in count(l.qkv) + count(l.attentionOutput) + count(l.intermediate) + count(l.output) + 4 * D } ?? 0
        return wordEmbeddings.rows * wordEmbeddings.width + positionEmbeddings.count + tokenTypeEmbeddings.count + 2 * D
            + layers.count * perLayer + (pooler.map(count) ?? 0)
    }
}
