import Foundation
import ShrinkTensor

/// A BERT encoder's `config.json` with transformers' field names (`BertConfig`,
/// transformers/models/bert/configuration_bert.py), as all-MiniLM-L6-v2 ships it.
public struct BertConfig: Codable, Sendable, Equatable {
    /// transformers' `hidden_act` values this encoder implements.
    public enum Activation: String, Codable, Sendable {
        /// x·Φ(x) with the exact erf (`ACT2FN["gelu"]`, torch.nn.functional.gelu).
        case gelu
    }

    public var modelType: String?
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Double
    public var hiddenAct: String
    public var positionEmbeddingType: String
    public var padTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size", maxPositionEmbeddings = "max_position_embeddings"
        case typeVocabSize = "type_vocab_size", layerNormEps = "layer_norm_eps", hiddenAct = "hidden_act"
        case positionEmbeddingType = "position_embedding_type", padTokenId = "pad_token_id"
    }

    /// Missing optional fields take `BertConfig`'s defaults (type_vocab_size 2, layer_norm_eps 1e-12, gelu,
    /// absolute positions).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 512
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-12
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
    }

    public var headDim: Int { hiddenSize / numAttentionHeads }
    public var activation: Activation? { Activation(rawValue: hiddenAct) }

    /// Checks what the forward pass relies on; names the field and the fix.
    public func validate(file: String) throws {
        func bad(_ field: String, _ why: String) -> ModelError { .badConfig(file: file, field: field, reason: why) }
        for (f, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                       ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                       ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize)] where v < 1 {
            throw bad(f, "must be at least 1, is \(v)")
        }
        try ConfigBounds.requireCounts([("num_hidden_layers", numHiddenLayers)], file: file)
        try ConfigBounds.requireSizes([("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                                       ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                                       ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize)], file: file)
        let width = Double(Swift.max(hiddenSize, intermediateSize, vocabSize, maxPositionEmbeddings, typeVocabSize))
        try ConfigBounds.requireWork(Double(numHiddenLayers + 2) * width * width * 16 * Double(maxPositionEmbeddings),
                                     fields: "hidden_size, intermediate_size, vocab_size, max_position_embeddings and num_hidden_layers", file: file)
        if hiddenSize % numAttentionHeads != 0 { throw bad("num_attention_heads", "must divide hidden_size \(hiddenSize), is \(numAttentionHeads)") }
        if activation == nil { throw bad("hidden_act", "is '\(hiddenAct)'; this encoder implements 'gelu' (the erf form) only") }
        if positionEmbeddingType != "absolute" {
            throw bad("position_embedding_type", "is '\(positionEmbeddingType)'; this encoder implements 'absolute' only")
        }
        if !(layerNormEps > 0) || !layerNormEps.isFinite { throw bad("layer_norm_eps", "must be a positive number, is \(layerNormEps)") }
    }
}

/// BERT tensor names as transformers' `BertModel` state dict spells them (modeling_bert.py): the one place they
/// are written. A `BertFor*` checkpoint nests the same names under `bert.`; `prefix` carries that.
public struct BertNames: Sendable {
    public let prefix: String
    public init(prefix: String = "") { self.prefix = prefix }

    public var wordEmbeddings: String { prefix + "embeddings.word_embeddings.weight" }
    public var positionEmbeddings: String { prefix + "embeddings.position_embeddings.weight" }
    public var tokenTypeEmbeddings: String { prefix + "embeddings.token_type_embeddings.weight" }
    public var embeddingsNormWeight: String { prefix + "embeddings.LayerNorm.weight" }
    public var embeddingsNormBias: String { prefix + "embeddings.LayerNorm.bias" }
    /// A buffer (arange of positions) older transformers saved with the weights; not a parameter.
    public var positionIds: String { prefix + "embeddings.position_ids" }
    public var poolerWeight: String { prefix + "pooler.dense.weight" }
    public var poolerBias: String { prefix + "pooler.dense.bias" }

    /// The tensors of encoder layer `i`.
    public struct Layer: Sendable {
        public let query, queryBias, key, keyBias, value, valueBias: String
        public let attentionOutput, attentionOutputBias, attentionNormWeight, attentionNormBias: String
        public let intermediate, intermediateBias, output, outputBias, outputNormWeight, outputNormBias: String
        init(_ p: String) {
            query = p + "attention.self.query.weight"; queryBias = p + "attention.self.query.bias"
            key = p + "attention.self.key.weight"; keyBias = p + "attention.self.key.bias"
            value = p + "attention.self.value.weight"; valueBias = p + "attention.self.value.bias"
            attentionOutput = p + "attention.output.dense.weight"; attentionOutputBias = p + "attention.output.dense.bias"
            attentionNormWeight = p + "attention.output.LayerNorm.weight"; attentionNormBias = p + "attention.output.LayerNorm.bias"
            intermediate = p + "intermediate.dense.weight"; intermediateBias = p + "intermediate.dense.bias"
            output = p + "output.dense.weight"; outputBias = p + "output.dense.bias"
            outputNormWeight = p + "output.LayerNorm.weight"; outputNormBias = p + "output.LayerNorm.bias"
        }
    }

    public func layer(_ i: Int) -> Layer { Layer(prefix + "encoder.layer.\(i).") }

    /// The prefix a checkpoint uses: "bert." when its word embeddings sit there, else none.
    public static func detect(in names: Set<String>) -> BertNames {
        names.contains("bert." + BertNames().wordEmbeddings) ? BertNames(prefix: "bert.") : BertNames()
    }
}
