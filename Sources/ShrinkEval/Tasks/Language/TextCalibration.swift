import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// Calibration of a language model for GPTQ and AWQ: the input statistics of every linear layer over the first
/// chunks of a text (the calibration novels, never the evaluation ones), tokenized with the model's own tokenizer
/// and cut as the language-modelling task cuts it. What `TaskRegistry.calibrationStatistics` runs for a decoder.
public enum TextCalibration {
    /// `random:SEED`: calibration tokens drawn uniformly from the vocabulary (for checkpoints without a tokenizer,
    /// such as synthetic ones that measure time and memory only).
    public static let randomPrefix = "random:"

    /// Layer input statistics of `model` on the first `count` chunks of `context` tokens of `text` (or on `count`
    /// seeded random sequences for `random:SEED`), every position of a chunk seen, from a fresh cache.
    public static func statistics<M: CausalLanguageModel>(_ model: M, calibration text: String, count: Int, context: Int = 512,
                                                          progress: (any ProgressSink)? = nil) throws -> ([String: LayerStatistics], Recipe.Calibration) {
        guard let family = model.familyDescription as? any LanguageModelFamily else {
            // A model without a family tokenizer (a test double) cuts the text with its own.
            guard count >= 1 else { throw ModelError.badRequest(flag: "--calib-count", reason: "\(count) must be at least 1") }
            let task = try TextOptions(path: text, context: context, chunks: count, split: "calibration").task(for: model)
            return (try task.layerStatistics(of: model, progress: progress),
                    Recipe.Calibration(data: text, split: "calibration", puzzles: task.unitCount))
        }
        let (units, summary) = try self.units(text, family: family, location: model.location, vocabulary: model.vocabularySize,
                                              count: count, context: context)
        let collector = LayerStatisticsCollector(unitName: "chunk", source: text)
        for (i, unit) in units.enumerated() {
            progress?.update(done: i, total: units.count, item: "calibration chunks")
            collector.beginUnits(i..<(i + 1))
            _ = try model.logits(unit, from: unit.count, hiddenStates: nil, linearInputs: collector)
            try collector.check()
        }
        progress?.finish()
        return (collector.layers, summary)
    }

    /// The calibration sequences: the first `count` chunks of `context` tokens of `text` under the tokenizer at
    /// `location`, or `count` seeded random sequences for `random:SEED`.
    public static func units(_ text: String, family: any LanguageModelFamily, location: String, vocabulary: Int,
                             count: Int, context: Int = 512) throws -> ([[Int32]], Recipe.Calibration) {
        guard count >= 1 else { throw ModelError.badRequest(flag: "--calib-count", reason: "\(count) must be at least 1") }
        if text.hasPrefix(randomPrefix) {
            guard let seed = UInt64(text.dropFirst(randomPrefix.count)) else {
                throw ModelError.badRequest(flag: "--calib", reason: "'\(text)' must be random:SEED with SEED a non-negative integer")
            }
            var g = SeededGenerator(seed: seed)
            let units = (0..<count).map { _ in (0..<context).map { _ in Int32(Int.random(in: 0..<vocabulary, using: &g)) } }
            return (units, Recipe.Calibration(data: text, split: "synthetic", puzzles: count))
        }
        let chunks = try TokenizedText(path: text, tokenizer: family.tokenizer(location: location), context: context, chunks: count)
        if let bad = chunks.tokens.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw ModelError.badRequest(flag: "--calib", reason: "token \(bad) is outside \(location)'s vocabulary of \(vocabulary); the tokenizer does not belong to the model")
        }
        return ((0..<chunks.chunkCount).map(chunks.chunk), Recipe.Calibration(data: text, split: "calibration", puzzles: chunks.chunkCount))
    }
}
