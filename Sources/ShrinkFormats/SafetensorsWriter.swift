import ShrinkTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a safetensors file as its tensors are produced, atomically.
///
/// The header (all names, dtypes, shapes, offsets) is written first, so the
/// caller declares every tensor up front; data then streams in declaration
/// order and memory stays bounded by the largest tensor. Everything goes to a
/// hidden temporary file beside the destination, renamed over it by `commit()`;
/// a writer dropped without commit (an error, a thrown NaN check) removes its
/// temporary file, so the final name never holds a partial file.
///
/// Determinism: header keys are sorted (`__metadata__` first), the header is
/// padded with spaces to a multiple of 8 bytes (the spec allows trailing
/// spaces), data follows declaration order.
public final class SafetensorsWriter {
    public let path: String
    private let file: StagedFile
    private let order: [TensorInfo]
    private var next = 0

    public init(path: String, tensors: [TensorInfo], metadata: [String: String] = [:]) throws {
        self.path = path
        if FileSystem.isDirectory(path) { throw FormatError.outputIsDirectory(path: path) }
        let dir = FileSystem.directoryOf(path)
        guard FileSystem.isDirectory(dir) else {
            throw FormatError.outputNotWritable(path: path, reason: "directory '\(dir)' does not exist")
        }
        var names = Set<String>()
        for t in tensors {
            guard t.name != "__metadata__", names.insert(t.name).inserted else {
                throw FormatError.writerMisuse(path: path, detail: "tensor name '\(t.name)' declared twice or reserved")
            }
        }
        order = tensors
        file = try StagedFile(path: path, killPoint: "safetensors")
        let json = Array(Self.header(tensors: tensors, metadata: metadata).utf8)
        var length = UInt64(json.count).littleEndian
        try withUnsafeBytes(of: &length) { try file.write($0) }
        try json.withUnsafeBytes { try file.write($0) }
    }

    /// The header bytes after the length prefix, padded to a multiple of 8.
    static func header(tensors: [TensorInfo], metadata: [String: String]) -> String {
        var offset = 0
        var parts: [String: String] = [:]
        for t in tensors {
            let end = offset + t.byteCount
            parts[t.name] = "{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.dims.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        var fields: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { JSONText.quote($0) + ":" + JSONText.quote(metadata[$0]!) }
            fields.append("\"__metadata__\":{" + m.joined(separator: ",") + "}")
        }
        for name in parts.keys.sorted() { fields.append(JSONText.quote(name) + ":" + parts[name]!) }
        var json = "{" + fields.joined(separator: ",") + "}"
        let n = json.utf8.count
        json += String(repeating: " ", count: (8 - n % 8) % 8)
        return json
    }

    /// The name of the tensor whose data is expected next, or nil when all are written.
    public var expectedNext: TensorInfo? { next < order.count ? order[next] : nil }

    /// Appends the data of the next declared tensor; it must be `name` with exactly its declared size.
    public func write(_ name: String, bytes: UnsafeRawBufferPointer) throws {
        guard let expected = expectedNext, expected.name == name else {
            throw FormatError.writerMisuse(path: path, detail: "tensor '\(name)' written out of order (expected '\(expectedNext?.name ?? "nothing")')")
        }
        guard bytes.count == expected.byteCount else {
            throw FormatError.writerMisuse(path: path, detail: "tensor '\(name)' has \(bytes.count) bytes, declared \(expected.byteCount)")
        }
        KillPoint.reach("safetensors.tensor")
        if bytes.count > 0 { try file.write(bytes) }
        next += 1
    }

    public func write<T>(_ name: String, values: [T]) throws {
        try values.withUnsafeBytes { try write(name, bytes: $0) }
    }

    /// Flushes, and atomically moves the file to its final name.
    public func commit() throws {
        guard next == order.count else {
            throw FormatError.writerMisuse(path: path, detail: "commit before all tensors were written (next: '\(order[next].name)')")
        }
        try file.commit()
    }
}

/// Writes a small file atomically and durably (a staged file, synced, then renamed).
public enum AtomicFile {
    public static func write(_ text: String, to path: String) throws {
        try write(bytes: Array(text.utf8), to: path)
    }

    public static func write(bytes: [UInt8], to path: String) throws {
        if FileSystem.isDirectory(path) { throw FormatError.outputIsDirectory(path: path) }
        let file = try StagedFile(path: path, killPoint: "atomic")
        try bytes.withUnsafeBytes { try file.write($0) }
        try file.commit()
    }
}
