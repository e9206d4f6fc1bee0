import Foundation
import ShrinkQuant
import ShrinkTensor

/// A Hugging Face decoder-only language model's `config.json` (Llama, Qwen2,
/// Mistral style): enough to count its tensors and working memory.
public struct DecoderConfig: Codable, Sendable, Equatable {
    public var modelType: String?
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var vocabSize: Int
    public var tieWordEmbeddings: Bool?
    public var attentionBias: Bool?
    public var torchDtype: String?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", vocabSize = "vocab_size", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", torchDtype = "torch_dtype"
    }

    public var headDim: Int { hiddenSize / numAttentionHeads }
    public var kvDim: Int { (numKeyValueHeads ?? numAttentionHeads) * headDim }
    /// Qwen2 has biases on q, k and v; Llama only when `attention_bias` says so.
    public var qkvBias: Bool { attentionBias ?? (modelType == "qwen2") }

    public var dtype: DType {
        switch torchDtype {
        case "bfloat16": .bf16
        case "float16": .f16
        default: .f32
        }
    }

    /// Tensors named as transformers' state dict names them.
    public func tensors() -> [TensorSpec] {
        let H = hiddenSize, I = intermediateSize
        func t(_ name: String, _ shape: [Int], rowRead: Bool = false) -> TensorSpec {
            let role: TensorRole = name.contains("embed") ? .embedding : shape.count == 2 ? .linear : name.hasSuffix("bias") ? .bias : .norm
            return TensorSpec(name, shape, role, rowRead: rowRead)
        }
        // A tied table is also the output projection, read whole every token: not row-read.
        let tied = tieWordEmbeddings ?? false
        var list = [t("model.embed_tokens.weight", [vocabSize, H], rowRead: !tied), t("model.norm.weight", [H])]
        if !tied { list.append(t("lm_head.weight", [vocabSize, H])) }
        for i in 0..<numHiddenLayers {
            let p = "model.layers.\(i)."
            list += [t(p + "self_attn.q_proj.weight", [H, H]), t(p + "self_attn.k_proj.weight", [kvDim, H]),
                     t(p + "self_attn.v_proj.weight", [kvDim, H]), t(p + "self_attn.o_proj.weight", [H, H]),
                     t(p + "mlp.gate_proj.weight", [I, H]), t(p + "mlp.up_proj.weight", [I, H]), t(p + "mlp.down_proj.weight", [H, I]),
                     t(p + "input_layernorm.weight", [H]), t(p + "post_attention_layernorm.weight", [H])]
            if qkvBias {
                list += [t(p + "self_attn.q_proj.bias", [H]), t(p + "self_attn.k_proj.bias", [kvDim]), t(p + "self_attn.v_proj.bias", [kvDim])]
            }
        }
        return list.sorted { $0.name < $1.name }
    }

    /// Batch-1 working memory at `context` tokens (F32 activations). Persistent:
    /// the KV cache (K and V per layer, `context` × kv_dim), the hidden state and
    /// the residual. Phases sharing one region: attention (q and one head's
    /// scores: heads run one after another), the MLP (gate and up), the head (logits).
    public func arena(context: Int) -> ActivationArena {
        ActivationArena(persistent: [("kv_cache", 2 * numHiddenLayers * context * kvDim), ("hidden", hiddenSize), ("residual", hiddenSize)],
                        phases: [("attention", [("q", hiddenSize), ("scores", context)]),
                                 ("mlp", [("gate", intermediateSize), ("up", intermediateSize)]),
                                 ("head", [("logits", vocabSize)])])
    }

    /// FLOPs to decode one token at position `context` (multiply-add = 2): every
    /// matrix product plus attention scores and weighted values over the cache.
    public func tokenFLOPs(context: Int) -> Int {
        let H = hiddenSize, I = intermediateSize
        let perLayer = 2 * (H * H * 2 + 2 * kvDim * H + 3 * H * I) + 2 * 2 * context * H
        return numHiddenLayers * perLayer + 2 * vocabSize * H
    }
}

/// Llama-architecture decoders (Llama, Mistral, Qwen2 configs) as a family Shrink accounts for from the config
/// alone: tensors, KV cache, working memory and FLOPs. Running them is the "real pretrained transformers" work.
public struct DecoderFamily: ModelFamily {
    public static let familyName = "decoder"
    public static let supportedTypes = ["llama", "mistral", "qwen2"]
    public static let claimedBy = "Hugging Face config with model_type " + supportedTypes.joined(separator: ", ")
    public static func claims(_ c: ConfigSummary) -> Bool {
        if let t = c.modelType { return supportedTypes.contains(t) }
        return c.architectures.contains { a in ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"].contains(a) }
    }

    public let config: DecoderConfig

    public init(config data: Data, file: String) throws {
        do { config = try JSONDecoder().decode(DecoderConfig.self, from: data) } catch {
            throw ModelError.badConfig(file: file, field: ModelRegistry.field(of: error), reason: "is missing or has the wrong type")
        }
        for (field, v) in [("hidden_size", config.hiddenSize), ("num_hidden_layers", config.numHiddenLayers),
                           ("num_attention_heads", config.numAttentionHeads), ("vocab_size", config.vocabSize)] where v < 1 {
            throw ModelError.badConfig(file: file, field: field, reason: "must be at least 1, is \(v)")
        }
    }

    public var variant: String { "decoder(\(config.modelType ?? "unknown"))" }
    public var parameterDType: DType { config.dtype }
    public var tensorLayout: [TensorSpec] { config.tensors() }

    /// up_proj → down_proj always; v_proj → o_proj when every query head has its own value head (with grouped
    /// KV heads one v row feeds several o_proj inputs, so no per-channel fold exists). The RMSNorm → q/k/v and
    /// gate/up folds need one scale shared by several consumers, which `ScaleFold` does not express yet.
    public var scaleFolds: [ScaleFold] {
        let c = config
        return (0..<c.numHiddenLayers).flatMap { i -> [ScaleFold] in
            let p = "model.layers.\(i)."
            var f = [ScaleFold(consumer: p + "mlp.down_proj.weight", producer: p + "mlp.up_proj.weight", rows: 0..<c.intermediateSize)]
            if c.kvDim == c.hiddenSize {
                f.append(ScaleFold(consumer: p + "self_attn.o_proj.weight", producer: p + "self_attn.v_proj.weight", rows: 0..<c.hiddenSize))
            }
            return f
        }
    }

    public func cost(_ query: CostQuery) -> ForwardCost {
        ForwardCost(arena: config.arena(context: query.context), flops: config.tokenFLOPs(context: query.context),
                    flopsUnit: "per token at \(query.context) tokens of context")
    }
}
