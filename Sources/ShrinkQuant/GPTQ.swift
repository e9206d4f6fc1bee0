import CShrinkKernels
import Foundation
import ShrinkTensor

/// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh, "GPTQ: Accurate Post-Training
/// Quantization for Generative Pre-trained Transformers", arXiv 2210.17323,
/// Algorithm 1): quantize the columns of W one at a time and push each column's
/// error onto the columns not yet quantized, weighted by the upper Cholesky
/// factor of the inverse Hessian H⁻¹ (H = 2XᵀX/n of the layer's inputs). As in the
/// reference implementation: dead inputs (H_ii = 0) are zeroed, H is damped by
/// `dampening`·mean(diag H), columns are processed in blocks with a lazy update
/// of later blocks, group parameters are taken from the weights as updated by
/// earlier blocks when a group starts, and with `actOrder` columns go in order
/// of decreasing H_ii with "static groups" (parameters from the original weights).
public enum GPTQ {
    public struct Options: Hashable, Sendable, CustomStringConvertible {
        public var blockSize = 128
        public var dampening = 0.01
        public var actOrder = false
        public init(blockSize: Int = 128, dampening: Double = 0.01, actOrder: Bool = false) {
            self.blockSize = blockSize; self.dampening = dampening; self.actOrder = actOrder
        }
        public var description: String { "gptq(block: \(blockSize), damp: \(dampening), act_order: \(actOrder))" }
    }

    public enum Failure: UserFacingError, Equatable {
        case notPositiveDefinite(tensor: String)
        public var description: String {
            switch self {
            case let .notPositiveDefinite(t): "tensor '\(t)': the damped Hessian is not positive definite; raise the dampening or use more calibration data"
            }
        }
    }

    /// Quantizes W [rows, columns] (row-major) given its input Hessian [columns, columns].
    public static func quantize(_ weights: [Float], rows: Int, columns n: Int, hessian: [Double], scheme: QuantScheme,
                                options: Options = Options(), name: String) throws -> QuantizedTensor {
        precondition(weights.count == rows * n && hessian.count == n * n)
        if weights.contains(where: { !$0.isFinite }) {
            throw QuantizationError.nonFinite(tensor: name, count: weights.filter { !$0.isFinite }.count)
        }
        var w = weights
        var h = hessian
        for i in 0..<n where h[i * n + i] == 0 {
            h[i * n + i] = 1
            for r in 0..<rows { w[r * n + i] = 0 }
        }
        let perm: [Int] = options.actOrder ? (0..<n).sorted { h[$0 * n + $0] > h[$1 * n + $1] || (h[$0 * n + $0] == h[$1 * n + $1] && $0 < $1) } : Array(0..<n)
        let mean = (0..<n).reduce(0.0) { $0 + h[$1 * n + $1] } / Double(n)
        var hp = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { hp[i * n + j] = h[perm[i] * n + perm[j]] } }
        for i in 0..<n { hp[i * n + i] += options.dampening * mean }
        guard let u = upperCholeskyOfInverse(hp, n) else { throw Failure.notPositiveDefinite(tensor: name) }
        let uf = u.map { Float($0) }

        let layout = PackedLayout(scheme: scheme, rows: rows, columns: n)
        let groupLength = scheme.granularity.groupLength(columns: n)
        let groups = layout.groupsPerRow
        let perTensor = scheme.granularity == .tensor
        let isGroup = scheme.granularity.groupSize != nil
        // Per-tensor parameters, and static ones (act order with groups, or channel), from the weights before updates.
        var tensorParams = (scale: Float(1), zeroPoint: Float(0))
        if perTensor {
            tensorParams = scheme.parameters(minimum: w.min() ?? 0, maximum: w.max() ?? 0)
        }
        let staticGroups = options.actOrder && isGroup
        let wholeTensor = tensorParams

