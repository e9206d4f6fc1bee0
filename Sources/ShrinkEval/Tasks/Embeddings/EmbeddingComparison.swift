import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// Two sentence encoders (an original and a compressed MiniLM) on the same sentences: how far their
/// embeddings, their nearest-neighbour structure and their hidden states drift (issue 13 §7).
///
/// A comparison of its own rather than an `EvaluationTask`: the protocol's units have a per-model outcome
/// (solved, a score) and compare unit by unit, while this task is label-free and its retrieval measure is a
/// property of the whole corpus of embeddings (each query's neighbours among all sentences), known only once
/// every sentence is encoded. It reuses `Statistics` (bootstrap intervals) and `CosineAccumulator`.
public enum EmbeddingComparison {
    public struct Options: Sendable {
        /// Query sentences for the retrieval agreement, drawn without replacement with `seed`.
        public var queries = 500
        /// Neighbours compared per query.
        public var neighbours = 10
        /// Sentences per encoder call (packed, no padding).
        public var batchSize = 64
        /// Seed of the query draw and the bootstrap resampling.
        public var seed: UInt64 = 0
        /// At least this many sentences, or the comparison refuses to run (issue 13: ≥ 10,000).
        public var minimumSentences = 10_000
        public init() {}
    }

    public struct Side: Codable, Sendable {
        public var model: String
        /// Bytes of its weights as stored (a compressed directory's files, or an in-memory round trip's).
        public var weightBytes: Int?
        /// Sentences encoded per second of wall time during the comparison (hidden states traced), both cores.
        public var sentencesPerSecond: Double
        public var seconds: Double
        /// Process CPU seconds (user + system) spent in its encoder calls: on a shared machine, what the
        /// encoder cost independently of how much of the cores it got.
        public var cpuSeconds: Double
    }

    /// The cosine of the two models' hidden states after one layer, per sentence over all its tokens.
    public struct LayerFidelity: Codable, Sendable {
        /// 0 is the embedding output, i the output of encoder layer i (transformers' hidden_states index).
        public var layer: Int
        public var cosine: Statistics.Interval
        public var minimum: Double
    }

    public struct Report: Codable, Sendable {
        public var data: String
        public var sentences: Int
        public var tokens: Int
        public var maxTokens: Int
        public var original: Side
        public var compressed: Side
        /// Mean over sentences of cos(embedding_A, embedding_B), with a bootstrap 95% interval.
        public var embeddingCosine: Statistics.Interval
        /// 1 − cos at the 50th, 90th, 99th percentile and the worst sentence.
        public var embeddingDistance: [String: Double]
        public var queries: Int
        public var neighbours: Int
        /// Mean over queries of |NN_k(A) ∩ NN_k(B)| / k (cosine, the query itself excluded), bootstrap 95%.
        public var retrievalAgreement: Statistics.Interval
        /// Queries whose k neighbours are the same set under both models.
        public var identicalNeighbourSets: Int
        public var hiddenStates: [LayerFidelity]
        /// Sentences whose embedding under either model held NaN or ±Inf (their cosine is NaN, and so are the
        /// means over them); absent when none did.
        public var nonFinite: NonFiniteUnits?
    }

    /// Encodes every sentence of `corpus` with both models and compares them.
    public static func compare(original: BertEncoder, compressed: BertEncoder, on corpus: SentenceCorpus,
                               originalBytes: Int? = nil, compressedBytes: Int? = nil, options: Options = Options(),
                               progress: (any ProgressSink)? = nil) throws -> Report {
        guard original.hasSameArchitecture(as: compressed) else {
            throw ModelError.dataMismatch(model: compressed.location, data: original.location, detail: "the two models have different configs")
        }
        let needed = max(options.minimumSentences, options.queries, options.neighbours + 1)
        guard corpus.count >= needed else { throw EmbeddingTaskError.tooFewSentences(file: corpus.source, found: corpus.count, needed: needed) }
        guard options.queries >= 1, options.neighbours >= 1, options.batchSize >= 1 else {
            throw ModelError.badRequest(flag: "--queries/--neighbours/--batch", reason: "must be at least 1")
        }
        let D = original.config.hiddenSize, N = corpus.count, layers = original.config.numHiddenLayers + 1
        var embeddingsA = [Float](repeating: 0, count: N * D), embeddingsB = embeddingsA
        var cosines = [Double](repeating: 0, count: N)
        var layerCosines = [[Double]](repeating: [Double](repeating: 0, count: N), count: layers)
        var secondsA = 0.0, secondsB = 0.0, cpuA = 0.0, cpuB = 0.0
        var start = 0
        while start < N {
            progress?.update(done: start, total: N, item: "sentences")
            let end = min(start + options.batchSize, N)
            let batch = Array(corpus.tokens[start..<end])
            let (t0, c0) = (Date(), processCPUSeconds())
            let a = try original.encode(batch, hiddenStates: true)
            let (t1, c1) = (Date(), processCPUSeconds())
            let b = try compressed.encode(batch, hiddenStates: true)
            secondsA += t1.timeIntervalSince(t0); secondsB += Date().timeIntervalSince(t1)
            cpuA += c1 - c0; cpuB += processCPUSeconds() - c1
            for i in 0..<(end - start) {
                var acc = CosineAccumulator()
                acc.add(a.embedding(i), b.embedding(i))
                cosines[start + i] = acc.cosine
                for l in 0..<layers {
                    var h = CosineAccumulator()
                    let rows = a.tokens(of: i)
                    h.add(a.hiddenStates![l][(rows.lowerBound * D)..<(rows.upperBound * D)], b.hiddenStates![l][(rows.lowerBound * D)..<(rows.upperBound * D)])
                    layerCosines[l][start + i] = h.cosine
                }
            }
            embeddingsA.replaceSubrange((start * D)..<(end * D), with: a.embeddings)
            embeddingsB.replaceSubrange((start * D)..<(end * D), with: b.embeddings)
            start = end
        }
        progress?.finish()

        let queries = Retrieval.queries(count: options.queries, among: N, seed: options.seed)
        let nnA = Retrieval.nearest(queries, in: embeddingsA, width: D, k: options.neighbours)
        let nnB = Retrieval.nearest(queries, in: embeddingsB, width: D, k: options.neighbours)
        let overlap = zip(nnA, nnB).map { Double(Set($0).intersection($1).count) / Double(options.neighbours) }

        let nonFinite = NonFiniteUnits(units: (0..<N).filter { cosines[$0].isNaN }, of: N)
        // NaN has no rank: with any, every percentile of the distance is NaN.
        let distances = nonFinite == nil ? cosines.map { 1 - $0 }.sorted() : [Double](repeating: .nan, count: N)
        func percentile(_ p: Double) -> Double { distances[min(N - 1, Int((p * Double(N - 1)).rounded()))] }
        return Report(
            data: corpus.source, sentences: N, tokens: corpus.tokenCount, maxTokens: corpus.maxTokens,
            original: Side(model: original.location, weightBytes: originalBytes, sentencesPerSecond: Double(N) / secondsA, seconds: secondsA, cpuSeconds: cpuA),
            compressed: Side(model: compressed.location, weightBytes: compressedBytes, sentencesPerSecond: Double(N) / secondsB, seconds: secondsB, cpuSeconds: cpuB),
            embeddingCosine: Statistics.bootstrapMean(cosines, seed: options.seed &+ 1),
            embeddingDistance: ["p50": percentile(0.5), "p90": percentile(0.9), "p99": percentile(0.99), "max": distances[N - 1]],
            queries: queries.count, neighbours: options.neighbours,
            retrievalAgreement: Statistics.bootstrapMean(overlap, seed: options.seed &+ 2),
            identicalNeighbourSets: overlap.filter { $0 == 1 }.count,
            hiddenStates: (0..<layers).map { l in
                LayerFidelity(layer: l, cosine: Statistics.bootstrapMean(layerCosines[l], seed: options.seed &+ 3),
                              minimum: layerCosines[l].contains(where: \.isNaN) ? .nan : layerCosines[l].min() ?? 1)
            }, nonFinite: nonFinite)
    }

