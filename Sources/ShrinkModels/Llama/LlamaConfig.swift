import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// A Llama-architecture decoder's hyper-parameters (Llama, Mistral, Qwen2), read from a Hugging Face
/// `config.json` (transformers' LlamaConfig / Qwen2Config field names, v4 and v5 spellings).
/// Accounting reads any such config; `validateRunnable` says whether Shrink's forward pass implements it.
public struct LlamaConfig: Sendable, Equatable {
    public var modelType: String?
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    /// `rope_parameters.rope_type` / `rope_scaling.rope_type` ("default" when absent).
    public var ropeType: String
    public var maxPositions: Int
    public var tiedEmbeddings: Bool
    /// Biases on q, k and v (Qwen2 always; Llama when `attention_bias`).
    public var qkvBias: Bool
    public var hiddenAct: String
    public var mlpBias: Bool
    /// Mistral/Qwen2 sliding-window attention, when enabled.
    public var slidingWindow: Int?
    public var torchDtype: String?

    public init(modelType: String?, vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int,
                kvHeads: Int, headDim: Int, rmsNormEps: Double, ropeTheta: Double, ropeType: String = "default",
                maxPositions: Int, tiedEmbeddings: Bool, qkvBias: Bool, hiddenAct: String = "silu", mlpBias: Bool = false,
                slidingWindow: Int? = nil, torchDtype: String? = nil) {
        self.modelType = modelType; self.vocabularySize = vocabularySize; self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize; self.layers = layers; self.heads = heads; self.kvHeads = kvHeads
        self.headDim = headDim; self.rmsNormEps = rmsNormEps; self.ropeTheta = ropeTheta; self.ropeType = ropeType
        self.maxPositions = maxPositions; self.tiedEmbeddings = tiedEmbeddings; self.qkvBias = qkvBias
        self.hiddenAct = hiddenAct; self.mlpBias = mlpBias; self.slidingWindow = slidingWindow; self.torchDtype = torchDtype
    }

    /// The same network (every field but the storage dtype, ε compared in f32): two such models can be compared unit by unit.
    public func sameArchitecture(as other: LlamaConfig) -> Bool {
        var a = self, b = other
        a.torchDtype = nil; b.torchDtype = nil
        // The forward pass runs ε in f32 (a GGUF stores it so): 1e-6 and its f32 rounding are the same model.
        a.rmsNormEps = Double(Float(a.rmsNormEps)); b.rmsNormEps = Double(Float(b.rmsNormEps))
        return a == b
    }

    /// Query width (heads × head_dim; equals hidden_size unless `head_dim` says otherwise).
    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    public var dtype: DType {
        switch torchDtype {
        case "bfloat16": .bf16
        case "float16": .f16
        default: .f32
        }
    }

    /// Reads a `config.json`. Defaults are transformers' LlamaConfig defaults (rms_norm_eps 1e-6,
    /// rope_theta 10000, max_position_embeddings 2048, tie_word_embeddings false).
    public init(json data: Data, file: String) throws {
        let raw: HFConfig
        do { raw = try JSONDecoder().decode(HFConfig.self, from: data) } catch {
            throw ModelError.badConfig(file: file, field: ModelRegistry.field(of: error), reason: "is missing or has the wrong type")
        }
        for (field, v) in [("hidden_size", raw.hiddenSize), ("num_hidden_layers", raw.numHiddenLayers),
                           ("num_attention_heads", raw.numAttentionHeads), ("vocab_size", raw.vocabSize),
                           ("intermediate_size", raw.intermediateSize)] where v < 1 {
            throw ModelError.badConfig(file: file, field: field, reason: "must be at least 1, is \(v)")
        }
        let heads = raw.numAttentionHeads, kvHeads = raw.numKeyValueHeads ?? heads
        guard kvHeads >= 1, heads % kvHeads == 0 else {
            throw ModelError.badConfig(file: file, field: "num_key_value_heads", reason: "must divide num_attention_heads \(heads), is \(kvHeads)")
        }
        let headDim = raw.headDim ?? raw.hiddenSize / heads
        guard headDim >= 2, headDim % 2 == 0, raw.headDim != nil || raw.hiddenSize % heads == 0 else {
            throw ModelError.badConfig(file: file, field: "head_dim", reason: "must be even and hidden_size / num_attention_heads must be whole, is \(headDim)")
        }
        let useWindow = raw.useSlidingWindow ?? (raw.modelType == "mistral")
        self.init(modelType: raw.modelType, vocabularySize: raw.vocabSize, hiddenSize: raw.hiddenSize,
                  intermediateSize: raw.intermediateSize, layers: raw.numHiddenLayers, heads: heads, kvHeads: kvHeads,
                  headDim: headDim, rmsNormEps: raw.rmsNormEps ?? 1e-6,
                  ropeTheta: raw.ropeParameters?.ropeTheta ?? raw.ropeTheta ?? 10_000,
                  ropeType: raw.ropeParameters?.ropeType ?? raw.ropeScaling?.ropeType ?? "default",
                  maxPositions: raw.maxPositionEmbeddings ?? 2048, tiedEmbeddings: raw.tieWordEmbeddings ?? false,
                  qkvBias: raw.attentionBias ?? (raw.modelType == "qwen2"), hiddenAct: raw.hiddenAct ?? "silu",
                  mlpBias: raw.mlpBias ?? false, slidingWindow: useWindow ? raw.slidingWindow : nil,
                  torchDtype: raw.torchDtype ?? raw.dtype)
    }

