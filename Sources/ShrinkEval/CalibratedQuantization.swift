import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// Quantization that needs the model to run: capture layer statistics on
/// calibration puzzles from the training split, then quantize (GPTQ).
public enum CalibratedQuantization {
    public enum Failure: UserFacingError, Equatable {
        case testSplit(path: String)
        case notAModel(path: String)
        public var description: String {
            switch self {
            case let .testSplit(p): "--calib \(p) is a test split; calibrate on training data (held-out results would be contaminated)"
            case let .notAModel(p): "\(p): calibrated methods run the model, so pass a model directory (config.json + weights)"
            }
        }
    }

    @discardableResult
    public static func run(modelDirectory: String, calibration path: String, calibrationCount: Int, options: QuantizeOptions,
                           outputDirectory: String, overwrite: Bool, progress: (any ProgressSink)? = nil) throws -> Recipe {
        guard FileSystem.exists(modelDirectory + "/config.json") else { throw Failure.notAModel(path: modelDirectory) }
        let data = try PuzzleDataset(path: path)
        if data.metadata["split"] == "test" { throw Failure.testSplit(path: path) }
        guard calibrationCount >= 1 else { throw ModelError.badRequest(flag: "--calib-count", reason: "\(calibrationCount) must be at least 1") }
        let model = try RecursiveReasoner.load(directory: modelDirectory)
        try ReasonerEvaluation.checkCompatible(model, data)
        let count = min(calibrationCount, data.count)
        let stats = try CalibrationCapture.capture(model, inputs: data.inputs, puzzleIdentifiers: data.puzzleIdentifiers, count: count, progress: progress)
        return try QuantizeJob.run(try Checkpoint.open(modelDirectory), options: options, outputDirectory: outputDirectory, overwrite: overwrite,
                                   calibration: stats,
                                   calibrationSummary: .init(data: path, split: data.metadata["split"] ?? "unknown", puzzles: count),
                                   progress: progress)
    }
}
