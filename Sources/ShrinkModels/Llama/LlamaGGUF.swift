import Foundation
import ShrinkFormats
import ShrinkTensor

/// llama.cpp's names for a `llama` or `qwen2` GGUF (llama.cpp src/llama-arch.cpp LLM_TENSOR_NAMES; gguf-py
/// gguf/constants.py MODEL_TENSORS[LLAMA], [QWEN2]) and the transformers names they stand for.
public enum LlamaGGUFNames {
    /// `general.architecture` values read: both run rotate-half RoPE on transformers-ordered rows once a `llama`
    /// file's Q/K permutation is undone (llama.cpp's qwen2 uses NEOX RoPE and stores the rows unpermuted).
    public static let architectures = ["llama", "qwen2"]

    /// The HF name of a GGUF tensor, or nil for one a Llama decoder does not have.
    public static func hfName(_ gguf: String) -> String? {
        switch gguf {
        case "token_embd.weight": return LlamaNames.embedTokens
        case "output_norm.weight": return LlamaNames.finalNorm
        case "output.weight": return LlamaNames.lmHead
        default: break
        }
        let parts = gguf.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", let i = Int(parts[1]), i >= 0, String(i) == parts[1] else { return nil }
        let p = "model.layers.\(i)."
        let module: String
        switch parts[2] {
        case "attn_q": module = "self_attn.q_proj"
        case "attn_k": module = "self_attn.k_proj"
        case "attn_v": module = "self_attn.v_proj"
        case "attn_output": module = "self_attn.o_proj"
        case "ffn_gate": module = "mlp.gate_proj"
        case "ffn_up": module = "mlp.up_proj"
        case "ffn_down": module = "mlp.down_proj"
        case "attn_norm": module = "input_layernorm"
        case "ffn_norm": module = "post_attention_layernorm"
        default: return nil
        }
        guard parts[3] == "weight" || parts[3] == "bias" else { return nil }
        return p + module + "." + parts[3]
    }
}

extension LlamaConfig {
    /// Reads a `general.architecture = llama` or `qwen2` GGUF's hyper-parameters (llama.cpp's LLM_KV names). The vocabulary
    /// is `llama.vocab_size` or the length of `tokenizer.ggml.tokens`; the head is tied when `output.weight`
    /// is absent; q/k/v biases when `blk.0.attn_q.bias` is present.
    public init(gguf: GGUFReader) throws {
        let file = gguf.location
        let arch = try gguf.requireString("general.architecture")
        guard LlamaGGUFNames.architectures.contains(arch) else {
            throw ModelError.badConfig(file: file, field: "general.architecture",
                                       reason: "is '\(arch)'; the Llama decoder reads \(LlamaGGUFNames.architectures.joined(separator: ", "))")
        }
        func key(_ k: String) -> String { "\(arch).\(k)" }
        let hidden = try gguf.requireInt(key("embedding_length")), heads = try gguf.requireInt(key("attention.head_count"))
        let layers = try gguf.requireInt(key("block_count")), inter = try gguf.requireInt(key("feed_forward_length"))
        let kvHeads = try gguf.int(key("attention.head_count_kv")) ?? heads
        let vocab: Int
        if let v = try gguf.int(key("vocab_size")) { vocab = v } else if let tokens = try gguf.stringArray("tokenizer.ggml.tokens") {
            vocab = tokens.count
        } else {
            throw ModelError.badConfig(file: file, field: key("vocab_size"), reason: "is missing and so is tokenizer.ggml.tokens")
        }
        for (field, v) in [("embedding_length", hidden), ("attention.head_count", heads), ("block_count", layers),
                           ("feed_forward_length", inter), ("vocab_size", vocab)] where v < 1 {
            throw ModelError.badConfig(file: file, field: key(field), reason: "must be at least 1, is \(v)")
        }
        let contextLength = try gguf.int(key("context_length")) ?? 2048
        try ConfigBounds.requireCounts([(key("block_count"), layers)], file: file)
        try ConfigBounds.requireSizes([(key("embedding_length"), hidden), (key("attention.head_count"), heads), (key("block_count"), layers),
                                       (key("feed_forward_length"), inter), (key("vocab_size"), vocab), (key("context_length"), contextLength)],
                                      file: file)
        guard kvHeads >= 1, heads % kvHeads == 0 else {
            throw ModelError.badConfig(file: file, field: key("attention.head_count_kv"), reason: "must divide attention.head_count \(heads), is \(kvHeads)")
        }
        let headDim = try gguf.int(key("attention.key_length")) ?? hidden / heads
        guard headDim >= 2, headDim % 2 == 0, headDim <= ConfigBounds.maxSize else {
            throw ModelError.badConfig(file: file, field: key("attention.key_length"), reason: "must be even and at most \(ConfigBounds.maxSize), is \(headDim)")
        }
        try ConfigBounds.requireWork(ConfigBounds.decoderWork(vocab: vocab, hidden: hidden, intermediate: inter, layers: layers, attention: heads * headDim,
                                                              context: contextLength),
                                     fields: key("embedding_length, feed_forward_length, vocab_size, attention.key_length, block_count and context_length"), file: file)
        let ropeDims = try gguf.int(key("rope.dimension_count")) ?? headDim
        guard ropeDims == headDim else {
            throw ModelError.badConfig(file: file, field: key("rope.dimension_count"), reason: "is \(ropeDims); Shrink runs only full-width RoPE (head dim \(headDim))")
        }
        let scaling = try gguf.string(key("rope.scaling.type")) ?? "none"
        guard scaling == "none" else {
            throw ModelError.badConfig(file: file, field: key("rope.scaling.type"), reason: "is '\(scaling)'; Shrink runs only the default RoPE (no scaling)")
        }
        self.init(modelType: arch, vocabularySize: vocab, hiddenSize: hidden, intermediateSize: inter, layers: layers, heads: heads,
                  kvHeads: kvHeads, headDim: headDim,
                  rmsNormEps: try gguf.float(key("attention.layer_norm_rms_epsilon")) ?? 1e-5,
                  ropeTheta: try gguf.float(key("rope.freq_base")) ?? 10_000,
                  maxPositions: contextLength,
                  tiedEmbeddings: gguf.tensor("output.weight") == nil, qkvBias: gguf.tensor("blk.0.attn_q.bias") != nil)
    }
}

