#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ShrinkTensor

/// A GGUF file (ggml docs/gguf.md; versions 2 and 3, little-endian), memory-mapped
/// and validated whole before any tensor is used: header, every metadata value (all
/// thirteen types, arrays nested to `maxArrayDepth`), every tensor info, and the
/// tensors' places in the data region (inside it, at `general.alignment`, disjoint).
///
/// As a `TensorSource`, shapes are row-major (PyTorch order: GGUF's `ne` reversed, so a
/// llama.cpp `[ne0 = in, ne1 = out]` weight reads `[out, in]`). F32, F16 and BF16 tensors
/// report that dtype and `rawBytes` maps them in place. Block-quantized tensors report
/// their logical dtype F32: `floats` and `dequantizeRows` decode them, and `rawBytes`
/// returns the decoded F32 bytes (computed on first use, held until `release`), so code
/// that reads bytes by dtype stays correct. The stored blocks are `blockBytes(_:)`, their
/// type `ggmlType(_:)`.
public final class GGUFReader: TensorSource {
    /// Array nesting Shrink accepts (gguf-py reads nested arrays; ggml itself writes none).
    public static let maxArrayDepth = 4
    /// ggml's GGML_MAX_DIMS.
    public static let maxDims = 4

    /// One tensor as the file describes it.
    public struct Tensor: Sendable, Equatable {
        public var name: String
        /// ggml order: dims[0] (`ne[0]`) is the contiguous row.
        public var dims: [Int]
        public var type: GGMLType
        /// Offset from the start of the data region.
        public var offset: Int
        public var byteCount: Int
        /// Row-major shape (dims reversed).
        public var shape: Shape { Shape(dims.reversed()) }
        public var elementCount: Int { dims.reduce(1, *) }
        /// Elements per row (`ne[0]`) and rows (the product of the other dims).
        public var rowLength: Int { dims[0] }
        public var rowCount: Int { dims.dropFirst().reduce(1, *) }
    }

    public let location: String
    public let version: UInt32
    public let alignment: Int
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let values: [String: GGUFValue]
    /// Tensor names in file order (`tensorNames` is sorted).
    public let tensorOrder: [String]
    public let tensorNames: [String]
    /// Byte offset of the data region in the file.
    public let dataStart: Int
    /// Scalars as text, arrays as "array of N type".
    public let metadata: [String: String]

    private let file: MappedFile
    private let tensors: [String: Tensor]
    private let decoded = DecodedCache()

