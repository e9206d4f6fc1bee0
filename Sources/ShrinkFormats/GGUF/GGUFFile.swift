/// A GGUF file to write (ggml docs/gguf.md): "GGUF", version, tensor count, metadata
/// key/value count, the key/values, the tensor infos, padding to `general.alignment`,
/// then the tensor data, each tensor starting at a multiple of the alignment.
/// Everything little-endian; strings are a u64 length and UTF-8 bytes. `GGUFReader`
/// reads what this writes.
public struct GGUFFile: Sendable {
    public static let magic: [UInt8] = Array("GGUF".utf8)
    /// The versions with 64-bit counts: 2, and 3 (which only adds big-endian files; Shrink writes little-endian).
    public static let supportedVersions: ClosedRange<UInt32> = 2...3
    public static let defaultAlignment = 32

    public struct Tensor: Sendable {
        public var name: String
        /// ggml order: dims[0] is the contiguous (innermost) dimension.
        public var dims: [Int]
        public var type: GGMLType
        public var data: [UInt8]

        public init(name: String, dims: [Int], type: GGMLType, data: [UInt8]) {
            self.name = name; self.dims = dims; self.type = type; self.data = data
        }
    }

    public var version: UInt32 = 3
    /// Where tensor data starts; write `general.alignment` into `metadata` when it is not 32.
    public var alignment = defaultAlignment
    public var metadata: [(key: String, value: GGUFValue)] = []
    public var tensors: [Tensor] = []

    public init() {}

    /// The whole file.
    public func serialized() -> [UInt8] {
        var out = GGUFHeader.encode(version: version, alignment: alignment, metadata: metadata,
                                    tensors: tensors.map { GGUFHeader.TensorInfo(name: $0.name, dims: $0.dims, type: $0.type, byteCount: $0.data.count) })
        for t in tensors {
            out += t.data
            out += [UInt8](repeating: 0, count: padded(t.data.count) - t.data.count)
        }
        return out
    }

    func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}

/// The part of a GGUF file before the tensor data: magic, version, counts, metadata, tensor infos (offsets
/// computed from each tensor's byte count, every tensor starting at a multiple of the alignment), and the
/// padding up to the data section. `GGUFFile` and `GGUFStreamWriter` both write it.
public enum GGUFHeader {
    public struct TensorInfo: Sendable, Equatable {
        public var name: String
        /// ggml order: dims[0] is the contiguous (innermost) dimension.
        public var dims: [Int]
        public var type: GGMLType
        public var byteCount: Int

        public init(name: String, dims: [Int], type: GGMLType, byteCount: Int) {
            self.name = name; self.dims = dims; self.type = type; self.byteCount = byteCount
        }
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// The header bytes, padded to `alignment`; tensor i's data then starts at `offsets(...)[i]` past them.
    public static func encode(version: UInt32 = 3, alignment: Int, metadata: [(key: String, value: GGUFValue)],
                              tensors: [TensorInfo]) -> [UInt8] {
        var out: [UInt8] = []
        out += GGUFFile.magic
        put(version, &out)
        put(UInt64(tensors.count), &out)
        put(UInt64(metadata.count), &out)
        for (key, value) in metadata {
            putString(key, &out)
            put(value.type.rawValue, &out)
            putValue(value, &out)
        }
        var offset = 0
        for t in tensors {
            putString(t.name, &out)
            put(UInt32(t.dims.count), &out)
            for d in t.dims { put(UInt64(d), &out) }
            put(t.type.rawValue, &out)
            put(UInt64(offset), &out)
            offset += padded(t.byteCount, alignment)
        }
        out += [UInt8](repeating: 0, count: padded(out.count, alignment) - out.count)
        return out
    }

    static func putValue(_ value: GGUFValue, _ out: inout [UInt8]) {
        switch value {
        case let .uint8(v): out.append(v)
        case let .int8(v): out.append(UInt8(bitPattern: v))
        case let .uint16(v): put(v, &out)
        case let .int16(v): put(v, &out)
        case let .uint32(v): put(v, &out)
        case let .int32(v): put(v, &out)
        case let .uint64(v): put(v, &out)
        case let .int64(v): put(v, &out)
        case let .float32(v): put(v.bitPattern, &out)
        case let .float64(v): put(v.bitPattern, &out)
        case let .bool(v): out.append(v ? 1 : 0)
        case let .string(v): putString(v, &out)
        case let .array(type, items):
            put(type.rawValue, &out)
            put(UInt64(items.count), &out)
            for item in items { putValue(item, &out) }
        }
    }

    static func put<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func putString(_ s: String, _ out: inout [UInt8]) {
        let bytes = Array(s.utf8)
        put(UInt64(bytes.count), &out)
        out += bytes
    }
}
