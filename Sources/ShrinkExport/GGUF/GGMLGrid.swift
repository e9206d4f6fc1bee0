import ShrinkFormats
import ShrinkQuant

/// The 32-element block formats as grids: every block is an fp16 step d, optionally an fp16 minimum m, and 32
/// integer codes c, with x = c·d (Q4_0, Q5_0, Q8_0: ggml stores c + 8, c + 16, c) or x = c·d + m (Q4_1, Q5_1:
/// c ∈ [0, 2^b)). ggml's `dequantize_row_*` (ggml-quants.c) computes exactly those products in f32, so any
/// block whose codes fit a wider format of the same kind moves to it without changing a single value, and a
/// compressed-tensors symmetric group-32 tensor with f16 scales (x = q·s) is a Q4_0/Q5_0/Q8_0 tensor already.
public enum GGMLGrid: Sendable, Equatable {
    /// x = c·d with c ∈ [−2^(bits−1), 2^(bits−1) − 1].
    case symmetric(bits: Int)
    /// x = c·d + m with c ∈ [0, 2^bits − 1].
    case minimum(bits: Int)

    /// The grid a stored ggml type holds, nil for the k-quants and float types.
    public init?(stored type: GGMLType) {
        switch type {
        case .q4_0: self = .symmetric(bits: 4)
        case .q5_0: self = .symmetric(bits: 5)
        case .q8_0: self = .symmetric(bits: 8)
        case .q4_1: self = .minimum(bits: 4)
        case .q5_1: self = .minimum(bits: 5)
        default: return nil
        }
    }

    /// The grid of a stored scheme, when it is one of ggml's: groups of 32 with f16 scales, symmetric (x = q·s) or
    /// on the ggml minimum grid (x = c·d + m, Shrink's `<p>.weight_minimum`).
    public init?(scheme: QuantScheme) {
        guard scheme.granularity == .group(32), scheme.scaleDType == .f16 else { return nil }
        if scheme.grid == .ggmlMinimum { self = .minimum(bits: scheme.bits); return }
        guard scheme.symmetric else { return nil }
        self = .symmetric(bits: scheme.bits)
    }

    /// Whether `type` holds every block of this grid exactly.
    public func fits(in type: GGMLType) -> Bool {
        switch (self, type) {
        case let (.symmetric(b), .q4_0): b <= 4
        case let (.symmetric(b), .q5_0): b <= 5
        case let (.symmetric(b), .q8_0): b <= 8
        case let (.minimum(b), .q4_1): b <= 4
        case let (.minimum(b), .q5_1): b <= 5
        default: false
        }
    }

    /// The narrowest ggml type that holds this grid exactly.
    public var nativeType: GGMLType? {
        [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0].first { fits(in: $0) }
    }
}

/// One 32-element block on a `GGMLGrid`: d, m (0 for symmetric) as fp16 bits, and the 32 codes.
struct GridBlock {
    var d: UInt16
    var m: UInt16
    var codes: [Int32]

    /// Reads block `index` of a Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 tensor (ggml-common.h layouts).
    init(_ type: GGMLType, _ b: UnsafeRawBufferPointer, index: Int) {
        let base = index * type.bytesPerBlock
        func byte(_ i: Int) -> UInt8 { b[base + i] }
        func half(_ i: Int) -> UInt16 { UInt16(byte(i)) | UInt16(byte(i + 1)) << 8 }
        d = half(0)
        m = 0
        codes = [Int32](repeating: 0, count: 32)
        switch type {
        case .q8_0:
            for j in 0..<32 { codes[j] = Int32(Int8(bitPattern: byte(2 + j))) }
        case .q4_0, .q4_1:
            let q = type == .q4_0 ? 2 : 4
            if type == .q4_1 { m = half(2) }
            let offset: Int32 = type == .q4_0 ? 8 : 0
            for j in 0..<16 {
                codes[j] = Int32(byte(q + j) & 0xF) - offset
                codes[j + 16] = Int32(byte(q + j) >> 4) - offset
            }
        case .q5_0, .q5_1:
            let h = type == .q5_0 ? 2 : 4
            if type == .q5_1 { m = half(2) }
            let qh = UInt32(byte(h)) | UInt32(byte(h + 1)) << 8 | UInt32(byte(h + 2)) << 16 | UInt32(byte(h + 3)) << 24
            let offset: Int32 = type == .q5_0 ? 16 : 0
            for j in 0..<16 {
                let lo = Int32(byte(h + 4 + j) & 0xF) | Int32((qh >> UInt32(j)) & 1) << 4
                let hi = Int32(byte(h + 4 + j) >> 4) | Int32((qh >> UInt32(j + 16)) & 1) << 4
                codes[j] = lo - offset
                codes[j + 16] = hi - offset
            }
        default:
            preconditionFailure("\(type.name) is not a 32-element grid type")
        }
    }

