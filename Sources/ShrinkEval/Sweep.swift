import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink sweep`: a grid of weight-compression recipes × recursion depth on one
/// model, each evaluated against the FP32 model on the same puzzles. The FP32 run
/// (predictions and carries) is done once and reused; every supervision-step
/// count 1…K comes from the same run, since step k of a K-step run is a k-step run.
public enum Sweep {
    /// A weight-quantization method of the grid.
    public enum Method: String, Codable, Sendable, CaseIterable {
        case rtn, percentile, mse, awq, gptq
        public var needsCalibration: Bool { self == .awq || self == .gptq }
    }

    public struct Options: Sendable {
        public var bits = [8, 6, 4, 3, 2]
        public var methods: [Method] = [.rtn, .mse]
        public var granularities: [Granularity] = [.tensor, .channel, .group(32), .group(64), .group(128)]
        public var symmetric = true
        public var quantizeEmbeddings = false
        /// Puzzles evaluated per configuration.
        public var limit: Int?
        /// Puzzles whose carries are kept for fidelity (memory: puzzles × steps × P × D × 8 bytes).
        public var fidelityPuzzles = 500
        public var batchSize = 256
        public var seed: UInt64 = 0
        /// Outer recursion cycles (H_cycles) to evaluate besides the trained count,
        /// at every supervision step: FP32 and the recipes of `cycleBits`.
        public var extraHCycles: [Int] = []
        public var cycleBits: [Int] = [8]
        public init() {}
    }

    public struct Row: Codable, Sendable {
        public var recipe: String
        public var bits: Int?
        public var method: String
        public var granularity: String
        public var steps: Int
        public var hCycles: Int
        public var lCycles: Int
        public var weightBytes: Int
        public var flopsPerPuzzle: Int
        public var exact: Statistics.Interval
        public var cell: Statistics.Interval
        /// Mean carry cosine to the FP32 model at the same depth, at this row's last step (1 for FP32).
        public var fidelity: Double
        public var exactVersusFP32: Statistics.Interval
        public var mcNemarP: Double
        public var label: Comparison.Label
        /// Paired against the FP32 model at full depth (all supervision steps):
        /// the question "does this recipe at `steps` match the full model?".
        public var exactVersusFP32FullDepth: Statistics.Interval
        public var mcNemarPFullDepth: Double
        public var labelVersusFullDepth: Comparison.Label

        // "FP32" spelled "Fp32" so that the snake_case JSON (exact_versus_fp32) decodes back.
        enum CodingKeys: String, CodingKey {
            case recipe, bits, method, granularity, steps, hCycles, lCycles, weightBytes, flopsPerPuzzle, exact, cell, fidelity
            case exactVersusFP32 = "exactVersusFp32", mcNemarP, label
            case exactVersusFP32FullDepth = "exactVersusFp32FullDepth", mcNemarPFullDepth, labelVersusFullDepth
        }
    }

    public struct Report: Codable, Sendable {
        public var model: String
        /// The trained outer-cycle count (rows with other `hCycles` come from `extraHCycles`).
        public var trainedHCycles: Int
        public var architecture: String
        public var data: String
        public var puzzles: Int
        public var rows: [Row]
        /// Spearman rank correlation of fidelity with puzzle-exact accuracy across the
        /// quantized rows, with a bootstrap 95% interval over rows.
        public var fidelityExactSpearman: Statistics.Interval?
        public var seconds: Double
    }

    struct Outcome {
        var predictions: [[Int32]]      // per step, [count, L]
        var carries: [[Float]]          // per step, [fidelityPuzzles, 2, P, D] (z_H then z_L per puzzle)
    }

    /// - Parameter calibration: layer statistics from training puzzles (needed by awq and gptq rows).
    public static func run(model: RecursiveReasoner, data: PuzzleDataset, options: Options,
                           calibration: [String: LayerStatistics]? = nil,
                           progress: (any ProgressSink)? = nil) throws -> Report {
        try ReasonerEvaluation.checkCompatible(model, data)
        let t0 = Date()
        let count = min(data.count, options.limit ?? data.count)
        let c = model.config
        let depth = model.fullDepth
        let base = try Comparison.openWeights(model.location)
        let fp32Bytes = base.totalBytes

        var recipes: [(name: String, options: QuantizeOptions?)] = [("fp32", nil)]
        for bits in options.bits {
            for method in options.methods where !method.needsCalibration || calibration != nil {
                for granularity in options.granularities {
                    var o = QuantizeOptions()
                    o.bits = bits; o.granularity = granularity; o.symmetric = options.symmetric
                    o.quantizeEmbeddings = options.quantizeEmbeddings
                    switch method {
                    case .rtn: break
                    case .percentile: o.clipping = .percentile(0.999)
                    case .mse: o.clipping = RangeClipping.defaultMSE
                    case .awq: o.awq = true
                    case .gptq: o.gptq = GPTQ.Options()
                    }
                    guard (try? QuantizeJob.plan(base, options: o)) != nil else { continue }  // group must divide every row
                    recipes.append(("int\(bits) \(granularity) \(o.methodName)", o))
                }
            }
        }

        // The trained depth first, then the other outer-cycle counts (same steps and L_cycles).
        let depths = [depth] + options.extraHCycles.filter { $0 != depth.hCycles && $0 >= 1 }
            .map { RecursionDepth(steps: depth.steps, hCycles: $0, lCycles: depth.lCycles) }
        var rows: [Row] = []
        var references = [Outcome?](repeating: nil, count: depths.count)
        for (i, recipe) in recipes.enumerated() {
            progress?.update(done: i, total: recipes.count, item: recipe.name)
            var candidate = model
            var bytes = fp32Bytes
            if let o = recipe.options {
                // AWQ rows quantize the folded (function-preserving) weights.
                let start: any TensorSource = o.awq ? try CalibratedQuantization.applyAWQ(base, model: model, statistics: calibration!, options: o).0 : base
                let overlay = OverlaySource(base: start)
                bytes = 0
                for d in try QuantizeJob.plan(start, options: o) {
                    guard let scheme = d.scheme else { bytes += d.info.byteCount; continue }
                    let w = try start.floats(d.info.name), rows = d.info.shape.dims[0], columns = d.info.shape.dims[1]
                    let q: QuantizedTensor
                    if let g = o.gptq, let stats = calibration?[d.info.name] {
                        q = try GPTQ.quantize(w, rows: rows, columns: columns, hessian: stats.hessian, scheme: scheme, options: g, name: d.info.name)
                    } else {
                        q = try RoundToNearest.quantize(w, rows: rows, columns: columns, scheme: scheme, clipping: o.clipping, name: d.info.name)
                    }
                    try overlay.replace(d.info.name, with: q.dequantized())
                    bytes += q.layout.storedBytes
                }
                candidate = try RecursiveReasoner(config: c, weights: overlay, location: model.location + " [\(recipe.name)]")
            }
            for (di, d) in depths.enumerated() where di == 0 || recipe.options.map({ options.cycleBits.contains($0.bits) }) ?? true {
                let outcome = try evaluate(candidate, data, count: count, depth: d, options: options)
                if references[di] == nil { references[di] = outcome }
                let reference = references[di]!
                // "Full depth" is always the FP32 model at its trained depth and every step.
                let (_, fullResults) = ReasonerEvaluation.score(references[0]!.predictions[depth.steps - 1], data, count: count, seed: options.seed)
                let full = fullResults.map { $0.exact ? 1.0 : 0.0 }
                for s in 0..<d.steps {
                    let (acc, results) = ReasonerEvaluation.score(outcome.predictions[s], data, count: count, seed: options.seed)
                    let (_, refResults) = ReasonerEvaluation.score(reference.predictions[s], data, count: count, seed: options.seed)
                    let exact = results.map { $0.exact ? 1.0 : 0.0 }
                    let (diff, p) = paired(refResults.map { $0.exact ? 1.0 : 0.0 }, exact, seed: options.seed)
                    let (diffFull, pFull) = paired(full, exact, seed: options.seed)
                    let o = recipe.options
                    rows.append(Row(
                        recipe: recipe.name, bits: o?.bits, method: o?.methodName ?? "none",
                        granularity: o.map { "\($0.granularity)" } ?? "fp32",
                        steps: s + 1, hCycles: d.hCycles, lCycles: d.lCycles, weightBytes: bytes,
                        flopsPerPuzzle: ReasonerCost.puzzleFLOPs(c, depth: RecursionDepth(steps: s + 1, hCycles: d.hCycles, lCycles: d.lCycles)),
                        exact: acc.exact, cell: acc.cell,
                        fidelity: meanCosine(outcome.carries[s], reference.carries[s], per: 2 * c.positions * c.hiddenSize),
                        exactVersusFP32: diff, mcNemarP: p,
                        label: Comparison.label(exactDifference: diff, p: p, puzzles: count, split: data.metadata["split"], margin: 0.02),
                        exactVersusFP32FullDepth: diffFull, mcNemarPFullDepth: pFull,
                        labelVersusFullDepth: Comparison.label(exactDifference: diffFull, p: pFull, puzzles: count, split: data.metadata["split"], margin: 0.02)))
                }
            }
        }
        progress?.finish()
        let quantized = rows.filter { $0.bits != nil && $0.steps == depth.steps && $0.hCycles == depth.hCycles }
        return Report(model: model.location, trainedHCycles: depth.hCycles, architecture: c.arch == .hrm ? "hrm" : (c.mlpT ? "trm-mlp" : "trm-attention"),
                      data: data.path, puzzles: count, rows: rows,
                      fidelityExactSpearman: quantized.count >= 3
                          ? spearmanBootstrap(quantized.map(\.fidelity), quantized.map(\.exact.estimate), seed: options.seed) : nil,
                      seconds: Date().timeIntervalSince(t0))
    }

    /// Paired bootstrap interval of mean(b − a) and the exact McNemar p of per-puzzle 0/1 outcomes.
    static func paired(_ a: [Double], _ b: [Double], seed: UInt64) -> (Statistics.Interval, Double) {
        let diff = Statistics.pairedBootstrap(a, b, seed: seed &+ 5).difference
        let p = Statistics.mcNemarExact(onlyFirstCorrect: zip(a, b).filter { $0 == 1 && $1 == 0 }.count,
                                        onlySecondCorrect: zip(a, b).filter { $0 == 0 && $1 == 1 }.count)
        return (diff, p)
    }

    final class Collector: CarryObserver {
        var zH: [[Float]] = [], zL: [[Float]] = []
        func observe(_ point: CarryPoint, zH: UnsafeBufferPointer<Float>?, zL: UnsafeBufferPointer<Float>?) {
            if case .stepEnd = point { self.zH.append(Array(zH!)); self.zL.append(Array(zL!)) }
        }
    }

    static func evaluate(_ m: RecursiveReasoner, _ data: PuzzleDataset, count: Int, depth: RecursionDepth, options: Options) throws -> Outcome {
        let L = data.sequenceLength, V = m.config.vocabSize, per = m.config.positions * m.config.hiddenSize
        let keep = min(count, options.fidelityPuzzles)
        var predictions = [[Int32]](repeating: [Int32](repeating: 0, count: count * L), count: depth.steps)
        var carries = [[Float]](repeating: [], count: depth.steps)
        var start = 0
        while start < count {
            let n = min(options.batchSize, count - start)
            let collector = start < keep ? Collector() : nil
            try m.run(inputs: Array(data.inputs[(start * L)..<((start + n) * L)]), puzzleIdentifiers: Array(data.puzzleIdentifiers[start..<(start + n)]),
                      batch: n, depth: depth, observer: collector) { s, out in
                for cell in 0..<(n * L) {
                    var best = 0
                    for v in 1..<V where out.logits[cell * V + v] > out.logits[cell * V + best] { best = v }
                    predictions[s][start * L + cell] = Int32(best)
                }
            }
            if let collector {
                for s in 0..<depth.steps {
                    for i in 0..<min(n, keep - start) {
                        carries[s] += collector.zH[s][(i * per)..<((i + 1) * per)]
                        carries[s] += collector.zL[s][(i * per)..<((i + 1) * per)]
                    }
                }
            }
            start += n
        }
        return Outcome(predictions: predictions, carries: carries)
    }

    static func meanCosine(_ a: [Float], _ b: [Float], per: Int) -> Double {
        let n = a.count / per
        guard n > 0 else { return 1 }
        var total = 0.0
        for i in 0..<n { total += Comparison.cosineParts(a[(i * per)..<((i + 1) * per)], b[(i * per)..<((i + 1) * per)]).cosine }
        return total / Double(n)
    }

    /// Spearman's ρ (Pearson correlation of average ranks).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        func ranks(_ v: [Double]) -> [Double] {
            let order = v.indices.sorted { v[$0] < v[$1] }
            var r = [Double](repeating: 0, count: v.count)
            var i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
                for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
                i = j + 1
            }
            return r
        }
        let rx = ranks(x), ry = ranks(y)
        let mx = rx.reduce(0, +) / Double(rx.count), my = ry.reduce(0, +) / Double(ry.count)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(rx, ry) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }

    static func spearmanBootstrap(_ x: [Double], _ y: [Double], seed: UInt64, resamples: Int = 2000) -> Statistics.Interval {
        var rng = SeededGenerator(seed: seed &+ 7)
        var values: [Double] = []
        for _ in 0..<resamples {
            let idx = (0..<x.count).map { _ in rng.below(x.count) }
            values.append(spearman(idx.map { x[$0] }, idx.map { y[$0] }))
        }
        values.sort()
        return Statistics.Interval(estimate: spearman(x, y), lower: values[Int(0.025 * Double(resamples))],
                                   upper: values[Int(0.975 * Double(resamples)) - 1], level: 0.95)
    }
}