    public init(path: String) throws {
        location = path
        file = try MappedFile.checkpoint(path)
        var r = ByteReader(bytes: file.bytes(0..<file.byteCount), file: path)
        let magic = try r.slice(4, item: "header (magic)")
        guard Array(magic) == GGUFFile.magic else {
            throw FormatError.ggufBadMagic(file: path, found: magic.map { String(format2: $0) }.joined(separator: " "))
        }
        let v = try r.u32(item: "header (version)")
        if GGUFFile.supportedVersions.contains(v.byteSwapped) { throw FormatError.ggufBigEndian(file: path) }
        guard GGUFFile.supportedVersions.contains(v) else { throw FormatError.ggufUnsupportedVersion(file: path, version: v) }
        version = v
        let tensorCount = try r.u64(item: "header (tensor count)")
        let keyCount = try r.u64(item: "header (metadata key count)")
        // Every entry takes more than a byte: a count above the bytes left is corrupt, not a
        // truncation (a plausible count in a short file fails later, naming the entry cut off).
        if keyCount > UInt64(r.remaining) {
            throw FormatError.ggufCountTooLarge(file: path, item: "metadata key count", count: keyCount, fileBytes: file.byteCount)
        }
        if tensorCount > UInt64(r.remaining) {
            throw FormatError.ggufCountTooLarge(file: path, item: "tensor count", count: tensorCount, fileBytes: file.byteCount)
        }

        var keys: [String] = []
        var vals: [String: GGUFValue] = [:]
        for k in 0..<Int(keyCount) {
            let key = try r.string(item: "metadata key #\(k)")
            let rawType = try r.u32(item: "type of metadata key '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw FormatError.ggufUnknownValueType(file: path, key: key, type: rawType)
            }
            let value = try r.value(type, key: key, depth: 0)
            if vals[key] != nil { throw FormatError.ggufDuplicateKey(file: path, key: key) }
            vals[key] = value
            keys.append(key)
        }
        var align = GGUFFile.defaultAlignment
        if let a = vals["general.alignment"] {
            guard case let .uint32(n) = a, n > 0, n & (n - 1) == 0 else {
                throw FormatError.ggufBadAlignment(file: path, found: "\(a.typeDescription) \(a.summary)")
            }
            align = Int(n)
        }
        alignment = align

        var list: [Tensor] = []
        var byName: [String: Tensor] = [:]
        for t in 0..<Int(tensorCount) {
            let name = try r.string(item: "name of tensor info #\(t)")
            let nDims = try r.u32(item: "tensor info '\(name)' (dimension count)")
            guard nDims >= 1, nDims <= UInt32(Self.maxDims) else {
                throw FormatError.ggufBadDimCount(file: path, tensor: name, count: nDims, limit: Self.maxDims)
            }
            var raw: [UInt64] = []
            for _ in 0..<Int(nDims) { raw.append(try r.u64(item: "tensor info '\(name)' (dimensions)")) }
            let dimsText = "[" + raw.map(String.init).joined(separator: ", ") + "]"
            if raw.contains(0) { throw FormatError.ggufZeroDim(file: path, tensor: name, dims: dimsText) }
            var count = 1
            for d in raw {
                guard d <= UInt64(Int.max) else { throw FormatError.ggufDimsOverflow(file: path, tensor: name, dims: dimsText) }
                let (p, o) = count.multipliedReportingOverflow(by: Int(d))
                if o { throw FormatError.ggufDimsOverflow(file: path, tensor: name, dims: dimsText) }
                count = p
            }
            let rawType = try r.u32(item: "tensor info '\(name)' (type)")
            guard let type = GGMLType(rawValue: rawType) else {
                throw FormatError.ggufUnknownTensorType(file: path, tensor: name, type: rawType)
            }
            let offset = try r.u64(item: "tensor info '\(name)' (offset)")
            let dims = raw.map { Int($0) }
            if dims[0] % type.blockSize != 0 {
                throw FormatError.ggufRowNotWholeBlocks(file: path, tensor: name, row: dims[0], type: type.name, block: type.blockSize)
            }
            guard let bytes = type.checkedByteCount(count) else { throw FormatError.ggufDimsOverflow(file: path, tensor: name, dims: dimsText) }
            if byName[name] != nil { throw FormatError.ggufDuplicateTensor(file: path, tensor: name) }
            guard offset <= UInt64(Int.max) else {
                throw FormatError.ggufDataOutOfBounds(file: path, tensor: name, offset: offset, bytes: bytes, dataBytes: 0)
            }
            let info = Tensor(name: name, dims: dims, type: type, offset: Int(offset), byteCount: bytes)
            byName[name] = info
            list.append(info)
        }
        // The data region starts at the next multiple of the alignment (gguf.md "Padding").
        let headerEnd = r.offset
        let start = (headerEnd + align - 1) / align * align
        dataStart = start
        let dataBytes = max(0, file.byteCount - start)
        for t in list {
            if t.offset % align != 0 {
                throw FormatError.ggufMisaligned(file: path, tensor: t.name, offset: t.offset, alignment: align)
            }
            let (end, o) = t.offset.addingReportingOverflow(t.byteCount)
            if o || end > dataBytes {
                throw FormatError.ggufDataOutOfBounds(file: path, tensor: t.name, offset: UInt64(t.offset), bytes: t.byteCount, dataBytes: dataBytes)
            }
        }
        let sorted = list.sorted { ($0.offset, $0.name) < ($1.offset, $1.name) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw FormatError.offsetsOverlap(file: path, first: a.name, second: b.name)
        }

        metadataKeys = keys
        values = vals
        tensors = byName
        tensorOrder = list.map(\.name)
        tensorNames = tensorOrder.sorted()
        var meta: [String: String] = [:]
        for (k, v) in vals { meta[k] = v.summary }
        metadata = meta
    }

