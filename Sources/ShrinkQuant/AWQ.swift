import Foundation
import ShrinkFormats
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


/// Where an input-channel scale of a linear layer can be folded without changing the function: dividing rows
/// `rows` of `producer` (the rows whose outputs are `consumer`'s input channels, in order) by s divides the
/// consumer's input by s. A model family lists its pairs (`ModelFamily.scaleFolds`).
public struct ScaleFold: Hashable, Sendable {
    public var consumer: String
    public var producer: String
    public var rows: Range<Int>
    /// The producer's bias, when it has one: its entries `rows` are divided by s too (BERT's value → output).
    public var producerBias: String?
    public init(consumer: String, producer: String, rows: Range<Int>, producerBias: String? = nil) {
        self.consumer = consumer; self.producer = producer; self.rows = rows; self.producerBias = producerBias
    }
}

extension AWQ {
    /// Applies AWQ to the weights `decisions` quantize: for each one with a fold pair and statistics, search α,
    /// scale its input channels by s and divide the producing rows by s. The returned weights compute the same
    /// function as `source`; round to nearest then quantizes them. Layers without a fold pair keep plain round to
    /// nearest (their shrink.json method says so).
    /// - Parameter only: the tensors AWQ applies to (a recipe's awq tensors); nil: every quantized tensor.
    public static func fold(_ source: any TensorSource, decisions: [TensorDecision], folds: [ScaleFold],
                            statistics: [String: LayerStatistics], only: Set<String>? = nil) throws -> (OverlaySource, [String: String]) {
        let overlay = OverlaySource(base: source)
        var methods: [String: String] = [:]
        let byConsumer = Dictionary(folds.map { ($0.consumer, $0) }, uniquingKeysWith: { a, _ in a })
        for d in decisions where only?.contains(d.info.name) ?? true {
            guard let scheme = d.scheme, let fold = byConsumer[d.info.name], let stats = statistics[d.info.name],
                  let producer = source.info(fold.producer) else {
                if d.scheme != nil { methods[d.info.name] = "rtn (awq: no producer to fold the scales into)" }
                continue
            }
            let rows = d.info.shape.dims[0], columns = d.info.shape.dims[1]
            let w = try source.floats(d.info.name)
            let r = try search(w, rows: rows, columns: columns, statistics: stats, scheme: scheme, name: d.info.name)
            var scaled = w
            for i in 0..<rows { for j in 0..<columns { scaled[i * columns + j] *= r.scales[j] } }
            try overlay.replace(d.info.name, with: scaled)
            var p = try overlay.floats(fold.producer)
            let width = producer.shape.dims[1]
            for (k, row) in fold.rows.enumerated() { for j in 0..<width { p[row * width + j] /= r.scales[k] } }
            try overlay.replace(fold.producer, with: p)
            if let biasName = fold.producerBias {
                var b = try overlay.floats(biasName)
                for (k, row) in fold.rows.enumerated() { b[row] /= r.scales[k] }
                try overlay.replace(biasName, with: b)
            }
            methods[d.info.name] = String(format: "awq(alpha: %.2f, folded into %@)", r.alpha, fold.producer)
        }
        return (overlay, methods)
    }
}
