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
        case outOfMemory(tensor: String, bytes: Int)
        public var description: String {
            switch self {
            case let .notPositiveDefinite(t): "tensor '\(t)': the damped Hessian is not positive definite; raise the dampening or use more calibration data"
            case let .outOfMemory(t, b): "tensor '\(t)': could not allocate \(b / 1_048_576) MiB for its Hessian factor; free memory or quantize it with --method rtn (--keep it from gptq)"
            }
        }
    }

    /// Quantizes W [rows, columns] (row-major) given its input Hessian [columns, columns].
    public static func quantize(_ weights: [Float], rows: Int, columns n: Int, hessian: [Double], scheme: QuantScheme,
                                options: Options = Options(), name: String) throws -> QuantizedTensor {
        precondition(weights.count == rows * n && hessian.count == n * n)
        let diagonal = (0..<n).map { hessian[$0 * n + $0] }
        return try hessian.withUnsafeBufferPointer { hb in
            let h = UnsafeSendable(hb)
            return try weights.withUnsafeBufferPointer { wb in
              try solve(wb, rows: rows, columns: n, diagonal: diagonal, scheme: scheme, options: options, name: name) { out, order in
                let h = h.pointer
                for a in 0..<n {
                    let row = order[a] * n
                    for b in 0...a { out[a * n + b] = h[row + order[b]] }
                }
              }
            }
        }
    }

    /// Quantizes W [rows, columns] with the Hessian of `statistics` (H = 2XᵀX/n), read
    /// straight from its upper-triangle strips: one n×n double buffer in all.
    public static func quantize(_ weights: [Float], rows: Int, columns n: Int, statistics: LayerStatistics, scheme: QuantScheme,
                                options: Options = Options(), name: String) throws -> QuantizedTensor {
        try weights.withUnsafeBufferPointer {
            try quantize($0, rows: rows, columns: n, statistics: statistics, scheme: scheme, options: options, name: name)
        }
    }

    /// The same on weights in place (no copy of the caller's buffer).
    public static func quantize(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns n: Int, statistics: LayerStatistics,
                                scheme: QuantScheme, options: Options = Options(), name: String) throws -> QuantizedTensor {
        precondition(weights.count == rows * n && statistics.columns == n)
        return try solve(weights, rows: rows, columns: n, diagonal: statistics.hessianDiagonal, scheme: scheme, options: options,
                         name: name) { out, order in statistics.fillHessian(into: out, order: order) }
    }

    /// The solver: H⁻¹'s upper factor U in place in one n×n buffer (double for the
    /// factorizations, then float), then the columns in blocks, each block's errors pushed
    /// onto the later columns as one GEMM (sk_gemm), rows split over the cores.
    ///
    /// U comes from one Cholesky and one triangular inverse instead of GPTQ's three
    /// factorizations: with J the reversal, J·H·J = M·Mᵀ (M lower) gives H = R·Rᵀ with
    /// R = J·M·J upper, so H⁻¹ = (R⁻¹)ᵀ·R⁻¹ and U = R⁻¹ = J·M⁻¹·J (the upper Cholesky factor
    /// is unique). `fill(out, order)` writes the lower triangle of H[order[a]][order[b]].
    static func solve(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns n: Int, diagonal: [Double], scheme: QuantScheme, options: Options,
                      name: String, fill: (UnsafeMutablePointer<Double>, [Int]) -> Void) throws -> QuantizedTensor {
        let nonFinite = weights.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        if nonFinite > 0 { throw QuantizationError.nonFinite(tensor: name, count: nonFinite) }
        let perm: [Int] = options.actOrder ? actOrder(diagonal) : Array(0..<n)
        let (raw, bytes) = try inverseFactor(diagonal: diagonal, perm: perm, dampening: options.dampening, name: name, fill: fill)
        var factorFreed = false
        defer { if !factorFreed { sk_big_free(raw, bytes) } }
        let ut = UnsafeSendable(UnsafeMutableRawPointer(raw).assumingMemoryBound(to: Float.self))

        let layout = PackedLayout(scheme: scheme, rows: rows, columns: n)
        let groupLength = scheme.granularity.groupLength(columns: n)
        let groups = layout.groupsPerRow
        let perTensor = scheme.granularity == .tensor
        let isGroup = scheme.granularity.groupSize != nil
        let staticGroups = options.actOrder && isGroup
        let dynamicGroups = isGroup && !staticGroups
        let ggml = scheme.grid == .ggmlMinimum
        let grid = scheme.kernelGrid
        let block = max(1, min(options.blockSize, n))

        // Permuted weights with dead inputs zeroed; per-row parameters (scale, zero or minimum) per group.
        var wp = [Float](repeating: 0, count: rows * n)
        let isDead = (0..<n).map { diagonal[$0] == 0 }
        var params = [Float](repeating: 0, count: 2 * (perTensor ? 1 : rows * groups))
        if perTensor {
            var lo = Float.infinity, hi = -Float.infinity
            for r in 0..<rows { for c in 0..<n { let v = isDead[c] ? 0 : weights[r * n + c]; lo = min(lo, v); hi = max(hi, v) } }
            let p = scheme.parameters(minimum: lo, maximum: hi)
            params[0] = p.scale; params[1] = p.zeroPoint
        }
        var codes = [Int8](repeating: 0, count: rows * n)   // permuted order
        var negerr = [Float](repeating: 0, count: rows * block)
        var colParams = [Float](repeating: 0, count: 2 * rows * block)
        var ublk = [Float](repeating: 0, count: block * block)
        var packed = [Float](repeating: 0, count: sk_gemm_packed_count(n, block))
        let minChunk = max(1, 8192 / max(1, n))
        let staticParams = !perTensor && !dynamicGroups

        do {
            let wb = weights
            wp.withUnsafeMutableBufferPointer { wpb in
                params.withUnsafeMutableBufferPointer { pb in
                    codes.withUnsafeMutableBufferPointer { cb in
                        negerr.withUnsafeMutableBufferPointer { eb in
                            colParams.withUnsafeMutableBufferPointer { cpb in
                                let io = UnsafeSendable((wb.baseAddress!, wpb.baseAddress!, pb.baseAddress!, cb.baseAddress!, eb.baseAddress!, cpb.baseAddress!))
                                Parallel.forEachChunk(count: rows, minChunk: minChunk) { range in
                                    let (w, wp, pr, _, _, _) = io.pointer
                                    for r in range {
                                        for i in 0..<n { wp[r * n + i] = isDead[perm[i]] ? 0 : w[r * n + perm[i]] }
                                        guard staticParams else { continue }
                                        // Channel: one range per row; static groups: ranges of the original groups.
                                        for g in 0..<groups {
                                            var lo = Float.infinity, hi = -Float.infinity
                                            for c in (g * groupLength)..<((g + 1) * groupLength) {
                                                let v = isDead[c] ? 0 : w[r * n + c]; lo = min(lo, v); hi = max(hi, v)
                                            }
                                            let p = scheme.parameters(minimum: lo, maximum: hi)
                                            pr[2 * (r * groups + g)] = p.scale; pr[2 * (r * groups + g) + 1] = p.zeroPoint
                                        }
                                    }
                                }
                                for i1 in stride(from: 0, to: n, by: block) {
                                    let i2 = min(i1 + block, n), count = i2 - i1
                                    for x in 0..<count {
                                        for y in 0..<count { ublk[x * count + y] = y >= x ? ut.pointer[(i1 + y) * n + i1 + x] : 0 }
                                    }
                                    ublk.withUnsafeBufferPointer { ub in
                                        let u = UnsafeSendable(ub.baseAddress!)
                                        Parallel.forEachChunk(count: rows, minChunk: minChunk) { range in
                                            let (_, wp, pr, codes, negerr, cp) = io.pointer
                                            for r in range {
                                                if dynamicGroups {
                                                    startGroups(scheme, row: wp + r * n, params: pr + 2 * r * groups, groupLength: groupLength, from: i1, to: i2)
                                                }
                                                for k in 0..<count {
                                                    let g = perTensor ? 0 : r * groups + perm[i1 + k] / groupLength
                                                    cp[r * count + k] = pr[2 * g]
                                                    cp[rows * count + r * count + k] = pr[2 * g + 1]
                                                }
                                            }
                                            let lo = range.lowerBound
                                            sk_gptq_block(wp + lo * n + i1, range.count, n, count, u.pointer, cp + lo * count,
                                                          cp + rows * count + lo * count, grid.id, grid.low, grid.high, grid.codeOffset,
                                                          codes + lo * n + i1, n, negerr + lo * count)
                                        }
                                    }
                                    lazyUpdate(UnsafeSendable(wpb.baseAddress!), rows: rows, columns: n, block: i1..<i2, factor: ut,
                                               negerr: UnsafeSendable(eb.baseAddress!), packed: &packed, minChunk: minChunk)
                                }
                            }
                        }
                    }
                }
            }
        }

        // The factor is spent: give its memory back before packing and measuring.
        sk_big_free(raw, bytes)
        factorFreed = true
        wp = []; negerr = []; colParams = []; packed = []

        var scales = [Float](repeating: 0, count: perTensor ? 1 : rows * groups)
        for k in 0..<scales.count { scales[k] = params[2 * k] }
        let zeros: [Int8] = scheme.symmetric || ggml ? [] : (0..<scales.count).map { Int8(params[2 * $0 + 1]) }
        let minima: [Float] = ggml ? (0..<scales.count).map { params[2 * $0 + 1] } : []
        var packedCodes = [UInt32](repeating: 0, count: rows * layout.wordsPerRow)
        codes.withUnsafeBufferPointer { c in
            packedCodes.withUnsafeMutableBufferPointer { pk in
                let io = UnsafeSendable((c.baseAddress!, pk.baseAddress!))
                Parallel.forEachChunk(count: rows, minChunk: minChunk) { range in
                    var row = [Int8](repeating: 0, count: n)
                    for r in range {
                        for i in 0..<n { row[perm[i]] = io.pointer.0[r * n + i] }
                        sk_pack_bits(row, n, Int32(scheme.bits), io.pointer.1 + r * layout.wordsPerRow)
                    }
                }
            }
        }
        var result = QuantizedTensor(layout: layout, packed: packedCodes, scales: scales, zeroPoints: zeros, error: ErrorStatistics(), minima: minima)
        var stats = ErrorStatistics()
        result.dequantized().withUnsafeBufferPointer { stats.add(reference: weights, output: $0) }
        result.error = stats
        return result
    }

    /// The parameters of the groups of one row that start in columns [i1, i2), from the row as updated so far:
    /// reference GPTQ takes a group's range from W as updated by earlier blocks when the group starts, not by
    /// earlier columns of this block. params holds (scale, zero point) per group of the row.
    @inline(__always)
    static func startGroups(_ scheme: QuantScheme, row: UnsafeMutablePointer<Float>, params: UnsafeMutablePointer<Float>,
                            groupLength: Int, from i1: Int, to i2: Int) {
        var i = (i1 + groupLength - 1) / groupLength * groupLength
        while i < i2 {
            var lo = Float.infinity, hi = -Float.infinity
            for j in i..<(i + groupLength) { lo = min(lo, row[j]); hi = max(hi, row[j]) }
            let p = scheme.parameters(minimum: lo, maximum: hi), g = i / groupLength
            params[2 * g] = p.scale; params[2 * g + 1] = p.zeroPoint
            i += groupLength
        }
    }

    /// Lazy update of the columns after a block: W[:, i2:] −= E · U[i1:i2, i2:] (E the block's negated scaled
    /// errors, rows × count; U read from its transpose in `factor`), one packed GEMM, rows over the cores.
    static func lazyUpdate(_ w: UnsafeSendable<UnsafeMutablePointer<Float>>, rows: Int, columns n: Int, block: Range<Int>,
                           factor ut: UnsafeSendable<UnsafeMutablePointer<Float>>, negerr: UnsafeSendable<UnsafeMutablePointer<Float>>,
                           packed: inout [Float], minChunk: Int) {
        let i1 = block.lowerBound, i2 = block.upperBound, count = block.count
        guard i2 < n else { return }
        packed.withUnsafeMutableBufferPointer { pk in
            sk_gemm_pack(ut.pointer + i2 * n + i1, n - i2, count, n, pk.baseAddress!)
            let pkp = UnsafeSendable(pk.baseAddress!)
            Parallel.forEachChunk(count: rows, minChunk: minChunk) { range in
                let lo = range.lowerBound
                sk_gemm(negerr.pointer + lo * count, range.count, count, count, pkp.pointer, n - i2, nil, w.pointer + lo * n + i2, n, 1)
            }
        }
    }

    /// Columns by decreasing H_ii (dead inputs count as 1), ties by index: GPTQ's act order.
    static func actOrder(_ diagonal: [Double]) -> [Int] {
        let diag = diagonal.map { $0 == 0 ? 1 : $0 }
        return (0..<diag.count).sorted { diag[$0] > diag[$1] || (diag[$0] == diag[$1] && $0 < $1) }
    }

    /// H (columns in `perm` order, reversed, dead inputs set to 1, damped by `dampening`·mean diag H) → Uᵀ in
    /// float in the lower triangle of one n×n page buffer of `bytes` bytes (the caller frees it with
    /// sk_big_free): U the upper Cholesky factor of H⁻¹, as `solve` describes. Shared with SparseGPT.
    static func inverseFactor(diagonal: [Double], perm: [Int], dampening: Double, name: String,
                              fill: (UnsafeMutablePointer<Double>, [Int]) -> Void) throws -> (UnsafeMutableRawPointer, Int) {
        let n = diagonal.count
        let diag = diagonal.map { $0 == 0 ? 1 : $0 }
        let damp = dampening * diag.reduce(0, +) / Double(n)
        let bytes = n * n * MemoryLayout<Double>.size
        // The factor is mapped apart from the heap, which cannot lend it the free blocks it keeps (`MemoryTuning`).
        if bytes >= 64 << 20 { MemoryTuning.returnFreedMemory() }
        guard let raw = sk_big_alloc(bytes) else { throw Failure.outOfMemory(tensor: name, bytes: bytes) }
        let a = raw.assumingMemoryBound(to: Double.self)
        let order = (0..<n).map { perm[n - 1 - $0] }
        fill(a, order)
        for k in 0..<n {
            if diagonal[order[k]] == 0 { a[k * n + k] = 1 }
            a[k * n + k] += damp
        }
        guard factorInverse(a, n) else { sk_big_free(raw, bytes); throw Failure.notPositiveDefinite(tensor: name) }
        sk_d2f_inplace(a, n * n)
        sk_big_trim(raw, bytes, n * n * MemoryLayout<Float>.size)
        return (raw, bytes)
    }

    /// In place on a (n×n, row-major): given the lower triangle of B = J·H·J (H symmetric positive
    /// definite, J the reversal), leaves in the lower triangle Uᵀ, where U is the upper Cholesky
    /// factor of H⁻¹ (H⁻¹ = UᵀU): Cholesky B = M·Mᵀ, then M⁻¹, then the reflection across the
    /// anti-diagonal (J·M⁻ᵀ·J = Uᵀ). LAPACK's blocked dpotrf and dtrtri (lower), their updates as
    /// packed GEMMs over the cores. False when H is not positive definite.
    static func factorInverse(_ a: UnsafeMutablePointer<Double>, _ n: Int) -> Bool {
        let nb = 128
        let A = UnsafeSendable(a)
        var pack = [Double](repeating: 0, count: (n + 7) / 8 * 8 * nb)
        let ok: Bool = pack.withUnsafeMutableBufferPointer { pk in
            let P = UnsafeSendable(pk.baseAddress!)
            // Cholesky, lower, right-looking.
            for k0 in stride(from: 0, to: n, by: nb) {
                let b = min(nb, n - k0), k1 = k0 + b, m = n - k1
                if sk_dpotrf_lower(a + k0 * n + k0, n, b) != 0 { return false }
                if m == 0 { break }
                Parallel.forEachChunk(count: m, minChunk: 64) { r in
                    sk_dtrsm_lower_t(A.pointer + k0 * n + k0, n, b, A.pointer + (k1 + r.lowerBound) * n + k0, n, r.count)
                }
                sk_dpack_rows(a + k1 * n + k0, n, m, b, pk.baseAddress!)
                triangularChunks(m) { lo, hi in
                    sk_dgemm_packed(A.pointer + (k1 + lo) * n + k1, n, A.pointer + (k1 + lo) * n + k0, n, hi - lo, b,
                                    P.pointer, b * 8, m, -1, 1, 1, lo)
                }
            }
            // Triangular inverse, lower (dtrtri): block columns from the last.
            sk_dzero_upper(a, n)
            for j in stride(from: (n - 1) / nb * nb, through: 0, by: -nb) {
                let jb = min(nb, n - j), m = n - j - jb
                if m > 0 {
                    sk_dpack_cols(a + (j + jb) * n + j, n, m, jb, pk.baseAddress!)
                    triangularChunks(m) { lo, hi in
                        sk_dgemm_packed(A.pointer + (j + jb + lo) * n + j, n, A.pointer + (j + jb + lo) * n + j + jb, n, hi - lo, m,
                                        P.pointer, m * 8, jb, 1, 0, 2, lo)
                    }
                    Parallel.forEachChunk(count: m, minChunk: 64) { r in
                        sk_dtrsm_lower_neg(A.pointer + j * n + j, n, jb, A.pointer + (j + jb + r.lowerBound) * n + j, n, r.count)
                    }
                }
                sk_dtrti2_lower(a + j * n + j, n, jb)
            }
            return true
        }
        guard ok else { return false }
        sk_dreflect_anti(a, n)
        return true
    }

    /// Splits rows 0..<m of a lower-triangular workload (row i costs ∝ i) into equal-work
    /// contiguous parts, one per core.
    static func triangularChunks(_ m: Int, _ body: @Sendable (Int, Int) -> Void) {
        let parts = min(Parallel.workerCount, max(1, m / 48))
        if parts <= 1 { body(0, m); return }
        let bounds = (0...parts).map { Int((Double(m) * (Double($0) / Double(parts)).squareRoot()).rounded()) }
        DispatchQueue.concurrentPerform(iterations: parts) { c in
            if bounds[c] < bounds[c + 1] { body(bounds[c], bounds[c + 1]) }
        }
    }

    /// The scalar reference of `quantize` (the implementation before the C solver): every
    /// step in Swift, H⁻¹'s factor through three n×n double copies (Cholesky, its inverse, the
    /// Cholesky of H⁻¹). Tests compare the fast path with it; it is O(n³) scalar work, so small
    /// layers only.
    public static func referenceQuantize(_ weights: [Float], rows: Int, columns n: Int, hessian: [Double], scheme: QuantScheme,
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
        let ggml = scheme.grid == .ggmlMinimum
        var zeros = [Int8](repeating: ggml ? 0 : Int8(tensorParams.zeroPoint), count: scheme.symmetric || ggml ? 0 : scales.count)
        var minima = [Float](repeating: tensorParams.zeroPoint, count: ggml ? scales.count : 0)
        let grid = scheme.kernelGrid
        let qmin = grid.low, qmax = grid.high
        let block = max(1, options.blockSize)
        w.withUnsafeMutableBufferPointer { wb in
            codes.withUnsafeMutableBufferPointer { cb in
                scales.withUnsafeMutableBufferPointer { sb in
                    zeros.withUnsafeMutableBufferPointer { zb in
                      minima.withUnsafeMutableBufferPointer { mb in
                        uf.withUnsafeBufferPointer { ub in
                            let p = UnsafeSendable((wb, cb, sb, zb, ub, mb))
                            Parallel.forEachChunk(count: rows, minChunk: max(1, 4096 / max(1, n))) { range in
                                let (wAll, codesOut, scaleOut, zeroOut, U, minOut) = p.pointer
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
                                            let t: Float, dq: Float
                                            if ggml {
                                                t = min(max(s > 0 ? (x - z) / s : 0, qmin), qmax).rounded(.toNearestOrEven)
                                                dq = t * s + z
                                            } else {
                                                t = min(max(x / s + z, qmin), qmax).rounded(.toNearestOrEven)
                                                dq = (t - z) * s
                                            }
                                            codesOut[r * n + column] = Int8(t + grid.codeOffset)
                                            let err = (x - dq) / U[i * n + i]
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
                                            if ggml { minOut[r * groups + g] = params[g].1 } else if !scheme.symmetric { zeroOut[r * groups + g] = Int8(params[g].1) }
                                        }
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
        var result = QuantizedTensor(layout: layout, packed: packed, scales: scales, zeroPoints: zeros, error: ErrorStatistics(), minima: minima)
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
