import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// Calibration of a VAE for GPTQ and AWQ: the input statistics of every linear layer and convolution over train
/// images (the train part of the fixed split for a 60,000-image Fashion-MNIST train file; never the test file).
/// What `TaskRegistry.calibrationStatistics` runs for a VAE.
public enum ImageCalibration {
    public static func statistics(_ model: ConvVAE, calibration path: String, count: Int, batchSize: Int = 128,
                                  progress: (any ProgressSink)? = nil) throws -> ([String: LayerStatistics], Recipe.Calibration) {
        guard count >= 1 else { throw ModelError.badRequest(flag: "--calib-count", reason: "\(count) must be at least 1") }
        let task = try ImageTask(images: path, batchSize: batchSize)
        if task.split == "test" { throw CalibrationError.testSplit(path: path) }
        try task.check(model)
        let picked = task.trainPart(count)
        let collector = LayerStatisticsCollector()
        try ImageTask.forEachBatch(of: picked, batchSize: batchSize, item: "calibration images", progress: progress) { x, n in
            _ = try model.reconstruct(x, count: n, linearInputs: collector)
        }
        return (collector.layers, Recipe.Calibration(data: path, split: task.split ?? "unknown", puzzles: picked.count))
    }
}
