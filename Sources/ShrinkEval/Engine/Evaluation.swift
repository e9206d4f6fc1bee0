import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkTensor

/// `shrink eval`: one model on a task, with confidence intervals, after every stage.
public enum Evaluation {
    public struct StageMetrics<Metrics: Codable & Sendable>: Codable, Sendable {
        public var step: Int
        public var accuracy: Metrics
    }

    public struct Report<Task: EvaluationTask>: Codable, Sendable {
        public var model: String
        public var data: String
        public var task: String
        public var puzzles: Int
        public var parameters: Int
        public var depth: Task.Depth
        /// At the last stage run.
        public var accuracy: Task.Metrics
        /// After every stage 1 … stages.
        public var perStep: [StageMetrics<Task.Metrics>]
        public var seconds: Double
        public var puzzlesPerSecond: Double
        public var threads: Int
        public var puzzlesDetail: [Task.Outcome]?
    }

    /// - Parameters:
    ///   - perUnit: include every unit's outcome at the last stage.
    ///   - seed: of the bootstrap resampling.
    public static func evaluate<Task: EvaluationTask>(_ model: Task.Model, on task: Task, perUnit: Bool = false, seed: UInt64 = 0,
                                                      progress: (any ProgressSink)? = nil) throws -> Report<Task> {
        try task.check(model)
        let depth = try task.depth(model)
        let t0 = Date()
        let perStage = try task.outcomes(of: model, depth: depth, progress: progress)
        let seconds = Date().timeIntervalSince(t0)
        let steps = perStage.enumerated().map { StageMetrics(step: $0.offset + 1, accuracy: task.metrics($0.element, seed: seed)) }
        return Report(model: model.location, data: task.dataPath, task: task.name, puzzles: task.unitCount, parameters: model.parameterCount,
                      depth: depth, accuracy: steps[steps.count - 1].accuracy, perStep: steps, seconds: seconds,
                      puzzlesPerSecond: Double(task.unitCount) / seconds, threads: Parallel.workerCount,
                      puzzlesDetail: perUnit ? perStage[perStage.count - 1] : nil)
    }
}

extension PuzzleTask {
    /// The last step of every puzzle: argmax predictions [count, L] and, when `keepLogits`, the logits
    /// [count, L, V] (for checking an export in its runtime against Shrink).
    public func lastStep(of model: RecursiveReasoner, keepLogits: Bool = false) throws -> (predictions: [Int32], logits: [Float]) {
        try check(model)
        let depth = try depth(model)
        let L = dataset.sequenceLength, V = model.config.vocabSize
        var predictions = [Int32](repeating: 0, count: unitCount * L)
        var logits = [Float](repeating: 0, count: keepLogits ? unitCount * L * V : 0)
        try forEachBatch { units in
            let (start, n) = (units.lowerBound, units.count)
            try model.run(inputs: Array(dataset.inputs[(start * L)..<((start + n) * L)]),
                          puzzleIdentifiers: Array(dataset.puzzleIdentifiers[units]), batch: n, depth: depth) { s, out in
                guard s == depth.steps - 1 else { return }
                if keepLogits { logits.replaceSubrange((start * L * V)..<((start + n) * L * V), with: out.logits) }
                out.logits.withUnsafeBufferPointer { lg in
                    predictions.withUnsafeMutableBufferPointer { Argmax.rows(lg, rows: n * L, width: V, into: $0.baseAddress! + start * L) }
                }
            }
        }
        return (predictions, logits)
    }

    /// Writes the last step's `logits` F32 [count, L, V] and `predictions` I32 [count, L] to a safetensors file, atomically.
    public func writePredictions(of model: RecursiveReasoner, to path: String) throws {
        let (predictions, logits) = try lastStep(of: model, keepLogits: true)
        let L = dataset.sequenceLength, V = model.config.vocabSize
        let writer = try SafetensorsWriter(path: path, tensors: [
            TensorInfo(name: "logits", dtype: .f32, shape: Shape([unitCount, L, V])),
            TensorInfo(name: "predictions", dtype: .i32, shape: Shape([unitCount, L])),
        ])
        try writer.write("logits", values: logits.map { $0.bitPattern.littleEndian })
        try writer.write("predictions", values: predictions.map { $0.littleEndian })
        try writer.commit()
    }
}
