/// A GGUF v3 file (ggml docs/gguf.md): "GGUF", version 3, tensor count, metadata
/// key/value count, the key/values, the tensor infos, padding to `general.alignment`,
/// then the tensor data, each tensor starting at a multiple of the alignment.
/// Everything little-endian; strings are a u64 length and UTF-8 bytes.
public struct GGUFFile {
    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let version: UInt32 = 3
    public static let alignment = 32

    /// Metadata value types (gguf.md `gguf_metadata_value_type`).
    public enum Value: Equatable {
        case uint32(UInt32)
        case int64(Int64)
        case float64(Double)
        case bool(Bool)
        case string(String)

        var typeCode: UInt32 {
            switch self {
            case .uint32: 4
            case .bool: 7
            case .string: 8
            case .int64: 11
            case .float64: 12
            }
        }
    }

    public struct Tensor {
        public var name: String
        /// ggml order: dims[0] is the contiguous (innermost) dimension.
        public var dims: [Int]
        public var type: GGMLType
        public var data: [UInt8]
    }

    public var metadata: [(key: String, value: Value)] = []
    public var tensors: [Tensor] = []

    public init() {}

    /// The whole file.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out += Self.magic
        put(Self.version, &out)
        put(UInt64(tensors.count), &out)
        put(UInt64(metadata.count), &out)
        for (key, value) in metadata {
            putString(key, &out)
            put(value.typeCode, &out)
            switch value {
            case let .uint32(v): put(v, &out)
            case let .int64(v): put(UInt64(bitPattern: v), &out)
            case let .float64(v): put(v.bitPattern, &out)
            case let .bool(v): out.append(v ? 1 : 0)
            case let .string(v): putString(v, &out)
            }
        }
        var offset = 0
        for t in tensors {
            putString(t.name, &out)
            put(UInt32(t.dims.count), &out)
            for d in t.dims { put(UInt64(d), &out) }
            put(t.type.rawValue, &out)
            put(UInt64(offset), &out)
            offset += Self.padded(t.data.count)
        }
        out += [UInt8](repeating: 0, count: Self.padded(out.count) - out.count)
        for t in tensors {
            out += t.data
            out += [UInt8](repeating: 0, count: Self.padded(t.data.count) - t.data.count)
        }
        return out
    }

    static func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    private func put<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private func putString(_ s: String, _ out: inout [UInt8]) {
        let bytes = Array(s.utf8)
        put(UInt64(bytes.count), &out)
        out += bytes
    }
}
