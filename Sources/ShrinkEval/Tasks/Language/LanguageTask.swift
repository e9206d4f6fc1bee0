import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkTensor

/// PPL = exp(mean NLL) with llama-perplexity's error estimate PPL·√((E[nll²] − E[nll]²)/(count − 1)).
public struct Perplexity: Codable, Sendable, Equatable {
    public var value: Double
    public var error: Double
    public var meanNLL: Double
    public var tokens: Int

    public init(nll: Double, nllSquared: Double, count: Int) {
        let mean = nll / Double(count)
        let variance = nllSquared / Double(count) - mean * mean
        value = exp(mean)
        error = variance > 0 && count > 1 ? value * (variance / Double(count - 1)).squareRoot() : 0
        meanNLL = mean
        tokens = count
    }
}

/// Perplexity on a text exactly as llama.cpp's `llama-perplexity` measures it (tools/perplexity/perplexity.cpp,
/// `perplexity()`): the whole text is tokenized once and cut into chunks of `context` tokens; each chunk runs from
/// a fresh KV cache, its first token replaced by BOS when the vocabulary adds one; only the second half is scored —
/// positions context/2 … context−2 predict the next token, context − 1 − context/2 tokens per chunk — with
/// NLL = log Σ exp(logits) − logit[target]. A unit is a chunk.
public struct LanguageTask<Model: CausalLanguageModel>: EvaluationTask {
    public typealias Depth = Context

    /// The context length a chunk runs at.
    public struct Context: Codable, Sendable, Equatable {
        public var tokens: Int
    }

    /// One chunk's scored tokens, summed (the statistics need only the sums).
    public struct Outcome: TaskOutcome, Equatable {
        public var chunk: Int
        public var tokens: Int
        /// Σ NLL and Σ NLL² over the chunk's scored tokens, in nats.
        public var nll: Double
        public var nllSquared: Double
        /// Scored tokens whose argmax prediction is the target.
        public var top1: Int
        /// Scored tokens whose logits held NaN or +Inf (or gave the target probability 0): their NLL is not a
        /// number, and neither is the chunk's. Absent when there were none.
        public var nonFiniteTokens: Int? = nil
        public var finite: Bool { nonFiniteTokens == nil }
        public var meanNLL: Double { nll / Double(max(1, tokens)) }
        /// The majority of the chunk's tokens are predicted right (what a paired exact test would compare).
        public var success: Bool { 2 * top1 > tokens }
        /// Next-token top-1 accuracy within the chunk.
        public var score: Double { Double(top1) / Double(max(1, tokens)) }
    }

    public struct Metrics: Codable, Sendable {
        public var perplexity: Perplexity
        /// Next-token top-1 accuracy over scored tokens, with a bootstrap 95% interval over chunks.
        public var top1: Statistics.Interval
        public var chunks: Int
        /// Each chunk's own perplexity, and the running value after each chunk (what llama-perplexity prints as
        /// `[i]ppl,`).
        public var chunkPerplexities: [Double]
        public var running: [Double]
        /// Chunks whose NLL was not a number (the perplexity above then is not either); absent when none were.
        public var nonFinite: NonFiniteUnits?
    }

    public let split: String?
    public let tokenizer: any Tokenizer
    /// The whole text, tokenized and cut.
    public let text: TokenizedText
    public var dataPath: String { text.path }
    /// The whole text, tokenized without special tokens (BOS first when the vocabulary adds one).
    public var tokens: [Int32] { text.tokens }
    public var context: Int { text.context }
    public var unitCount: Int { text.chunkCount }
    public var bos: Int32? { text.bos }
    public var batchSize: Int { 1 }
    public var name: String { "language-modelling" }
    public var unitName: String { "chunks" }

