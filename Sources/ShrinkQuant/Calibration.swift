import CShrinkKernels
import ShrinkTensor

/// Second-moment statistics of one linear layer's inputs, accumulated in a
/// stream: H = 2·XᵀX / n (the GPTQ Hessian of the layer's squared output
/// error) and the mean |x| of each input channel (AWQ's activation scale).
public final class LayerStatistics: @unchecked Sendable {
    public let columns: Int
    public private(set) var rows = 0
    /// Σ xxᵀ in double precision, [columns, columns].
    private var sumOuter: [Double]
    private var sumAbs: [Double]
    private var scratchT: [Float] = []
    private var scratchPacked: [Float] = []
    private var scratchOut: [Float] = []

    public init(columns: Int) {
        self.columns = columns
        sumOuter = [Double](repeating: 0, count: columns * columns)
        sumAbs = [Double](repeating: 0, count: columns)
    }

    /// Adds `rows` input rows of length `columns`.
    public func add(_ x: UnsafePointer<Float>, rows n: Int) {
        guard n > 0 else { return }
        let c = columns
        // XᵀX with the GEMM kernel: A = Xᵀ [c, n], W = Xᵀ [c, n] → Y = Xᵀ·X.
        if scratchT.count < c * n { scratchT = [Float](repeating: 0, count: c * n) }
        if scratchOut.count < c * c { scratchOut = [Float](repeating: 0, count: c * c) }
        let packedCount = sk_gemm_packed_count(c, n)
        if scratchPacked.count < packedCount { scratchPacked = [Float](repeating: 0, count: packedCount) }
        scratchT.withUnsafeMutableBufferPointer { t in
            sk_transpose(x, n, c, t.baseAddress!)
            sk_column_abs_sums(x, n, c, &sumAbs)
            scratchPacked.withUnsafeMutableBufferPointer { p in
                sk_gemm_pack(t.baseAddress!, c, n, n, p.baseAddress!)
                scratchOut.withUnsafeMutableBufferPointer { y in
                    // Rows of XᵀX split over the cores.
                    let io = UnsafeSendable((t.baseAddress!, p.baseAddress!, y.baseAddress!))
                    Parallel.forEachChunk(count: c, minChunk: 6) { r in
                        sk_gemm(io.pointer.0 + r.lowerBound * n, r.count, n, n, io.pointer.1, c, nil, io.pointer.2 + r.lowerBound * c, c, 0)
                    }
                }
            }
        }
        scratchOut.withUnsafeBufferPointer { y in
            sumOuter.withUnsafeMutableBufferPointer { sk_accumulate_f64(y.baseAddress!, c * c, $0.baseAddress!) }
        }
        rows += n
    }

    /// H = 2·XᵀX / n, row-major [columns, columns].
    public var hessian: [Double] {
        let f = rows > 0 ? 2 / Double(rows) : 0
        return sumOuter.map { $0 * f }
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
