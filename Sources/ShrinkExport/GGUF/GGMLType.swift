import CShrinkKernels
import ShrinkFormats

/// The writer side of `GGMLType` (ShrinkFormats): the types Shrink can quantize to, with ggml's reference
/// quantizers (CShrinkKernels/ggml_quant.c, bit-exact with llama.cpp's `quantize_row_*_ref`; the Swift ports in
/// GGMLBlocks.swift are the independent scalar reference the tests hold it to).
extension GGMLType {
    /// Types `shrink export gguf --type` accepts.
    public static let exportable: [GGMLType] = [.f32, .f16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// The block types ggml_quant.c quantizes.
    public static let blockTypes: [GGMLType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    public init?(exportFlag flag: String) {
        guard let t = GGMLType(flag: flag), Self.exportable.contains(t) else { return nil }
        self = t
    }

    /// Quantizes whole rows; `values.count` must be a multiple of `blockSize` and the type one of `exportable`.
    public func encode(_ values: [Float]) -> [UInt8] {
        values.withUnsafeBufferPointer { encode($0) }
    }

    public func encode(_ v: UnsafeBufferPointer<Float>) -> [UInt8] {
        precondition(v.count % blockSize == 0 && Self.exportable.contains(self), "\(name) encodes whole blocks")
        let n = rowBytes(v.count)
        return [UInt8](unsafeUninitializedCapacity: n) { out, count in
            encode(v, into: UnsafeMutableRawBufferPointer(out))
            count = n
        }
    }

    /// Quantizes into `out` (exactly `rowBytes(v.count)` bytes).
    public func encode(_ v: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count == rowBytes(v.count))
        guard v.count > 0 else { return }
        switch self {
        case .f32:
            for (i, x) in v.enumerated() { out.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .f16:
            for (i, x) in v.enumerated() { out.storeBytes(of: Half.bits(x).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            preconditionFailure("bf16 is not an export type; check GGMLType.exportable")
        default:
            let rc = sk_ggml_quantize_ref(rawValue, v.baseAddress!, out.baseAddress!, Int64(v.count))
            precondition(rc == 0, "ggml_quant.c has no quantizer for \(name)")
        }
    }

    /// The Swift port of ggml's quantizer (GGMLBlocks.swift), for the types it covers; nil for the others.
    public func encodeSwiftReference(_ values: [Float]) -> [UInt8]? {
        var out: [UInt8] = []
        let ok: Bool = values.withUnsafeBufferPointer { v in
            switch self {
            case .q4_0: Self.encodeBlocks(BlockQ4_0.self, v, into: &out)
            case .q4_1: Self.encodeBlocks(BlockQ4_1.self, v, into: &out)
            case .q8_0: Self.encodeBlocks(BlockQ8_0.self, v, into: &out)
            case .q4_K: Self.encodeBlocks(BlockQ4_K.self, v, into: &out)
            case .q6_K: Self.encodeBlocks(BlockQ6_K.self, v, into: &out)
            default: return false
            }
            return true
        }
        return ok ? out : nil
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