    /// - Parameters:
    ///   - chunks: evaluate only the first `chunks` (llama-perplexity's `--chunks`).
    ///   - split: "test" when the text is held out from calibration and training (validated results need it).
    public init(text path: String, tokenizer: any Tokenizer, context: Int = 512, chunks: Int? = nil, split: String?) throws {
        text = try TokenizedText(path: path, tokenizer: tokenizer, context: context, chunks: chunks)
        self.split = split
        self.tokenizer = tokenizer
    }

    /// The protocol's model-free calibration entry cannot tokenize (the tokenizer ships with the model):
    /// language models calibrate through `TextCalibration.statistics`, which `TaskRegistry` calls.
    public init(calibrationData path: String, limit: Int, batchSize: Int) throws {
        throw ModelError.badRequest(flag: "--calib", reason: "a language model calibrates on text with its own tokenizer (TextCalibration.statistics)")
    }

    /// Scored tokens per chunk.
    public var scoredPerChunk: Int { context - 1 - context / 2 }

    /// The chunk's tokens as the model sees them (BOS first where the vocabulary adds one).
    public func chunkTokens(_ i: Int) -> [Int32] { text.chunk(i) }

    /// The targets of a chunk's scored positions.
    public func targets(_ i: Int) -> ArraySlice<Int32> {
        let first = context / 2
        return tokens[(i * context + first + 1)..<((i + 1) * context)]
    }

    public func stateParts(_ model: Model) -> [(name: String, width: Int)] { [("hidden", model.hiddenSize)] }

    public func check(_ model: Model) throws {
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= model.vocabularySize }) {
            throw ModelError.badRequest(flag: "--text", reason: "token \(bad) is outside \(model.location)'s vocabulary of \(model.vocabularySize); the tokenizer does not belong to the model")
        }
    }

    public func depth(_ model: Model) throws -> Context { Context(tokens: context) }
    public func fullDepth(_ model: Model) -> Context { Context(tokens: context) }
    public func stages(_ depth: Context) -> Int { 1 }

    /// The logits of a chunk's scored positions, [scoredPerChunk + 1, vocab] (the last row predicts past the chunk
    /// and is not scored, as in llama-perplexity).
    public func scoredLogits(_ model: Model, chunk i: Int, hiddenStates: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil,
                             linearInputs: LinearInputObserver? = nil) throws -> [Float] {
        try model.logits(chunkTokens(i), from: context / 2, hiddenStates: hiddenStates, linearInputs: linearInputs)
    }

    public func run(_ model: Model, units range: Range<Int>, depth: Context, trace: Bool,
                    linearInputs: LinearInputObserver?) throws -> StageRecords<Outcome> {
        var outcomes: [Outcome] = []
        var states: [Float] = []
        let vocab = model.vocabularySize, first = context / 2
        for i in range {
            let record: ((Int, UnsafeBufferPointer<Float>) -> Void)? = trace ? { layer, h in
                // The last state (after the final norm) at the scored positions.
                guard layer == model.hiddenStateCount - 1 else { return }
                states += h[(first * model.hiddenSize)..<((context - 1) * model.hiddenSize)]
            } : nil
            let logits = try scoredLogits(model, chunk: i, hiddenStates: record, linearInputs: linearInputs)
            outcomes.append(Self.score(logits, vocab: vocab, targets: targets(i), chunk: i))
        }
        return StageRecords(outcomes: [outcomes], states: trace ? [states] : nil, outputs: nil)
    }

    /// NLL of each target under rows of logits, as llama-perplexity's `log_softmax` computes it.
    static func score(_ logits: [Float], vocab: Int, targets: ArraySlice<Int32>, chunk: Int) -> Outcome {
        var o = Outcome(chunk: chunk, tokens: targets.count, nll: 0, nllSquared: 0, top1: 0)
        logits.withUnsafeBufferPointer { lg in
            for (j, target) in targets.enumerated() {
                let row = lg.baseAddress! + j * vocab
                var r = sk_logsumexp_t()
                sk_logsumexp_row(row, vocab, &r)
                let v = -(Double(row[Int(target)]) - Double(r.max) - log(r.sum_exp))
                o.nll += v
                o.nllSquared += v * v
                if !v.isFinite { o.nonFiniteTokens = (o.nonFiniteTokens ?? 0) + 1 }
                if r.argmax == UInt32(target) { o.top1 += 1 }
            }
        }
        return o
    }

    public func metrics(_ outcomes: [Outcome], seed: UInt64) -> Metrics {
        let nll = outcomes.reduce(0) { $0 + $1.nll }, nll2 = outcomes.reduce(0) { $0 + $1.nllSquared }
        let count = outcomes.reduce(0) { $0 + $1.tokens }
        var running: [Double] = [], (s, c) = (0.0, 0)
        for o in outcomes { s += o.nll; c += o.tokens; running.append(exp(s / Double(c))) }
        // Every chunk scores the same number of tokens: the mean over chunks is the mean over tokens.
        let top1 = Statistics.bootstrapMean(outcomes.map(\.score), seed: seed)
        return Metrics(perplexity: Perplexity(nll: nll, nllSquared: nll2, count: count), top1: top1, chunks: outcomes.count,
                       chunkPerplexities: outcomes.map { exp($0.meanNLL) }, running: running,
                       nonFinite: NonFiniteUnits(units: outcomes.filter { !$0.finite }.map(\.chunk), of: outcomes.count,
                                                 positions: outcomes.reduce(0) { $0 + ($1.nonFiniteTokens ?? 0) }))
    }

    /// Forward FLOPs per chunk: 2 per weight per token (the cost model of the family counts attention too).
    public func flopsPerUnit(_ model: Model, depth: Context, stages: Int) -> Int {
        model.familyDescription.cost(CostQuery(context: depth.tokens)).flops
    }
}

