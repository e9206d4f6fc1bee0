import CShrinkKernels
import ShrinkTensor

/// ggml tensor types with ggml's own numbering (ggml.h `enum ggml_type`) and its
/// type-traits table (ggml.c `type_traits`: `blck_size`, `type_size`). The block byte
/// counts are ggml-common.h's `static_assert(sizeof(block_…) == …)`.
public enum GGMLType: UInt32, CaseIterable, Sendable, Codable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, bf16 = 30

    /// ggml-common.h: QK_K, the super-block of the k-quants.
    public static let superBlock = 256

    /// Elements per block (ggml `blck_size`).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: Self.superBlock
        }
    }

    /// Bytes per block (ggml `type_size`, the C struct's `sizeof`).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 2 + 16  // d, qs[16]
        case .q4_1: 2 + 2 + 16  // d, m, qs[16]
        case .q5_0: 2 + 4 + 16  // d, qh[4], qs[16]
        case .q5_1: 2 + 2 + 4 + 16  // d, m, qh[4], qs[16]
        case .q8_0: 2 + 32  // d, qs[32]
        case .q2_K: 16 + 64 + 2 + 2  // scales[16], qs[64], d, dmin
        case .q3_K: 32 + 64 + 12 + 2  // hmask[32], qs[64], scales[12], d
        case .q4_K: 2 + 2 + 12 + 128  // d, dmin, scales[12], qs[128]
        case .q5_K: 2 + 2 + 12 + 32 + 128  // d, dmin, scales[12], qh[32], qs[128]
        case .q6_K: 128 + 64 + 16 + 2  // ql[128], qh[64], scales[16], d
        }
    }

    /// ggml's type name (`ggml_type_name`), lower-cased: the spelling on Shrink's command line.
    public var name: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .bf16: "bf16"
        case .q4_0: "q4_0"
        case .q4_1: "q4_1"
        case .q5_0: "q5_0"
        case .q5_1: "q5_1"
        case .q8_0: "q8_0"
        case .q2_K: "q2_k"
        case .q3_K: "q3_k"
        case .q4_K: "q4_k"
        case .q5_K: "q5_k"
        case .q6_K: "q6_k"
        }
    }

    public init?(flag: String) {
        guard let t = Self.allCases.first(where: { $0.name == flag.lowercased() }) else { return nil }
        self = t
    }

    /// Stored in blocks with scales (not a plain float element type).
    public var isQuantized: Bool { blockSize > 1 }

    /// The element type of a plain float tensor; nil for block formats.
    public var plainDType: DType? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        default: nil
        }
    }

    /// Bytes of a row of `elements` (a multiple of `blockSize`).
    public func rowBytes(_ elements: Int) -> Int { elements / blockSize * bytesPerBlock }

    /// Bytes of `elements`, nil when they are not whole blocks or the size overflows.
    public func checkedByteCount(_ elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (n, o) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return o ? nil : n
    }

    /// Decodes `elements` values (whole blocks) from `source` into `destination`, bit for bit as
    /// gguf-py 0.19.0 `gguf.quants.dequantize` does; the AVX2 path when the CPU has one,
    /// else (or with `reference`) the scalar reference in CShrinkKernels/ggml_dequant.c.
    public func dequantize(_ source: UnsafeRawPointer, elements: Int, into destination: UnsafeMutablePointer<Float>,
                           reference: Bool = false) {
        precondition(elements % blockSize == 0, "dequantize takes whole \(name) blocks")
        guard elements > 0 else { return }
        let blocks = elements / blockSize
        _ = reference ? sk_ggml_dequantize_ref(rawValue, source, destination, blocks)
            : sk_ggml_dequantize(rawValue, source, destination, blocks)
    }

    /// `bytes` (whole blocks) decoded to floats.
    public func dequantize(_ bytes: UnsafeRawBufferPointer, reference: Bool = false) -> [Float] {
        let n = bytes.count / bytesPerBlock * blockSize
        return [Float](unsafeUninitializedCapacity: n) { buf, count in
            if n > 0 { dequantize(bytes.baseAddress!, elements: n, into: buf.baseAddress!, reference: reference) }
            count = n
        }
    }

    /// 1 when the AVX2/F16C decoder is used on this CPU.
    public static var hasFastDequantizer: Bool { sk_ggml_has_fast_path() != 0 }
}
