import ShrinkTensor

/// A safetensors file, memory-mapped and validated before any tensor is used.
///
/// Layout (huggingface/safetensors, docs "Format"): 8-byte little-endian header
/// length N, N bytes of UTF-8 JSON (an object: tensor name → {dtype, shape,
/// data_offsets}, plus an optional "__metadata__" of strings), then the data
/// region, which the tensors' offsets must cover exactly, without overlap.
public final class SafetensorsFile: TensorSource {
    /// The reference implementation refuses headers over 100 MB; so do we.
    public static let maxHeaderBytes = 100_000_000

    public let location: String
    public let tensorNames: [String]
    public let metadata: [String: String]
    private let file: MappedFile
    private let entries: [String: Entry]
    /// Byte offset of the data region in the file.
    public let dataStart: Int

    struct Entry: Sendable {
        var info: TensorInfo
        var range: Range<Int>  // in the file
    }

    public init(path: String) throws {
        location = path
        file = try MappedFile.checkpoint(path)
        let size = file.byteCount
        if size == 0 { throw FormatError.emptyFile(file: path) }
        if size < 8 { throw FormatError.tooShort(file: path, bytes: size) }
        let headerLength = file.bytes(0..<8).loadUnaligned(as: UInt64.self).littleEndian
        if headerLength > UInt64(Self.maxHeaderBytes) {
            throw FormatError.headerTooLarge(file: path, headerBytes: headerLength, limit: Self.maxHeaderBytes)
        }
        if headerLength > UInt64(size - 8) {
            throw FormatError.headerBeyondFile(file: path, headerBytes: headerLength, fileBytes: size)
        }
        let n = Int(headerLength)
        dataStart = 8 + n
        let json: JSONValue
        do {
            json = try StrictJSONParser.parse(file.bytes(8..<dataStart))
        } catch {
            throw FormatError.headerNotJSON(file: path, detail: error.description)
        }
        guard let members = json.objectMembers else { throw FormatError.headerNotObject(file: path, found: json.kindName) }

        var meta: [String: String] = [:]
        var parsed: [(name: String, info: TensorInfo, begin: Int, end: Int)] = []
        let dataBytes = size - dataStart
        for (name, value) in members {
            if name == "__metadata__" {
                guard let m = value.objectMembers else { throw FormatError.badMetadata(file: path, detail: "is \(value.kindName)") }
                for (k, v) in m {
                    guard let s = v.stringValue else { throw FormatError.badMetadata(file: path, detail: "value of '\(k)' is \(v.kindName)") }
                    meta[k] = s
                }
                continue
            }
            parsed.append(try Self.parseEntry(name: name, value: value, file: path, dataBytes: dataBytes))
        }

        // The offsets must tile the data region: sorted by start, each begins where
        // the previous ended, the last ends at the region's end.
        parsed.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        var previous: String?
        for p in parsed {
            if p.begin < cursor { throw FormatError.offsetsOverlap(file: path, first: previous ?? "", second: p.name) }
            if p.begin > cursor { throw FormatError.dataGap(file: path, at: cursor, before: p.name) }
            cursor = p.end
            previous = p.name
        }
        if cursor != dataBytes { throw FormatError.trailingData(file: path, covered: cursor, dataBytes: dataBytes) }

        var e: [String: Entry] = [:]
        for p in parsed { e[p.name] = Entry(info: p.info, range: (dataStart + p.begin)..<(dataStart + p.end)) }
        entries = e
        metadata = meta
        tensorNames = e.keys.sorted()
    }

    private static func parseEntry(name: String, value: JSONValue, file: String, dataBytes: Int) throws
        -> (name: String, info: TensorInfo, begin: Int, end: Int)
    {
        guard value.objectMembers != nil else { throw FormatError.malformedEntry(file: file, tensor: name, detail: "entry is \(value.kindName), expected an object") }
        guard let dtypeText = value["dtype"]?.stringValue else {
            throw FormatError.malformedEntry(file: file, tensor: name, detail: "missing string field \"dtype\"")
        }
        guard let dtype = DType(rawValue: dtypeText) else { throw FormatError.unknownDType(file: file, tensor: name, dtype: dtypeText) }
        guard let shapeItems = value["shape"]?.arrayValue else {
            throw FormatError.malformedEntry(file: file, tensor: name, detail: "missing array field \"shape\"")
        }
        let shapeText = "[" + shapeItems.map { v -> String in if case let .number(t) = v { t } else { v.kindName } }.joined(separator: ", ") + "]"
        var dims: [Int] = []
        for item in shapeItems {
            guard let d = item.intValue, d >= 0 else { throw FormatError.badShape(file: file, tensor: name, shape: shapeText) }
            dims.append(d)
        }
        let shape = Shape(dims)
        guard let count = shape.checkedElementCount else { throw FormatError.badShape(file: file, tensor: name, shape: shapeText) }
        let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw FormatError.badShape(file: file, tensor: name, shape: shapeText) }
        guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
              let begin = offsets[0].intValue, let end = offsets[1].intValue, begin >= 0, end >= 0
        else {
            throw FormatError.malformedEntry(file: file, tensor: name, detail: "\"data_offsets\" must be two non-negative integers [begin, end]")
        }
        if end < begin { throw FormatError.offsetsReversed(file: file, tensor: name, begin: begin, end: end) }
        if end > dataBytes { throw FormatError.offsetsOutOfBounds(file: file, tensor: name, end: end, dataBytes: dataBytes) }
        if end - begin != needed { throw FormatError.byteLengthMismatch(file: file, tensor: name, expected: needed, actual: end - begin) }
        return (name, TensorInfo(name: name, dtype: dtype, shape: shape), begin, end)
    }

    public func info(_ name: String) -> TensorInfo? { entries[name]?.info }

    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let e = entries[name] else { throw FormatError.missingTensor(source: location, tensor: name) }
        // Large tensors are about to be read whole: map their pages in one go.
        if e.range.count >= 1 << 20 { file.populate(e.range) }
        return file.bytes(e.range)
    }

    public func release(_ name: String) {
        if let e = entries[name] { file.release(e.range) }
    }

    /// Byte range of a tensor inside the file (for tests and tools).
    public func fileRange(_ name: String) -> Range<Int>? { entries[name]?.range }
}
