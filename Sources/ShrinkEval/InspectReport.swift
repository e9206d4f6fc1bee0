import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// What `shrink inspect` shows.
public struct InspectReport: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var name: String
        public var dtype: DType
        public var shape: Shape
        public var parameters: Int
        public var bytes: Int
        /// For a GGUF file: the tensor's ggml type (`dtype` is then its decoded dtype and `bytes` the stored blocks).
        public var ggmlType: String?
    }

    /// For a GGUF file: its header and metadata, keys in file order.
    public struct GGUFSummary: Codable, Sendable {
        public struct Key: Codable, Sendable {
            public var key: String
            public var type: String
            /// Scalars in full (strings cut at 80 characters), arrays by their first elements and length.
            public var value: String
        }

        public var version: UInt32
        public var alignment: Int
        /// Parameters per ggml type.
        public var ggmlTypes: [String: Int]
        public var keys: [Key]
    }

    public var path: String
    public var tensors: [Entry]
    public var parameters: Int
    public var bytes: Int
    public var dtypes: [String: Int]
    public var metadata: [String: String]
    /// For a compressed checkpoint: the quantized weights and their schemes.
    public var quantized: [QuantizedEntry]?
    public var gguf: GGUFSummary?

    public struct QuantizedEntry: Codable, Sendable {
        public var name: String
        public var shape: Shape
        public var bits: Int
        public var strategy: String
        public var groupSize: Int?
        public var symmetric: Bool
        public var storedBytes: Int

        public init(name: String, shape: Shape, bits: Int, strategy: String, groupSize: Int?, symmetric: Bool, storedBytes: Int) {
            self.name = name; self.shape = shape; self.bits = bits; self.strategy = strategy
            self.groupSize = groupSize; self.symmetric = symmetric; self.storedBytes = storedBytes
        }
    }

    public init(source: any TensorSource, packed: [QuantizedEntry]? = nil) {
        path = source.location
        tensors = source.infos.map { Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, parameters: $0.elementCount, bytes: $0.byteCount) }
        parameters = tensors.reduce(0) { $0 + $1.parameters }
        bytes = tensors.reduce(0) { $0 + $1.bytes }
        dtypes = tensors.reduce(into: [:]) { $0[$1.dtype.rawValue, default: 0] += $1.parameters }
        metadata = source.metadata
        quantized = packed
        if let g = source as? GGUFReader {
            for i in tensors.indices {
                guard let t = g.tensor(tensors[i].name) else { continue }
                tensors[i].ggmlType = t.type.name
                tensors[i].bytes = t.byteCount
            }
            bytes = tensors.reduce(0) { $0 + $1.bytes }
            let keys = g.metadataKeys.map { k -> GGUFSummary.Key in
                let v = g.values[k]!
                let text = v.preview()
                return .init(key: k, type: v.typeDescription, value: text.count > 80 ? String(text.prefix(77)) + "..." : text)
            }
            gguf = GGUFSummary(version: g.version, alignment: g.alignment,
                               ggmlTypes: tensors.reduce(into: [:]) { $0[$1.ggmlType ?? "", default: 0] += $1.parameters }, keys: keys)
            metadata = [:]  // listed, in order, under gguf.keys
        }
    }

    /// What `shrink inspect PATH` shows: the tensors of a checkpoint, or of a compressed directory the stored
    /// tensors plus its packed weights and their schemes.
    public init(path: String) throws {
        let location = ModelLocation(path)
        guard location.isCompressed else { self.init(source: try Checkpoint.open(path)); return }
        let c = try CompressedCheckpoint(directory: location.directory)
        let packed = c.packedWeights.values.sorted { $0.name < $1.name }.map {
            QuantizedEntry(name: $0.name, shape: Shape([$0.layout.rows, $0.layout.columns]), bits: $0.layout.scheme.bits,
                           strategy: $0.layout.scheme.granularity.strategy, groupSize: $0.layout.scheme.granularity.groupSize,
                           symmetric: $0.layout.scheme.symmetric, storedBytes: $0.layout.storedBytes)
        }
        self.init(source: c.stored, packed: packed)
    }
}
