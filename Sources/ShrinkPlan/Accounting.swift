import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// One weight tensor of a model, as it is stored and read.
public struct TensorAccount: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var dtype: DType
    /// Read one row at a time (a lookup table): can stay in flash and be streamed.
    public var rowRead: Bool
    /// A 2-D weight that `shrink quantize` may quantize.
    public var quantizable: Bool

    public var parameters: Int { shape.reduce(1, *) }
    public var info: TensorInfo { TensorInfo(name: name, dtype: dtype, shape: Shape(shape)) }

    /// Bytes this tensor occupies in the written safetensors file: the tensor
    /// itself, or its compressed-tensors packed, scale, shape (and zero-point)
    /// tensors under `choice` (exactly what `QuantizeJob` writes).
    public func storedBytes(_ choice: TensorChoice?) -> Int {
        guard let choice, let g = choice.granularity else { return info.byteCount }
        let scale: DType = [.f16, .bf16].contains(dtype) ? dtype : .f32
        let scheme = QuantScheme(bits: choice.bits, granularity: g, symmetric: true, scaleDType: scale)
        return PackedLayout(scheme: scheme, rows: shape[0], columns: shape[1]).storedBytes
    }
}

/// Parameters, bytes, working memory and FLOPs of a model, counted from its config.
public struct ModelAccount: Codable, Sendable {
    public var family: String
    public var tensors: [TensorAccount]
    /// The working memory of one batch-1 forward pass, with buffer reuse: buffers
    /// of different phases share memory (see `ActivationArena`).
    public var arena: ActivationArena
    public var parameters: Int { tensors.reduce(0) { $0 + $1.parameters } }
    /// Peak activation bytes: persistent buffers plus the largest phase.
    public var activationBytes: Int { arena.totalBytes }

    /// File bytes of all tensors under a per-tensor recipe (missing names kept as stored).
    public func weightBytes(_ recipe: [String: TensorChoice]) -> Int {
        tensors.reduce(0) { $0 + $1.storedBytes(recipe[$1.name]) }
    }

    /// Bytes of the row-read tables (what streaming moves to flash).
    public func rowReadBytes(_ recipe: [String: TensorChoice]) -> Int {
        tensors.filter(\.rowRead).reduce(0) { $0 + $1.storedBytes(recipe[$1.name]) }
    }
}

/// Accounting of TRM and HRM from a `ReasonerConfig`, with or without weights.
public enum ReasonerAccounting {
    /// The tensors `RecursiveReasoner` binds, with their shapes (F32 as the fixtures store them).
    public static func tensors(_ c: ReasonerConfig, dtype: DType = .f32) -> [TensorAccount] {
        let D = c.hiddenSize, P = c.positions, I = c.swigluWidth(D)
        func t(_ name: String, _ shape: [Int], rowRead: Bool = false) -> TensorAccount {
            TensorAccount(name: name, shape: shape, dtype: dtype, rowRead: rowRead,
                          quantizable: shape.count == 2 && name.hasSuffix("weight") && !name.lowercased().contains("embed"))
        }
        var list = [t("inner.H_init", [D]), t("inner.L_init", [D]),
                    t("inner.embed_tokens.embedding_weight", [c.vocabSize, D], rowRead: true),
                    t("inner.lm_head.weight", [c.vocabSize, D]), t("inner.q_head.weight", [2, D]), t("inner.q_head.bias", [2])]
        if c.puzzleEmbNdim > 0 { list.append(t("inner.puzzle_emb.weights", [c.numPuzzleIdentifiers, c.puzzleEmbNdim], rowRead: true)) }
        if c.posEncodings == .learned { list.append(t("inner.embed_pos.embedding_weight", [P, D], rowRead: true)) }
        let modules = [("L_level", c.lLayers)] + (c.arch == .hrm ? [("H_level", c.hLayers)] : [])
        for (module, layers) in modules {
            for i in 0..<layers {
                let p = "inner.\(module).layers.\(i)."
                if c.mlpT {
                    let It = c.swigluWidth(P)
                    list += [t(p + "mlp_t.gate_up_proj.weight", [2 * It, P]), t(p + "mlp_t.down_proj.weight", [P, It])]
                } else {
                    list += [t(p + "self_attn.qkv_proj.weight", [3 * D, D]), t(p + "self_attn.o_proj.weight", [D, D])]
                }
                list += [t(p + "mlp.gate_up_proj.weight", [2 * I, D]), t(p + "mlp.down_proj.weight", [D, I])]
            }
        }
        return list.sorted { $0.name < $1.name }
    }