/// A `llama` or `qwen2` GGUF presented under transformers' tensor names with transformers' Q/K row order, so the
/// safetensors binding, calibration names and compressors apply unchanged.
///
/// convert_hf_to_gguf.py (LlamaModel.permute) reorders the rows of each head of q_proj and k_proj for
/// llama.cpp's interleaved RoPE: GGUF row h·d + 2i + j holds HF row h·d + j·d/2 + i (i < d/2, j ∈ {0, 1}).
/// `floats` undoes it, as transformers' LlamaConverter._reverse_permute_weights does, so the model runs the
/// rotate-half RoPE on HF-ordered rows. Tensors it does not map keep their GGUF names (binding reports them).
public final class LlamaGGUFSource: TensorSource, @unchecked Sendable {
    public let reader: GGUFReader
    let config: LlamaConfig
    /// HF name → GGUF name.
    let ggufName: [String: String]
    public let tensorNames: [String]
    public var location: String { reader.location }
    public var metadata: [String: String] { reader.metadata }
    private let lock = NSLock()
    private var unpermuted: [String: UnsafeMutableRawBufferPointer] = [:]

    public init(_ reader: GGUFReader, config: LlamaConfig) {
        self.reader = reader
        self.config = config
        var map: [String: String] = [:]
        for g in reader.tensorNames { map[LlamaGGUFNames.hfName(g) ?? g] = g }
        ggufName = map
        tensorNames = map.keys.sorted()
    }

    deinit { for b in unpermuted.values { b.deallocate() } }

    /// Heads whose rows llama.cpp permuted in `name` (q: attention heads, k: KV heads), nil for the rest and for
    /// every tensor of a `qwen2` file.
    func permutedHeads(_ name: String) -> Int? {
        guard config.modelType == "llama", let g = ggufName[name] else { return nil }
        if g.contains(".attn_q.") { return config.heads }
        if g.contains(".attn_k.") { return config.kvHeads }
        return nil
    }

