import CShrinkKernels
import ShrinkTensor

/// SparseGPT (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot",
/// arXiv 2301.00774, Algorithm 1). Columns are visited in order; removing or changing w_i costs
/// (w_i − q_i)²/[H⁻¹]_ii (Eq. 3, the OBS error) and the error is pushed onto the later columns through the row
/// of the upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU, U_ii² = the [H⁻¹]_ii of the current sub-problem), GPTQ's
/// machinery (`GPTQ.inverseFactor`, sk_gemm for the lazy update of later blocks). The mask is chosen
/// adaptively (§3.3): unstructured, at the start of each block of `blockSize` (Bs = 128) columns, the
/// ⌊s·rows·Bs⌋ weights of the block with the smallest w²/U_ii² over all rows; N:M, at every M-th column, the
/// M − N smallest of the next M columns of each row (§3.4). Joint quantization (§3.5): every kept weight is
/// quantized as its column is reached and the quantization error is fed back with the pruning error.
///
/// One deliberate difference from the reference code: it prunes `score <= sorted[int(numel·s)]`, one more than
/// ⌊numel·s⌋ (and more on ties); here exactly ⌊numel·s⌋ go, ties to the earlier weight, so the kept count
/// is known in advance (`keptCount`).
public enum SparseGPT {
    public struct Options: Hashable, Sendable, CustomStringConvertible {
        public var blockSize = 128
        public var dampening = 0.01
        public init(blockSize: Int = 128, dampening: Double = 0.01) { self.blockSize = blockSize; self.dampening = dampening }
        public var description: String { "sparsegpt(block: \(blockSize), damp: \(dampening))" }
    }

    /// What decides the mask: a sparsity for SparseGPT's own selection, or a fixed mask (magnitude or Wanda's,
    /// then quantized with GPTQ's error feedback onto the kept weights: the reference's `mask` argument).
    public enum Target: Sendable {
        case sparsity(Sparsity)
        case kept([Bool])
    }

    public struct Result: Sendable {
        /// The final weights (exactly 0 where pruned; with a scheme, the dequantized values) and the mask.
        public var pruned: PrunedTensor
        /// With a scheme: the quantized tensor, code of 0 where pruned.
        public var quantized: QuantizedTensor?
    }

    /// Prunes (and with `scheme`, quantizes) W [rows, columns] with the Hessian of `statistics`.
    public static func run(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns n: Int, statistics: LayerStatistics, target: Target,
                           scheme: QuantScheme? = nil, options: Options = Options(), name: String) throws -> Result {
        precondition(weights.count == rows * n && statistics.columns == n)
        return try solve(weights, rows: rows, columns: n, diagonal: statistics.hessianDiagonal, target: target, scheme: scheme,
                         options: options, name: name) { out, order in statistics.fillHessian(into: out, order: order) }
    }

    /// The same with an explicit Hessian [columns, columns].
    public static func run(_ weights: [Float], rows: Int, columns n: Int, hessian: [Double], target: Target, scheme: QuantScheme? = nil,
                           options: Options = Options(), name: String) throws -> Result {
        precondition(weights.count == rows * n && hessian.count == n * n)
        let diagonal = (0..<n).map { hessian[$0 * n + $0] }
        return try weights.withUnsafeBufferPointer { wb in
            try hessian.withUnsafeBufferPointer { hb in
                try solve(wb, rows: rows, columns: n, diagonal: diagonal, target: target, scheme: scheme, options: options, name: name) { out, order in
                    for a in 0..<n { for b in 0...a { out[a * n + b] = hb[order[a] * n + order[b]] } }
                }
            }
        }
    }

    /// Weights kept: ⌊s·rows·count⌋ pruned per block, or N of every M.
    public static func keptCount(rows: Int, columns: Int, sparsity: Sparsity, blockSize: Int) -> Int {
        switch sparsity {
        case let .semiStructured(k, m): return rows * columns / m * k
        case let .unstructured(f):
            let block = max(1, min(blockSize, columns))
            return stride(from: 0, to: columns, by: block).reduce(0) { total, i1 in
                let count = min(block, columns - i1)
                return total + rows * count - Sparsity.prunedCount(f, of: rows * count)
            }
        }
    }

