import ShrinkTensor

/// Where a tensor lives and what it is, without its data.
public struct TensorInfo: Hashable, Codable, Sendable {
    public var name: String
    public var dtype: DType
    public var shape: Shape

    public init(name: String, dtype: DType, shape: Shape) {
        self.name = name; self.dtype = dtype; self.shape = shape
    }

    public var elementCount: Int { shape.elementCount }
    public var byteCount: Int { shape.elementCount * dtype.byteSize }
}

/// A read-only, lazily loaded set of named tensors: one safetensors file, a sharded
/// checkpoint, later GGUF or ONNX. Data is not read until asked for.
public protocol TensorSource: AnyObject, Sendable {
    /// Path shown in messages.
    var location: String { get }
    /// Tensor names, sorted.
    var tensorNames: [String] { get }
    var metadata: [String: String] { get }
    func info(_ name: String) -> TensorInfo?
    /// The tensor's raw little-endian bytes; valid while the source lives.
    func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer
    /// Hint that `name` is finished with: its pages may leave memory.
    func release(_ name: String)
    /// The tensor decoded to Float (integers and bools converted by value). Sources
    /// that present derived tensors (a compressed checkpoint's dequantized weights)
    /// compute them here.
    func floats(_ name: String) throws -> [Float]
    /// Bytes `name` occupies as stored (a GGUF block tensor's blocks, not its decoded F32).
    func storedByteCount(_ name: String) -> Int?
}

extension TensorSource {
    public func requireInfo(_ name: String) throws -> TensorInfo {
        guard let i = info(name) else { throw FormatError.missingTensor(source: location, tensor: name) }
        return i
    }

    public var infos: [TensorInfo] { tensorNames.compactMap { info($0) } }

    public func floats(_ name: String) throws -> [Float] { try decodedFloats(name) }

    public func storedByteCount(_ name: String) -> Int? { info(name)?.byteCount }

    /// The stored bytes of `name` decoded to Float.
    public func decodedFloats(_ name: String) throws -> [Float] {
        let info = try requireInfo(name)
        let raw = try rawBytes(name)
        return [Float](unsafeUninitializedCapacity: info.elementCount) { buf, n in
            if info.elementCount > 0 {
                ElementCodec.decode(raw.baseAddress!, dtype: info.dtype, count: info.elementCount, into: buf.baseAddress!)
            }
            n = info.elementCount
        }
    }

    /// The tensor's values as Int64 (for integer tensors such as weight_shape).
    public func integers(_ name: String) throws -> [Int64] {
        let info = try requireInfo(name)
        let raw = try rawBytes(name)
        let n = info.elementCount
        switch info.dtype {
        case .i64: return (0..<n).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
        case .i32: return (0..<n).map { Int64(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        case .i16: return (0..<n).map { Int64(raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
        case .i8: return (0..<n).map { Int64(raw.load(fromByteOffset: $0, as: Int8.self)) }
        case .u8, .bool: return (0..<n).map { Int64(raw.load(fromByteOffset: $0, as: UInt8.self)) }
        default: return try floats(name).map { Int64($0) }
        }
    }

    public var parameterCount: Int { infos.reduce(0) { $0 + $1.elementCount } }
    public var totalBytes: Int { infos.reduce(0) { $0 + $1.byteCount } }
    /// Bytes of every tensor as stored.
    public var totalStoredBytes: Int { tensorNames.reduce(0) { $0 + (storedByteCount($1) ?? 0) } }
}

/// Opens what a user points at: a `.safetensors` file, a `*.safetensors.index.json`
/// shard index, a `.gguf` file (or any file starting with the GGUF magic), or a
/// directory holding a safetensors checkpoint or exactly one `.gguf` file.
public enum Checkpoint {
    public static func open(_ path: String) throws -> any TensorSource {
        var isDir = false
        guard FileSystem.exists(path, isDirectory: &isDir) else {
            throw FormatError.cannotOpen(file: path, reason: "no such file or directory")
        }
        if isDir {
            let dir = path.hasSuffix("/") ? String(path.dropLast()) : path
            for candidate in ["model.safetensors.index.json", "model.safetensors"] {
                let p = dir + "/" + candidate
                if FileSystem.exists(p) { return try open(p) }
            }
            let indexes = FileSystem.list(dir).filter { $0.hasSuffix(".safetensors.index.json") }.sorted()
            if let first = indexes.first { return try ShardedCheckpoint(indexPath: dir + "/" + first) }
            let files = FileSystem.list(dir).filter { $0.hasSuffix(".safetensors") }.sorted()
            if files.count == 1 { return try SafetensorsFile(path: dir + "/" + files[0]) }
            let ggufs = FileSystem.list(dir).filter { $0.lowercased().hasSuffix(".gguf") }.sorted()
            if files.isEmpty && ggufs.count == 1 { return try GGUFReader(path: dir + "/" + ggufs[0]) }
            throw FormatError.cannotOpen(
                file: path,
                reason: files.isEmpty ? "directory holds no .safetensors file" : "directory holds several .safetensors files but no index; pass one file or add model.safetensors.index.json")
        }
        if path.hasSuffix(".index.json") { return try ShardedCheckpoint(indexPath: path) }
        if GGUFReader.looksLikeGGUF(path) { return try GGUFReader(path: path) }
        return try SafetensorsFile(path: path)
    }
}
