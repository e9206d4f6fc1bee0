import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkTensor

/// Activation-aware weight quantization (Lin et al., "AWQ: Activation-aware
/// Weight Quantization for LLM Compression and Acceleration", arXiv 2306.00978,
/// §3.2): scale input channel j of W by s_j = ā_j^α (ā = mean |x_j| on calibration
/// data, normalized by √(max·min) as the reference code does), quantize W·diag(s)
/// with round-to-nearest, and pick α ∈ {0, 1/grid, …} minimizing the layer's
/// output error ‖XWᵀ − X(Q(W·diag(s))·diag(1/s))ᵀ‖², computed from H = 2XᵀX/n.
/// Deploying it needs 1/s folded into the operation that produces x. Weights that
/// share one input (q/k/v after one norm) share one s, searched on their summed
/// output error, as the reference's `auto_scale_block` does for `prev_op → layers`.
public enum AWQ {
    public struct Result: Sendable {
        public var alpha: Double
        /// Per input channel.
        public var scales: [Float]
        /// Q(W·diag(s)) of each weight, in the packed layout.
        public var quantized: [QuantizedTensor]
        /// Relative output error of the effective weights Q(W·diag(s))·diag(1/s), summed over the weights.
        public var outputError: Double
        /// The effective weights.
        public var effective: [[Float]]
    }

    /// One weight that reads the shared input: its values [rows, columns] and scheme.
    public struct Weight: Sendable {
        public var name: String
        public var values: [Float]
        public var rows: Int
        public var scheme: QuantScheme
        public init(name: String, values: [Float], rows: Int, scheme: QuantScheme) {
            self.name = name; self.values = values; self.rows = rows; self.scheme = scheme
        }
    }

    public static func search(_ w: [Float], rows: Int, columns: Int, statistics: LayerStatistics, scheme: QuantScheme,
                              grid: Int = 20, name: String) throws -> Result {
        try search([Weight(name: name, values: w, rows: rows, scheme: scheme)], columns: columns, statistics: statistics, grid: grid)
    }

    /// The α (and s) minimizing Σ_w ‖X(W − Ŵ)ᵀ‖² / Σ_w ‖XWᵀ‖² over weights that all read the input `statistics` describe.
    public static func search(_ weights: [Weight], columns: Int, statistics: LayerStatistics, grid: Int = 20) throws -> Result {
        let error = OutputError(hessian: statistics.hessian, columns: columns)
        let a = statistics.meanAbs
        let denominator = weights.reduce(0.0) { $0 + error.energy($1.values, rows: $1.rows) }
        var best: Result?
        for k in 0..<grid {
            let alpha = Double(k) / Double(grid)
            let t = a.map { max(pow($0, alpha), 1e-4) }
            let norm = (t.max()! * t.min()!).squareRoot()
            let s = t.map { Float($0 / norm) }
            var quantized: [QuantizedTensor] = [], effective: [[Float]] = []
            var numerator = 0.0
            for w in weights {
                var scaled = w.values
                for r in 0..<w.rows { for j in 0..<columns { scaled[r * columns + j] *= s[j] } }
                let q = try RoundToNearest.quantize(scaled, rows: w.rows, columns: columns, scheme: w.scheme, name: w.name)
                var e = q.dequantized()
                for r in 0..<w.rows { for j in 0..<columns { e[r * columns + j] /= s[j] } }
                var diff = w.values
                for i in diff.indices { diff[i] -= e[i] }
                numerator += error.energy(diff, rows: w.rows)
                quantized.append(q); effective.append(e)
            }
            let relative = denominator > 0 ? numerator / denominator : 0
            if best == nil || relative < best!.outputError {
                best = Result(alpha: alpha, scales: s, quantized: quantized, outputError: relative, effective: effective)
            }
        }
        return best!
    }

    /// ‖X·Eᵀ‖²·(2/n) = Σ_rows e H eᵀ for rows e of E, with the product E·H on the GEMM kernel (H in f32, sums in f64).
    struct OutputError {
        let columns: Int
        let packed: [Float]
        init(hessian: [Double], columns: Int) {
            self.columns = columns
            let h = hessian.map { Float($0) }
            var p = [Float](repeating: 0, count: sk_gemm_packed_count(columns, columns))
            h.withUnsafeBufferPointer { hb in p.withUnsafeMutableBufferPointer { sk_gemm_pack(hb.baseAddress!, columns, columns, columns, $0.baseAddress!) } }
            packed = p
        }
        func energy(_ e: [Float], rows: Int) -> Double {
            let n = columns
            var y = [Float](repeating: 0, count: rows * n)
            e.withUnsafeBufferPointer { eb in
                packed.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { yb in
                        let io = UnsafeSendable((eb.baseAddress!, pb.baseAddress!, yb.baseAddress!))
                        Parallel.forEachChunk(count: rows, minChunk: max(6, 65_536 / max(1, n))) { r in
                            sk_gemm(io.pointer.0 + r.lowerBound * n, r.count, n, n, io.pointer.1, n, nil, io.pointer.2 + r.lowerBound * n, n, 0)
                        }
                    }
                }
            }
            var total = 0.0
            for r in 0..<rows {
                var row = 0.0
                for j in 0..<n { row += Double(e[r * n + j]) * Double(y[r * n + j]) }
                total += row
            }
            return total
        }
    }
}