    static func solve(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns n: Int, diagonal: [Double], target: Target, scheme: QuantScheme?,
                      options: Options, name: String, fill: (UnsafeMutablePointer<Double>, [Int]) -> Void) throws -> Result {
        let bad = weights.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        if bad > 0 { throw PruningError.nonFinite(tensor: name, count: bad) }
        if scheme?.grid == .ggmlMinimum {
            throw PruningError.unsupported(flag: "--grid", reason: "ggml's minimum grid (x = c·d + m) cannot hold a pruned weight's exact 0; use --grid integer or ggml-sym")
        }
        var block = max(1, min(options.blockSize, n))
        var nOfM: (keep: Int, of: Int)?
        var fraction: Double?
        var pruned = [UInt8](repeating: 0, count: rows * n)
        switch target {
        case let .sparsity(s):
            try s.check(columns: n, tensor: name)
            switch s {
            case let .semiStructured(k, m):
                nOfM = (k, m)
                block = max(m, block / m * m)
            case let .unstructured(f): fraction = f
            }
        case let .kept(mask):
            precondition(mask.count == rows * n)
            for i in 0..<mask.count where !mask[i] { pruned[i] = 1 }
        }

        let pruneM = Int32(nOfM?.of ?? 0), pruneK = Int32(nOfM.map { $0.of - $0.keep } ?? 0)
        let (raw, bytes) = try GPTQ.inverseFactor(diagonal: diagonal, perm: Array(0..<n), dampening: options.dampening, name: name, fill: fill)
        defer { sk_big_free(raw, bytes) }
        let ut = UnsafeSendable(UnsafeMutableRawPointer(raw).assumingMemoryBound(to: Float.self))

        let isDead = diagonal.map { $0 == 0 }
        var wp = [Float](repeating: 0, count: rows * n)
        for r in 0..<rows { for c in 0..<n { wp[r * n + c] = isDead[c] ? 0 : weights[r * n + c] } }

        // Quantization parameters as GPTQ takes them (without act order): per tensor and per channel from the
        // weights before pruning, per group from the weights as updated by earlier blocks when the group starts.
        let layout = scheme.map { PackedLayout(scheme: $0, rows: rows, columns: n) }
        let groups = layout?.groupsPerRow ?? 1
        let groupLength = scheme?.granularity.groupLength(columns: n) ?? n
        let perTensor = scheme?.granularity == .tensor
        let dynamicGroups = scheme?.granularity.groupSize != nil
        var params = [Float](repeating: 0, count: 2 * (perTensor ? 1 : rows * groups))
        if let scheme, !dynamicGroups {
            for r in 0..<(perTensor ? 1 : rows) {
                var lo = Float.infinity, hi = -Float.infinity
                for v in wp[(perTensor ? 0 : r * n)..<((perTensor ? rows : r + 1) * n)] { lo = min(lo, v); hi = max(hi, v) }
                let p = scheme.parameters(minimum: lo, maximum: hi)
                params[2 * r] = p.scale; params[2 * r + 1] = p.zeroPoint
            }
        }
        let grid = scheme?.kernelGrid ?? (id: 0, low: 0, high: 0, codeOffset: 0)
        var codes = [Int8](repeating: 0, count: scheme == nil ? 0 : rows * n)
        var negerr = [Float](repeating: 0, count: rows * block)
        var colParams = [Float](repeating: 0, count: 2 * rows * block)
        var ublk = [Float](repeating: 0, count: block * block)
        var packed = [Float](repeating: 0, count: sk_gemm_packed_count(n, block))
        var scores = [Float](repeating: 0, count: fraction == nil ? 0 : rows * block)
        let minChunk = max(1, 8192 / max(1, n))
        let quantize: Int32 = scheme == nil ? 0 : 1

        wp.withUnsafeMutableBufferPointer { wpb in
            params.withUnsafeMutableBufferPointer { pb in
                codes.withUnsafeMutableBufferPointer { cb in
                    negerr.withUnsafeMutableBufferPointer { eb in
                        colParams.withUnsafeMutableBufferPointer { cpb in
                            pruned.withUnsafeMutableBufferPointer { mb in
                                let io = UnsafeSendable((wpb.baseAddress!, pb.baseAddress!, cb.baseAddress, eb.baseAddress!, cpb.baseAddress!, mb.baseAddress!))
                                for i1 in stride(from: 0, to: n, by: block) {
                                    let i2 = min(i1 + block, n), count = i2 - i1
                                    for x in 0..<count {
                                        for y in 0..<count { ublk[x * count + y] = y >= x ? ut.pointer[(i1 + y) * n + i1 + x] : 0 }
                                    }
                                    if let f = fraction {
                                        // Adaptive mask selection (§3.3): the block's smallest w²/U_ii² over all rows.
                                        for r in 0..<rows {
                                            for k in 0..<count {
                                                let v = wpb[r * n + i1 + k], d = ublk[k * count + k]
                                                scores[r * count + k] = (v * v) / (d * d)
                                            }
                                        }
                                        let flags = scores.withUnsafeBufferPointer {
                                            SmallestSelection.prunedFlags(UnsafeBufferPointer(rebasing: $0[0..<(rows * count)]), k: Sparsity.prunedCount(f, of: rows * count))
                                        }
                                        for r in 0..<rows { for k in 0..<count { mb[r * n + i1 + k] = flags[r * count + k] ? 1 : 0 } }
                                    }
                                    ublk.withUnsafeBufferPointer { ub in
                                        let u = UnsafeSendable(ub.baseAddress!)
                                        Parallel.forEachChunk(count: rows, minChunk: minChunk) { range in
                                            let (wp, pr, codes, negerr, cp, mask) = io.pointer
                                            if let scheme {
                                                for r in range {
                                                    if dynamicGroups {
                                                        GPTQ.startGroups(scheme, row: wp + r * n, params: pr + 2 * r * groups, groupLength: groupLength, from: i1, to: i2)
                                                    }
                                                    for k in 0..<count {
                                                        let g = perTensor ? 0 : r * groups + (i1 + k) / groupLength
                                                        cp[r * count + k] = pr[2 * g]
                                                        cp[rows * count + r * count + k] = pr[2 * g + 1]
                                                    }
                                                }
                                            }
                                            let lo = range.lowerBound
                                            sk_sparsegpt_block(wp + lo * n + i1, range.count, n, count, u.pointer, mask + lo * n + i1, n,
                                                               pruneM, pruneK, quantize,
                                                               cp + lo * count, cp + rows * count + lo * count, grid.id, grid.low, grid.high,
                                                               grid.codeOffset, codes.map { $0 + lo * n + i1 }, n, negerr + lo * count)
                                        }
                                    }
                                    GPTQ.lazyUpdate(UnsafeSendable(wpb.baseAddress!), rows: rows, columns: n, block: i1..<i2, factor: ut,
                                                    negerr: UnsafeSendable(eb.baseAddress!), packed: &packed, minChunk: minChunk)
                                }
                            }
                        }
                    }
                }
            }
        }

        let kept = pruned.map { $0 == 0 }
        guard let scheme, let layout else {
            return Result(pruned: PrunedTensor(rows: rows, columns: n, values: wp, kept: kept), quantized: nil)
        }
        let scales = (0..<(perTensor ? 1 : rows * groups)).map { params[2 * $0] }
        let zeros: [Int8] = scheme.symmetric ? [] : (0..<scales.count).map { Int8(params[2 * $0 + 1]) }
        var packedCodes = [UInt32](repeating: 0, count: rows * layout.wordsPerRow)
        codes.withUnsafeBufferPointer { c in
            packedCodes.withUnsafeMutableBufferPointer { pk in
                for r in 0..<rows { sk_pack_bits(c.baseAddress! + r * n, n, Int32(scheme.bits), pk.baseAddress! + r * layout.wordsPerRow) }
            }
        }
        var q = QuantizedTensor(layout: layout, packed: packedCodes, scales: scales, zeroPoints: zeros, error: ErrorStatistics())
        let values = q.dequantized()
        var stats = ErrorStatistics()
        values.withUnsafeBufferPointer { stats.add(reference: weights, output: $0) }
        q.error = stats
        return Result(pruned: PrunedTensor(rows: rows, columns: n, values: values, kept: kept), quantized: q)
    }