    /// Loads both models (BERT directories, weights files or `shrink quantize` outputs), reads the sentences of
    /// `text` with the original's tokenizer.json and sentence_bert_config.json's `max_seq_length` (the
    /// compressed directory need not carry either), and compares them: what `shrink compare A B --sentences
    /// FILE` runs.
    public static func compare(original: String, compressed: String, sentences text: String, limit: Int? = nil,
                               options: Options = Options(), progress: (any ProgressSink)? = nil) throws -> Report {
        let a = try BertEncoder.load(original), b = try BertEncoder.load(compressed)
        let directory = ModelLocation(original).directory
        let tokenizer = try WordPieceTokenizer(contentsOf: directory + "/tokenizer.json")
        let maxTokens = min(try SentenceCorpus.maxSequenceLength(modelDirectory: directory) ?? a.config.maxPositionEmbeddings,
                            a.config.maxPositionEmbeddings)
        let corpus = try SentenceCorpus.read(text, limit: limit, maxTokens: maxTokens) { tokenizer.encode($0, maxLength: nil) }
        return try compare(original: a, compressed: b, on: corpus, originalBytes: try ModelLocation(original).openStored().totalBytes,
                           compressedBytes: try ModelLocation(compressed).openStored().totalBytes, options: options, progress: progress)
    }
}

/// User + system CPU seconds of this process so far (getrusage).
func processCPUSeconds() -> Double {
    var u = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &u)
    #else
    getrusage(RUSAGE_SELF, &u)
    #endif
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(u.ru_utime) + s(u.ru_stime)
}

/// Nearest neighbours by cosine among unit-norm embeddings.
public enum Retrieval {
    /// `count` distinct sentence indices out of `n`, the first of a seeded shuffle (the same on every platform).
    public static func queries(count: Int, among n: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<n)
        var rng = SeededGenerator(seed: seed)
        rng.shuffle(&order)
        return Array(order.prefix(min(count, n)))
    }

    /// For each query, the indices of its `k` most similar embeddings (dot product of the unit vectors, itself
    /// excluded), most similar first; equal scores rank the lower index first, so duplicates are deterministic.
    public static func nearest(_ queries: [Int], in embeddings: [Float], width D: Int, k: Int) -> [[Int]] {
        let n = embeddings.count / D
        let table = PackedLinear(weight: embeddings, outFeatures: n, inFeatures: D)
        var q = [Float](repeating: 0, count: queries.count * D)
        for (r, i) in queries.enumerated() { for j in 0..<D { q[r * D + j] = embeddings[i * D + j] } }
        let scores = table.apply(q, rows: queries.count)
        return queries.enumerated().map { r, self_ in
            var best: [(score: Float, index: Int)] = []
            best.reserveCapacity(k + 1)
            for j in 0..<n where j != self_ {
                let s = scores[r * n + j]
                if best.count == k, let last = best.last, s <= last.score { continue }
                // Insert after every equal score (lower indices came first), keep k.
                var at = best.count
                while at > 0, best[at - 1].score < s { at -= 1 }
                best.insert((s, j), at: at)
                if best.count > k { best.removeLast() }
            }
            return best.map(\.index)
        }
    }
}