    /// Throws for the options the forward pass does not implement (accounting still reads them).
    public func validateRunnable(file: String) throws {
        guard ropeType == "default" else {
            throw ModelError.badConfig(file: file, field: "rope_type", reason: "is '\(ropeType)'; Shrink runs only the default RoPE (no scaling)")
        }
        guard hiddenAct == "silu" else {
            throw ModelError.badConfig(file: file, field: "hidden_act", reason: "is '\(hiddenAct)'; Shrink runs only silu (SwiGLU)")
        }
        guard !mlpBias else { throw ModelError.badConfig(file: file, field: "mlp_bias", reason: "is true; Shrink runs only bias-free MLPs") }
        guard rmsNormEps > 0, ropeTheta > 0 else {
            throw ModelError.badConfig(file: file, field: rmsNormEps > 0 ? "rope_theta" : "rms_norm_eps", reason: "must be positive")
        }
        guard headDim <= 1024 else { throw ModelError.badConfig(file: file, field: "head_dim", reason: "is \(headDim); at most 1024 is supported") }
    }

    /// config.json as transformers writes it. v5 moves `rope_theta` into `rope_parameters` and `torch_dtype` to `dtype`.
    struct HFConfig: Decodable {
        struct Rope: Decodable {
            var ropeTheta: Double?
            var ropeType: String?
            enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", ropeType = "rope_type" }
        }
        var modelType: String?
        var hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int
        var numKeyValueHeads: Int?, vocabSize: Int, headDim: Int?
        var tieWordEmbeddings: Bool?, attentionBias: Bool?, mlpBias: Bool?, hiddenAct: String?
        var rmsNormEps: Double?, ropeTheta: Double?, ropeParameters: Rope?, ropeScaling: Rope?
        var maxPositionEmbeddings: Int?, slidingWindow: Int?, useSlidingWindow: Bool?
        var torchDtype: String?, dtype: String?

        enum CodingKeys: String, CodingKey {
            case modelType = "model_type", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
            case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
            case numKeyValueHeads = "num_key_value_heads", vocabSize = "vocab_size", headDim = "head_dim"
            case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias", mlpBias = "mlp_bias"
            case hiddenAct = "hidden_act", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
            case ropeParameters = "rope_parameters", ropeScaling = "rope_scaling"
            case maxPositionEmbeddings = "max_position_embeddings", slidingWindow = "sliding_window"
            case useSlidingWindow = "use_sliding_window", torchDtype = "torch_dtype", dtype
        }
    }

    /// transformers' config.json (LlamaConfig / Qwen2Config field names) for these hyper-parameters.
    public var huggingFaceJSON: JSONValue {
        let type = modelType ?? "llama"
        let architecture = ["qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"][type] ?? "LlamaForCausalLM"
        var fields: [(key: String, value: JSONValue)] = [
            ("architectures", .array([.string(architecture)])), ("model_type", .string(type)),
            ("vocab_size", .int(vocabularySize)), ("hidden_size", .int(hiddenSize)), ("intermediate_size", .int(intermediateSize)),
            ("num_hidden_layers", .int(layers)), ("num_attention_heads", .int(heads)), ("num_key_value_heads", .int(kvHeads)),
            ("head_dim", .int(headDim)), ("rms_norm_eps", .number(Self.shortest(rmsNormEps))), ("rope_theta", .number("\(ropeTheta)")),
            ("max_position_embeddings", .int(maxPositions)), ("tie_word_embeddings", .bool(tiedEmbeddings)),
            ("attention_bias", .bool(qkvBias)), ("mlp_bias", .bool(mlpBias)), ("hidden_act", .string(hiddenAct)),
        ]
        if let torchDtype { fields.append(("torch_dtype", .string(torchDtype))) }
        if let slidingWindow { fields.append(("sliding_window", .int(slidingWindow))) }
        return .object(fields)
    }

