import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// Calibration of a BERT encoder for GPTQ and AWQ: the input statistics of every linear layer over the
/// sentences of a text (the calibration novels, never the evaluation ones), tokenized with the model's own
/// tokenizer.json. What `TaskRegistry.calibrationStatistics` runs for a sentence encoder.
public enum SentenceCalibration {
    /// Layer input statistics of `model` on the first `count` sentences (`SentenceSplitter`) of `text`.
    public static func statistics(_ model: BertEncoder, calibration text: String, count: Int, batchSize: Int = 64,
                                  progress: (any ProgressSink)? = nil) throws -> ([String: LayerStatistics], Recipe.Calibration) {
        guard count >= 1 else { throw ModelError.badRequest(flag: "--calib-count", reason: "\(count) must be at least 1") }
        let tokenizer = try WordPieceTokenizer(contentsOf: model.location + "/tokenizer.json")
        let maxTokens = min(try SentenceCorpus.maxSequenceLength(modelDirectory: model.location) ?? model.config.maxPositionEmbeddings,
                            model.config.maxPositionEmbeddings)
        let corpus = try SentenceCorpus.read(text, limit: count, maxTokens: maxTokens) { tokenizer.encode($0, maxLength: nil) }
        guard corpus.count >= 1 else { throw EmbeddingTaskError.tooFewSentences(file: text, found: 0, needed: 1) }
        let collector = LayerStatisticsCollector(unitName: "sentence", source: text)
        var start = 0
        while start < corpus.count {
            progress?.update(done: start, total: corpus.count, item: "calibration sentences")
            let end = min(start + batchSize, corpus.count)
            collector.beginUnits(start..<end)
            _ = try model.encode(Array(corpus.tokens[start..<end]), linearInputs: collector)
            try collector.check()
            start = end
        }
        progress?.finish()
        return (collector.layers, Recipe.Calibration(data: text, split: "text", puzzles: corpus.count))
    }
}
