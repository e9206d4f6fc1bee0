import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// BERT encoders (model_type "bert": all-MiniLM-L6-v2 and its kin) as a family: post-norm blocks with GELU,
/// read as transformers' `BertModel`, pooled and normalised as sentence-transformers does (`BertEncoder`).
public struct BertFamily: RunnableFamily, Equatable {
    public static let familyName = "bert"
    public static let claimedBy = "Hugging Face config with model_type bert (or architectures BertModel)"
    public static func claims(_ c: ConfigSummary) -> Bool {
        if let t = c.modelType { return t == "bert" }
        return c.architectures.contains("BertModel")
    }

    public let config: BertConfig

    public init(_ config: BertConfig) { self.config = config }

    public init(config data: Data, file: String) throws {
        let c: BertConfig
        do { c = try JSONDecoder().decode(BertConfig.self, from: data) } catch {
            throw ModelError.badConfig(file: file, field: ModelRegistry.field(of: error), reason: "is missing or has the wrong type")
        }
        try c.validate(file: file)
        config = c
    }

    public var variant: String { "bert" }

    /// Every parameter of `BertModel` with its pooler (sentence-transformers checkpoints keep it though mean
    /// pooling never reads it): all-MiniLM-L6-v2 holds 22,713,216. The three embedding tables are read a row
    /// per token; LayerNorm weights and biases are `.norm`, the linear layers' biases `.bias`.
    public var tensorLayout: [TensorSpec] {
        let c = config, D = c.hiddenSize, I = c.intermediateSize, n = BertNames()
        var list = [TensorSpec(n.wordEmbeddings, [c.vocabSize, D], .embedding, rowRead: true),
                    TensorSpec(n.positionEmbeddings, [c.maxPositionEmbeddings, D], .embedding, rowRead: true),
                    TensorSpec(n.tokenTypeEmbeddings, [c.typeVocabSize, D], .embedding, rowRead: true),
                    TensorSpec(n.embeddingsNormWeight, [D], .norm), TensorSpec(n.embeddingsNormBias, [D], .norm),
                    TensorSpec(n.poolerWeight, [D, D], .linear), TensorSpec(n.poolerBias, [D], .bias)]
        for i in 0..<c.numHiddenLayers {
            let l = n.layer(i)
            list += [TensorSpec(l.query, [D, D], .linear), TensorSpec(l.queryBias, [D], .bias),
                     TensorSpec(l.key, [D, D], .linear), TensorSpec(l.keyBias, [D], .bias),
                     TensorSpec(l.value, [D, D], .linear), TensorSpec(l.valueBias, [D], .bias),
                     TensorSpec(l.attentionOutput, [D, D], .linear), TensorSpec(l.attentionOutputBias, [D], .bias),
                     TensorSpec(l.attentionNormWeight, [D], .norm), TensorSpec(l.attentionNormBias, [D], .norm),
                     TensorSpec(l.intermediate, [I, D], .linear), TensorSpec(l.intermediateBias, [I], .bias),
                     TensorSpec(l.output, [D, I], .linear), TensorSpec(l.outputBias, [D], .bias),
                     TensorSpec(l.outputNormWeight, [D], .norm), TensorSpec(l.outputNormBias, [D], .norm)]
        }
        return list.sorted { $0.name < $1.name }
    }

    /// Only value → attention.output.dense: the attention output is softmax(QKᵀ)·V per head, linear in V, so
    /// dividing value's row j and bias j by s divides the dense layer's input channel j by s exactly.
    /// Not valid, so not listed:
    /// - a LayerNorm → the next linear (embeddings.LayerNorm or output.LayerNorm → query/key/value,
    ///   attention.output.LayerNorm → intermediate.dense): BERT is post-norm, so the LayerNorm output is also the
    ///   residual the block adds back; scaling its γ and β changes the residual stream, not only the consumer;
    /// - intermediate.dense → output.dense: GELU(x/s) ≠ GELU(x)/s;
    /// - pooler.dense: its input is the last LayerNorm's output (the residual stream again).
    public var scaleFolds: [ScaleFold] {
        let D = config.hiddenSize
        return (0..<config.numHiddenLayers).map { i in
            let l = BertNames().layer(i)
            return ScaleFold(consumer: l.attentionOutput, producer: l.value, rows: 0..<D, producerBias: l.valueBias)
        }
    }

    /// Per sentence of `min(context, max_position_embeddings)` tokens at batch 1.
    public func cost(_ query: CostQuery) -> ForwardCost {
        let tokens = min(max(1, query.context), config.maxPositionEmbeddings)
        return ForwardCost(arena: arena(tokens: tokens), flops: sentenceFLOPs(tokens: tokens), flopsUnit: "per sentence of \(tokens) tokens")
    }

    /// FLOPs of one sentence of `tokens` tokens (a multiply-add is 2): the four attention projections, the two
    /// MLP layers, the scores and weighted values of every head, and the pooler. LayerNorm, GELU, softmax and
    /// pooling are O(T·D) and not counted.
    public func sentenceFLOPs(tokens T: Int) -> Int {
        let D = config.hiddenSize, I = config.intermediateSize
        let perLayer = 2 * T * D * 4 * D + 2 * T * D * I * 2 + 2 * T * T * D * 2
        return config.numHiddenLayers * perLayer + 2 * D * D
    }

    /// Batch-1 working memory for a sentence of `tokens` tokens. Persistent: the hidden state [T, D] (every
    /// sub-layer's residual LayerNorm writes it in place). Phases: attention (fused q/k/v, one head's keys
    /// transposed and scores, the heads' context, the dense output), the MLP (intermediate, output), pooling
    /// (the sentence embedding and the pooler output).
    public func arena(tokens T: Int) -> ActivationArena {
        let c = config, D = c.hiddenSize
        return ActivationArena(persistent: [("hidden", T * D)],
                               phases: [("attention", [("qkv", T * 3 * D), ("scratch", T * (c.headDim + 1)), ("context", T * D), ("attention_out", T * D)]),
                                        ("mlp", [("intermediate", T * c.intermediateSize), ("mlp_out", T * D)]),
                                        ("pooling", [("embedding", D), ("pooler", D)])])
    }

    public func bind(_ weights: any TensorSource, location: String, streamEmbeddings: Bool) throws -> any CompressibleModel {
        try BertEncoder(config: config, weights: weights, location: location, streamWordEmbeddings: streamEmbeddings)
    }
}
