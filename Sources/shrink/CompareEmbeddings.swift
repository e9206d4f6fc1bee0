import ArgumentParser
import Foundation
import ShrinkEval

/// `shrink compare A B --sentences FILE`: two sentence encoders (MiniLM and a compressed copy).
struct EmbeddingCompareOptions: ParsableArguments {
    @Option(help: "A text file (e.g. data/text/evaluation.txt): compare two sentence encoders on its sentences (--limit N: the first N).")
    var sentences: String?

    @Option(help: "Refuse to run on fewer sentences than this.")
    var minSentences = 10_000

    @Option(help: "Query sentences for the top-k retrieval agreement.")
    var queries = 500

    @Option(help: "Neighbours per query.")
    var neighbours = 10

    @Option(help: "Sentences per encoder batch.")
    var sentenceBatch = 64

    @Option(help: "Seed of the query draw and the bootstrap.")
    var seed: UInt64 = 0
}

extension Compare {
    func runEmbeddings() throws {
        var o = EmbeddingComparison.Options()
        o.queries = embeddings.queries; o.neighbours = embeddings.neighbours; o.batchSize = embeddings.sentenceBatch
        o.seed = embeddings.seed; o.minimumSentences = embeddings.minSentences
        let r = try EmbeddingComparison.compare(original: original, compressed: compressed, sentences: embeddings.sentences!,
                                                limit: depth.limit, options: o, progress: out.progress)
        try writeHTML(.embeddingComparison(r))
        try out.emit(r) { Format.embeddingComparison(r) }
    }
}

extension Format {
    static func embeddingComparison(_ r: EmbeddingComparison.Report) -> String {
        func interval(_ i: Statistics.Interval) -> String { "\(fixed(i.estimate, 5)) [\(fixed(i.lower, 5)), \(fixed(i.upper, 5))]" }
        func side(_ name: String, _ s: EmbeddingComparison.Side) -> [String] {
            [name, s.weightBytes.map(bytes) ?? "?", fixed(s.sentencesPerSecond, 1), fixed(1000 * s.cpuSeconds / Double(r.sentences), 2)]
        }
        var s = "\(r.sentences) sentences of \(r.data) (\(r.tokens) tokens, at most \(r.maxTokens) per sentence)\n"
        s += table(["model", "weights", "sentences/s", "CPU ms/sentence"], [side("original", r.original), side("compressed", r.compressed)], rightAligned: [1, 2, 3]) + "\n"
        s += "embedding cosine: \(interval(r.embeddingCosine)); 1 − cos p50 \(String(format: "%.2e", r.embeddingDistance["p50"] ?? 0)), "
        s += "p99 \(String(format: "%.2e", r.embeddingDistance["p99"] ?? 0)), worst \(String(format: "%.2e", r.embeddingDistance["max"] ?? 0))\n"
        s += "top-\(r.neighbours) retrieval agreement over \(r.queries) queries: \(interval(r.retrievalAgreement)) "
        s += "(\(r.identicalNeighbourSets) with the same \(r.neighbours) neighbours)\n"
        s += "hidden-state cosine by layer: " + r.hiddenStates.map { "\($0.layer): \(fixed($0.cosine.estimate, 5))" }.joined(separator: "  ")
        if let bad = r.nonFinite { s += "\nwarning: " + bad.description(unitName: "sentences") + "; the means over them are not numbers" }
        return s
    }
}
