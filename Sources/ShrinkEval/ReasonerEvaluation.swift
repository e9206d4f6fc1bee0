import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkTensor

/// `shrink eval`: a recursive reasoner on a puzzle set, with confidence intervals.
public enum ReasonerEvaluation {
    public struct Options: Sendable {
        public var steps: Int?
        public var hCycles: Int?
        public var lCycles: Int?
        public var batchSize = 256
        /// Evaluate only the first `limit` puzzles.
        public var limit: Int?
        public var perPuzzle = false
        /// Seed of the bootstrap resampling.
        public var seed: UInt64 = 0
        /// Where to write the last step's logits and predictions (safetensors), if anywhere.
        public var predictionsPath: String?
        public init() {}
    }

    public struct Accuracy: Codable, Sendable {
        /// Fraction of puzzles whose every cell is right, with a Wilson 95% interval.
        public var exact: Statistics.Interval
        /// Mean over puzzles of the fraction of right cells, with a bootstrap 95%
        /// interval over puzzles (cells of one puzzle are not independent).
        public var cell: Statistics.Interval
        /// Same, counting only cells whose label differs from the input (the cells to fill).
        public var blankCell: Statistics.Interval
        public var exactCount: Int
    }

    public struct StepAccuracy: Codable, Sendable {
        public var step: Int
        public var accuracy: Accuracy
    }

    public struct PuzzleResult: Codable, Sendable {
        public var index: Int
        public var exact: Bool
        public var correctCells: Int
        public var cells: Int
        public var correctBlankCells: Int
        public var blankCells: Int
    }

    public struct Report: Codable, Sendable {
        public var model: String
        public var data: String
        public var task: String
        public var puzzles: Int
        public var parameters: Int
        public var depth: Depth
        /// At the last step run.
        public var accuracy: Accuracy
        /// After every supervision step 1 … steps.
        public var perStep: [StepAccuracy]
        public var seconds: Double
        public var puzzlesPerSecond: Double
        public var threads: Int
        public var puzzlesDetail: [PuzzleResult]?
    }

    public struct Depth: Codable, Sendable {
        public var steps: Int
        public var hCycles: Int
        public var lCycles: Int
    }

    /// Checks that the data fit the model before any work.
    public static func checkCompatible(_ model: RecursiveReasoner, _ data: PuzzleDataset) throws {
        let c = model.config
        if data.sequenceLength != c.seqLen {
            throw ModelError.dataMismatch(model: model.location, data: data.path,
                                          detail: "puzzles have \(data.sequenceLength) cells, the model's seq_len is \(c.seqLen)")
        }
        if data.vocabularySize > c.vocabSize {
            throw ModelError.dataMismatch(model: model.location, data: data.path,
                                          detail: "vocabulary of \(data.vocabularySize) tokens, the model knows \(c.vocabSize)")
        }
    }

    public static func resolvedDepth(_ model: RecursiveReasoner, _ o: Options) throws -> RecursionDepth {
        let c = model.config
        let d = RecursionDepth(steps: o.steps ?? c.haltMaxSteps, hCycles: o.hCycles ?? c.hCycles, lCycles: o.lCycles ?? c.lCycles)
        if d.steps < 1 { throw ModelError.badRequest(flag: "--steps", reason: "\(d.steps) must be at least 1") }
        if d.hCycles < 1 { throw ModelError.badRequest(flag: "--h-cycles", reason: "\(d.hCycles) must be at least 1") }
        if d.lCycles < 1 { throw ModelError.badRequest(flag: "--l-cycles", reason: "\(d.lCycles) must be at least 1") }
        return d
    }

    /// Argmax predictions [count, L] after every step, evaluated in batches.
    /// `lastLogits`, when given, receives each batch's last-step logits [n, L, V] with its first puzzle's index.
    public static func predictions(_ model: RecursiveReasoner, _ data: PuzzleDataset, count: Int, depth: RecursionDepth,
                                   batchSize: Int, progress: (any ProgressSink)? = nil,
                                   lastLogits: ((_ first: Int, _ logits: [Float]) -> Void)? = nil) throws -> [[Int32]] {
        let L = data.sequenceLength, V = model.config.vocabSize
        var perStep = [[Int32]](repeating: [Int32](repeating: 0, count: count * L), count: depth.steps)
        var start = 0
        while start < count {
            progress?.update(done: start, total: count, item: "puzzles")
            let n = min(batchSize, count - start)
            let inputs = Array(data.inputs[(start * L)..<((start + n) * L)])
            let ids = Array(data.puzzleIdentifiers[start..<(start + n)])
            try model.run(inputs: inputs, puzzleIdentifiers: ids, batch: n, depth: depth) { s, out in
                if s == depth.steps - 1 { lastLogits?(start, out.logits) }
                out.logits.withUnsafeBufferPointer { lg in
                    for cell in 0..<(n * L) {
                        var best = 0
                        var bestValue = lg[cell * V]
                        for v in 1..<V where lg[cell * V + v] > bestValue { best = v; bestValue = lg[cell * V + v] }
                        perStep[s][start * L + cell] = Int32(best)
                    }
                }
            }
            start += n
        }
        progress?.finish()
        return perStep
    }

