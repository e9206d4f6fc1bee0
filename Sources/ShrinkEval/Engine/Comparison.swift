import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink compare`: the original and a compressed model on the same units of a task.
public enum Comparison {
    public struct Options: Sendable {
        /// A difference in exact accuracy smaller than this counts as "no loss" when the 95% interval of the
        /// paired difference lies inside ±margin.
        public var equivalenceMargin = 0.02
        /// Seed of the bootstrap resampling.
        public var seed: UInt64 = 0
        public init() {}
    }

    /// Evidence label of a result (see `Report.label`).
    public enum Evidence: String, Codable, Sendable { case validated, exploratory }

    public struct Label: Codable, Sendable {
        public var evidence: Evidence
        public var claim: String
        public var reason: String
    }

    /// State fidelity at one stage: cosine of the compressed model's traced state (a reasoner's carry, z_H and
    /// z_L together) with the original's, per unit, and the mean cosine of each part of it.
    public struct Fidelity: Codable, Sendable {
        public var step: Int
        /// Mean over units, with a bootstrap 95% interval.
        public var carry: Statistics.Interval
        /// Part name (zH, zL) → mean cosine over units; encoded as keys beside `step` and `carry`.
        public var parts: [String: Double]

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        public init(step: Int, carry: Statistics.Interval, parts: [String: Double]) { self.step = step; self.carry = carry; self.parts = parts }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(step, forKey: Key(stringValue: "step"))
            try c.encode(carry, forKey: Key(stringValue: "carry"))
            for (name, value) in parts { try c.encode(value, forKey: Key(stringValue: name)) }
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            step = try c.decode(Int.self, forKey: Key(stringValue: "step"))
            carry = try c.decode(Statistics.Interval.self, forKey: Key(stringValue: "carry"))
            parts = [:]
            for k in c.allKeys where k.stringValue != "step" && k.stringValue != "carry" { parts[k.stringValue] = try c.decode(Double.self, forKey: k) }
        }
    }

    public struct Side<Metrics: Codable & Sendable>: Codable, Sendable {
        public var model: String
        public var weightBytes: Int
        public var accuracy: Metrics
    }

    public struct Report<Task: EvaluationTask>: Codable, Sendable {
        public var data: String
        public var split: String?
        public var puzzles: Int
        public var depth: Task.Depth
        public var original: Side<Task.Metrics>
        public var compressed: Side<Task.Metrics>
        /// compressed − original, unit success (puzzle-exact): paired interval (bootstrap) and exact McNemar p.
        public var exactDifference: Statistics.Interval
        public var exactMcNemarP: Double
        public var discordant: [Int]
        /// compressed − original, graded score (cell accuracy): paired bootstrap interval and p.
        public var cellDifference: Statistics.Interval
        public var cellP: Double
        public var fidelity: [Fidelity]
        public var finalFidelity: Fidelity
        public var layers: [DiffReport.Entry]
        /// Units where either model's outputs were NaN or infinite (absent when none were).
        public var nonFinite: NonFiniteUnits?
        public var label: Label
    }

    public static func compare<Task: EvaluationTask>(original: Task.Model, compressed: Task.Model, on task: Task, options: Options = Options(),
                                                     progress: (any ProgressSink)? = nil) throws -> Report<Task> {
        try task.check(original)
        try task.check(compressed)
        guard original.hasSameArchitecture(as: compressed) else {
            throw ModelError.dataMismatch(model: compressed.location, data: original.location, detail: "the two models have different configs")
        }
        let depth = try task.depth(original)
        let stages = task.stages(depth), count = task.unitCount
        let parts = task.stateParts(original)
        let width = parts.reduce(0) { $0 + $1.width }
        var outcomesA = [[Task.Outcome]](repeating: [], count: stages), outcomesB = outcomesA
        // [stage][unit]: the whole state, then each part.
        var cosState = [[Double]](repeating: [], count: stages)
        var cosParts = [[[Double]]](repeating: [[Double]](repeating: [], count: parts.count), count: stages)
        try task.forEachBatch(progress: progress) { units in
            let a = try task.run(original, units: units, depth: depth, trace: true, linearInputs: nil)
            let b = try task.run(compressed, units: units, depth: depth, trace: true, linearInputs: nil)
            for s in 0..<stages {
                outcomesA[s] += a.outcomes[s]; outcomesB[s] += b.outcomes[s]
                cosState[s] += StateCosine.perUnit(a.states![s], b.states![s], width: width)
                var offset = 0
                for (k, part) in parts.enumerated() {
                    cosParts[s][k] += StateCosine.perUnit(a.states![s], b.states![s], width: width, part: offset..<(offset + part.width))
                    offset += part.width
                }
            }
        }

        let seed = options.seed
        let last = stages - 1
        let accA = task.metrics(outcomesA[last], seed: seed), accB = task.metrics(outcomesB[last], seed: seed)
        let exact = Paired.successes(outcomesA[last].map(\.success), outcomesB[last].map(\.success), seed: seed &+ 2)
        let cells = Statistics.pairedBootstrap(outcomesA[last].map(\.score), outcomesB[last].map(\.score), seed: seed &+ 3)
        let fidelity = (0..<stages).map { s in
            Fidelity(step: s + 1, carry: Statistics.bootstrapMean(cosState[s], seed: seed &+ 4),
                     parts: Dictionary(uniqueKeysWithValues: parts.enumerated().map { ($0.element.name, cosParts[s][$0.offset].reduce(0, +) / Double(count)) }))
        }
        let (locationA, locationB) = (ModelLocation(original.location), ModelLocation(compressed.location))
        let layers = try TensorDiff.compare(reference: locationA.openWeights(), other: locationB.openWeights()).tensors
        let nonFinite = NonFiniteUnits(units: (0..<count).filter { !outcomesA[last][$0].finite || !outcomesB[last][$0].finite }, of: count)
        return Report(
            data: task.dataPath, split: task.split, puzzles: count, depth: depth,
            original: Side(model: original.location, weightBytes: try locationA.openStored().totalBytes, accuracy: accA),
            compressed: Side(model: compressed.location, weightBytes: try locationB.openStored().totalBytes, accuracy: accB),
            exactDifference: exact.difference, exactMcNemarP: exact.p, discordant: [exact.onlyA, exact.onlyB],
            cellDifference: cells.difference, cellP: cells.pValue,
            fidelity: fidelity, finalFidelity: fidelity[last], layers: layers, nonFinite: nonFinite,
            label: label(exactDifference: exact.difference, p: exact.p, puzzles: count, split: task.split, margin: options.equivalenceMargin,
                         nonFinite: nonFinite.map { $0.description(unitName: task.unitName) }))
    }

    /// validated: held-out test split, ≥ 100 units, and either a significant paired difference (McNemar
    /// p < 0.05) or a 95% interval of the difference inside ±margin (equivalence). Anything less is exploratory,
    /// with the reason; so is any comparison in which a unit gave NaN or infinite outputs (`nonFinite` says which).
    public static func label(exactDifference d: Statistics.Interval, p: Double, puzzles: Int, split: String?, margin: Double,
                             nonFinite: String? = nil) -> Label {
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
        if let nonFinite {
            validated = false
            reason = nonFinite + "; " + reason
        } else if split != "test" {
            validated = false
            reason = "data split is '\(split ?? "unknown")', not the held-out test split; " + reason
        } else if puzzles < 100 {
            validated = false
            reason = "only \(puzzles) puzzles; " + reason
        }
        return Label(evidence: validated ? .validated : .exploratory, claim: claim, reason: reason)
    }
}
