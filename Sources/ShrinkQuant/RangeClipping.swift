import CShrinkKernels
import ShrinkTensor

/// How the range [min, max] that a group's scale covers is chosen from its
/// weights. Values outside the chosen range are clamped to the end codes.
public enum RangeClipping: Hashable, Sendable, CustomStringConvertible {
    /// The full range: compressed-tensors' "minmax" observer.
    case minMax
    /// The `p`-th percentile of |x| (symmetric) or the (1−p, p) percentiles
    /// (asymmetric), e.g. p = 0.999: outliers are clipped. (Wu et al., "Integer
    /// Quantization for Deep Learning Inference", arXiv 2004.09602, §4.2.)
    case percentile(Double)
    /// Grid search of a shrink factor s ∈ {1, 1 − 1/grid, …, 1 − maxShrink} of
    /// the min-max range minimizing the group's squared quantization error, as
    /// the GPTQ reference quantizer's `find_params(mse=True)` does (IST-DASLab/gptq,
    /// quant.py; Frantar et al., arXiv 2210.17323), with exponent 2.
    case mse(grid: Int, maxShrink: Double)

    public static let defaultMSE = RangeClipping.mse(grid: 100, maxShrink: 0.8)

    public var description: String {
        switch self {
        case .minMax: "minmax"
        case let .percentile(p): "percentile(\(p))"
        case let .mse(g, s): "mse(grid: \(g), max_shrink: \(s))"
        }
    }

    /// The clipped range for `n` values at `x` whose full range is [lo, hi].
    /// `scratch` holds at least `n` floats (percentile) or `n` bytes (mse).
    func range(_ x: UnsafePointer<Float>, count n: Int, lo: Float, hi: Float, scheme: QuantScheme,
               scratch: UnsafeMutableRawPointer) -> (Float, Float) {
        switch self {
        case .minMax:
            return (lo, hi)
        case let .percentile(p):
            let v = scratch.bindMemory(to: Float.self, capacity: n)
            if scheme.symmetric {
                for i in 0..<n { v[i] = abs(x[i]) }
                var buffer = UnsafeMutableBufferPointer(start: v, count: n)
                buffer.sort()
                let m = buffer[min(n - 1, Int((p * Double(n - 1)).rounded(.up)))]
                return (-m, m)
            }
            for i in 0..<n { v[i] = x[i] }
            var buffer = UnsafeMutableBufferPointer(start: v, count: n)
            buffer.sort()
            return (buffer[max(0, Int(((1 - p) * Double(n - 1)).rounded(.down)))], buffer[min(n - 1, Int((p * Double(n - 1)).rounded(.up)))])
        case let .mse(grid, maxShrink):
            let q = scratch.bindMemory(to: Int8.self, capacity: n)
            var best = (lo, hi), bestError = Double.infinity
            let steps = max(1, Int(maxShrink * Double(grid)))
            for i in 0...steps {
                let s = Float(1 - Double(i) / Double(grid))
                let params = scheme.parameters(minimum: lo * s, maximum: hi * s)
                var acc = sk_error_acc()
                sk_quantize_error_f32(x, n, params.scale, params.zeroPoint, Float(scheme.qmin), Float(scheme.qmax), q, &acc)
                if acc.sum_err_sq < bestError { bestError = acc.sum_err_sq; best = (lo * s, hi * s) }
            }
            return best
        }
    }

    /// Scratch bytes `range` needs for `n` values.
    func scratchBytes(_ n: Int) -> Int {
        switch self {
        case .minMax: 0
        case .percentile: n * MemoryLayout<Float>.stride
        case .mse: n
        }
    }
}