    public static func account(_ c: ReasonerConfig, dtype: DType = .f32) -> ModelAccount {
        ModelAccount(family: c.arch == .hrm ? "hrm" : (c.mlpT ? "trm-mlp" : "trm-attention"), tensors: tensors(c, dtype: dtype),
                     arena: ActivationArena.layout(config: c, batch: 1))
    }

    /// Weight bytes read from memory per puzzle at `depth` when nothing stays in
    /// cache: every block call reads its block's weights, every step the heads,
    /// and one row per token and per puzzle of the embedding tables.
    public static func bytesMovedPerPuzzle(_ c: ReasonerConfig, account: ModelAccount, recipe: [String: TensorChoice], depth: RecursionDepth) -> Int {
        func bytes(_ filter: (String) -> Bool) -> Int {
            account.tensors.filter { filter($0.name) }.reduce(0) { $0 + $1.storedBytes(recipe[$1.name]) }
        }
        let lowBlocks = bytes { $0.contains(".L_level.") } / max(1, c.lLayers)
        let highBlocks = c.arch == .hrm ? bytes { $0.contains(".H_level.") } / max(1, c.hLayers) : lowBlocks
        let lowCalls = depth.hCycles * depth.lCycles * c.lLayers
        let highCalls = depth.hCycles * (c.arch == .hrm ? c.hLayers : c.lLayers)
        let heads = bytes { $0.contains("lm_head") || $0.contains("q_head") }
        let rows = c.seqLen * c.hiddenSize * 4 + (c.puzzleEmbNdim > 0 ? c.puzzleEmbNdim * 4 : 0)
        return depth.steps * (lowCalls * lowBlocks + highCalls * highBlocks + heads) + rows
    }
}

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
    public func tensors() -> [TensorAccount] {
        let H = hiddenSize, I = intermediateSize
        func t(_ name: String, _ shape: [Int], rowRead: Bool = false) -> TensorAccount {
            TensorAccount(name: name, shape: shape, dtype: dtype, rowRead: rowRead,
                          quantizable: shape.count == 2 && !name.contains("embed"))
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

    public func account(context: Int) -> ModelAccount {
        ModelAccount(family: "decoder(\(modelType ?? "unknown"))", tensors: tensors(), arena: arena(context: context))
    }
}

/// What a config file describes: a recursive reasoner or a decoder language model.
public enum AccountedModel: Sendable {
    case reasoner(ReasonerConfig)
    case decoder(DecoderConfig)

    /// Reads a `config.json` (or a directory holding one); a reasoner config has
    /// `H_cycles`, a decoder config `num_hidden_layers`.
    public static func load(_ path: String) throws -> AccountedModel {
        let file = FileSystem.isDirectory(path) ? (path.hasSuffix("/") ? path : path + "/") + "config.json" : path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw FormatError.cannotOpen(file: file, reason: "a model needs a config.json")
        }
        let keys = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        do {
            if keys["H_cycles"] != nil {
                let c = try JSONDecoder().decode(ReasonerConfig.self, from: data)
                try c.validate(file: file)
                return .reasoner(c)
            }
            if keys["num_hidden_layers"] != nil { return .decoder(try JSONDecoder().decode(DecoderConfig.self, from: data)) }
        } catch let e as ModelError { throw e } catch {
            throw ModelError.badConfig(file: file, field: RecursiveReasoner.missingKey(error) ?? "?", reason: "is missing or has the wrong type")
        }
        throw ModelError.badConfig(file: file, field: "H_cycles / num_hidden_layers",
                                   reason: "is absent: not a TRM/HRM config nor a Hugging Face decoder config")
    }
}
