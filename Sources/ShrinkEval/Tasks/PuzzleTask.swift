import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// A recursive reasoner on a puzzle set (Sudoku, mazes): a unit is a puzzle, a stage a supervision step. A puzzle
/// is solved when every labelled cell is right; its score is the fraction of right cells. The traced state is the
/// carry (z_H then z_L) at the end of each step, the outputs the step's logits.
public struct PuzzleTask: EvaluationTask {
    public typealias Model = RecursiveReasoner
    public typealias Depth = RecursionDepth

    public struct Outcome: TaskOutcome, Equatable {
        public var index: Int
        public var exact: Bool
        public var correctCells: Int
        public var cells: Int
        public var correctBlankCells: Int
        public var blankCells: Int
        /// true when the puzzle's logits held NaN or ±Inf (the puzzle then counts as wrong in every cell).
        public var nonFinite: Bool? = nil
        public var finite: Bool { nonFinite != true }
        public var success: Bool { exact }
        public var score: Double { Double(correctCells) / Double(max(1, cells)) }
        public var blankScore: Double { blankCells == 0 ? 1 : Double(correctBlankCells) / Double(blankCells) }
    }

    public struct Accuracy: Codable, Sendable {
        /// Fraction of puzzles whose every cell is right, with a Wilson 95% interval.
        public var exact: Statistics.Interval
        /// Mean over puzzles of the fraction of right cells, with a bootstrap 95% interval over puzzles (cells
        /// of one puzzle are not independent).
        public var cell: Statistics.Interval
        /// Same, counting only cells whose label differs from the input (the cells to fill).
        public var blankCell: Statistics.Interval
        public var exactCount: Int
        /// Puzzles whose outputs were NaN or infinite (counted as wrong above); absent when there were none.
        public var nonFinite: NonFiniteUnits?
    }
    public typealias Metrics = Accuracy

    public let dataset: PuzzleDataset
    /// Steps and cycles to run; nil fields take the model's config.
    public var steps: Int?, hCycles: Int?, lCycles: Int?
    public var batchSize: Int
    public let unitCount: Int

    /// - Parameter limit: evaluate only the first `limit` puzzles.
    public init(_ dataset: PuzzleDataset, limit: Int? = nil, batchSize: Int = 256, steps: Int? = nil, hCycles: Int? = nil,
                lCycles: Int? = nil) throws {
        self.dataset = dataset
        unitCount = min(dataset.count, limit ?? dataset.count)
        if unitCount < 1 { throw ModelError.badRequest(flag: "--limit", reason: "leaves no puzzles to evaluate") }
        if batchSize < 1 { throw ModelError.badRequest(flag: "--batch-size", reason: "\(batchSize) must be at least 1") }
        self.batchSize = batchSize
        self.steps = steps; self.hCycles = hCycles; self.lCycles = lCycles
    }

    public var dataPath: String { dataset.path }
    public var split: String? { dataset.metadata["split"] }
    public var name: String { dataset.task }
    public var unitName: String { "puzzles" }

    public func stateParts(_ model: RecursiveReasoner) -> [(name: String, width: Int)] {
        let w = model.config.positions * model.config.hiddenSize
        return [("zH", w), ("zL", w)]
    }

    public func check(_ model: RecursiveReasoner) throws {
        let c = model.config
        if dataset.sequenceLength != c.seqLen {
            throw ModelError.dataMismatch(model: model.location, data: dataset.path,
                                          detail: "puzzles have \(dataset.sequenceLength) cells, the model's seq_len is \(c.seqLen)")
        }
        if dataset.vocabularySize > c.vocabSize {
            throw ModelError.dataMismatch(model: model.location, data: dataset.path,
                                          detail: "vocabulary of \(dataset.vocabularySize) tokens, the model knows \(c.vocabSize)")
        }
    }

    public func depth(_ model: RecursiveReasoner) throws -> RecursionDepth {
        let c = model.config
        let d = RecursionDepth(steps: steps ?? c.haltMaxSteps, hCycles: hCycles ?? c.hCycles, lCycles: lCycles ?? c.lCycles)
        if d.steps < 1 { throw ModelError.badRequest(flag: "--steps", reason: "\(d.steps) must be at least 1") }
        if d.hCycles < 1 { throw ModelError.badRequest(flag: "--h-cycles", reason: "\(d.hCycles) must be at least 1") }
        if d.lCycles < 1 { throw ModelError.badRequest(flag: "--l-cycles", reason: "\(d.lCycles) must be at least 1") }
        return d
    }

    public func stages(_ depth: RecursionDepth) -> Int { depth.steps }

