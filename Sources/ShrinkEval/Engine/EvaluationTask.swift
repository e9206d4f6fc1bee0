import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// One unit's result (a puzzle, a text window, an image) at one stage of a run.
public protocol TaskOutcome: Codable, Sendable {
    /// The unit is solved (a puzzle exactly): what the paired exact test (McNemar) compares.
    var success: Bool { get }
    /// A graded score in [0, 1] (the fraction of cells right): what the paired bootstrap compares.
    var score: Double { get }
    /// The model's outputs for the unit were all finite numbers. A unit that produced NaN or ±Inf counts as not
    /// solved, and the task's metrics report how many there were (`NonFiniteUnits`).
    var finite: Bool { get }
}

/// Units whose outputs held NaN or ±Inf, reported beside the metrics instead of averaged into them.
public struct NonFiniteUnits: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Their indices (ascending).
    public var units: [Int]
    /// Out of this many.
    public var of: Int
    /// Scored positions (tokens, cells) with a non-finite output, where the task counts them.
    public var positions: Int?

    /// nil when every unit was finite.
    public init?(units: [Int], of total: Int, positions: Int? = nil) {
        guard !units.isEmpty else { return nil }
        self.units = units; self.of = total; self.positions = positions
    }

    public init?<O: TaskOutcome>(_ outcomes: [O], index: (O) -> Int) {
        self.init(units: outcomes.filter { !$0.finite }.map(index).sorted(), of: outcomes.count)
    }

    /// "3 of 500 puzzles (12, 40, 77) gave NaN or infinite outputs".
    public func description(unitName: String) -> String {
        let shown = units.prefix(8).map(String.init).joined(separator: ", ") + (units.count > 8 ? ", …" : "")
        return "\(units.count) of \(of) \(unitName) (\(shown)) gave NaN or infinite outputs"
            + (positions.map { " at \($0) scored positions" } ?? "")
    }
    public var description: String { description(unitName: "units") }
}

/// What one model produced on a batch of units: per stage, each unit's outcome and, when traced, its internal
/// state (the state `StateCosine` compares between two models), flattened [units, stateWidth].
public struct StageRecords<Outcome: TaskOutcome> {
    public var outcomes: [[Outcome]]
    public var states: [[Float]]?
    /// Per stage, each unit's output scores flattened [units, outputWidth] (logits), when traced.
    public var outputs: [[Float]]?
    public init(outcomes: [[Outcome]], states: [[Float]]?, outputs: [[Float]]?) {
        self.outcomes = outcomes; self.states = states; self.outputs = outputs
    }
}

/// A task turns a model and a dataset into per-unit outcomes at every stage of a run (supervision steps for a
/// reasoner), and, for two models, per-unit state divergences. `Evaluation`, `Comparison`, `Sweep`, `Study` and
/// the planner's sensitivities are generic over it; a new task is one conforming file.
public protocol EvaluationTask: Sendable {
    associatedtype Model: CompressibleModel
    associatedtype Outcome: TaskOutcome
    /// Summary statistics of many outcomes (accuracies with intervals).
    associatedtype Metrics: Codable & Sendable
    /// How deep the task runs the model (a reasoner's steps and cycles), as reports show it.
    associatedtype Depth: Codable & Sendable & Equatable

    var dataPath: String { get }
    /// The dataset's split (validated results need the held-out "test" split).
    var split: String? { get }
    /// The task's name in reports ("sudoku", "maze").
    var name: String { get }
    /// What a unit is called in progress and reports ("puzzles").
    var unitName: String { get }
    /// Units to evaluate (after any limit).
    var unitCount: Int { get }
    /// Units per forward batch.
    var batchSize: Int { get }
    /// Width of one unit's traced state, and the names and widths of its parts (z_H, z_L).
    func stateParts(_ model: Model) -> [(name: String, width: Int)]

