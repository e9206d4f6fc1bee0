import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink compare A B --text FILE`: two language models on the same chunks, with llama-perplexity's
/// `--kl-divergence` statistics (tools/perplexity/perplexity.cpp, `kl_divergence()`), A as the base and B as Q,
/// plus paired statistics over chunks and the cosine of hidden states by layer.
///
/// One difference from llama.cpp: the base log-probabilities are exact, not stored as uint16 with a per-token scale
/// (llama-perplexity's `--kl-divergence-base` file), so the KLD carries no quantization of its own.
public enum LanguageComparison {
    public struct Options: Sendable {
        /// |ln PPL(B)/PPL(A)| inside this many nats (its 95% interval) counts as "unchanged".
        public var equivalenceMargin = 0.01
        /// Chunks needed before a result can be validated.
        public var minimumChunks = 20
        public var seed: UInt64 = 0
        public init() {}
    }

    /// A mean with llama-perplexity's uncertainty: √((E[x²] − E[x]²)/(count − 1)), 0 for fewer than 11 values.
    public struct Estimate: Codable, Sendable, Equatable {
        public var value: Double
        public var error: Double
    }

    /// Percentiles as llama-perplexity prints them (linear interpolation between order statistics; the median is
    /// the mean of the two middle values).
    public struct Distribution: Codable, Sendable, Equatable {
        public var max: Double, p99_9: Double, p99: Double, p95: Double, p90: Double, p75: Double
        public var median: Double
        public var p25: Double, p10: Double, p5: Double, p1: Double, p0_1: Double, min: Double

        init(_ values: [Float]) {
            // NaN has no rank: a distribution over it is not a number at any quantile (and `sorted` needs an order).
            guard values.allSatisfy({ !$0.isNaN }) else {
                max = .nan; p99_9 = .nan; p99 = .nan; p95 = .nan; p90 = .nan; p75 = .nan; median = .nan
                p25 = .nan; p10 = .nan; p5 = .nan; p1 = .nan; p0_1 = .nan; min = .nan
                return
            }
            let v = values.sorted()
            func at(_ f: Float) -> Double {
                if f <= 0 { return Double(v[0]) }
                if f >= 1 { return Double(v[v.count - 1]) }
                var p = f * Float(v.count - 1)
                let i = Int(p)
                p -= Float(i)
                return Double((1 - p) * v[i] + p * v[Swift.min(i + 1, v.count - 1)])
            }
            max = Double(v[v.count - 1]); min = Double(v[0])
            p99_9 = at(0.999); p99 = at(0.99); p95 = at(0.95); p90 = at(0.9); p75 = at(0.75)
            median = v.count % 2 == 0 ? Double(0.5 * (v[v.count / 2] + v[v.count / 2 - 1])) : Double(v[v.count / 2])
            p25 = at(0.25); p10 = at(0.1); p5 = at(0.05); p1 = at(0.01); p0_1 = at(0.001)
        }
    }

    public struct Side: Codable, Sendable {
        public var model: String
        public var weightBytes: Int
        public var perplexity: Estimate
    }

    public struct LayerCosine: Codable, Sendable {
        /// 0 = the embeddings, then after each block (the last after the final norm).
        public var state: Int
        /// Mean over chunks of the mean cosine over a chunk's positions, with a bootstrap 95% interval over chunks.
        public var cosine: Statistics.Interval
        public var minimumChunk: Double
    }

    public struct Report: Codable, Sendable {
        public var text: String
        public var split: String?
        public var context: Int
        public var chunks: Int
        public var tokens: Int
        public var original: Side
        public var compressed: Side
        /// Correlation of the two models' per-token NLL (llama's Cor(ln PPL(Q), ln PPL(base))).
        public var nllCorrelation: Double
        public var lnPerplexityRatio: Estimate
        public var perplexityRatio: Estimate
        public var perplexityDifference: Estimate
        public var kld: Estimate
        public var kldDistribution: Distribution
        public var deltaP: Estimate
        public var deltaPDistribution: Distribution
        public var deltaPRMS: Estimate
        public var sameTop: Estimate
        /// Paired bootstrap over chunks of mean NLL(B) − mean NLL(A), in nats.
        public var chunkNLLDifference: Statistics.Interval
        public var chunkNLLDifferenceP: Double
        public var hiddenStateCosine: [LayerCosine]
        public var layers: [DiffReport.Entry]
        /// Chunks where either model gave a NaN or infinite NLL or divergence (the means above then are not
        /// numbers either); absent when none did.
        public var nonFinite: NonFiniteUnits?
        public var label: Comparison.Label
        public var seconds: Double
    }

    /// Running sums of llama-perplexity's `kl_divergence_result`.
    struct Sums {
        var nll = 0.0, nll2 = 0.0, nllBase = 0.0, nllBase2 = 0.0, nllNllBase = 0.0
        var kld = 0.0, kld2 = 0.0, pDiff = 0.0, pDiff2 = 0.0, pDiff4 = 0.0
        var sameTop = 0, count = 0

        func mean(_ sum: Double, _ sum2: Double) -> Estimate {
            guard count > 0 else { return Estimate(value: 0, error: 0) }
            let f = sum / Double(count)
            let df = sum2 / Double(count) - f * f
            return Estimate(value: f, error: df > 0 && count > 10 ? (df / Double(count - 1)).squareRoot() : 0)
        }
        var covariance: Double {
            guard count >= 10 else { return 0 }
            let n = Double(count)
            return (nllNllBase / n - (nll / n) * (nllBase / n)) / (n - 1)
        }
    }

    public static func compare<M: CausalLanguageModel>(original a: M, compressed b: M, on task: LanguageTask<M>,
                                                       options: Options = Options(),
                                                       progress: (any ProgressSink)? = nil) throws -> Report {
        guard a.hasSameArchitecture(as: b) else {
            throw ModelError.badRequest(flag: "COMPRESSED", reason: "\(b.location) is not the same architecture as \(a.location)")
        }
        try task.check(a)
        try task.check(b)
        let t0 = Date()
        let vocab = a.vocabularySize, width = a.hiddenSize, states = a.hiddenStateCount, positions = task.context
        var sums = Sums()
        var kldValues: [Float] = [], pDiffValues: [Float] = []
        var chunkNLL = ([Double](), [Double]())
        var layerMeans = [[Double]](repeating: [], count: states)
        var hiddenA = [[Float]](repeating: [], count: states)
        var nonFiniteChunks: [Int] = [], nonFiniteTokens = 0
        try task.forEachBatch(progress: progress) { units in
            for i in units {
                let logitsA = try task.scoredLogits(a, chunk: i, hiddenStates: { hiddenA[$0] = Array($1) })
                var cos = [Double](repeating: 0, count: states)
                let logitsB = try task.scoredLogits(b, chunk: i, hiddenStates: { s, h in
                    cos[s] = meanRowCosine(hiddenA[s], h, rows: positions, width: width)
                })
                for s in 0..<states { layerMeans[s].append(cos[s]) }
                let targets = task.targets(i)
                var (na, nb) = (0.0, 0.0), bad = 0
                logitsA.withUnsafeBufferPointer { pa in
                    logitsB.withUnsafeBufferPointer { pb in
                        for (j, target) in targets.enumerated() {
                            let (ra, rb) = (pa.baseAddress! + j * vocab, pb.baseAddress! + j * vocab)
                            var (la, lb) = (sk_logsumexp_t(), sk_logsumexp_t())
                            sk_logsumexp_row(ra, vocab, &la)
                            sk_logsumexp_row(rb, vocab, &lb)
                            let nllBase = Double(la.max) + log(la.sum_exp) - Double(ra[Int(target)])
                            let nll = Double(lb.max) + log(lb.sum_exp) - Double(rb[Int(target)])
                            let kld = sk_kl_divergence_row(ra, &la, rb, &lb, vocab, -16)
                            let pDiff = exp(-nll) - exp(-nllBase)
                            sums.nll += nll; sums.nll2 += nll * nll
                            sums.nllBase += nllBase; sums.nllBase2 += nllBase * nllBase
                            sums.nllNllBase += nll * nllBase
                            sums.kld += kld; sums.kld2 += kld * kld
                            sums.pDiff += pDiff; sums.pDiff2 += pDiff * pDiff; sums.pDiff4 += pDiff * pDiff * pDiff * pDiff
                            if la.argmax == lb.argmax { sums.sameTop += 1 }
                            sums.count += 1
                            kldValues.append(Float(kld)); pDiffValues.append(Float(pDiff))
                            na += nllBase; nb += nll
                            if !(nll.isFinite && nllBase.isFinite && kld.isFinite) { bad += 1 }
                        }
                    }
                }
                chunkNLL.0.append(na / Double(targets.count)); chunkNLL.1.append(nb / Double(targets.count))
                if bad > 0 { nonFiniteChunks.append(i); nonFiniteTokens += bad }
            }
        }
        let q = sums.mean(sums.nll, sums.nll2), base = sums.mean(sums.nllBase, sums.nllBase2)
        let cov = sums.covariance
        let (pplQ, pplBase) = (exp(q.value), exp(base.value))
        let lnRatio = Estimate(value: q.value - base.value, error: (q.error * q.error + base.error * base.error - 2 * cov).squareRoot())
        let ratio = exp(lnRatio.value)
        let (pplQError, pplBaseError) = (pplQ * q.error, pplBase * base.error)
        let mse = sums.mean(sums.pDiff2, sums.pDiff4)
        let rms = mse.value.squareRoot()
        let top = Double(sums.sameTop) / Double(sums.count)
        let paired = Statistics.pairedBootstrap(chunkNLL.0, chunkNLL.1, seed: options.seed)
        let cosines = layerMeans.enumerated().map { s, v in
            LayerCosine(state: s, cosine: Statistics.bootstrapMean(v, seed: options.seed), minimumChunk: v.min() ?? 1)
        }
        let (locationA, locationB) = (ModelLocation(a.location), ModelLocation(b.location))
        let diff = try TensorDiff.compare(reference: locationA.openWeights(), other: locationB.openWeights())
        let nonFinite = NonFiniteUnits(units: nonFiniteChunks, of: task.unitCount, positions: nonFiniteTokens)
        return Report(
            text: task.dataPath, split: task.split, context: task.context, chunks: task.unitCount, tokens: sums.count,
            original: Side(model: a.location, weightBytes: try storedBytes(locationA), perplexity: Estimate(value: pplBase, error: pplBaseError)),
            compressed: Side(model: b.location, weightBytes: try storedBytes(locationB), perplexity: Estimate(value: pplQ, error: pplQError)),
            nllCorrelation: q.error > 0 && base.error > 0 ? cov / (q.error * base.error) : 1,
            lnPerplexityRatio: lnRatio,
            perplexityRatio: Estimate(value: ratio, error: ratio * lnRatio.error),
            perplexityDifference: Estimate(value: pplQ - pplBase,
                                           error: max(0, pplQError * pplQError + pplBaseError * pplBaseError - 2 * pplQ * pplBase * cov).squareRoot()),
            kld: sums.mean(sums.kld, sums.kld2), kldDistribution: Distribution(kldValues),
            deltaP: sums.mean(sums.pDiff, sums.pDiff2), deltaPDistribution: Distribution(pDiffValues),
            deltaPRMS: Estimate(value: rms, error: rms > 0 ? 0.5 / rms * mse.error : 0),
            sameTop: Estimate(value: top, error: sums.count > 1 ? (top * (1 - top) / Double(sums.count - 1)).squareRoot() : 0),
            chunkNLLDifference: paired.difference, chunkNLLDifferenceP: paired.pValue,
            hiddenStateCosine: cosines, layers: diff.tensors, nonFinite: nonFinite,
            label: label(paired.difference, p: paired.pValue, chunks: task.unitCount, split: task.split, options: options,
                         nonFinite: nonFinite.map { $0.description(unitName: "chunks") }),
            seconds: Date().timeIntervalSince(t0))
    }

    /// Bytes of the stored weights (packed blocks as stored, not dequantized).
    static func storedBytes(_ location: ModelLocation) throws -> Int {
        try location.openStored().totalStoredBytes
    }

    /// Mean over rows of the cosine of row r of `a` and `b` ([rows, width] each).
    static func meanRowCosine(_ a: [Float], _ b: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> Double {
        var total = 0.0
        for r in 0..<rows {
            var acc = CosineAccumulator()
            acc.add(a[(r * width)..<((r + 1) * width)], b[(r * width)..<((r + 1) * width)])
            total += acc.cosine
        }
        return total / Double(max(1, rows))
    }

    /// validated: the held-out split, at least `minimumChunks` chunks, and either a significant paired difference of
    /// chunk NLL (bootstrap p < 0.05) or its 95% interval inside ±margin nats (equivalence).
    /// Any NaN or infinite outcome (`nonFinite`) makes the result exploratory.
    public static func label(_ d: Statistics.Interval, p: Double, chunks: Int, split: String?, options: Options,
                             nonFinite: String? = nil) -> Comparison.Label {
        let pct = { (x: Double) in String(format: "%+.2f%%", 100 * (exp(x) - 1)) }
        let range = "PPL ratio \(pct(d.estimate)) [\(pct(d.lower)), \(pct(d.upper))] (paired over chunks)"
        var claim: String, validated: Bool, reason: String
        if p < 0.05 {
            claim = d.estimate > 0 ? "compression raises perplexity: \(range)" : "compression lowers perplexity: \(range)"
            validated = true
            reason = String(format: "paired bootstrap p = %.2g over %d chunks", p, chunks)
        } else if d.lower >= -options.equivalenceMargin && d.upper <= options.equivalenceMargin {
            claim = "perplexity unchanged within ±\(String(format: "%.2f", options.equivalenceMargin)) nats: \(range)"
            validated = true
            reason = String(format: "95%% interval inside the equivalence margin; p = %.2g", p)
        } else {
            claim = "inconclusive: \(range)"
            validated = false
            reason = String(format: "p = %.2g and the interval is wider than ±%.2f nats; evaluate more chunks", p, options.equivalenceMargin)
        }
        if let nonFinite {
            validated = false
            reason = nonFinite + "; " + reason
        } else if split != "test" {
            validated = false
            reason = "text split is '\(split ?? "unknown")', not held out (pass --split test for a text never used to calibrate or train); " + reason
        } else if chunks < options.minimumChunks {
            validated = false
            reason = "only \(chunks) chunks (at least \(options.minimumChunks) to validate); " + reason
        }
        return Comparison.Label(evidence: validated ? .validated : .exploratory, claim: claim, reason: reason)
    }
}
