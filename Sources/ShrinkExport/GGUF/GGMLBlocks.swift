/// One block of a ggml quantized format: the same fields, in the same order and
/// with the same byte count as the C struct in ggml-common.h, with ggml's
/// reference quantizer (`quantize_row_*_ref` in ggml-quants.c), operation for
/// operation so the bytes match. Decoding is `GGMLType.dequantize` (ShrinkFormats).
public protocol GGMLBlock {
    /// Elements per block.
    static var elements: Int { get }
    /// `sizeof(block_…)` in ggml.
    static var byteCount: Int { get }
    init(quantizing x: UnsafeBufferPointer<Float>)
    init(bytes: UnsafeRawBufferPointer)
    func append(to out: inout [UInt8])
}

/// ggml's `nearest_int`: round half to even via the 1.5·2²³ trick (|x| ≤ 4194303).
@inline(__always) func nearestInt(_ f: Float) -> Int {
    let v = f + 12582912
    return Int(v.bitPattern & 0x007f_ffff) - 0x0040_0000
}

@inline(__always) private func loadHalf(_ b: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

@inline(__always) private func appendHalf(_ h: UInt16, _ out: inout [UInt8]) {
    out.append(UInt8(h & 0xff)); out.append(UInt8(h >> 8))
}

/// `block_q8_0`: fp16 scale d, 32 int8; x = q·d. d = amax/127, q = roundf(x/d).
public struct BlockQ8_0: GGMLBlock, Equatable {
    public static let elements = 32
    public static let byteCount = 2 + 32
    public var d: UInt16
    public var qs: [Int8]

    public init(quantizing x: UnsafeBufferPointer<Float>) {
        var amax: Float = 0
        for v in x { amax = max(amax, abs(v)) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        self.d = Half.bits(d)
        qs = x.map { Int8(($0 * id).rounded(.toNearestOrAwayFromZero)) }
    }

    public init(bytes b: UnsafeRawBufferPointer) {
        d = loadHalf(b, 0)
        qs = (0..<32).map { Int8(bitPattern: b[2 + $0]) }
    }

    public func append(to out: inout [UInt8]) {
        appendHalf(d, &out)
        for q in qs { out.append(UInt8(bitPattern: q)) }
    }
}

/// `block_q4_0`: fp16 d, 16 bytes; byte j holds element j (low nibble) and
/// element j+16 (high nibble); x = (q − 8)·d with d = max/−8 (max: the signed value of largest magnitude).
public struct BlockQ4_0: GGMLBlock, Equatable {
    public static let elements = 32
    public static let byteCount = 2 + 16
    public var d: UInt16
    public var qs: [UInt8]

    public init(quantizing x: UnsafeBufferPointer<Float>) {
        var amax: Float = 0, vmax: Float = 0
        for v in x where amax < abs(v) { amax = abs(v); vmax = v }
        let d = vmax / -8
        let id: Float = d != 0 ? 1 / d : 0
        self.d = Half.bits(d)
        qs = (0..<16).map { j in
            let lo = UInt8(min(15, Int8(x[j] * id + 8.5)))
            let hi = UInt8(min(15, Int8(x[j + 16] * id + 8.5)))
            return lo | hi << 4
        }
    }

    public init(bytes b: UnsafeRawBufferPointer) {
        d = loadHalf(b, 0)
        qs = Array(b[2..<18])
    }

    public func append(to out: inout [UInt8]) {
        appendHalf(d, &out)
        out.append(contentsOf: qs)
    }
}

/// `block_q4_1`: fp16 d, fp16 m, 16 bytes (nibbles as Q4_0); x = q·d + m.
public struct BlockQ4_1: GGMLBlock, Equatable {
    public static let elements = 32
    public static let byteCount = 2 + 2 + 16
    public var d: UInt16
    public var m: UInt16
    public var qs: [UInt8]

    public init(quantizing x: UnsafeBufferPointer<Float>) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for v in x {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        self.d = Half.bits(d)
        m = Half.bits(lo)
        qs = (0..<16).map { j in
            let a = UInt8(min(15, Int8((x[j] - lo) * id + 0.5)))
            let b = UInt8(min(15, Int8((x[j + 16] - lo) * id + 0.5)))
            return a | b << 4
        }
    }

    public init(bytes b: UnsafeRawBufferPointer) {
        d = loadHalf(b, 0)
        m = loadHalf(b, 2)
        qs = Array(b[4..<20])
    }

    public func append(to out: inout [UInt8]) {
        appendHalf(d, &out)
        appendHalf(m, &out)
        out.append(contentsOf: qs)
    }
}

/// `block_q4_K`: a super-block of 256 = 8 sub-blocks of 32. fp16 d and dmin, 12
/// bytes of 6-bit sub-block scales and mins (`get_scale_min_k4` packing), 128
/// bytes of nibbles (per 64 elements: 32 bytes, low nibbles first 32, high the next 32).
/// x = d·sc·q − dmin·m.
public struct BlockQ4_K: GGMLBlock, Equatable {
    public static let elements = 256
    public static let byteCount = 2 + 2 + 12 + 128
    public var d: UInt16
    public var dmin: UInt16
    public var scales: [UInt8]
    public var qs: [UInt8]

    public init(quantizing x: UnsafeBufferPointer<Float>) {
        var L = [UInt8](repeating: 0, count: 256)
        var mins = [Float](repeating: 0, count: 8), subScales = [Float](repeating: 0, count: 8)
        var maxScale: Float = 0, maxMin: Float = 0
        var weights = [Float](repeating: 0, count: 32)
        for j in 0..<8 {
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += x[32 * j + l] * x[32 * j + l] }
            let avX = (sumX2 / 32).squareRoot()
            for l in 0..<32 { weights[l] = avX + abs(x[32 * j + l]) }
            let (scale, minimum) = KQuants.makeQKX2(UnsafeBufferPointer(rebasing: x[(32 * j)..<(32 * j + 32)]), nmax: 15,
                                                   weights: weights, L: &L, offset: 32 * j, rmin: -1, rdelta: 0.1, nstep: 20)
            subScales[j] = scale; mins[j] = minimum
            if scale > maxScale { maxScale = scale }
            if minimum > maxMin { maxMin = minimum }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        var sc = [UInt8](repeating: 0, count: 12)
        for j in 0..<8 {
            let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * subScales[j])))
            let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
            if j < 4 {
                sc[j] = ls; sc[j + 4] = lm
            } else {
                sc[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4)
                sc[j - 4] |= (ls >> 4) << 6
                sc[j] |= (lm >> 4) << 6
            }
        }
        d = Half.bits(maxScale / 63)
        dmin = Half.bits(maxMin / 63)
        scales = sc
        let dd = Half.float(d), dm = Half.float(dmin)
        for j in 0..<8 {
            let (s, m) = Self.scaleMin(j, sc)
            let dj = dd * Float(s)
            if dj == 0 { continue }
            let mj = dm * Float(m)
            for i in 0..<32 { L[32 * j + i] = UInt8(max(0, min(15, nearestInt((x[32 * j + i] + mj) / dj)))) }
        }
        var q = [UInt8](repeating: 0, count: 128)
        for (k, j) in stride(from: 0, to: 256, by: 64).enumerated() {
            for l in 0..<32 { q[32 * k + l] = L[j + l] | (L[j + l + 32] << 4) }
        }
        qs = q
    }

    /// ggml `get_scale_min_k4`.
    static func scaleMin(_ j: Int, _ q: [UInt8]) -> (UInt8, UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    public init(bytes b: UnsafeRawBufferPointer) {
        d = loadHalf(b, 0)
        dmin = loadHalf(b, 2)
        scales = Array(b[4..<16])
        qs = Array(b[16..<144])
    }

    public func append(to out: inout [UInt8]) {
        appendHalf(d, &out)
        appendHalf(dmin, &out)
        out.append(contentsOf: scales)
        out.append(contentsOf: qs)
    }
}

