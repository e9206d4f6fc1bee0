import ShrinkFormats

/// The writer side of `GGMLType` (ShrinkFormats): the types Shrink can quantize to,
/// with ggml's reference quantizers (GGMLBlocks.swift).
extension GGMLType {
    /// Types `shrink export gguf --type` accepts.
    public static let exportable: [GGMLType] = [.f32, .f16, .q4_0, .q4_1, .q8_0, .q4_K, .q6_K]

    public init?(exportFlag flag: String) {
        guard let t = GGMLType(flag: flag), Self.exportable.contains(t) else { return nil }
        self = t
    }

    /// Quantizes whole rows; `values.count` must be a multiple of `blockSize` and the
    /// type one of `exportable`.
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
            case .bf16, .q5_0, .q5_1, .q2_K, .q3_K, .q5_K: preconditionFailure("no quantizer for \(name); check GGMLType.exportable")
            }
        }
        return out
    }

    /// Decodes `count` elements from `bytes` as gguf-py (and ggml's `dequantize_row_*`) does.
    public func decode(_ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { y in
                if count > 0 { dequantize(raw.baseAddress!, elements: count, into: y.baseAddress!) }
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
}

/// IEEE half precision as ggml stores it (`ggml_fp16_t`): round to nearest even,
/// as F16C's `_cvtss_sh(x, 0)` and numpy's `astype(float16)` do.
enum Half {
    static func bits(_ x: Float) -> UInt16 { Float16(x).bitPattern }
    static func float(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }
    /// The value after a round trip through half precision (GGML_FP16_TO_FP32(GGML_FP32_TO_FP16(x))).
    static func rounded(_ x: Float) -> Float { Float(Float16(x)) }
}
