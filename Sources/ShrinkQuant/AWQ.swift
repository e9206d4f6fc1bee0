import ShrinkTensor

/// Activation-aware weight quantization (Lin et al., "AWQ: Activation-aware
/// Weight Quantization for LLM Compression and Acceleration", arXiv 2306.00978,
/// §3.2): scale input channel j of W by s_j = ā_j^α (ā = mean |x_j| on calibration
/// data, normalized by √(max·min) as the reference code does), quantize W·diag(s)
/// with round-to-nearest, and pick α ∈ {0, 1/grid, …} minimizing the layer's
/// output error ‖XWᵀ − X(Q(W·diag(s))·diag(1/s))ᵀ‖², computed from H = 2XᵀX/n.
/// Deploying it needs 1/s folded into the operation that produces x.
public enum AWQ {
    public struct Result: Sendable {
        public var alpha: Double
        /// Per input channel.
        public var scales: [Float]
        /// Q(W·diag(s)), in the packed layout.
        public var quantized: QuantizedTensor
        /// Relative output error of the effective weight Q(W·diag(s))·diag(1/s).
        public var outputError: Double
        /// The effective weight.
        public var effective: [Float]
    }

    public static func search(_ w: [Float], rows: Int, columns: Int, statistics: LayerStatistics, scheme: QuantScheme,
                              grid: Int = 20, name: String) throws -> Result {
        let h = statistics.hessian, a = statistics.meanAbs
        var best: Result?
        for k in 0..<grid {
            let alpha = Double(k) / Double(grid)
            let t = a.map { max(pow($0, alpha), 1e-4) }
            let norm = (t.max()! * t.min()!).squareRoot()
            let s = t.map { Float($0 / norm) }
            var scaled = w
            for r in 0..<rows { for j in 0..<columns { scaled[r * columns + j] *= s[j] } }
            let q = try RoundToNearest.quantize(scaled, rows: rows, columns: columns, scheme: scheme, name: name)
            var effective = q.dequantized()
            for r in 0..<rows { for j in 0..<columns { effective[r * columns + j] /= s[j] } }
            let e = relativeOutputError(w, effective, rows: rows, columns: columns, hessian: h)
            if best == nil || e < best!.outputError {
                best = Result(alpha: alpha, scales: s, quantized: q, outputError: e, effective: effective)
            }
        }
        return best!
    }
}

import Foundation