    /// Scores predictions [count, L] against the dataset's labels.
    public static func score(_ predicted: [Int32], _ data: PuzzleDataset, count: Int, seed: UInt64) -> (Accuracy, [PuzzleResult]) {
        let L = data.sequenceLength
        var results: [PuzzleResult] = []
        for i in 0..<count {
            var correct = 0, cells = 0, blankCorrect = 0, blanks = 0
            for t in 0..<L {
                let label = data.labels[i * L + t]
                if label == -100 { continue }
                let ok = predicted[i * L + t] == label
                cells += 1
                if ok { correct += 1 }
                if label != data.inputs[i * L + t] {
                    blanks += 1
                    if ok { blankCorrect += 1 }
                }
            }
            results.append(PuzzleResult(index: i, exact: correct == cells, correctCells: correct, cells: cells,
                                        correctBlankCells: blankCorrect, blankCells: blanks))
        }
        let exact = results.filter(\.exact).count
        let acc = Accuracy(
            exact: Statistics.wilson(successes: exact, trials: count),
            cell: Statistics.bootstrapMean(results.map { Double($0.correctCells) / Double(max(1, $0.cells)) }, seed: seed),
            blankCell: Statistics.bootstrapMean(results.map { $0.blankCells == 0 ? 1 : Double($0.correctBlankCells) / Double($0.blankCells) }, seed: seed &+ 1),
            exactCount: exact)
        return (acc, results)
    }

    /// Writes `predictions` I32 [count, L] and `logits` F32 [count, L, V] of the last step, atomically.
    public static func writePredictions(to path: String, predictions: [Int32], logits: [Float], count: Int, positions L: Int,
                                        vocabulary V: Int) throws {
        let writer = try SafetensorsWriter(path: path, tensors: [
            TensorInfo(name: "logits", dtype: .f32, shape: Shape([count, L, V])),
            TensorInfo(name: "predictions", dtype: .i32, shape: Shape([count, L])),
        ])
        try writer.write("logits", values: logits.map { $0.bitPattern.littleEndian })
        try writer.write("predictions", values: predictions.map { $0.littleEndian })
        try writer.commit()
    }

    public static func evaluate(_ model: RecursiveReasoner, on data: PuzzleDataset, options: Options,
                                progress: (any ProgressSink)? = nil) throws -> Report {
        try checkCompatible(model, data)
        let depth = try resolvedDepth(model, options)
        let count = min(data.count, options.limit ?? data.count)
        if count < 1 { throw ModelError.badRequest(flag: "--limit", reason: "leaves no puzzles to evaluate") }
        if options.batchSize < 1 { throw ModelError.badRequest(flag: "--batch-size", reason: "\(options.batchSize) must be at least 1") }
        let t0 = Date()
        let V = model.config.vocabSize, L = data.sequenceLength
        var logits: [Float] = []
        if options.predictionsPath != nil { logits = [Float](repeating: 0, count: count * L * V) }
        let perStep = try predictions(model, data, count: count, depth: depth, batchSize: options.batchSize, progress: progress,
                                      lastLogits: options.predictionsPath == nil ? nil : { first, batch in
                                          logits.replaceSubrange((first * L * V)..<(first * L * V + batch.count), with: batch)
                                      })
        let seconds = Date().timeIntervalSince(t0)
        if let path = options.predictionsPath {
            try writePredictions(to: path, predictions: perStep[perStep.count - 1], logits: logits, count: count, positions: L, vocabulary: V)
        }
        var steps: [StepAccuracy] = []
        var last: (Accuracy, [PuzzleResult])!
        for (s, predicted) in perStep.enumerated() {
            last = score(predicted, data, count: count, seed: options.seed)
            steps.append(StepAccuracy(step: s + 1, accuracy: last.0))
        }
        return Report(model: model.location, data: data.path, task: data.task, puzzles: count, parameters: model.parameterCount,
                      depth: Depth(steps: depth.steps, hCycles: depth.hCycles, lCycles: depth.lCycles),
                      accuracy: last.0, perStep: steps, seconds: seconds, puzzlesPerSecond: Double(count) / seconds,
                      threads: Parallel.workerCount, puzzlesDetail: options.perPuzzle ? last.1 : nil)
    }
}
