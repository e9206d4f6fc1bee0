import Foundation
import ShrinkFormats
import ShrinkTensor

/// What Shrink did to each tensor, written as `shrink.json` next to the
/// compressed checkpoint.
public struct Recipe: Codable, Sendable, Equatable {
    public var tool = "shrink"
    public var toolVersion = ShrinkVersion.current
    public var format = "compressed-tensors/pack-quantized"
    public var formatVersion = CompressedTensorsConfig.formatVersion
    public var source: SourceSummary
    public var method: String
    /// The calibration data, when the method used any.
    public var calibration: Calibration?
    public var tensors: [TensorRecord]
    public var totals: Totals

    public struct SourceSummary: Codable, Sendable, Equatable {
        public var path: String
        public var tensors: Int
        public var parameters: Int
        public var bytes: Int
    }

    public struct TensorRecord: Codable, Sendable, Equatable {
        public var name: String
        public var action: Action
        public var dtype: DType
        public var shape: Shape
        public var bytesBefore: Int
        public var bytesAfter: Int
        public var reason: String?
        public var bits: Int?
        public var strategy: String?
        public var groupSize: Int?
        public var symmetric: Bool?
        public var scaleDtype: DType?
        public var method: String?
        public var bitsPerWeight: Double?
        public var error: ErrorSummary?
        /// Pruning, when the weight was pruned: the method (with its parameters), the sparsity asked for
        /// ("0.5", "2:4"), the fraction of weights actually zero, and the storage format.
        public var prune: String?
        public var sparsity: String?
        public var measuredSparsity: Double?
        public var sparseFormat: String?
        /// Low-rank compensation, when the weight has factors (`<p>.weight_lora_a/_b`): "rank 8 eora f16". Its
        /// bytes are in `bytesAfter` and its effect in `error` (of Ŵ + A·B).
        public var lowRank: String? = nil
    }

    /// `pruned`: pruned and stored sparse without quantization.
    public enum Action: String, Codable, Sendable { case quantized, kept, pruned }

    public struct Calibration: Codable, Sendable, Equatable {
        public var data: String
        public var split: String
        public var puzzles: Int
        public init(data: String, split: String, puzzles: Int) { self.data = data; self.split = split; self.puzzles = puzzles }
    }

    public struct Totals: Codable, Sendable, Equatable {
        public var bytesBefore: Int
        public var bytesAfter: Int
        public var quantizedTensors: Int
        public var quantizedParameters: Int
        public var compressionRatio: Double
    }

    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}

public enum ShrinkVersion {
    public static let current = "0.1.0"
}

extension Recipe {
    /// The GGUF a compressed directory was made from: its shrink.json `source.path`, resolved against the working
    /// directory, then against the directory; nil when there is no readable shrink.json or the source is not a GGUF
    /// file that is there. (A compressed GGUF decoder keeps no tokenizer.json: its tokenizer is the source's.)
    public static func sourceGGUF(ofCompressed dir: String) -> String? {
        guard let m = try? MappedFile(path: dir + "/shrink.json"), m.byteCount > 0,
              let recipe = try? decoder().decode(Recipe.self, from: Data(m.bytes(0..<m.byteCount))) else { return nil }
        let p = recipe.source.path
        return (p.hasPrefix("/") ? [p] : [p, dir + "/" + p]).first { FileSystem.exists($0) && !FileSystem.isDirectory($0) && GGUFReader.looksLikeGGUF($0) }
    }
}