    /// Throws when the data do not fit the model.
    func check(_ model: Model) throws
    func depth(_ model: Model) throws -> Depth
    /// Stages one run produces at `depth`.
    func stages(_ depth: Depth) -> Int
    /// Runs units `range` through the model at `depth`, tracing states and outputs when asked, showing every
    /// linear layer's input to `linearInputs` (calibration).
    func run(_ model: Model, units range: Range<Int>, depth: Depth, trace: Bool,
             linearInputs: LinearInputObserver?) throws -> StageRecords<Outcome>
    func metrics(_ outcomes: [Outcome], seed: UInt64) -> Metrics
    /// FLOPs per unit of a run of `stages` stages at `depth`.
    func flopsPerUnit(_ model: Model, depth: Depth, stages: Int) -> Int

    /// The task on the first `limit` units of a calibration set (a training split).
    init(calibrationData path: String, limit: Int, batchSize: Int) throws
    /// The depth the model was trained to run (calibration sees every stage of it).
    func fullDepth(_ model: Model) -> Depth
}

/// The argmax of every row of [rows, width] scores (first maximum on ties).
public enum Argmax {
    public static func rows(_ scores: UnsafeBufferPointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Int32>) {
        for r in 0..<rows {
            var best = 0
            var bestValue = scores[r * width]
            for v in 1..<width where scores[r * width + v] > bestValue { best = v; bestValue = scores[r * width + v] }
            out[r] = Int32(best)
        }
    }
}

/// Cosine similarity of two models' states or outputs, unit by unit, accumulated in double precision in order.
public struct CosineAccumulator {
    public private(set) var ab = 0.0, aa = 0.0, bb = 0.0
    public init() {}
    public mutating func add<A: Sequence<Float>, B: Sequence<Float>>(_ a: A, _ b: B) {
        for (x, y) in zip(a, b) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
    }
    /// 1 for two zero vectors, 0 for one; NaN when either holds a NaN or infinite value.
    public var cosine: Double {
        guard ab.isFinite, aa.isFinite, bb.isFinite else { return .nan }
        let d = (aa * bb).squareRoot()
        return d > 0 ? ab / d : (aa == bb ? 1 : 0)
    }
}

public enum StateCosine {
    /// Per unit, the cosine of its `width` values in `a` and `b` ([units, width] each).
    public static func perUnit(_ a: [Float], _ b: [Float], width: Int) -> [Double] {
        let n = width > 0 ? min(a.count, b.count) / width : 0
        return (0..<n).map { i in
            var acc = CosineAccumulator()
            acc.add(a[(i * width)..<((i + 1) * width)], b[(i * width)..<((i + 1) * width)])
            return acc.cosine
        }
    }

    /// Per unit, the cosine of the part at `offset..<offset+part` of each `width`-wide unit.
    public static func perUnit(_ a: [Float], _ b: [Float], width: Int, part: Range<Int>) -> [Double] {
        let n = width > 0 ? min(a.count, b.count) / width : 0
        return (0..<n).map { i in
            var acc = CosineAccumulator()
            let r = (i * width + part.lowerBound)..<(i * width + part.upperBound)
            acc.add(a[r], b[r])
            return acc.cosine
        }
    }

    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 1 : values.reduce(0, +) / Double(values.count)
    }
}

/// Paired statistics of two models' outcomes on the same units.
public enum Paired {
    /// Paired bootstrap interval of mean(b − a) over the units' successes and the exact McNemar p.
    public static func successes(_ a: [Bool], _ b: [Bool], seed: UInt64) -> (difference: Statistics.Interval, p: Double, onlyA: Int, onlyB: Int) {
        let x = a.map { $0 ? 1.0 : 0.0 }, y = b.map { $0 ? 1.0 : 0.0 }
        let onlyA = zip(a, b).filter { $0 && !$1 }.count, onlyB = zip(a, b).filter { !$0 && $1 }.count
        return (Statistics.pairedBootstrap(x, y, seed: seed).difference,
                Statistics.mcNemarExact(onlyFirstCorrect: onlyA, onlySecondCorrect: onlyB), onlyA, onlyB)
    }
}

