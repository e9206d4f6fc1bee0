import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink quantize`: decides the path a checkpoint takes. Methods that need no data quantize the tensors as
/// they are; calibrated ones (AWQ, GPTQ, or a recipe naming them) capture layer statistics on the calibration
/// data of the model's task, fold AWQ's scales into the family's fold pairs, then quantize. A family that runs
/// block by block (`SequentialFamily`: decoders) calibrates sequentially, one block bound at a time; the others
/// capture the whole model's statistics first. A checkpoint its family presents under other names (a GGUF's
/// llama.cpp names) is written under the family's names, with the family's config.json.
public enum QuantizePipeline {
    public struct Calibration: Sendable {
        public var data: String
        /// Units to run; nil: 128 text chunks for a language model, 256 puzzles or sentences otherwise.
        public var count: Int?
        /// Tokens per calibration sequence of a language model.
        public var context: Int
        public init(data: String, count: Int?, context: Int = 512) { self.data = data; self.count = count; self.context = context }
    }

    @discardableResult
    public static func run(checkpoint: String, options: QuantizeOptions, calibration: Calibration?, outputDirectory: String,
                           overwrite: Bool, progress: (any ProgressSink)? = nil) throws -> Recipe {
        let location = ModelLocation(checkpoint)
        let family = try? ModelRegistry.family(config: checkpoint)
        let stored = try location.openWeights()
        let weights = family?.presenting(stored) ?? stored
        let baseConfig = family?.upstreamConfig()
        guard options.needsCalibration, let calibration else {
            // Without calibration data, QuantizeJob refuses the tensors whose method needs it.
            return try QuantizeJob.run(weights, options: options, outputDirectory: outputDirectory, overwrite: overwrite,
                                       calibrationSource: nil, baseConfig: baseConfig, progress: progress)
        }
        guard let family else { throw CalibrationError.notAModel(path: checkpoint) }
        let awq = options.perTensor.map { Set($0.filter { $0.value.method == .awq }.keys) } ?? (options.method == .awq ? nil : [])

        if let sequential = family as? any SequentialFamily, let language = family as? any LanguageModelFamily {
            var options = options
            if options.perTensor == nil {
                // GPTQ's sequential mode solves the blocks; the output head (outside them) stays as stored, as the
                // reference keeps lm_head. A recipe may still name it with round to nearest.
                let inBlocks = Set(sequential.blocks.joined())
                for t in sequential.tensorLayout where t.role == .linear && !inBlocks.contains(t.name) {
                    options.keepTensors[t.name] = "outside the blocks: GPTQ's sequential mode keeps the output head as stored"
                }
            }
            let (units, summary) = try TextCalibration.units(calibration.data, family: language, location: stored.location,
                                                             vocabulary: language.vocabularySize, count: calibration.count ?? 128, context: calibration.context)
            let source = try SequentialCalibration(family: sequential, weights: weights, location: stored.location, units: units,
                                                   decisions: QuantizeJob.plan(weights, options: options), awq: awq,
                                                   calibration: calibration.data, progress: progress)
            return try QuantizeJob.run(weights, options: options, outputDirectory: outputDirectory, overwrite: overwrite,
                                       calibrationSource: source, calibrationSummary: summary, baseConfig: baseConfig, progress: progress)
        }

        guard FileSystem.exists(location.configPath) || location.isGGUF else { throw CalibrationError.notAModel(path: checkpoint) }
        let model = try ModelRegistry.load(checkpoint)
        let (stats, summary) = try TaskRegistry.calibrationStatistics(model, calibration: calibration.data, count: calibration.count ?? 256, progress: progress)
        var source: any TensorSource = weights
        var methods: [String: String] = [:]
        if awq?.isEmpty != true {
            (source, methods) = try AWQ.fold(weights, decisions: QuantizeJob.plan(weights, options: options), folds: family.scaleFolds,
                                             statistics: stats, only: awq)
        }
        return try QuantizeJob.run(source, options: options, outputDirectory: outputDirectory, overwrite: overwrite,
                                   calibrationSource: StaticCalibration(weights: source, layers: stats, methods: methods),
                                   calibrationSummary: summary, baseConfig: baseConfig, progress: progress)
    }
}
