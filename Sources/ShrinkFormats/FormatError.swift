import ShrinkTensor

/// Everything that can be wrong with a checkpoint or an output path. Each message
/// names the file (and tensor) and says what to do about it.
public enum FormatError: UserFacingError, Equatable, Sendable {
    case cannotOpen(file: String, reason: String)
    case notAFile(file: String)
    case emptyFile(file: String)
    case tooShort(file: String, bytes: Int)
    case headerBeyondFile(file: String, headerBytes: UInt64, fileBytes: Int)
    case headerTooLarge(file: String, headerBytes: UInt64, limit: Int)
    case headerNotJSON(file: String, detail: String)
    case headerNotObject(file: String, found: String)
    case malformedEntry(file: String, tensor: String, detail: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case badShape(file: String, tensor: String, shape: String)
    case byteLengthMismatch(file: String, tensor: String, expected: Int, actual: Int)
    case offsetsOutOfBounds(file: String, tensor: String, end: Int, dataBytes: Int)
    case offsetsReversed(file: String, tensor: String, begin: Int, end: Int)
    case offsetsOverlap(file: String, first: String, second: String)
    case dataGap(file: String, at: Int, before: String)
    case trailingData(file: String, covered: Int, dataBytes: Int)
    case badMetadata(file: String, detail: String)
    case missingTensor(source: String, tensor: String)
    case shardMissing(index: String, shard: String)
    case shardIndexInvalid(index: String, detail: String)
    case tensorInTwoShards(index: String, tensor: String, first: String, second: String)
    case tensorNotInShard(index: String, tensor: String, shard: String)
    case tensorNotIndexed(index: String, tensor: String, shard: String)
    case outputIsDirectory(path: String)
    case outputNotWritable(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case writerMisuse(path: String, detail: String)
    case ggufBadMagic(file: String, found: String)
    case ggufUnsupportedVersion(file: String, version: UInt32)
    case ggufBigEndian(file: String)
    case ggufTruncated(file: String, item: String, offset: Int, fileBytes: Int)
    case ggufCountTooLarge(file: String, item: String, count: UInt64, fileBytes: Int)
    case ggufLengthBeyondFile(file: String, item: String, length: UInt64, remaining: Int)
    case ggufInvalidUTF8(file: String, item: String)
    case ggufUnknownValueType(file: String, key: String, type: UInt32)
    case ggufBadBool(file: String, key: String, byte: UInt8)
    case ggufArrayTooDeep(file: String, key: String, limit: Int)
    case ggufDuplicateKey(file: String, key: String)
    case ggufBadAlignment(file: String, found: String)
    case ggufBadDimCount(file: String, tensor: String, count: UInt32, limit: Int)
    case ggufZeroDim(file: String, tensor: String, dims: String)
    case ggufDimsOverflow(file: String, tensor: String, dims: String)
    case ggufUnknownTensorType(file: String, tensor: String, type: UInt32)
    case ggufRowNotWholeBlocks(file: String, tensor: String, row: Int, type: String, block: Int)
    case ggufDuplicateTensor(file: String, tensor: String)
    case ggufMisaligned(file: String, tensor: String, offset: Int, alignment: Int)
    case ggufDataOutOfBounds(file: String, tensor: String, offset: UInt64, bytes: Int, dataBytes: Int)
    case ggufRowsOutOfRange(file: String, tensor: String, rows: String, rowCount: Int)
    case ggufMissingKey(file: String, key: String)
    case ggufMetadataType(file: String, key: String, expected: String, found: String)
    case idxNotAFile(file: String)
    case idxTooShort(file: String, bytes: Int, header: Int)
    case idxBadMagic(file: String, found: UInt32, expected: String)
    case idxBadDimension(file: String, index: Int, value: Int, limit: Int)
    case idxSizeMismatch(file: String, dimensions: String, needed: Int?, dataBytes: Int)
    case idxCountMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)

    public var description: String {
        switch self {
        case let .cannotOpen(f, r): "\(f): cannot open: \(r)"
        case let .notAFile(f): "\(f): not a regular file; pass a .safetensors or .gguf file, or a directory with model.safetensors or model.safetensors.index.json"
        case let .emptyFile(f): "\(f): empty file (0 bytes), too small to be a safetensors checkpoint (was the download or save interrupted?)"
        case let .tooShort(f, n): "\(f): only \(n) bytes, too small for the 8-byte header length a safetensors file starts with (truncated file?)"
        case let .headerBeyondFile(f, h, n): "\(f): header length \(h) exceeds the file's \(n) bytes (truncated or not a safetensors file)"
        case let .headerTooLarge(f, h, l): "\(f): header length \(h) bytes is over the \(l)-byte limit; the file is corrupt or not a safetensors file"
        case let .headerNotJSON(f, d): "\(f): header is not valid JSON (\(d))"
        case let .headerNotObject(f, k): "\(f): header must be a JSON object, found \(k)"
        case let .malformedEntry(f, t, d): "\(f): tensor '\(t)': \(d)"
        case let .unknownDType(f, t, d): "\(f): tensor '\(t)': unknown dtype \"\(d)\" (known: \(DTypeList.known))"
        case let .badShape(f, t, s): "\(f): tensor '\(t)': shape \(s) has a negative dimension or an element count that overflows"
        case let .byteLengthMismatch(f, t, e, a): "\(f): tensor '\(t)': size mismatch: data_offsets span \(a) bytes but shape × dtype size needs \(e)"
        case let .offsetsOutOfBounds(f, t, e, d): "\(f): tensor '\(t)': data_offsets end at byte \(e) but the data region has only \(d) bytes (truncated file?)"
        case let .offsetsReversed(f, t, b, e): "\(f): tensor '\(t)': data_offsets [\(b), \(e)] end before they begin"
        case let .offsetsOverlap(f, a, b): "\(f): tensors '\(a)' and '\(b)' overlap in the data region"
        case let .dataGap(f, at, t): "\(f): gap in the data region at offset \(at), before tensor '\(t)'; data_offsets must cover it exactly"
        case let .trailingData(f, c, d): "\(f): \(d - c) trailing bytes after the last tensor (tensors cover \(c) of the data region's \(d) bytes)"
        case let .badMetadata(f, d): "\(f): __metadata__ \(d); it must map strings to strings"
        case let .missingTensor(s, t): "\(s): no tensor named '\(t)'"
        case let .shardMissing(i, s): "\(i): shard file '\(s)' is missing: the index names it but it is not next to the index"
        case let .shardIndexInvalid(i, d): "\(i): \(d)"
        case let .tensorInTwoShards(i, t, a, b): "\(i): tensor '\(t)' is stored in both '\(a)' and '\(b)'; remove one copy"
        case let .tensorNotInShard(i, t, s): "\(i): maps tensor '\(t)' to '\(s)', but that shard has no such tensor"
        case let .tensorNotIndexed(i, t, s): "\(i): shard '\(s)' holds tensor '\(t)', which the index's weight_map does not list"
        case let .outputIsDirectory(p): "\(p): output path is an existing directory; give a file name"
        case let .outputNotWritable(p, r): "\(p): cannot write output: \(r)"
        case let .writeFailed(p, r): "\(p): write failed: \(r); nothing was written under the final name"
        case let .writerMisuse(p, d): "\(p): \(d)"
        case let .ggufBadMagic(f, m): "\(f): not a GGUF file: starts with bytes \(m), not \"GGUF\" (47 47 55 46)"
        case let .ggufUnsupportedVersion(f, v): "\(f): GGUF version \(v) is not supported (Shrink reads versions 2 and 3; convert older files with llama.cpp's gguf tools)"
        case let .ggufBigEndian(f): "\(f): a big-endian GGUF file; Shrink reads little-endian GGUF only (convert it with gguf-py's gguf_convert_endian)"
        case let .ggufTruncated(f, item, at, n): "\(f): file ends in the \(item) at byte \(at) of \(n) (truncated file?)"
        case let .ggufCountTooLarge(f, item, c, n): "\(f): header \(item) \(c) is impossible for a file of \(n) bytes (corrupt header)"
        case let .ggufLengthBeyondFile(f, item, l, r): "\(f): \(item) claims length \(l), more than the \(r) bytes left in the file (corrupt or truncated)"
        case let .ggufInvalidUTF8(f, item): "\(f): \(item) is not valid UTF-8 (GGUF strings must be UTF-8)"
        case let .ggufUnknownValueType(f, k, t): "\(f): metadata key '\(k)': unknown value type \(t) (known: 0–12, gguf.md gguf_metadata_value_type)"
        case let .ggufBadBool(f, k, b): "\(f): metadata key '\(k)': bool byte is \(b), must be 0 or 1"
        case let .ggufArrayTooDeep(f, k, l): "\(f): metadata key '\(k)': arrays nested deeper than \(l) levels"
        case let .ggufDuplicateKey(f, k): "\(f): metadata key '\(k)' appears twice; keys must be unique"
        case let .ggufBadAlignment(f, v): "\(f): general.alignment must be a uint32 power of two, found \(v)"
        case let .ggufBadDimCount(f, t, c, l): "\(f): tensor '\(t)': \(c) dimensions; GGUF tensors have 1 to \(l)"
        case let .ggufZeroDim(f, t, d): "\(f): tensor '\(t)': dimensions \(d) include a zero; a GGUF tensor holds at least one element"
        case let .ggufDimsOverflow(f, t, d): "\(f): tensor '\(t)': dimensions \(d) give an element or byte count that overflows (corrupt tensor info)"
        case let .ggufUnknownTensorType(f, t, ty): "\(f): tensor '\(t)': unknown or unsupported ggml type \(ty) (Shrink reads: \(GGMLTypeList.known))"
        case let .ggufRowNotWholeBlocks(f, t, r, ty, b): "\(f): tensor '\(t)': row of \(r) elements is not a whole number of \(ty) blocks of \(b)"
        case let .ggufDuplicateTensor(f, t): "\(f): tensor '\(t)' is described twice; tensor names must be unique"
        case let .ggufMisaligned(f, t, o, a): "\(f): tensor '\(t)': data offset \(o) is not a multiple of the alignment \(a)"
        case let .ggufDataOutOfBounds(f, t, o, b, d): "\(f): tensor '\(t)': \(b) bytes at data offset \(o) run past the data region's \(d) bytes (truncated file?)"
        case let .ggufRowsOutOfRange(f, t, r, n): "\(f): tensor '\(t)': rows \(r) asked for, but it has \(n) rows"
        case let .ggufMissingKey(f, k): "\(f): metadata key '\(k)' is missing"
        case let .ggufMetadataType(f, k, e, found): "\(f): metadata key '\(k)' holds \(found), expected \(e)"
        case let .idxNotAFile(f): "\(f): not a regular file; pass an IDX file such as data/fashion-mnist/t10k-images-idx3-ubyte (run tools/fetch_real.sh)"
        case let .idxTooShort(f, n, h): "\(f): only \(n) bytes, shorter than the \(h)-byte IDX header (truncated file?)"
        case let .idxBadMagic(f, m, e): "\(f): magic \(IDXKind.hex(m)) is not IDX \(e); pass the matching -idx3-ubyte/-idx1-ubyte file, uncompressed (gunzip .gz files)"
        case let .idxBadDimension(f, i, v, l): "\(f): IDX dimension \(i) is \(v); it must be 1 to \(l) (corrupt header)"
        case let .idxSizeMismatch(f, d, n, b): n.map { "\(f): dimensions \(d) need \($0) data bytes but the file has \(b) (truncated file or trailing bytes)" } ?? "\(f): dimensions \(d) need more than the \(b) data bytes the file has (truncated file or corrupt header)"
        case let .idxCountMismatch(i, ni, l, nl): "\(i) holds \(ni) images but \(l) holds \(nl) labels; pass an images file and the labels file of the same set"
        }
    }
}

enum GGMLTypeList {
    static let known = GGMLType.allCases.map { $0.name.uppercased() }.joined(separator: ", ")
}

enum DTypeList {
    static let known = "F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL"
}
