import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink compare`: the original and a compressed model on the same puzzles.
public enum Comparison {
    public struct Options: Sendable {
        public var evaluation = ReasonerEvaluation.Options()
        /// A difference in puzzle-exact accuracy smaller than this counts as "no
        /// loss" when the 95% interval of the paired difference lies inside ±margin.
        public var equivalenceMargin = 0.02
        public init() {}
    }

    /// Evidence label of a result (see `Report.label`).
    public enum Evidence: String, Codable, Sendable { case validated, exploratory }

    public struct Label: Codable, Sendable {
        public var evidence: Evidence
        public var claim: String
        public var reason: String
    }

    /// Carry-trajectory fidelity at one supervision step: cosine of the compressed
    /// model's carry (z_H and z_L together) with the original's, per puzzle.
    public struct Fidelity: Codable, Sendable {
        public var step: Int
        /// Mean over puzzles, with a bootstrap 95% interval.
        public var carry: Statistics.Interval
        public var zH: Double
        public var zL: Double
    }

    public struct Side: Codable, Sendable {
        public var model: String
        public var weightBytes: Int
        public var accuracy: ReasonerEvaluation.Accuracy
    }

    public struct Report: Codable, Sendable {
        public var data: String
        public var split: String?
        public var puzzles: Int
        public var depth: ReasonerEvaluation.Depth
        public var original: Side
        public var compressed: Side
        /// compressed − original, puzzle-exact: paired interval (bootstrap) and exact McNemar p.
        public var exactDifference: Statistics.Interval
        public var exactMcNemarP: Double
        public var discordant: [Int]
        /// compressed − original, cell accuracy: paired bootstrap interval and p.
        public var cellDifference: Statistics.Interval
        public var cellP: Double
        public var fidelity: [Fidelity]
        public var finalFidelity: Fidelity
        public var layers: [DiffReport.Entry]
        public var label: Label
    }

    public static func compare(original: RecursiveReasoner, compressed: RecursiveReasoner, data: PuzzleDataset,
                               options: Options = Options(), progress: (any ProgressSink)? = nil) throws -> Report {
        try ReasonerEvaluation.checkCompatible(original, data)
        try ReasonerEvaluation.checkCompatible(compressed, data)
        guard original.config == compressed.config else {
            throw ModelError.dataMismatch(model: compressed.location, data: original.location, detail: "the two models have different configs")
        }
        let depth = try ReasonerEvaluation.resolvedDepth(original, options.evaluation)
        let count = min(data.count, options.evaluation.limit ?? data.count)
        let batch = max(1, options.evaluation.batchSize)
        let L = data.sequenceLength

        var predictionsA = [[Int32]](repeating: [Int32](repeating: 0, count: count * L), count: depth.steps)
        var predictionsB = predictionsA
        // cosines[step][puzzle]: carry, z_H, z_L
        var cosCarry = [[Double]](repeating: [Double](repeating: 0, count: count), count: depth.steps)
        var cosH = cosCarry, cosL = cosCarry
        var start = 0
        while start < count {
            progress?.update(done: start, total: count, item: "puzzles")
            let n = min(batch, count - start)
            let inputs = Array(data.inputs[(start * L)..<((start + n) * L)])
            let ids = Array(data.puzzleIdentifiers[start..<(start + n)])
            let a = try run(original, inputs, ids, n, depth, into: &predictionsA, offset: start)
            let b = try run(compressed, inputs, ids, n, depth, into: &predictionsB, offset: start)
            let per = a.perPuzzle
            for s in 0..<depth.steps {
                for i in 0..<n {
                    let r = (i * per)..<((i + 1) * per)
                    let h = cosineParts(a.zH[s][r], b.zH[s][r]), l = cosineParts(a.zL[s][r], b.zL[s][r])
                    cosH[s][start + i] = h.cosine
                    cosL[s][start + i] = l.cosine
                    let denom = ((h.aa + l.aa) * (h.bb + l.bb)).squareRoot()
                    cosCarry[s][start + i] = denom > 0 ? (h.ab + l.ab) / denom : 1
                }
            }
            start += n
        }
        progress?.finish()

        let seed = options.evaluation.seed
        let (accA, resultsA) = ReasonerEvaluation.score(predictionsA[depth.steps - 1], data, count: count, seed: seed)
        let (accB, resultsB) = ReasonerEvaluation.score(predictionsB[depth.steps - 1], data, count: count, seed: seed)
        let exactA = resultsA.map { $0.exact ? 1.0 : 0.0 }, exactB = resultsB.map { $0.exact ? 1.0 : 0.0 }
        let onlyA = zip(exactA, exactB).filter { $0 == 1 && $1 == 0 }.count, onlyB = zip(exactA, exactB).filter { $0 == 0 && $1 == 1 }.count
        let exactDiff = Statistics.pairedBootstrap(exactA, exactB, seed: seed &+ 2).difference
        let cells = Statistics.pairedBootstrap(resultsA.map { Double($0.correctCells) / Double(max(1, $0.cells)) },
                                               resultsB.map { Double($0.correctCells) / Double(max(1, $0.cells)) }, seed: seed &+ 3)
        let fidelity = (0..<depth.steps).map { s in
            Fidelity(step: s + 1, carry: Statistics.bootstrapMean(cosCarry[s], seed: seed &+ 4),
                     zH: cosH[s].reduce(0, +) / Double(count), zL: cosL[s].reduce(0, +) / Double(count))
        }
        let layers = try weightDifferences(original, compressed)
        let p = Statistics.mcNemarExact(onlyFirstCorrect: onlyA, onlySecondCorrect: onlyB)
        let split = data.metadata["split"]
        return Report(
            data: data.path, split: split, puzzles: count,
            depth: .init(steps: depth.steps, hCycles: depth.hCycles, lCycles: depth.lCycles),
            original: Side(model: original.location, weightBytes: try weightBytes(original.location), accuracy: accA),
            compressed: Side(model: compressed.location, weightBytes: try weightBytes(compressed.location), accuracy: accB),
            exactDifference: exactDiff, exactMcNemarP: p, discordant: [onlyA, onlyB],
            cellDifference: cells.difference, cellP: cells.pValue,
            fidelity: fidelity, finalFidelity: fidelity[depth.steps - 1], layers: layers,
            label: label(exactDifference: exactDiff, p: p, puzzles: count, split: split, margin: options.equivalenceMargin))
    }

    /// validated: held-out test split, ≥ 100 puzzles, and either a significant
    /// paired difference (McNemar p < 0.05) or a 95% interval of the difference
    /// inside ±margin (equivalence). Anything less is exploratory, with the reason.
    public static func label(exactDifference d: Statistics.Interval, p: Double, puzzles: Int, split: String?, margin: Double) -> Label {
        let pts = { (x: Double) in String(format: "%+.1f", 100 * x) }
        let range = "Δexact \(pts(d.estimate)) points [\(pts(d.lower)), \(pts(d.upper))]"
        var claim: String, validated: Bool, reason: String
        if p < 0.05 {
            claim = d.estimate < 0 ? "compression lowers puzzle-exact accuracy: \(range)" : "compression raises puzzle-exact accuracy: \(range)"
            validated = true
            reason = String(format: "exact McNemar p = %.2g", p)
        } else if d.lower >= -margin && d.upper <= margin {
            claim = "puzzle-exact accuracy unchanged within ±\(pts(margin).dropFirst()) points: \(range)"
            validated = true
            reason = String(format: "95%% interval inside the equivalence margin; McNemar p = %.2g", p)
        } else {
            claim = "inconclusive: \(range)"
            validated = false
            reason = String(format: "McNemar p = %.2g and the interval is wider than ±%.1f points; evaluate more puzzles", p, 100 * margin)
        }
        if split != "test" {
            validated = false
            reason = "data split is '\(split ?? "unknown")', not the held-out test split; " + reason
        } else if puzzles < 100 {
            validated = false
            reason = "only \(puzzles) puzzles; " + reason
        }
        return Label(evidence: validated ? .validated : .exploratory, claim: claim, reason: reason)
    }

    struct Run {
        var zH: [[Float]]  // per step, [n, P, D]
        var zL: [[Float]]
        var perPuzzle: Int
    }

    /// Keeps the carry at the end of every step.
    final class StepCarries: CarryObserver {
        var zH: [[Float]] = [], zL: [[Float]] = []
        func observe(_ point: CarryPoint, zH: UnsafeBufferPointer<Float>?, zL: UnsafeBufferPointer<Float>?) {
            if case .stepEnd = point { self.zH.append(Array(zH!)); self.zL.append(Array(zL!)) }
        }
    }

    static func run(_ m: RecursiveReasoner, _ inputs: [Int32], _ ids: [Int32], _ n: Int, _ depth: RecursionDepth,
                    into predictions: inout [[Int32]], offset: Int) throws -> Run {
        let carries = StepCarries()
        let L = m.config.seqLen, V = m.config.vocabSize
        try m.run(inputs: inputs, puzzleIdentifiers: ids, batch: n, depth: depth, observer: carries) { s, out in
            for cell in 0..<(n * L) {
                var best = 0
                for v in 1..<V where out.logits[cell * V + v] > out.logits[cell * V + best] { best = v }
                predictions[s][offset * L + cell] = Int32(best)
            }
        }
        return Run(zH: carries.zH, zL: carries.zL, perPuzzle: m.config.positions * m.config.hiddenSize)
    }

    static func cosineParts(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> (cosine: Double, ab: Double, aa: Double, bb: Double) {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
        let d = (aa * bb).squareRoot()
        return (d > 0 ? ab / d : (aa == bb ? 1 : 0), ab, aa, bb)
    }

    /// Per-tensor weight error of the compressed checkpoint against the original.
    static func weightDifferences(_ a: RecursiveReasoner, _ b: RecursiveReasoner) throws -> [DiffReport.Entry] {
        try TensorDiff.compare(reference: openWeights(a.location), other: openWeights(b.location)).tensors
    }

    static func openWeights(_ dir: String) throws -> any TensorSource {
        CompressedCheckpoint.isCompressed(dir) ? try CompressedCheckpoint(directory: dir) : try Checkpoint.open(dir)
    }

    /// Bytes of the stored weights (packed, with scales and zero points, for a compressed model).
    static func weightBytes(_ dir: String) throws -> Int {
        let s = CompressedCheckpoint.isCompressed(dir) ? try CompressedCheckpoint(directory: dir).stored : try Checkpoint.open(dir)
        return s.totalBytes
    }
}
