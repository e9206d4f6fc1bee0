import CShrinkKernels

/// A linear layer's weight packed for fast Y = X·Wᵀ + b on both cores.
/// W is [outFeatures, inFeatures] as in PyTorch.
public struct PackedLinear: Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    /// The weight's tensor name (for calibration hooks and messages).
    public let name: String
    private let packed: [Float]
    public let bias: [Float]?

    public init(weight: [Float], outFeatures: Int, inFeatures: Int, bias: [Float]? = nil, name: String = "") {
        self.name = name
        precondition(weight.count == outFeatures * inFeatures)
        precondition(bias == nil || bias!.count == outFeatures)
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.bias = bias
        var p = [Float](repeating: 0, count: sk_gemm_packed_count(outFeatures, inFeatures))
        weight.withUnsafeBufferPointer { w in
            p.withUnsafeMutableBufferPointer { sk_gemm_pack(w.baseAddress!, outFeatures, inFeatures, inFeatures, $0.baseAddress!) }
        }
        packed = p
    }

    /// y[rows, out] = x[rows, in]·Wᵀ + b (or += with `accumulate`). Rows are split over
    /// the cores in chunks of ≥ `minRowsPerTask`.
    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
                      inputStride: Int? = nil, outputStride: Int? = nil) {
        let ldx = inputStride ?? inFeatures, ldy = outputStride ?? outFeatures
        let io = UnsafeSendable((x, y))
        let work = max(1, rows * inFeatures * outFeatures)
        // ≥ ~1 MFLOP per task keeps dispatch overhead negligible.
        let minRows = max(6, 500_000 / max(1, work / max(1, rows)))
        packed.withUnsafeBufferPointer { p in
            let panel = UnsafeSendable(p.baseAddress!)
            let b = bias
            Parallel.forEachChunk(count: rows, minChunk: minRows) { r in
                let (xs, ys) = io.pointer
                if let b {
                    b.withUnsafeBufferPointer { bb in
                        sk_gemm(xs + r.lowerBound * ldx, r.count, inFeatures, ldx, panel.pointer, outFeatures, bb.baseAddress, ys + r.lowerBound * ldy, ldy, accumulate ? 1 : 0)
                    }
                } else {
                    sk_gemm(xs + r.lowerBound * ldx, r.count, inFeatures, ldx, panel.pointer, outFeatures, nil, ys + r.lowerBound * ldy, ldy, accumulate ? 1 : 0)
                }
            }
        }
    }

    /// The packed panels (`sk_gemm_pack` layout), valid inside `body`.
    public func withPacked<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try packed.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    public func apply(_ x: [Float], rows: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { apply(xs.baseAddress!, rows: rows, into: $0.baseAddress!) } }
        return y
    }
}