    public func info(_ name: String) -> TensorInfo? {
        guard let g = ggufName[name], var i = reader.info(g) else { return nil }
        i.name = name
        if permutedHeads(name) != nil { i.dtype = .f32 }
        return i
    }

    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let g = ggufName[name] else { throw FormatError.missingTensor(source: location, tensor: name) }
        guard permutedHeads(name) != nil else { return try reader.rawBytes(g) }
        lock.lock(); defer { lock.unlock() }
        if let b = unpermuted[name] { return UnsafeRawBufferPointer(b) }
        let values = try floats(name)
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: values.count * 4, alignment: 64)
        values.withUnsafeBytes { b.copyMemory(from: $0) }
        unpermuted[name] = b
        return UnsafeRawBufferPointer(b)
    }

    public func storedByteCount(_ name: String) -> Int? { ggufName[name].flatMap { reader.storedByteCount($0) } }

    public func release(_ name: String) {
        guard let g = ggufName[name] else { return }
        reader.release(g)
        lock.lock(); defer { lock.unlock() }
        unpermuted.removeValue(forKey: name)?.deallocate()
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let g = ggufName[name] else { throw FormatError.missingTensor(source: location, tensor: name) }
        let stored = try reader.floats(g)
        guard let heads = permutedHeads(name), let t = reader.tensor(g) else { return stored }
        let rows = t.dims.count == 1 ? t.dims[0] : t.rowCount, width = t.dims.count == 1 ? 1 : t.rowLength
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
            throw ModelError.wrongShape(file: location, tensor: g, expected: Shape([heads * config.headDim, width]), actual: t.shape)
        }
        let d = rows / heads, half = d / 2
        return [Float](unsafeUninitializedCapacity: stored.count) { out, n in
            stored.withUnsafeBufferPointer { from in
                for h in 0..<heads {
                    for j in 0..<2 {
                        for i in 0..<half {
                            let src = (h * d + 2 * i + j) * width, dst = (h * d + j * half + i) * width
                            (out.baseAddress! + dst).initialize(from: from.baseAddress! + src, count: width)
                        }
                    }
                }
            }
            n = stored.count
        }
    }
}

extension LlamaGGUFNames {
    /// The llama.cpp name of a transformers tensor name (the inverse of `hfName`), nil for one llama.cpp's
    /// llama architecture has no slot for.
    public static func ggufName(hf: String) -> String? {
        switch hf {
        case LlamaNames.embedTokens: return "token_embd.weight"
        case LlamaNames.finalNorm: return "output_norm.weight"
        case LlamaNames.lmHead: return "output.weight"
        default: break
        }
        let parts = hf.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5 || parts.count == 6, parts[0] == "model", parts[1] == "layers", let i = Int(parts[2]), i >= 0,
              String(i) == parts[2] else { return nil }
        let module = parts[3..<(parts.count - 1)].joined(separator: ".")
        let slot: String
        switch module {
        case "self_attn.q_proj": slot = "attn_q"
        case "self_attn.k_proj": slot = "attn_k"
        case "self_attn.v_proj": slot = "attn_v"
        case "self_attn.o_proj": slot = "attn_output"
        case "mlp.gate_proj": slot = "ffn_gate"
        case "mlp.up_proj": slot = "ffn_up"
        case "mlp.down_proj": slot = "ffn_down"
        case "input_layernorm": slot = "attn_norm"
        case "post_attention_layernorm": slot = "ffn_norm"
        default: return nil
        }
        let kind = parts[parts.count - 1]
        guard kind == "weight" || kind == "bias" else { return nil }
        return "blk.\(i).\(slot).\(kind)"
    }

    /// Heads whose rows llama.cpp permutes in the llama.cpp-named tensor `gguf` (attn_q: query heads, attn_k: KV
    /// heads), nil for every other tensor. convert_hf_to_gguf.py LlamaModel.permute applies to weights and biases.
    public static func permutedHeads(gguf: String, config: LlamaConfig) -> Int? {
        guard config.modelType == nil || config.modelType == "llama" || config.modelType == "mistral" else { return nil }
        if gguf.hasPrefix("blk."), gguf.contains(".attn_q.") { return config.heads }
        if gguf.hasPrefix("blk."), gguf.contains(".attn_k.") { return config.kvHeads }
        return nil
    }

    /// For each llama.cpp row, the transformers row it comes from (convert_hf_to_gguf.py LlamaModel.permute,
    /// the inverse of `LlamaGGUFSource`'s reordering): GGUF row h·d + 2i + j holds HF row h·d + j·d/2 + i.
    /// Nil when `rows` is not `heads` even-sized heads.
    public static func permutation(rows: Int, heads: Int) -> [Int]? {
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else { return nil }
        let d = rows / heads, half = d / 2
        var from = [Int](repeating: 0, count: rows)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 { from[h * d + 2 * i + j] = h * d + j * half + i }
            }
        }
        return from
    }
}