/// `block_q6_K`: 256 elements, 16 sub-blocks of 16 with int8 scales. ql: low 4
/// bits (128 bytes), qh: high 2 bits (64 bytes), scales (16 int8), fp16 d.
/// x = d·scale·(q − 32).
public struct BlockQ6_K: GGMLBlock, Equatable {
    public static let elements = 256
    public static let byteCount = 128 + 64 + 16 + 2
    public var ql: [UInt8]
    public var qh: [UInt8]
    public var scales: [Int8]
    public var d: UInt16

    public init(quantizing x: UnsafeBufferPointer<Float>) {
        var L = [Int8](repeating: 0, count: 256)
        var subScales = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for ib in 0..<16 {
            let scale = KQuants.makeQX(UnsafeBufferPointer(rebasing: x[(16 * ib)..<(16 * ib + 16)]), nmax: 32, L: &L, offset: 16 * ib)
            subScales[ib] = scale
            if abs(scale) > maxAbsScale { maxAbsScale = abs(scale); maxScale = scale }
        }
        ql = [UInt8](repeating: 0, count: 128)
        qh = [UInt8](repeating: 0, count: 64)
        scales = [Int8](repeating: 0, count: 16)
        if maxAbsScale < KQuants.groupMaxEps {
            d = Half.bits(0)
            return
        }
        let iscale = -128 / maxScale
        d = Half.bits(1 / iscale)
        for ib in 0..<16 { scales[ib] = Int8(truncatingIfNeeded: min(127, nearestInt(iscale * subScales[ib]))) }
        let dd = Half.float(d)
        for j in 0..<16 {
            let dj = dd * Float(scales[j])
            if dj == 0 { continue }
            for i in 0..<16 { L[16 * j + i] = Int8(max(-32, min(31, nearestInt(x[16 * j + i] / dj))) + 32) }
        }
        var lo = 0, hi = 0
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                let q1 = UInt8(L[j + l]), q2 = UInt8(L[j + l + 32]), q3 = UInt8(L[j + l + 64]), q4 = UInt8(L[j + l + 96])
                ql[lo + l] = (q1 & 0xf) | ((q3 & 0xf) << 4)
                ql[lo + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4)
                qh[hi + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
            }
            lo += 64; hi += 32
        }
    }

    public init(bytes b: UnsafeRawBufferPointer) {
        ql = Array(b[0..<128])
        qh = Array(b[128..<192])
        scales = b[192..<208].map { Int8(bitPattern: $0) }
        d = loadHalf(b, 208)
    }

    public func append(to out: inout [UInt8]) {
        out.append(contentsOf: ql)
        out.append(contentsOf: qh)
        for s in scales { out.append(UInt8(bitPattern: s)) }
        appendHalf(d, &out)
    }
}