        var codes = [Int8](repeating: 0, count: rows * n)
        var scales = [Float](repeating: tensorParams.scale, count: perTensor ? 1 : rows * groups)
        var zeros = [Int8](repeating: Int8(tensorParams.zeroPoint), count: scheme.symmetric ? 0 : scales.count)
        let qmin = Float(scheme.qmin), qmax = Float(scheme.qmax)
        let block = max(1, options.blockSize)
        w.withUnsafeMutableBufferPointer { wb in
            codes.withUnsafeMutableBufferPointer { cb in
                scales.withUnsafeMutableBufferPointer { sb in
                    zeros.withUnsafeMutableBufferPointer { zb in
                        uf.withUnsafeBufferPointer { ub in
                            let p = UnsafeSendable((wb, cb, sb, zb, ub))
                            Parallel.forEachChunk(count: rows, minChunk: max(1, 4096 / max(1, n))) { range in
                                let (wAll, codesOut, scaleOut, zeroOut, U) = p.pointer
                                var row = [Float](repeating: 0, count: n)   // permuted, updated by earlier blocks
                                var w1 = [Float](repeating: 0, count: block)
                                var errs = [Float](repeating: 0, count: block)
                                var params = [(Float, Float)](repeating: (1, 0), count: groups)
                                for r in range {
                                    let original = UnsafeBufferPointer(rebasing: wAll[(r * n)..<((r + 1) * n)])
                                    for i in 0..<n { row[i] = original[perm[i]] }
                                    if !perTensor && (!isGroup || staticGroups) {
                                        // Channel: one range per row; static groups: ranges of the original groups.
                                        for g in 0..<groups {
                                            let seg = original[(g * groupLength)..<((g + 1) * groupLength)]
                                            params[g] = rangeParameters(scheme, seg.min()!, seg.max()!)
                                        }
                                    }
                                    var i1 = 0
                                    while i1 < n {
                                        let i2 = min(i1 + block, n), count = i2 - i1
                                        for k in 0..<count { w1[k] = row[i1 + k] }
                                        for k in 0..<count {
                                            let i = i1 + k, column = perm[i]
                                            let g = column / groupLength
                                            if isGroup && !staticGroups && column % groupLength == 0 {
                                                // Reference GPTQ takes the group's range from W as updated by
                                                // earlier blocks, not by earlier columns of this block.
                                                var mn = Float.infinity, mx = -Float.infinity
                                                for j in i..<(i + groupLength) { mn = min(mn, row[j]); mx = max(mx, row[j]) }
                                                params[g] = rangeParameters(scheme, mn, mx)
                                            }
                                            let (s, z) = perTensor ? wholeTensor : params[g]
                                            let x = w1[k]
                                            var t = x / s + z
                                            t = min(max(t, qmin), qmax).rounded(.toNearestOrEven)
                                            codesOut[r * n + column] = Int8(t)
                                            let err = (x - (t - z) * s) / U[i * n + i]
                                            errs[k] = err
                                            if k + 1 < count {
                                                for j in (k + 1)..<count { w1[j] -= err * U[i * n + i1 + j] }
                                            }
                                        }
                                        // Lazy update of the later blocks.
                                        if i2 < n {
                                            for k in 0..<count {
                                                let e = errs[k], base = (i1 + k) * n
                                                for j in i2..<n { row[j] -= e * U[base + j] }
                                            }
                                        }
                                        i1 = i2
                                    }
                                    if !perTensor {
                                        for g in 0..<groups {
                                            scaleOut[r * groups + g] = params[g].0
                                            if !scheme.symmetric { zeroOut[r * groups + g] = Int8(params[g].1) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        var packed = [UInt32](repeating: 0, count: rows * layout.wordsPerRow)
        codes.withUnsafeBufferPointer { c in
            packed.withUnsafeMutableBufferPointer { pk in
                for r in 0..<rows { sk_pack_bits(c.baseAddress! + r * n, n, Int32(scheme.bits), pk.baseAddress! + r * layout.wordsPerRow) }
            }
        }
        var result = QuantizedTensor(layout: layout, packed: packed, scales: scales, zeroPoints: zeros, error: ErrorStatistics())
        var stats = ErrorStatistics()
        stats.add(reference: weights, output: result.dequantized())
        result.error = stats
        return result
    }

    @inline(__always)
    static func rangeParameters(_ scheme: QuantScheme, _ lo: Float, _ hi: Float) -> (Float, Float) {
        let p = scheme.parameters(minimum: lo, maximum: hi)
        return (p.scale, p.zeroPoint)
    }

    /// Lower Cholesky factor L of a symmetric positive definite A (A = LLᵀ); nil otherwise.
    static func cholesky(_ a: [Double], _ n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            var d = a[j * n + j]
            for k in 0..<j { d -= l[j * n + k] * l[j * n + k] }
            guard d > 0 else { return nil }
            let ljj = d.squareRoot()
            l[j * n + j] = ljj
            for i in (j + 1)..<max(j + 1, n) {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                l[i * n + j] = s / ljj
            }
        }
        return l
    }

    /// U with H⁻¹ = UᵀU (upper Cholesky factor of the inverse), in double precision;
    /// nil when H is not positive definite.
    static func upperCholeskyOfInverse(_ h: [Double], _ n: Int) -> [Double]? {
        guard let l = cholesky(h, n) else { return nil }
        // L⁻¹ (lower triangular), then H⁻¹ = L⁻ᵀ L⁻¹.
        var li = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            li[i * n + i] = 1 / l[i * n + i]
            for j in 0..<i {
                var s = 0.0
                for k in j..<i { s -= l[i * n + k] * li[k * n + j] }
                li[i * n + j] = s / l[i * n + i]
            }
        }
        var inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = 0.0
                for k in i..<n { s += li[k * n + i] * li[k * n + j] }
                inv[i * n + j] = s
                inv[j * n + i] = s
            }
        }
        // H⁻¹ = C Cᵀ with C lower, so U = Cᵀ.
        guard let c = cholesky(inv, n) else { return nil }
        var u = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in i..<n { u[i * n + j] = c[j * n + i] } }
        return u
    }
}
