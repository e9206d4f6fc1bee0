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

    /// AWQ: for every quantized layer whose input scale the model can fold
    /// (`RecursiveReasoner.scaleFoldTargets`), search α, scale the layer's input
    /// channels by s and divide the producing rows by s. The returned weights are
    /// the same function as the original; round-to-nearest then quantizes them.
    /// Layers without a fold target keep plain round-to-nearest.
    public static func applyAWQ(_ source: any TensorSource, model: RecursiveReasoner, statistics: [String: LayerStatistics],
                                options: QuantizeOptions) throws -> (OverlaySource, [String: String]) {
        let overlay = OverlaySource(base: source)
        var methods: [String: String] = [:]
        let folds = RecursiveReasoner.scaleFoldTargets(model.config)
        for d in try QuantizeJob.plan(source, options: options) {
            guard let scheme = d.scheme, let fold = folds[d.info.name], let stats = statistics[d.info.name],
                  let producer = source.info(fold.producer) else {
                if d.scheme != nil { methods[d.info.name] = "rtn (awq: no producer to fold the scales into)" }
                continue
            }
            let rows = d.info.shape.dims[0], columns = d.info.shape.dims[1]
            let w = try source.floats(d.info.name)
            let r = try AWQ.search(w, rows: rows, columns: columns, statistics: stats, scheme: scheme, name: d.info.name)
            var scaled = w
            for i in 0..<rows { for j in 0..<columns { scaled[i * columns + j] *= r.scales[j] } }
            try overlay.replace(d.info.name, with: scaled)
            var p = try overlay.floats(fold.producer)
            let width = producer.shape.dims[1]
            for (k, row) in fold.rows.enumerated() { for j in 0..<width { p[row * width + j] /= r.scales[k] } }
            try overlay.replace(fold.producer, with: p)
            methods[d.info.name] = String(format: "awq(alpha: %.2f, folded into %@)", r.alpha, fold.producer)
        }
        return (overlay, methods)
    }

    /// Layer statistics of `model` on the first `count` puzzles of a calibration
    /// set, which must not be a test split and must fit the model.
    public static func captureStatistics(_ model: RecursiveReasoner, calibration path: String, count: Int,
                                         progress: (any ProgressSink)? = nil) throws -> ([String: LayerStatistics], Recipe.Calibration) {
        guard count >= 1 else { throw ModelError.badRequest(flag: "--calib-count", reason: "\(count) must be at least 1") }
        let data = try PuzzleDataset(path: path)
        if data.metadata["split"] == "test" { throw Failure.testSplit(path: path) }
        try ReasonerEvaluation.checkCompatible(model, data)
        let n = min(count, data.count)
        let stats = try CalibrationCapture.capture(model, inputs: data.inputs, puzzleIdentifiers: data.puzzleIdentifiers, count: n, progress: progress)
        return (stats, .init(data: path, split: data.metadata["split"] ?? "unknown", puzzles: n))
    }

    @discardableResult
    public static func run(modelDirectory: String, calibration path: String, calibrationCount: Int, options: QuantizeOptions,
                           outputDirectory: String, overwrite: Bool, progress: (any ProgressSink)? = nil) throws -> Recipe {
        guard FileSystem.exists(modelDirectory + "/config.json") else { throw Failure.notAModel(path: modelDirectory) }
        let model = try RecursiveReasoner.load(directory: modelDirectory)
        let (stats, summary) = try captureStatistics(model, calibration: path, count: calibrationCount, progress: progress)
        var source: any TensorSource = try Checkpoint.open(modelDirectory)
        var methods: [String: String] = [:]
        if options.awq {
            (source, methods) = try applyAWQ(source, model: model, statistics: stats, options: options)
        }
        return try QuantizeJob.run(source, options: options, outputDirectory: outputDirectory, overwrite: overwrite,
                                   calibration: stats,
                                   calibrationSummary: summary,
                                   tensorMethods: methods, progress: progress)
    }
}
