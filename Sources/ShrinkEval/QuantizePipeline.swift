import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink quantize`: decides the path a checkpoint takes. Methods that need no data quantize the tensors as
/// they are; calibrated ones (AWQ, GPTQ, or a recipe naming them) load the model with its family, capture layer
/// statistics on the calibration data of its task, fold AWQ's scales into the family's fold pairs, then quantize.
public enum QuantizePipeline {
    public struct Calibration: Sendable {
        public var data: String
        public var count: Int
        public init(data: String, count: Int) { self.data = data; self.count = count }
    }

    @discardableResult
    public static func run(checkpoint: String, options: QuantizeOptions, calibration: Calibration?, outputDirectory: String,
                           overwrite: Bool, progress: (any ProgressSink)? = nil) throws -> Recipe {
        let location = ModelLocation(checkpoint)
        guard options.needsCalibration, let calibration else {
            // Without calibration data, QuantizeJob refuses the tensors whose method needs it.
            return try QuantizeJob.run(try Checkpoint.open(checkpoint), options: options, outputDirectory: outputDirectory,
                                       overwrite: overwrite, progress: progress)
        }
        guard FileSystem.exists(location.configPath) else { throw CalibrationError.notAModel(path: checkpoint) }
        let model = try ModelRegistry.load(checkpoint)
        let (stats, summary) = try TaskRegistry.calibrationStatistics(model, calibration: calibration.data, count: calibration.count, progress: progress)
        var source: any TensorSource = try location.openWeights()
        var methods: [String: String] = [:]
        let awq = options.perTensor.map { Set($0.filter { $0.value.method == .awq }.keys) } ?? (options.method == .awq ? nil : [])
        if awq?.isEmpty != true {
            (source, methods) = try AWQ.fold(source, decisions: QuantizeJob.plan(source, options: options), folds: model.familyDescription.scaleFolds,
                                             statistics: stats, only: awq)
        }
        return try QuantizeJob.run(source, options: options, outputDirectory: outputDirectory, overwrite: overwrite, calibration: stats,
                                   calibrationSummary: summary, tensorMethods: methods, progress: progress)
    }
}