/// A text tokenized as llama-perplexity tokenizes it (tools/perplexity/perplexity.cpp) and cut into chunks of
/// `context` tokens: the file without its one trailing newline byte (common/arg.cpp reads `-f FILE` so), BOS
/// first when the vocabulary adds one (add_special), each chunk's first token replaced by BOS.
public struct TokenizedText: Sendable {
    public let path: String
    public let tokens: [Int32]
    public let context: Int
    /// Whole chunks used (after any limit).
    public let chunkCount: Int
    public let bos: Int32?

    public init(path: String, tokenizer: any Tokenizer, context: Int, chunks: Int?) throws {
        guard context >= 8, context % 2 == 0 else {
            throw ModelError.badRequest(flag: "--ctx", reason: "\(context) must be an even number of tokens, at least 8")
        }
        if let chunks, chunks < 1 { throw ModelError.badRequest(flag: "--chunks", reason: "\(chunks) must be at least 1") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError.cannotOpen(file: path, reason: "no such file or not readable")
        }
        guard let text = String(validating: data.last == 0x0A ? data.dropLast() : data, as: UTF8.self) else {
            throw FormatError.cannotOpen(file: path, reason: "is not UTF-8 text")
        }
        tokens = (tokenizer.addsBOS ? tokenizer.bosID.map { [$0] } ?? [] : []) + tokenizer.encode(text)
        guard tokens.count >= 2 * context else {
            throw ModelError.badRequest(
                flag: "--text",
                reason: "\(path) tokenizes to only \(tokens.count) tokens; a context of \(context) needs at least \(2 * context) (pass a longer text or a smaller --ctx)")
        }
        self.path = path
        self.context = context
        chunkCount = min(tokens.count / context, chunks ?? Int.max)
        bos = tokenizer.addsBOS ? tokenizer.bosID : nil
    }

    /// Chunk `i` as the model sees it (BOS first where the vocabulary adds one).
    public func chunk(_ i: Int) -> [Int32] {
        var t = Array(tokens[(i * context)..<((i + 1) * context)])
        if let bos { t[0] = bos }
        return t
    }
}