    // MARK: tensors

    /// The tensor as the file describes it.
    public func tensor(_ name: String) -> Tensor? { tensors[name] }

    public func storedByteCount(_ name: String) -> Int? { tensors[name]?.byteCount }

    public func ggmlType(_ name: String) -> GGMLType? { tensors[name]?.type }

    public func info(_ name: String) -> TensorInfo? {
        guard let t = tensors[name] else { return nil }
        return TensorInfo(name: name, dtype: t.type.plainDType ?? .f32, shape: t.shape)
    }

    /// The tensor's bytes as stored (ggml blocks for quantized types); valid while the reader lives.
    public func blockBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let t = try requireTensor(name)
        let range = (dataStart + t.offset)..<(dataStart + t.offset + t.byteCount)
        if range.count >= 1 << 20 { file.populate(range) }
        return file.bytes(range)
    }

    /// Bytes of `info(name).dtype` elements: in place for F32/F16/BF16; for block types the
    /// decoded F32 values, kept until `release(name)`.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let t = try requireTensor(name)
        if t.type.plainDType != nil { return try blockBytes(name) }
        return try decoded.bytes(name) {
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: t.elementCount * 4, alignment: 64)
            try dequantizeRows(name, rows: 0..<t.rowCount, into: out.baseAddress!.assumingMemoryBound(to: Float.self))
            return out
        }
    }

    public func release(_ name: String) {
        guard let t = tensors[name] else { return }
        decoded.drop(name)
        file.release((dataStart + t.offset)..<(dataStart + t.offset + t.byteCount))
    }

    /// The whole tensor decoded to Float, row-major, bit-identical to gguf-py's `dequantize`.
    public func floats(_ name: String) throws -> [Float] {
        let t = try requireTensor(name)
        return try [Float](unsafeUninitializedCapacity: t.elementCount) { buf, n in
            try dequantizeRows(name, rows: 0..<t.rowCount, into: buf.baseAddress!)
            n = t.elementCount
        }
    }

    /// Decodes rows `rows` (of `rowCount`, each `rowLength` = `ne[0]` elements) into
    /// `destination`, which must hold `rows.count × rowLength` floats. With `parallel`, ranges of
    /// ≥ 2 × 256 K elements are split over the cores; pass false when calling from parallel code.
    /// (A hot loop can skip the name lookup: `tensor(name)`, `blockBytes(name)` once, then
    /// `type.dequantize(base + row × type.rowBytes(rowLength), elements:, into:)`.)
    public func dequantizeRows(_ name: String, rows: Range<Int>, into destination: UnsafeMutablePointer<Float>,
                               parallel: Bool = true) throws {
        let t = try requireTensor(name)
        guard rows.lowerBound >= 0, rows.upperBound <= t.rowCount else {
            throw FormatError.ggufRowsOutOfRange(file: location, tensor: name, rows: "\(rows.lowerBound)..<\(rows.upperBound)", rowCount: t.rowCount)
        }
        guard !rows.isEmpty else { return }
        let bytes = try blockBytes(name)
        let rowBytes = t.type.rowBytes(t.rowLength), rowLength = t.rowLength, type = t.type
        let src = UnsafeSendable(bytes.baseAddress! + rows.lowerBound * rowBytes), dst = UnsafeSendable(destination)
        // ≥ 256 K elements per worker: about 100 µs of decoding, worth a thread.
        let minRows = parallel ? max(1, (1 << 18) / rowLength) : rows.count
        Parallel.forEachChunk(count: rows.count, minChunk: minRows) { chunk in
            type.dequantize(src.pointer + chunk.lowerBound * rowBytes, elements: chunk.count * rowLength,
                            into: dst.pointer + chunk.lowerBound * rowLength)
        }
    }

    private func requireTensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw FormatError.missingTensor(source: location, tensor: name) }
        return t
    }

    /// Bytes the tensors take in the file.
    public var storedBytes: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }

    // MARK: metadata

    public func value(_ key: String) -> GGUFValue? { values[key] }

    /// The value of `key`, or a `ggufMissingKey` error.
    public func requireValue(_ key: String) throws -> GGUFValue {
        guard let v = values[key] else { throw FormatError.ggufMissingKey(file: location, key: key) }
        return v
    }

    /// A string value; nil when absent, an error when `key` holds another type.
    public func string(_ key: String) throws -> String? {
        try typed(key, "string") { $0.stringValue }
    }

    /// An integer of any width and signedness that fits an Int.
    public func int(_ key: String) throws -> Int? {
        try typed(key, "integer") { $0.intValue }
    }

    /// A float32 or float64 (an integer is accepted and converted).
    public func float(_ key: String) throws -> Double? {
        try typed(key, "number") { $0.doubleValue }
    }

    public func bool(_ key: String) throws -> Bool? {
        try typed(key, "bool") { $0.boolValue }
    }

    /// An array of strings (`tokenizer.ggml.tokens`, `tokenizer.ggml.merges`).
    public func stringArray(_ key: String) throws -> [String]? {
        try typed(key, "array of string") { v in
            guard case let .array(t, items) = v, t == .string else { return nil }
            return items.map { $0.stringValue ?? "" }
        }
    }

    /// An array of integers of one type (`tokenizer.ggml.token_type`).
    public func intArray(_ key: String) throws -> [Int]? {
        try typed(key, "array of integers") { v in
            guard case let .array(_, items) = v else { return nil }
            var out: [Int] = []
            out.reserveCapacity(items.count)
            for i in items {
                guard let n = i.intValue else { return nil }
                out.append(n)
            }
            return out
        }
    }

    /// An array of numbers as Float (`tokenizer.ggml.scores`); integers are converted.
    public func floatArray(_ key: String) throws -> [Float]? {
        try typed(key, "array of numbers") { v in
            guard case let .array(_, items) = v else { return nil }
            var out: [Float] = []
            out.reserveCapacity(items.count)
            for i in items {
                if case let .float32(f) = i { out.append(f); continue }
                guard let d = i.doubleValue else { return nil }
                out.append(Float(d))
            }
            return out
        }
    }

    public func requireString(_ key: String) throws -> String {
        guard let v = try string(key) else { throw FormatError.ggufMissingKey(file: location, key: key) }
        return v
    }

    public func requireInt(_ key: String) throws -> Int {
        guard let v = try int(key) else { throw FormatError.ggufMissingKey(file: location, key: key) }
        return v
    }

    public func requireFloat(_ key: String) throws -> Double {
        guard let v = try float(key) else { throw FormatError.ggufMissingKey(file: location, key: key) }
        return v
    }

    private func typed<T>(_ key: String, _ expected: String, _ get: (GGUFValue) -> T?) throws -> T? {
        guard let v = values[key] else { return nil }
        guard let out = get(v) else {
            throw FormatError.ggufMetadataType(file: location, key: key, expected: expected, found: v.typeDescription)
        }
        return out
    }

    /// True when `path` starts with the GGUF magic (or ends in .gguf).
    public static func looksLikeGGUF(_ path: String) -> Bool {
        if path.lowercased().hasSuffix(".gguf") { return true }
        guard !FileSystem.isDirectory(path), let f = try? MappedFile(path: path), f.byteCount >= 4 else { return false }
        return Array(f.bytes(0..<4)) == GGUFFile.magic
    }
}