    public func flopsPerUnit(_ model: RecursiveReasoner, depth: RecursionDepth, stages: Int) -> Int {
        ReasonerCost.puzzleFLOPs(model.config, depth: RecursionDepth(steps: stages, hCycles: depth.hCycles, lCycles: depth.lCycles))
    }

    public func run(_ model: RecursiveReasoner, units range: Range<Int>, depth: RecursionDepth, trace: Bool,
                    linearInputs: LinearInputObserver?) throws -> StageRecords<Outcome> {
        let L = dataset.sequenceLength, V = model.config.vocabSize, n = range.count
        let carries = trace ? StepEndCarries() : nil
        var outcomes: [[Outcome]] = [], outputs: [[Float]] = []
        var predicted = [Int32](repeating: 0, count: n * L)
        try model.run(inputs: Array(dataset.inputs[(range.lowerBound * L)..<(range.upperBound * L)]),
                      puzzleIdentifiers: Array(dataset.puzzleIdentifiers[range]), batch: n, depth: depth,
                      observer: carries, linearInputs: linearInputs) { _, out in
            let finite = out.logits.withUnsafeBufferPointer { lg in
                predicted.withUnsafeMutableBufferPointer { Argmax.rows(lg, rows: n * L, width: V, into: $0.baseAddress!) }
                return (0..<n).map { NonFiniteActivation.firstNonFinite(lg.baseAddress! + $0 * L * V, count: L * V) == nil }
            }
            outcomes.append(score(predicted, units: range, finite: finite))
            if trace { outputs.append(out.logits) }
        }
        guard let carries else { return StageRecords(outcomes: outcomes, states: nil, outputs: nil) }
        // Per unit: its z_H, then its z_L.
        let per = model.config.positions * model.config.hiddenSize
        let states = (0..<depth.steps).map { s -> [Float] in
            var state = [Float](); state.reserveCapacity(2 * n * per)
            for i in 0..<n {
                state += carries.zH[s][(i * per)..<((i + 1) * per)]
                state += carries.zL[s][(i * per)..<((i + 1) * per)]
            }
            return state
        }
        return StageRecords(outcomes: outcomes, states: states, outputs: outputs)
    }

    /// Scores predictions [units, L] of the puzzles `range` against the dataset's labels; a puzzle whose logits
    /// were not `finite` has every cell wrong.
    public func score(_ predicted: [Int32], units range: Range<Int>, finite: [Bool]? = nil) -> [Outcome] {
        let L = dataset.sequenceLength
        return range.enumerated().map { k, i in
            var correct = 0, cells = 0, blankCorrect = 0, blanks = 0
            let isFinite = finite?[k] ?? true
            for t in 0..<L {
                let label = dataset.labels[i * L + t]
                if label == -100 { continue }
                let ok = isFinite && predicted[k * L + t] == label
                cells += 1
                if ok { correct += 1 }
                if label != dataset.inputs[i * L + t] {
                    blanks += 1
                    if ok { blankCorrect += 1 }
                }
            }
            return Outcome(index: i, exact: isFinite && correct == cells, correctCells: correct, cells: cells, correctBlankCells: blankCorrect,
                           blankCells: blanks, nonFinite: isFinite ? nil : true)
        }
    }

    public func metrics(_ outcomes: [Outcome], seed: UInt64) -> Accuracy {
        let exact = outcomes.filter(\.exact).count
        return Accuracy(exact: Statistics.wilson(successes: exact, trials: outcomes.count),
                        cell: Statistics.bootstrapMean(outcomes.map(\.score), seed: seed),
                        blankCell: Statistics.bootstrapMean(outcomes.map(\.blankScore), seed: seed &+ 1),
                        exactCount: exact, nonFinite: NonFiniteUnits(outcomes, index: \.index))
    }

    /// The first `limit` puzzles of a puzzle set, for calibration.
    public init(calibrationData path: String, limit: Int, batchSize: Int) throws {
        try self.init(PuzzleDataset(path: path), limit: limit, batchSize: batchSize)
    }

    public func fullDepth(_ model: RecursiveReasoner) -> RecursionDepth { model.fullDepth }
}

/// Calibration data that cannot be used.
public enum CalibrationError: UserFacingError, Equatable {
    case testSplit(path: String)
    case notAModel(path: String)
    public var description: String {
        switch self {
        case let .notAModel(p): "\(p): calibrated methods run the model, so pass a model directory (config.json + weights)"
        case let .testSplit(p): "--calib \(p) is a test split; calibrate on training data (held-out results would be contaminated)"
        }
    }
}