/// Where an input-channel scale of linear layers can be folded without changing the function: dividing rows
/// `rows` of `producer` (the rows whose outputs are the consumers' input channels, in order; the entries of a
/// 1-D producer such as an RMSNorm weight) by s divides every consumer's input by s. A model family lists its
/// pairs (`ModelFamily.scaleFolds`).
public struct ScaleFold: Hashable, Sendable {
    /// The weights that read the producer's output (q, k and v after one norm).
    public var consumers: [String]
    public var producer: String
    public var rows: Range<Int>
    /// The producer's bias, when it has one: its entries `rows` are divided by s too (BERT's value → output).
    public var producerBias: String?
    public init(consumers: [String], producer: String, rows: Range<Int>, producerBias: String? = nil) {
        self.consumers = consumers; self.producer = producer; self.rows = rows; self.producerBias = producerBias
    }
    public init(consumer: String, producer: String, rows: Range<Int>, producerBias: String? = nil) {
        self.init(consumers: [consumer], producer: producer, rows: rows, producerBias: producerBias)
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
        let methods = try apply(to: overlay, decisions: decisions, folds: folds, statistics: statistics, only: only)
        return (overlay, methods)
    }

    /// `fold` into an existing overlay (a sequential run folds block by block); returns the method each weight
    /// of `decisions` that AWQ was asked for ends up with. A fold applies only when every one of its consumers is
    /// quantized with AWQ and has statistics: scaling one consumer of a shared input would change the others.
    public static func apply(to overlay: OverlaySource, decisions: [TensorDecision], folds: [ScaleFold],
                             statistics: [String: LayerStatistics], only: Set<String>? = nil) throws -> [String: String] {
        var methods: [String: String] = [:]
        let chosen = Dictionary(decisions.compactMap { d in d.scheme.map { (d.info.name, $0) } }.filter { only?.contains($0.0) ?? true },
                                uniquingKeysWith: { a, _ in a })
        var folded = Set<String>()
        for fold in folds {
            let schemes = fold.consumers.compactMap { chosen[$0] }
            guard schemes.count == fold.consumers.count, let stats = statistics[fold.consumers[0]],
                  let producer = overlay.info(fold.producer) else {
                for c in fold.consumers where chosen[c] != nil {
                    methods[c] = "rtn (awq: the other weights reading its input, \(fold.consumers.filter { chosen[$0] == nil }.joined(separator: ", ")), are not awq)"
                }
                continue
            }
            let infos = try fold.consumers.map { try overlay.requireInfo($0) }
            let columns = infos[0].shape.dims[1]
            let weights = try zip(fold.consumers, infos).enumerated().map { k, pair in
                Weight(name: pair.0, values: try overlay.floats(pair.0), rows: pair.1.shape.dims[0], scheme: schemes[k])
            }
            let r = try search(weights, columns: columns, statistics: stats)
            for w in weights {
                var scaled = w.values
                for i in 0..<w.rows { for j in 0..<columns { scaled[i * columns + j] *= r.scales[j] } }
                try overlay.replace(w.name, with: scaled)
            }
            var p = try overlay.floats(fold.producer)
            let width = producer.shape.rank == 2 ? producer.shape.dims[1] : 1
            for (k, row) in fold.rows.enumerated() { for j in 0..<width { p[row * width + j] /= r.scales[k] } }
            try overlay.replace(fold.producer, with: p)
            if let biasName = fold.producerBias {
                var b = try overlay.floats(biasName)
                for (k, row) in fold.rows.enumerated() { b[row] /= r.scales[k] }
                try overlay.replace(biasName, with: b)
            }
            for c in fold.consumers {
                folded.insert(c)
                methods[c] = String(format: "awq(alpha: %.2f, folded into %@)", r.alpha, fold.producer)
            }
        }
        for name in chosen.keys where !folded.contains(name) && methods[name] == nil {
            methods[name] = "rtn (awq: no producer to fold the scales into)"
        }
        return methods
    }
}
