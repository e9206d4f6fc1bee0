import CShrinkKernels

/// Element types, spelled as safetensors spells them.
public enum DType: String, Codable, CaseIterable, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes of one element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2: true
        default: false
        }
    }

    /// The lower-case name users type on the command line (`f16`, `bf16`, …).
    public var flagName: String { rawValue.lowercased() }

    public init?(flag: String) {
        guard let d = DType(rawValue: flag.uppercased()) else { return nil }
        self = d
    }
}

/// A shape with a checked element count.
public struct Shape: Hashable, Codable, Sendable, CustomStringConvertible {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }

    public var rank: Int { dims.count }

    /// A weight seen as the matrix quantizers work on: [out, in] as it is, a convolution kernel [out, in, kh, kw]
    /// as [out, in·kh·kw] (its im2col columns; compressed-tensors flattens it the same way).
    public var matrixRows: Int { dims.first ?? 1 }
    public var matrixColumns: Int { dims.dropFirst().reduce(1, *) }

    /// Product of the dims, or nil when a dim is negative or the product overflows.
    public var checkedElementCount: Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    public var elementCount: Int { checkedElementCount ?? 0 }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

    public init(from decoder: Decoder) throws { dims = try [Int](from: decoder) }
    public func encode(to encoder: Encoder) throws { try dims.encode(to: encoder) }
}

/// Decoding and encoding raw little-endian element bytes to and from Float.
public enum ElementCodec {
    /// Decodes `count` elements of `dtype` starting at `src` (any alignment) into `dst`.
    public static func decode(_ src: UnsafeRawPointer, dtype: DType, count: Int, into dst: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32: sk_load_f32(src, count, dst)
        case .f16: sk_f16_to_f32(src, count, dst)
        case .bf16: sk_bf16_to_f32(src, count, dst)
        case .f64: sk_f64_to_f32(src, count, dst)
        case .f8e4m3: sk_f8e4m3_to_f32(src, count, dst)
        case .f8e5m2: sk_f8e5m2_to_f32(src, count, dst)
        case .i64: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        case .u64: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        case .i32: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .u32: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case .i16: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
        case .u16: for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .i8: for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .u8: for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool: for i in 0..<count { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        }
    }

    /// Encodes floats as `dtype` (f32, f16 or bf16; rounding to nearest even).
    /// `values` stored as `dtype`, in a new byte array.
    public static func encoded(_ values: [Float], as dtype: DType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
        values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { encode(v, as: dtype, into: $0.baseAddress!) } }
        return out
    }

    public static func encode(_ src: UnsafeBufferPointer<Float>, as dtype: DType, into dst: UnsafeMutableRawPointer) {
        switch dtype {
        case .f32: dst.copyMemory(from: src.baseAddress!, byteCount: src.count * 4)
        case .f16: sk_f32_to_f16(src.baseAddress!, src.count, dst)
        case .bf16: sk_f32_to_bf16(src.baseAddress!, src.count, dst)
        default: preconditionFailure("ElementCodec.encode supports f32, f16 and bf16, not \(dtype.rawValue)")
        }
    }

    /// Rounds one float through `dtype` (f32, f16, bf16) and back.
    public static func roundTrip(_ value: Float, through dtype: DType) -> Float {
        guard dtype != .f32 else { return value }
        var v = value, bits: UInt16 = 0, back: Float = 0
        withUnsafeMutableBytes(of: &bits) { raw in
            withUnsafePointer(to: &v) { encode(UnsafeBufferPointer(start: $0, count: 1), as: dtype, into: raw.baseAddress!) }
            decode(raw.baseAddress!, dtype: dtype, count: 1, into: &back)
        }
        return back
    }
}