    /// The scalar reference of Algorithm 1 without quantization, in double: H⁻¹'s upper factor from three
    /// factorizations (`GPTQ.upperCholeskyOfInverse`), every column's error applied to all later columns at
    /// once (no lazy blocks), the same adaptive mask rule. O(rows·n²): small layers only.
    public static func reference(_ weights: [Float], rows: Int, columns n: Int, hessian: [Double], sparsity: Sparsity,
                                 options: Options = Options(), name: String) throws -> PrunedTensor {
        var h = hessian
        var w = weights.map(Double.init)
        for i in 0..<n where h[i * n + i] == 0 {
            h[i * n + i] = 1
            for r in 0..<rows { w[r * n + i] = 0 }
        }
        let damp = options.dampening * (0..<n).reduce(0.0) { $0 + h[$1 * n + $1] } / Double(n)
        for i in 0..<n { h[i * n + i] += damp }
        guard let u = GPTQ.upperCholeskyOfInverse(h, n) else { throw GPTQ.Failure.notPositiveDefinite(tensor: name) }
        var pruned = [Bool](repeating: false, count: rows * n)
        var block = max(1, min(options.blockSize, n))
        if case let .semiStructured(_, m) = sparsity { block = max(m, block / m * m) }
        for i1 in stride(from: 0, to: n, by: block) {
            let i2 = min(i1 + block, n), count = i2 - i1
            if case let .unstructured(f) = sparsity {
                let scores = (0..<(rows * count)).map { j -> Float in
                    let r = j / count, i = i1 + j % count
                    return Float(w[r * n + i] * w[r * n + i] / (u[i * n + i] * u[i * n + i]))
                }
                let flags = scores.withUnsafeBufferPointer { SmallestSelection.prunedFlags($0, k: Sparsity.prunedCount(f, of: rows * count)) }
                for j in 0..<flags.count { pruned[(j / count) * n + i1 + j % count] = flags[j] }
            }
            for i in i1..<i2 {
                for r in 0..<rows {
                    if case let .semiStructured(keep, m) = sparsity, (i - i1) % m == 0 {
                        let order = (0..<m).sorted { a, b in
                            let sa = w[r * n + i + a] * w[r * n + i + a] / (u[(i + a) * n + i + a] * u[(i + a) * n + i + a])
                            let sb = w[r * n + i + b] * w[r * n + i + b] / (u[(i + b) * n + i + b] * u[(i + b) * n + i + b])
                            return sa < sb || (sa == sb && a < b)
                        }
                        for j in 0..<m { pruned[r * n + i + j] = false }
                        for j in order.prefix(m - keep) { pruned[r * n + i + j] = true }
                    }
                    let v = w[r * n + i], q = pruned[r * n + i] ? 0 : v
                    let err = (v - q) / u[i * n + i]
                    for j in (i + 1)..<max(i + 1, n) { w[r * n + j] -= err * u[i * n + j] }
                    w[r * n + i] = q
                }
            }
        }
        return PrunedTensor(rows: rows, columns: n, values: w.map { Float($0) }, kept: pruned.map { !$0 })
    }
}

/// SparseGPT as a `Pruner` (no quantization: the pruned weights with their update).
public struct SparseGPTPruner: Pruner {
    public var options: SparseGPT.Options
    public init(options: SparseGPT.Options = SparseGPT.Options()) { self.options = options }
    public var method: PruneMethod { .sparsegpt }
    public var description: String { options.description }

    public func prune(_ weight: UnsafeBufferPointer<Float>, rows: Int, columns: Int, sparsity: Sparsity,
                      statistics: LayerStatistics?, name: String) throws -> PrunedTensor {
        guard let statistics else { throw PruningError.notCalibrated(tensor: name, method: .sparsegpt) }
        return try SparseGPT.run(weight, rows: rows, columns: columns, statistics: statistics, target: .sparsity(sparsity),
                                 options: options, name: name).pruned
    }

    public func keptCount(rows: Int, columns: Int, sparsity: Sparsity) -> Int {
        SparseGPT.keptCount(rows: rows, columns: columns, sparsity: sparsity, blockSize: options.blockSize)
    }
}