extension String {
    fileprivate init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}

/// Decoded F32 copies of block tensors handed out by `rawBytes`, freed on `release`.
private final class DecodedCache: @unchecked Sendable {
    // A mutex must not move: it lives in its own allocation.
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var buffers: [String: UnsafeMutableRawBufferPointer] = [:]

    init() { pthread_mutex_init(lock, nil) }

    deinit {
        for b in buffers.values { b.deallocate() }
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    func bytes(_ name: String, make: () throws -> UnsafeMutableRawBufferPointer) throws -> UnsafeRawBufferPointer {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if let b = buffers[name] { return UnsafeRawBufferPointer(b) }
        let b = try make()
        buffers[name] = b
        return UnsafeRawBufferPointer(b)
    }

    func drop(_ name: String) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        buffers.removeValue(forKey: name)?.deallocate()
    }
}

/// A bounds-checked little-endian reader over the mapped file; every failure names the item.
private struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, file: String) { self.bytes = bytes; self.file = file }

    var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int, item: @autoclosure () -> String) throws -> Int {
        guard n <= remaining else { throw FormatError.ggufTruncated(file: file, item: item(), offset: offset, fileBytes: bytes.count) }
        defer { offset += n }
        return offset
    }

    mutating func slice(_ n: Int, item: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let at = try take(n, item: item())
        return UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)])
    }

    mutating func u8(item: @autoclosure () -> String) throws -> UInt8 { bytes[try take(1, item: item())] }
    mutating func u16(item: @autoclosure () -> String) throws -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(2, item: item()), as: UInt16.self))
    }
    mutating func u32(item: @autoclosure () -> String) throws -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4, item: item()), as: UInt32.self))
    }
    mutating func u64(item: @autoclosure () -> String) throws -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8, item: item()), as: UInt64.self))
    }

    /// A u64 length and that many bytes of UTF-8 (gguf.md `gguf_string_t`), validated as gguf-py does (strict).
    mutating func string(item: @autoclosure () -> String) throws -> String {
        let n = try u64(item: item())
        guard n <= UInt64(remaining) else {
            throw FormatError.ggufLengthBeyondFile(file: file, item: item(), length: n, remaining: remaining)
        }
        let raw = try slice(Int(n), item: item())
        guard let s = String(validating: raw, as: UTF8.self) else { throw FormatError.ggufInvalidUTF8(file: file, item: item()) }
        return s
    }

    mutating func value(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        let item = "value of metadata key '\(key)'"
        switch type {
        case .uint8: return .uint8(try u8(item: item))
        case .int8: return .int8(Int8(bitPattern: try u8(item: item)))
        case .uint16: return .uint16(try u16(item: item))
        case .int16: return .int16(Int16(bitPattern: try u16(item: item)))
        case .uint32: return .uint32(try u32(item: item))
        case .int32: return .int32(Int32(bitPattern: try u32(item: item)))
        case .uint64: return .uint64(try u64(item: item))
        case .int64: return .int64(Int64(bitPattern: try u64(item: item)))
        case .float32: return .float32(Float(bitPattern: try u32(item: item)))
        case .float64: return .float64(Double(bitPattern: try u64(item: item)))
        case .bool:
            let b = try u8(item: item)
            guard b <= 1 else { throw FormatError.ggufBadBool(file: file, key: key, byte: b) }
            return .bool(b == 1)
        case .string: return .string(try string(item: item))
        case .array:
            if depth >= GGUFReader.maxArrayDepth { throw FormatError.ggufArrayTooDeep(file: file, key: key, limit: GGUFReader.maxArrayDepth) }
            let rawType = try u32(item: "element type of array '\(key)'")
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw FormatError.ggufUnknownValueType(file: file, key: key, type: rawType)
            }
            let count = try u64(item: "length of array '\(key)'")
            if count > UInt64(remaining / elementType.minimumBytes) {
                throw FormatError.ggufLengthBeyondFile(file: file, item: "array '\(key)' (\(elementType.name) elements)", length: count, remaining: remaining)
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { items.append(try value(elementType, key: key, depth: depth + 1)) }
            return .array(elementType: elementType, items)
        }
    }
}