/// The k-quant search helpers of ggml-quants.c, as the `_ref` quantizers call them.
enum KQuants {
    static let groupMaxEps: Float = 1e-15

    /// `make_qkx2_quants` (use_mad = false): an asymmetric scale and min for one
    /// sub-block by a grid search over iscale, weighted least squares at each step.
    /// Writes levels into `L[offset...]`; returns (scale, −min).
    static func makeQKX2(_ x: UnsafeBufferPointer<Float>, nmax: Int, weights: [Float], L: inout [UInt8], offset: Int,
                         rmin: Float, rdelta: Float, nstep: Int) -> (Float, Float) {
        let n = x.count
        var lo = x[0], hi = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < lo { lo = x[i] }
            if x[i] > hi { hi = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if lo > 0 { lo = 0 }
        if hi == lo {
            for i in 0..<n { L[offset + i] = 0 }
            return (0, -lo)
        }
        let fmax = Float(nmax)
        var iscale = fmax / (hi - lo)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
            L[offset + i] = UInt8(l)
            let diff = scale * Float(l) + lo - x[i]
            bestError += weights[i] * (diff * diff)
        }
        var aux = [UInt8](repeating: 0, count: n)
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + fmax) / (hi - lo)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
                aux[i] = UInt8(l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var error: Float = 0
                for i in 0..<n {
                    let diff = thisScale * Float(aux[i]) + thisMin - x[i]
                    error += weights[i] * (diff * diff)
                }
                if error < bestError {
                    for i in 0..<n { L[offset + i] = aux[i] }
                    bestError = error
                    scale = thisScale
                    lo = thisMin  // as ggml: later steps measure from the best min so far
                }
            }
        }
        return (scale, -lo)
    }

    /// `make_qx_quants` with rmse_type 1 and no importance weights (w = x²):
    /// a symmetric scale by a search over 19 iscales. Levels (0 … 2·nmax−1) into `L[offset...]`.
    static func makeQX(_ x: UnsafeBufferPointer<Float>, nmax: Int, L: inout [Int8], offset: Int) -> Float {
        let n = x.count
        var vmax: Float = 0, amax: Float = 0
        for v in x where abs(v) > amax { amax = abs(v); vmax = v }
        if amax < groupMaxEps {
            for i in 0..<n { L[offset + i] = 0 }
            return 0
        }
        let fmax = Float(nmax)
        var iscale = -fmax / vmax
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
            L[offset + i] = Int8(l + nmax)
            let w = x[i] * x[i], fl = Float(l)
            sumLX += w * x[i] * fl
            sumL2 += w * fl * fl
        }
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = -(fmax + 0.1 * Float(step)) / vmax
            sumLX = 0; sumL2 = 0
            for i in 0..<n {
                let l = Float(max(-nmax, min(nmax - 1, nearestInt(iscale * x[i]))))
                let w = x[i] * x[i]
                sumLX += w * x[i] * l
                sumL2 += w * l * l
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<n { L[offset + i] = Int8(nmax + max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }
}
