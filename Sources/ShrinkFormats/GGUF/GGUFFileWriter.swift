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
    private let temporaryPath: String
    private var fd: Int32
    private let order: [GGUFHeader.TensorInfo]
    private var next = 0
    private var committed = false
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
        // Staging a killed writer of the same output left behind goes first (SafetensorsWriter does the same).
        FileSystem.removeStaleStaging(of: path)
        temporaryPath = dir + "/." + FileSystem.lastComponent(path) + ".partial-\(getpid())"
        KillPoint.reach("gguf.open")
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FormatError.outputNotWritable(path: path, reason: FileSystem.errorText(errno)) }
        do {
            let header = GGUFHeader.encode(alignment: alignment, metadata: metadata, tensors: tensors)
            try header.withUnsafeBytes { try writeRaw($0) }
        } catch {
            abandon()
            throw error
        }
    }

    deinit { if !committed { abandon() } }

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
        KillPoint.reach("gguf.fsync")
        guard fsync(fd) == 0 else {
            let e = errno
            abandon()
            throw FormatError.writeFailed(path: path, reason: FileSystem.errorText(e))
        }
        close(fd)
        fd = -1
        KillPoint.reach("gguf.rename")
        guard rename(temporaryPath, path) == 0 else {
            let e = errno
            unlink(temporaryPath)
            committed = true
            throw FormatError.outputNotWritable(path: path, reason: FileSystem.errorText(e))
        }
        committed = true
    }

    private func writeRaw(_ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            #if canImport(Glibc)
            let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
            #else
            let n = Darwin.write(fd, buffer.baseAddress! + done, buffer.count - done)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError.writeFailed(path: path, reason: FileSystem.errorText(errno))
            }
            done += n
        }
        bytesWritten += buffer.count
    }

    private func abandon() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        committed = true
    }
}