    /// A GGUF stores ε in f32: 1e-5 reads back as 9.999999747e-06; written as the shortest f32 literal when that
    /// is what it came from.
    static func shortest(_ v: Double) -> String { Double(Float(v)) == v ? "\(Float(v))" : "\(v)" }

    // MARK: accounting

    /// Tensors named as transformers' state dict names them.
    public func tensors() -> [TensorSpec] {
        let H = hiddenSize, I = intermediateSize
        func t(_ name: String, _ shape: [Int], rowRead: Bool = false) -> TensorSpec {
            let role: TensorRole = name.contains("embed") ? .embedding : shape.count == 2 ? .linear : name.hasSuffix("bias") ? .bias : .norm
            return TensorSpec(name, shape, role, rowRead: rowRead)
        }
        typealias N = LlamaNames
        // A tied table is also the output projection, read whole every token: not row-read.
        var list = [t(N.embedTokens, [vocabularySize, H], rowRead: !tiedEmbeddings), t(N.finalNorm, [H])]
        if !tiedEmbeddings { list.append(t(N.lmHead, [vocabularySize, H])) }
        for i in 0..<layers {
            let b = N.layer(i)
            list += [t(b.q, [qDim, H]), t(b.k, [kvDim, H]), t(b.v, [kvDim, H]), t(b.o, [H, qDim]),
                     t(b.gate, [I, H]), t(b.up, [I, H]), t(b.down, [H, I]), t(b.inputNorm, [H]), t(b.postNorm, [H])]
            if qkvBias { list += [t(b.qBias, [qDim]), t(b.kBias, [kvDim]), t(b.vBias, [kvDim])] }
        }
        return list.sorted { $0.name < $1.name }
    }

    /// Batch-1 working memory at `context` tokens (F32 activations). Persistent:
    /// the KV cache (K and V per layer, `context` × kv_dim), the hidden state and
    /// the residual. Phases sharing one region: attention (q and one head's
    /// scores: heads run one after another), the MLP (gate and up), the head (logits).
    public func arena(context: Int) -> ActivationArena {
        ActivationArena(persistent: [("kv_cache", 2 * layers * context * kvDim), ("hidden", hiddenSize), ("residual", hiddenSize)],
                        phases: [("attention", [("q", qDim), ("scores", context)]),
                                 ("mlp", [("gate", intermediateSize), ("up", intermediateSize)]),
                                 ("head", [("logits", vocabularySize)])])
    }

    /// FLOPs to decode one token at position `context` (multiply-add = 2): every
    /// matrix product plus attention scores and weighted values over the cache.
    public func tokenFLOPs(context: Int) -> Int {
        let H = hiddenSize, I = intermediateSize
        let perLayer = 2 * (qDim * H * 2 + 2 * kvDim * H + 3 * H * I) + 2 * 2 * context * qDim
        return layers * perLayer + 2 * vocabularySize * H
    }
}

/// Tensor names as transformers' LlamaForCausalLM / Qwen2ForCausalLM state dicts spell them: the one place
/// they are written (binding, accounting and AWQ folds read them here).
public enum LlamaNames {
    public static let embedTokens = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static let lmHead = "lm_head.weight"

    public struct Layer: Sendable {
        public let q, k, v, o, qBias, kBias, vBias, gate, up, down, inputNorm, postNorm: String
        init(_ p: String) {
            q = p + "self_attn.q_proj.weight"; k = p + "self_attn.k_proj.weight"; v = p + "self_attn.v_proj.weight"
            o = p + "self_attn.o_proj.weight"
            qBias = p + "self_attn.q_proj.bias"; kBias = p + "self_attn.k_proj.bias"; vBias = p + "self_attn.v_proj.bias"
            gate = p + "mlp.gate_proj.weight"; up = p + "mlp.up_proj.weight"; down = p + "mlp.down_proj.weight"
            inputNorm = p + "input_layernorm.weight"; postNorm = p + "post_attention_layernorm.weight"
        }
    }

    public static func layer(_ i: Int) -> Layer { Layer("model.layers.\(i).") }
}