extension EvaluationTask {
    /// Calls `body` with consecutive ranges of at most `batchSize` units covering all `unitCount`, showing
    /// progress as `item` when a sink is given.
    public func forEachBatch(progress: (any ProgressSink)? = nil, item: String? = nil, _ body: (Range<Int>) throws -> Void) rethrows {
        var start = 0
        while start < unitCount {
            progress?.update(done: start, total: unitCount, item: item ?? unitName)
            let end = min(start + batchSize, unitCount)
            try body(start..<end)
            start = end
        }
        progress?.finish()
    }

    /// Every unit's outcome at every stage, in batches.
    public func outcomes(of model: Model, depth: Depth, progress: (any ProgressSink)? = nil) throws -> [[Outcome]] {
        var perStage = [[Outcome]](repeating: [], count: stages(depth))
        try forEachBatch(progress: progress) { units in
            let r = try run(model, units: units, depth: depth, trace: false, linearInputs: nil)
            for s in perStage.indices { perStage[s] += r.outcomes[s] }
        }
        return perStage
    }
}

extension EvaluationTask {
    /// Layer input statistics of `model` on the first `count` units of a calibration set, which must not be a
    /// test split and must fit the model: the statistics GPTQ and AWQ use.
    public static func calibrationStatistics(_ model: Model, calibration path: String, count: Int, batchSize: Int = 128,
                                             progress: (any ProgressSink)? = nil) throws -> ([String: LayerStatistics], Recipe.Calibration) {
        guard count >= 1 else { throw ModelError.badRequest(flag: "--calib-count", reason: "\(count) must be at least 1") }
        let task = try Self(calibrationData: path, limit: count, batchSize: batchSize)
        return (try task.layerStatistics(of: model, progress: progress), .init(data: path, split: task.split ?? "unknown", puzzles: task.unitCount))
    }

    /// Layer input statistics of `model` on this task's units, which must not be a test split and must fit it.
    public func layerStatistics(of model: Model, progress: (any ProgressSink)? = nil) throws -> [String: LayerStatistics] {
        if split == "test" { throw CalibrationError.testSplit(path: dataPath) }
        try check(model)
        let collector = LayerStatisticsCollector(unitName: unitName.hasSuffix("s") ? String(unitName.dropLast()) : unitName, source: dataPath)
        try forEachBatch(progress: progress, item: "calibration " + unitName) { units in
            collector.beginUnits(units)
            _ = try run(model, units: units, depth: fullDepth(model), trace: false, linearInputs: collector)
            try collector.check()
        }
        return collector.layers
    }
}

/// The tasks Shrink knows. Calibration picks the one whose model type the model is.
public enum TaskRegistry {
    public static let tasks: [any EvaluationTask.Type] = [PuzzleTask.self]

    /// Layer input statistics of any model on calibration data, captured by the task that runs its family.
    public static func calibrationStatistics(_ model: any CompressibleModel, calibration path: String, count: Int,
                                             progress: (any ProgressSink)? = nil) throws -> ([String: LayerStatistics], Recipe.Calibration) {
        func capture<T: EvaluationTask>(_ task: T.Type) throws -> ([String: LayerStatistics], Recipe.Calibration)? {
            guard let m = model as? T.Model else { return nil }
            return try T.calibrationStatistics(m, calibration: path, count: count, progress: progress)
        }
        for task in tasks { if let r = try capture(task) { return r } }
        if let vae = model as? ConvVAE {
            return try ImageCalibration.statistics(vae, calibration: path, count: count, progress: progress)
        }
        if let encoder = model as? BertEncoder {
            return try SentenceCalibration.statistics(encoder, calibration: path, count: count, progress: progress)
        }
        if let decoder = model as? any CausalLanguageModel {
            return try TextCalibration.statistics(decoder, calibration: path, count: count, progress: progress)
        }
        throw ModelError.wrongFamily(file: model.location, family: type(of: model.familyDescription).familyName,
                                     needed: "a family with a calibration task (" + tasks.map { "\($0)" }.joined(separator: ", ") + ")")
    }
}
