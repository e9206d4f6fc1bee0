/// ggml tensor types that Shrink writes, with ggml's own numbering
/// (ggml.h `enum ggml_type`) and its type-traits table (block size, bytes per block).
public enum GGMLType: UInt32, CaseIterable, Sendable, Codable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, q4_K = 12, q6_K = 14

    /// Elements per block (ggml `blck_size`).
    public var blockSize: Int {
        switch self {
        case .f32, .f16: 1
        case .q4_0, .q4_1, .q8_0: 32
        case .q4_K, .q6_K: 256
        }
    }

    /// Bytes per block (ggml `type_size`, the C struct's `sizeof`).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16: 2
        case .q4_0: BlockQ4_0.byteCount
        case .q4_1: BlockQ4_1.byteCount
        case .q8_0: BlockQ8_0.byteCount
        case .q4_K: BlockQ4_K.byteCount
        case .q6_K: BlockQ6_K.byteCount
        }
    }

    /// The spelling on the command line and in ggml's type names.
    public var name: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .q4_0: "q4_0"
        case .q4_1: "q4_1"
        case .q8_0: "q8_0"
        case .q4_K: "q4_k"
        case .q6_K: "q6_k"
        }
    }

    public init?(flag: String) {
        guard let t = Self.allCases.first(where: { $0.name == flag.lowercased() }) else { return nil }
        self = t
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes of a row of `elements` (a multiple of `blockSize`).
    public func rowBytes(_ elements: Int) -> Int { elements / blockSize * bytesPerBlock }

    /// Quantizes whole rows; `values.count` must be a multiple of `blockSize`.
    public func encode(_ values: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rowBytes(values.count))
        values.withUnsafeBufferPointer { v in
            switch self {
            case .f32: for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            case .f16: for x in v { withUnsafeBytes(of: Half.bits(x).littleEndian) { out.append(contentsOf: $0) } }
            case .q4_0: Self.encodeBlocks(BlockQ4_0.self, v, into: &out)
            case .q4_1: Self.encodeBlocks(BlockQ4_1.self, v, into: &out)
            case .q8_0: Self.encodeBlocks(BlockQ8_0.self, v, into: &out)
            case .q4_K: Self.encodeBlocks(BlockQ4_K.self, v, into: &out)
            case .q6_K: Self.encodeBlocks(BlockQ6_K.self, v, into: &out)
            }
        }
        return out
    }

    /// Decodes `count` elements from `bytes` exactly as ggml's `dequantize_row_*` does.
    public func decode(_ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { y in
                switch self {
                case .f32: for i in 0..<count { y[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
                case .f16: for i in 0..<count { y[i] = Half.float(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                case .q4_0: Self.decodeBlocks(BlockQ4_0.self, raw, into: y)
                case .q4_1: Self.decodeBlocks(BlockQ4_1.self, raw, into: y)
                case .q8_0: Self.decodeBlocks(BlockQ8_0.self, raw, into: y)
                case .q4_K: Self.decodeBlocks(BlockQ4_K.self, raw, into: y)
                case .q6_K: Self.decodeBlocks(BlockQ6_K.self, raw, into: y)
                }
            }
        }
        return out
    }

    private static func encodeBlocks<B: GGMLBlock>(_: B.Type, _ v: UnsafeBufferPointer<Float>, into out: inout [UInt8]) {
        precondition(v.count % B.elements == 0)
        for start in stride(from: 0, to: v.count, by: B.elements) {
            B(quantizing: UnsafeBufferPointer(rebasing: v[start..<(start + B.elements)])).append(to: &out)
        }
    }

    private static func decodeBlocks<B: GGMLBlock>(_: B.Type, _ raw: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        for b in 0..<(y.count / B.elements) {
            let block = B(bytes: UnsafeRawBufferPointer(rebasing: raw[(b * B.byteCount)..<((b + 1) * B.byteCount)]))
            block.dequantize(into: UnsafeMutableBufferPointer(rebasing: y[(b * B.elements)..<((b + 1) * B.elements)]))
        }
    }
}

/// IEEE half precision as ggml stores it (`ggml_fp16_t`): round to nearest even,
/// as F16C's `_cvtss_sh(x, 0)` and numpy's `astype(float16)` do.
enum Half {
    static func bits(_ x: Float) -> UInt16 { Float16(x).bitPattern }
    static func float(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }
    /// The value after a round trip through half precision (GGML_FP16_TO_FP32(GGML_FP32_TO_FP16(x))).
    static func rounded(_ x: Float) -> Float { Float(Float16(x)) }
}
