import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// Llama-architecture decoders (Llama, Mistral, Qwen2 configs): accounted for from the config alone (tensors,
/// KV cache, working memory, FLOPs) and run by `LlamaModel` (transformers' LlamaForCausalLM / Qwen2ForCausalLM).
public struct LlamaFamily: RunnableFamily, GGUFFamily, LanguageModelFamily {
    /// "decoder": the name `shrink account` reports have always used.
    public static let familyName = "decoder"
    public static let supportedTypes = ["llama", "mistral", "qwen2"]
    public static let claimedBy = "Hugging Face config with model_type " + supportedTypes.joined(separator: ", ")
    public static func claims(_ c: ConfigSummary) -> Bool {
        if let t = c.modelType { return supportedTypes.contains(t) }
        return c.architectures.contains { a in ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"].contains(a) }
    }

    public let config: LlamaConfig

    public init(_ config: LlamaConfig) { self.config = config }

    public init(config data: Data, file: String) throws {
        config = try LlamaConfig(json: data, file: file)
    }

    public static let ggufArchitectures = LlamaGGUFNames.architectures
    public init(gguf: GGUFReader) throws { config = try LlamaConfig(gguf: gguf) }

    public var variant: String { "decoder(\(config.modelType ?? "unknown"))" }
    public var parameterDType: DType { config.dtype }
    public var tensorLayout: [TensorSpec] { config.tensors() }

    /// The pairs of the AWQ reference (llm-awq `auto_scale_block` for Llama): input_layernorm → q/k/v and
    /// post_attention_layernorm → gate/up (a pre-norm block's norm output feeds only those weights; the residual
    /// stream is the norm's input), v_proj → o_proj when every query head has its own value head (with grouped KV
    /// heads one v row feeds several o_proj inputs, so no per-channel fold exists; the reference skips it too),
    /// and up_proj → down_proj (silu(gate)·up is linear in up). With q/k/v biases (Qwen2) the norm fold would
    /// also need the biases unscaled: they are not inputs, so the fold still holds.
    public var scaleFolds: [ScaleFold] {
        let c = config
        return (0..<c.layers).flatMap { i -> [ScaleFold] in
            let b = LlamaNames.layer(i)
            var f = [ScaleFold(consumers: [b.q, b.k, b.v], producer: b.inputNorm, rows: 0..<c.hiddenSize)]
            if c.kvHeads == c.heads {
                f.append(ScaleFold(consumer: b.o, producer: b.v, rows: 0..<c.kvDim, producerBias: c.qkvBias ? b.vBias : nil))
            }
            f.append(ScaleFold(consumers: [b.gate, b.up], producer: b.postNorm, rows: 0..<c.hiddenSize))
            f.append(ScaleFold(consumer: b.down, producer: b.up, rows: 0..<c.intermediateSize))
            return f
        }
    }

    public func cost(_ query: CostQuery) -> ForwardCost {
        ForwardCost(arena: config.arena(context: query.context), flops: config.tokenFLOPs(context: query.context),
                    flopsUnit: "per token at \(query.context) tokens of context")
    }

    public func bind(_ weights: any TensorSource, location: String, streamEmbeddings: Bool) throws -> any CompressibleModel {
        try LlamaModel(config: config, weights: presenting(weights), location: location, streamEmbeddings: streamEmbeddings)
    }

    public var vocabularySize: Int { config.vocabularySize }

    /// The byte-level BPE tokenizer of the GGUF (`tokenizer.ggml.*`), of the `tokenizer.json` beside the weights, or,
    /// for a directory `shrink quantize` made from a GGUF (which keeps no tokenizer.json), of that GGUF.
    public func tokenizer(location: String) throws -> any Tokenizer {
        if !FileSystem.isDirectory(location) && GGUFReader.looksLikeGGUF(location) { return try ByteLevelBPETokenizer(ggufFile: location) }
        let dir = ModelLocation(location).directory
        if !FileSystem.exists(dir + "/tokenizer.json"), let gguf = Recipe.sourceGGUF(ofCompressed: dir) { return try ByteLevelBPETokenizer(ggufFile: gguf) }
        return try ByteLevelBPETokenizer(contentsOf: dir + "/tokenizer.json")
    }

    /// transformers' config.json for this config (what a compressed copy of a GGUF decoder carries).
    public func upstreamConfig() -> JSONValue? { config.huggingFaceJSON }

    /// A GGUF's llama.cpp names and Q/K row order become transformers' (`LlamaGGUFSource`).
    public func presenting(_ weights: any TensorSource) -> any TensorSource {
        (weights as? GGUFReader).map { LlamaGGUFSource($0, config: config) } ?? weights
    }
}
