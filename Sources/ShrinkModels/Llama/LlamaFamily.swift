import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// Llama-architecture decoders (Llama, Mistral, Qwen2 configs): accounted for from the config alone (tensors,
/// KV cache, working memory, FLOPs) and run by `LlamaModel` (transformers' LlamaForCausalLM / Qwen2ForCausalLM).
public struct LlamaFamily: RunnableFamily, GGUFFamily {
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

    /// up_proj → down_proj always; v_proj → o_proj when every query head has its own value head (with grouped
    /// KV heads one v row feeds several o_proj inputs, so no per-channel fold exists). The RMSNorm → q/k/v and
    /// gate/up folds need one scale shared by several consumers, which `ScaleFold` does not express yet.
    public var scaleFolds: [ScaleFold] {
        let c = config
        return (0..<c.layers).flatMap { i -> [ScaleFold] in
            let b = LlamaNames.layer(i)
            var f = [ScaleFold(consumer: b.down, producer: b.up, rows: 0..<c.intermediateSize)]
            if c.kvHeads == c.heads {
                f.append(ScaleFold(consumer: b.o, producer: b.v, rows: 0..<c.kvDim))
            }
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

    /// A GGUF's llama.cpp names and Q/K row order become transformers' (`LlamaGGUFSource`).
    public func presenting(_ weights: any TensorSource) -> any TensorSource {
        (weights as? GGUFReader).map { LlamaGGUFSource($0, config: config) } ?? weights
    }
}
