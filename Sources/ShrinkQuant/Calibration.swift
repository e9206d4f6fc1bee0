import CShrinkKernels
import Foundation
import ShrinkTensor

/// Second-moment statistics of one linear layer's inputs, accumulated in a
/// stream: H = 2·XᵀX / n (the GPTQ Hessian of the layer's squared output
/// error) and the mean |x| of each input channel (AWQ's activation scale).
///
/// Lean: only the upper triangle of Σxxᵀ is kept, in double, as strips of
/// `strip` rows (strip s: rows [sS, sS+S) × columns [sS, n)), about n²/2 doubles.
/// Each `add` runs in chunks of at most `chunkRows` input rows: the chunk's
/// product XᵀX is computed strip by strip in float with the GEMM kernel (half the
/// work of the full square) and added into the double strips, so rounding error
/// does not grow with the number of rows. Scratch: two chunk-sized copies of X
/// and one strip per core.
public final class LayerStatistics: @unchecked Sendable {
    public let columns: Int
    public private(set) var rows = 0
    static let strip = 64
    static let chunkRows = 256
    private var upper: [Double]
    private let stripOffsets: [Int]
    private var sumAbs: [Double]
    private var scratchT: [Float] = []
    private var scratchPacked: [Float] = []

    public init(columns: Int) {
        self.columns = columns
        let S = Self.strip
        var offsets: [Int] = [], total = 0
        for s in stride(from: 0, to: columns, by: S) {
            offsets.append(total)
            total += min(S, columns - s) * (columns - s)
        }
        stripOffsets = offsets
        upper = [Double](repeating: 0, count: total)
        sumAbs = [Double](repeating: 0, count: columns)
    }

    /// Set by a source that hands these statistics to their last consumer: the next `fillHessian` frees them
    /// once the solver has its copy (at a 7B down_proj, 485 MB that would otherwise live through the solve).
    public var releasesAfterFill = false

    /// Bytes held (statistics plus scratch).
    public var byteCount: Int { upper.count * 8 + sumAbs.count * 8 + (scratchT.count + scratchPacked.count) * 4 }

    /// Adds `rows` input rows of length `columns`.
    public func add(_ x: UnsafePointer<Float>, rows n: Int) {
        guard n > 0 else { return }
        let c = columns, S = Self.strip
        var r0 = 0
        while r0 < n {
            let m = min(Self.chunkRows, n - r0)
            if scratchT.count < c * m { scratchT = [Float](repeating: 0, count: c * m) }
            let packedCount = sk_gemm_packed_count(c, m)
            if scratchPacked.count < packedCount { scratchPacked = [Float](repeating: 0, count: packedCount) }
            let xs = x + r0 * c
            sk_column_abs_sums(xs, m, c, &sumAbs)
            scratchT.withUnsafeMutableBufferPointer { t in
                sk_transpose(xs, m, c, t.baseAddress!)
                scratchPacked.withUnsafeMutableBufferPointer { p in
                    sk_gemm_pack(t.baseAddress!, c, m, m, p.baseAddress!)
                    upper.withUnsafeMutableBufferPointer { u in
                        let io = UnsafeSendable((t.baseAddress!, p.baseAddress!, u.baseAddress!))
                        let strips = stripOffsets.count, offsets = stripOffsets
                        let workers = min(Parallel.workerCount, strips)
                        // Strip s costs ∝ n − sS: dealing strips out in turn balances the cores.
                        let work: @Sendable (Int) -> Void = { w in
                            let (t, p, u) = io.pointer
                            let y = UnsafeMutablePointer<Float>.allocate(capacity: S * c)
                            defer { y.deallocate() }
                            for s in stride(from: w, to: strips, by: workers) {
                                let j0 = s * S, h = min(S, c - j0), width = c - j0
                                sk_gemm(t + j0 * m, h, m, m, p + j0 * m, width, nil, y, width, 0)
                                sk_accumulate_f64(y, h * width, u + offsets[s])
                            }
                        }
                        if workers <= 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
                    }
                }
            }
            r0 += m
        }
        rows += n
    }

    /// Σxxᵀ[i][j] for i ≤ j.
    @inline(__always)
    private func upperEntry(_ i: Int, _ j: Int) -> Double {
        let s = i / Self.strip, j0 = s * Self.strip
        return upper[stripOffsets[s] + (i - j0) * (columns - j0) + (j - j0)]
    }

    private var factor: Double { rows > 0 ? 2 / Double(rows) : 0 }

    /// H = 2·XᵀX / n, row-major [columns, columns] (a full symmetric copy).
    public var hessian: [Double] {
        let n = columns, f = factor
        var h = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n {
                let v = upperEntry(i, j) * f
                h[i * n + j] = v
                h[j * n + i] = v
            }
        }
        return h
    }

    /// diag H.
    public var hessianDiagonal: [Double] { (0..<columns).map { upperEntry($0, $0) * factor } }

    /// Writes the lower triangle of H reordered, out[a·n + b] = H[order[a]][order[b]] for b ≤ a
    /// (the strict upper part of `out` is left alone): the GPTQ solver's input, without a
    /// second n×n copy.
    public func fillHessian(into out: UnsafeMutablePointer<Double>, order: [Int]) {
        precondition(!upper.isEmpty || columns == 0, "LayerStatistics: filled again after releasesAfterFill freed them")
        let n = columns, f = factor
        upper.withUnsafeBufferPointer { u in
            let io = UnsafeSendable((u.baseAddress!, out))
            let offsets = stripOffsets, S = Self.strip
            Parallel.forEachChunk(count: n, minChunk: 64) { range in
                let (u, out) = io.pointer
                for a in range {
                    let i = order[a]
                    for b in 0...a {
                        let j = order[b]
                        let lo = min(i, j), hi = max(i, j), s = lo / S, j0 = s * S
                        out[a * n + b] = u[offsets[s] + (lo - j0) * (n - j0) + (hi - j0)] * f
                    }
                }
            }
        }
        if releasesAfterFill { upper = []; scratchT = []; scratchPacked = [] }
    }

    /// Mean |x| per input channel.
    public var meanAbs: [Double] { sumAbs.map { rows > 0 ? $0 / Double(rows) : 0 } }
}

/// Relative output error of a weight approximation under input statistics H:
/// tr((W − Ŵ) H (W − Ŵ)ᵀ) / tr(W H Wᵀ) = ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖².
public func relativeOutputError(_ w: [Float], _ approx: [Float], rows: Int, columns: Int, hessian h: [Double]) -> Double {
    var num = 0.0, den = 0.0
    var e = [Double](repeating: 0, count: columns), v = e
    for r in 0..<rows {
        for j in 0..<columns { v[j] = Double(w[r * columns + j]); e[j] = v[j] - Double(approx[r * columns + j]) }
        for i in 0..<columns {
            var he = 0.0, hv = 0.0
            for j in 0..<columns { he += h[i * columns + j] * e[j]; hv += h[i * columns + j] * v[j] }
            num += e[i] * he
            den += v[i] * hv
        }
    }
    return den > 0 ? num / den : 0
}