    init(d: UInt16, m: UInt16 = 0, codes: [Int32]) { self.d = d; self.m = m; self.codes = codes }

    /// Writes the block as `type` at `out` (`type.bytesPerBlock` bytes); the codes must fit (`GGMLGrid.fits`).
    func write(_ type: GGMLType, to out: UnsafeMutableRawPointer) {
        let o = out.assumingMemoryBound(to: UInt8.self)
        o[0] = UInt8(d & 0xff); o[1] = UInt8(d >> 8)
        switch type {
        case .q8_0:
            for j in 0..<32 { o[2 + j] = UInt8(bitPattern: Int8(codes[j])) }
        case .q4_0, .q4_1:
            var q = 2
            if type == .q4_1 { o[2] = UInt8(m & 0xff); o[3] = UInt8(m >> 8); q = 4 }
            let offset: Int32 = type == .q4_0 ? 8 : 0
            for j in 0..<16 { o[q + j] = UInt8(codes[j] + offset) | UInt8(codes[j + 16] + offset) << 4 }
        case .q5_0, .q5_1:
            var h = 2
            if type == .q5_1 { o[2] = UInt8(m & 0xff); o[3] = UInt8(m >> 8); h = 4 }
            let offset: Int32 = type == .q5_0 ? 16 : 0
            var qh: UInt32 = 0
            for j in 0..<16 {
                let lo = UInt32(codes[j] + offset), hi = UInt32(codes[j + 16] + offset)
                o[h + 4 + j] = UInt8(lo & 0xF) | UInt8(hi & 0xF) << 4
                qh |= ((lo >> 4) & 1) << UInt32(j)
                qh |= ((hi >> 4) & 1) << UInt32(j + 16)
            }
            for k in 0..<4 { o[h + k] = UInt8((qh >> UInt32(8 * k)) & 0xff) }
        default:
            preconditionFailure("\(type.name) is not a 32-element grid type")
        }
    }
}

enum GGMLGridCopy {
    /// A Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 tensor's blocks rewritten as `target` (a type its grid fits), value for value.
    static func widen(_ bytes: UnsafeRawBufferPointer, from source: GGMLType, to target: GGMLType, into out: UnsafeMutableRawBufferPointer) {
        let blocks = bytes.count / source.bytesPerBlock
        precondition(out.count == blocks * target.bytesPerBlock)
        for i in 0..<blocks {
            GridBlock(source, bytes, index: i).write(target, to: out.baseAddress! + i * target.bytesPerBlock)
        }
    }

    /// Blocks of `target` (Q4_1 or Q5_1) from a tensor on the ggml minimum grid in groups of 32: d, m and c as solved.
    static func fromMinimumBlocks(_ b: GGMLMinimumBlocks, to target: GGMLType, into out: UnsafeMutableRawBufferPointer) {
        let blocks = b.d.count
        precondition(b.groupSize == 32 && b.codes.count == blocks * 32 && out.count == blocks * target.bytesPerBlock)
        var c = [Int32](repeating: 0, count: 32)
        for i in 0..<blocks {
            for j in 0..<32 { c[j] = Int32(b.codes[32 * i + j]) }
            GridBlock(d: Half.bits(b.d[i]), m: Half.bits(b.m[i]), codes: c).write(target, to: out.baseAddress! + i * target.bytesPerBlock)
        }
    }

    /// Blocks of `target` (Q4_0, Q5_0 or Q8_0) from symmetric group-32 codes and their f16-rounded scales (one per
    /// 32 codes, row-major): d = scale, c = q.
    static func fromCodes(_ codes: [Int8], scales: [Float], to target: GGMLType, into out: UnsafeMutableRawBufferPointer) {
        let blocks = codes.count / 32
        precondition(scales.count == blocks && out.count == blocks * target.bytesPerBlock)
        var c = [Int32](repeating: 0, count: 32)
        for i in 0..<blocks {
            for j in 0..<32 { c[j] = Int32(codes[32 * i + j]) }
            GridBlock(d: Half.bits(scales[i]), codes: c).write(target, to: out.baseAddress! + i * target.bytesPerBlock)
        }
    }
}
