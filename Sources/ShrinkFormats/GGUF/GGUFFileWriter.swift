#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a GGUF file (ggml docs/gguf.md) as its tensors are produced, atomically, with memory bounded by one
/// tensor: the caller declares every tensor's name, ggml dims and type up front, so the header with all
/// offsets (each tensor at a multiple of `alignment`) is written first; data then streams in declaration
/// order, each tensor padded with zeros to the alignment. Everything goes to a hidden temporary file beside
/// the destination, fsync'ed and renamed over it by `commit()`; a writer dropped without commit removes its
/// temporary file, so the destination never holds a partial file. `GGUFReader` reads what this writes, and
/// the bytes equal `GGUFFile.serialized()` of the same content.
public final class GGUFStreamWriter {
    public let path: String
    public let alignment: Int
    private let file: StagedFile
    private let order: [GGUFHeader.TensorInfo]
    private var next = 0
    /// Bytes written so far (header, data and padding).
    public private(set) var bytesWritten = 0

    /// Declares the whole file; `metadata` should hold `general.alignment` when `alignment` is not 32.
    public init(path: String, metadata: [(key: String, value: GGUFValue)], tensors: [GGUFHeader.TensorInfo],
                alignment: Int = GGUFFile.defaultAlignment) throws {
        self.path = path
        self.alignment = alignment
        if FileSystem.isDirectory(path) { throw FormatError.outputIsDirectory(path: path) }
        let dir = FileSystem.directoryOf(path)
        guard FileSystem.isDirectory(dir) else {
            throw FormatError.outputNotWritable(path: path, reason: "directory '\(dir)' does not exist")
        }
        guard alignment > 0, alignment % 8 == 0 else {
            throw FormatError.writerMisuse(path: path, detail: "alignment \(alignment) must be a positive multiple of 8")
        }
        var names = Set<String>()
        for t in tensors {
            guard names.insert(t.name).inserted else {
                throw FormatError.writerMisuse(path: path, detail: "tensor name '\(t.name)' declared twice")
            }
            guard let n = t.type.checkedByteCount(t.dims.reduce(1, *)), n == t.byteCount, t.dims.count >= 1, t.dims.count <= 4 else {
                throw FormatError.writerMisuse(path: path, detail: "tensor '\(t.name)': \(t.byteCount) bytes do not hold \(t.type.name) dims \(t.dims)")
            }
        }
        order = tensors
        file = try StagedFile(path: path, killPoint: "gguf")
        let header = GGUFHeader.encode(alignment: alignment, metadata: metadata, tensors: tensors)
        try header.withUnsafeBytes { try writeRaw($0) }
    }

    /// The tensor whose data is expected next, or nil when all are written.
    public var expectedNext: GGUFHeader.TensorInfo? { next < order.count ? order[next] : nil }

    /// Appends the data of the next declared tensor (exactly its declared bytes) and its alignment padding.
    public func write(_ name: String, bytes: UnsafeRawBufferPointer) throws {
        guard let expected = expectedNext, expected.name == name else {
            throw FormatError.writerMisuse(path: path, detail: "tensor '\(name)' written out of order (expected '\(expectedNext?.name ?? "nothing")')")
        }
        guard bytes.count == expected.byteCount else {
            throw FormatError.writerMisuse(path: path, detail: "tensor '\(name)' has \(bytes.count) bytes, declared \(expected.byteCount)")
        }
        KillPoint.reach("gguf.tensor")
        if bytes.count > 0 { try writeRaw(bytes) }
        let pad = GGUFHeader.padded(bytes.count, alignment) - bytes.count
        if pad > 0 {
            let zeros = [UInt8](repeating: 0, count: pad)
            try zeros.withUnsafeBytes { try writeRaw($0) }
        }
        next += 1
    }

    public func write(_ name: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(name, bytes: $0) }
    }

    /// Flushes to disk and atomically moves the file to its final name.
    public func commit() throws {
        guard next == order.count else {
            throw FormatError.writerMisuse(path: path, detail: "commit before all tensors were written (next: '\(order[next].name)')")
        }
        try file.commit()
    }

    private func writeRaw(_ buffer: UnsafeRawBufferPointer) throws {
        try file.write(buffer)
        bytesWritten += buffer.count
    }
}
