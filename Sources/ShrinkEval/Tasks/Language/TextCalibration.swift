import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// Calibration of a language model for GPTQ and AWQ: the input statistics of every linear layer over the first
/// chunks of a text (the calibration novels, never the evaluation ones), tokenized with the model's own tokenizer
/// and cut as the language-modelling task cuts it. What `TaskRegistry.calibrationStatistics` runs for a decoder.
public enum TextCalibration {
    /// Layer input statistics of `model` on the first `count` chunks of `context` tokens of `text`.
    public static func statistics<M: CausalLanguageModel>(_ model: M, calibration text: String, count: Int, context: Int = 512,
                                                          progress: (any ProgressSink)? = nil) throws -> ([String: LayerStatistics], Recipe.Calibration) {
        guard count >= 1 else { throw ModelError.badRequest(flag: "--calib-count", reason: "\(count) must be at least 1") }
        let task = try TextOptions(path: text, context: context, chunks: count, split: "calibration").task(for: model)
        return (try task.layerStatistics(of: model, progress: progress),
                Recipe.Calibration(data: text, split: "calibration", puzzles: task.unitCount))
    }
}
