import Foundation
import ShrinkModels
import ShrinkTensor

/// `shrink eval MODEL --text FILE`: perplexity as llama-perplexity reports it, plus throughput.
public enum LanguageEvaluation {
    public struct Report: Codable, Sendable {
        public var model: String
        public var family: String
        public var text: String
        public var split: String?
        /// Tokens in the whole text, and the context, chunks and scored tokens used.
        public var textTokens: Int
        public var context: Int
        public var chunks: Int
        public var bos: Int32?
        public var parameters: Int
        public var perplexity: Perplexity
        public var top1: Statistics.Interval
        public var chunkPerplexities: [Double]
        public var running: [Double]
        public var seconds: Double
        /// Tokens run through the model (chunks × context) per second.
        public var tokensPerSecond: Double
        public var threads: Int
        /// Chunks whose NLL was NaN or infinite; absent when none were.
        public var nonFinite: NonFiniteUnits?
    }

    public static func evaluate<M: CausalLanguageModel>(_ model: M, on task: LanguageTask<M>, seed: UInt64 = 0,
                                                        progress: (any ProgressSink)? = nil) throws -> Report {
        try task.check(model)
        let t0 = Date()
        let outcomes = try task.outcomes(of: model, depth: task.depth(model), progress: progress)[0]
        let seconds = Date().timeIntervalSince(t0)
        let m = task.metrics(outcomes, seed: seed)
        return Report(model: model.location, family: model.familyDescription.variant, text: task.dataPath, split: task.split,
                      textTokens: task.tokens.count, context: task.context, chunks: task.unitCount, bos: task.bos,
                      parameters: model.parameterCount, perplexity: m.perplexity, top1: m.top1,
                      chunkPerplexities: m.chunkPerplexities, running: m.running, seconds: seconds,
                      tokensPerSecond: Double(task.unitCount * task.context) / seconds, threads: Parallel.workerCount,
                      nonFinite: m.nonFinite)
    }
}

/// How a text is cut and labelled for the language-modelling task.
public struct TextOptions: Sendable {
    public var path: String
    public var context = 512
    public var chunks: Int?
    /// "test" when the text was never used to calibrate or train the models.
    public var split: String?
    public init(path: String, context: Int = 512, chunks: Int? = nil, split: String? = nil) {
        self.path = path; self.context = context; self.chunks = chunks; self.split = split
    }

    /// The text cut for `model`, tokenized with its own tokenizer.
    public func task<M: CausalLanguageModel>(for model: M) throws -> LanguageTask<M> {
        try LanguageTask<M>(text: path, tokenizer: model.makeTokenizer(), context: context, chunks: chunks, split: split)
    }
}

extension LanguageEvaluation {
    /// The language model at `path` (a GGUF file, or a directory or weights file beside its config), with its family.
    public static func loadLanguageModel(_ path: String) throws -> any CausalLanguageModel {
        let model = try ModelRegistry.load(path)
        guard let lm = model as? any CausalLanguageModel else {
            throw ModelError.wrongFamily(file: path, family: type(of: model.familyDescription).familyName,
                                         needed: "a language model (a decoder with a tokenizer) for --text")
        }
        return lm
    }

    /// Loads the model at `path` and measures its perplexity on the text, with its own tokenizer.
    public static func evaluate(modelAt path: String, text: TextOptions, progress: (any ProgressSink)? = nil) throws -> Report {
        func run<M: CausalLanguageModel>(_ m: M) throws -> Report { try evaluate(m, on: text.task(for: m), progress: progress) }
        return try run(loadLanguageModel(path))
    }
}

extension LanguageComparison {
    /// Loads both models and compares them on the text, tokenized with the original's tokenizer.
    public static func compare(originalAt a: String, compressedAt b: String, text: TextOptions, options: Options = Options(),
                               progress: (any ProgressSink)? = nil) throws -> Report {
        let compressed = try LanguageEvaluation.loadLanguageModel(b)
        func run<M: CausalLanguageModel>(_ original: M) throws -> Report {
            guard let other = compressed as? M else {
                throw ModelError.wrongFamily(file: b, family: type(of: compressed.familyDescription).familyName,
                                             needed: "the same family as \(a) (\(type(of: original.familyDescription).familyName))")
            }
            return try compare(original: original, compressed: other, on: text.task(for: original), options: options, progress: progress)
        }
        return try run(LanguageEvaluation.loadLanguageModel(a))
    }
}
