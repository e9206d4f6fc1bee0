import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// The embedding task (issue 13 §7): sentence splitting, tokenization into the corpus, retrieval, and the
/// comparison of two MiniLM variants.
@Suite struct EmbeddingTests {
    static let text = Fixtures.path("data/text/evaluation.txt")
    static let modelDirectory = Fixtures.path("models/minilm")

    static func require(_ path: String) throws {
        guard FileSystem.exists(path) else { throw ModelError.badRequest(flag: path, reason: "is missing: run tools/fetch_real.sh") }
    }

    struct Goldens: Decodable { var units: Int; var indices: [Int]; var texts: [String] }
    static func goldens() throws -> Goldens {
        try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Tests/Fixtures/minilm/sentences.json"))))
    }

    static let loaded = Result { () throws -> BertEncoder in
        try require(modelDirectory + "/model.safetensors")
        return try BertEncoder.load(modelDirectory)
    }

    static func corpus(limit: Int) throws -> SentenceCorpus {
        try require(text)
        let tokenizer = try WordPieceTokenizer(contentsOf: modelDirectory + "/tokenizer.json")
        return try SentenceCorpus.read(text, limit: limit, maxTokens: 256) { tokenizer.encode($0, maxLength: nil) }
    }

    @Test func splitterFindsTheDocumentedUnitsOfTheEvaluationNovels() throws {
        try Self.require(Self.text)
        let units = SentenceSplitter.units(in: try String(contentsOfFile: Self.text, encoding: .utf8))
        let g = try Self.goldens()
        #expect(units.count == 10_062)
        #expect(units.count == g.units)  // the Python port in tools/reference/minilm_goldens.py
        #expect(g.indices.count == 64)
        for (i, t) in zip(g.indices, g.texts) { #expect(units[i] == t, "unit \(i)") }
    }

    @Test func splitterRules() {
        let text = "CHAPTER IV.\r\n\r\nMr. Elliot came; Mrs. Clay\nstayed.--She smiled: \"Oh!\" said Anne.\n \nChapter 2\n\n1818.\n\n\"Yes,\" said he. (Indeed.)"
        #expect(SentenceSplitter.units(in: text) == ["Mr. Elliot came;", "Mrs. Clay stayed.", "She smiled:", "\"Oh!\"", "said Anne.",
                                                      "\"Yes,\" said he.", "(Indeed.)"])
    }

    @Test func corpusTokensEqualTheGoldenTokenizerOutput() throws {
        try Self.require(Self.modelDirectory + "/tokenizer.json")
        let g = try Self.goldens()
        let tokenizer = try WordPieceTokenizer(contentsOf: Self.modelDirectory + "/tokenizer.json")
        let golden = try Checkpoint.open(Fixtures.path("Tests/Fixtures/minilm/goldens.safetensors"))
        let ids = try golden.floats("input_ids").map { Int32($0) }, offsets = try golden.floats("offsets").map { Int($0) }
        let tmp = TemporaryDirectory()
        try g.texts.joined(separator: "\n\n").write(toFile: tmp.file("t.txt"), atomically: true, encoding: .utf8)
        let corpus = try SentenceCorpus.read(tmp.file("t.txt"), maxTokens: 256) { tokenizer.encode($0, maxLength: nil) }
        #expect(corpus.count == 64)
        for i in 0..<64 { #expect(corpus.tokens[i] == Array(ids[offsets[i]..<offsets[i + 1]]), "sentence \(i)") }
    }

    @Test func truncationKeepsTheLastToken() throws {
        let tmp = TemporaryDirectory()
        try "One two three four five.".write(toFile: tmp.file("t.txt"), atomically: true, encoding: .utf8)
        let corpus = try SentenceCorpus.read(tmp.file("t.txt"), maxTokens: 4) { _ in [101, 1, 2, 3, 4, 102] }
        #expect(corpus.tokens == [[101, 1, 2, 102]])
    }

    @Test func retrievalRanksByCosineExcludesItselfAndBreaksTiesByIndex() {
        // Unit vectors in 2-D at angles 0, 10, 10 (a duplicate), 30, 90 degrees.
        let angles: [Double] = [0, 10, 10, 30, 90]
        let e = angles.flatMap { [Float(cos($0 * .pi / 180)), Float(sin($0 * .pi / 180))] }
        let nn = Retrieval.nearest([0, 1, 4], in: e, width: 2, k: 3)
        #expect(nn == [[1, 2, 3], [2, 0, 3], [3, 1, 2]])
        let q = Retrieval.queries(count: 3, among: 10, seed: 7)
        #expect(q.count == 3 && Set(q).count == 3 && q == Retrieval.queries(count: 3, among: 10, seed: 7))
    }

    @Test func aModelAgreesWithItselfAndInt8StaysClose() throws {
        let model = try Self.loaded.get()
        let corpus = try Self.corpus(limit: 48)
        var o = EmbeddingComparison.Options()
        o.minimumSentences = 48; o.queries = 16; o.batchSize = 24
        let same = try EmbeddingComparison.compare(original: model, compressed: model, on: corpus, options: o)
        #expect(same.sentences == 48 && same.queries == 16)
        #expect(abs(same.embeddingCosine.estimate - 1) < 1e-12 && same.retrievalAgreement.estimate == 1 && same.identicalNeighbourSets == 16)
        #expect(same.hiddenStates.count == 7 && same.hiddenStates.allSatisfy { abs($0.cosine.estimate - 1) < 1e-12 })

        var q = QuantizeOptions()
        q.bits = 8; q.granularity = .channel
        let source = try Checkpoint.open(Self.modelDirectory + "/model.safetensors")
        let (weights, bytes) = try QuantizeJob.roundTrip(source, options: q)
        let int8 = try BertEncoder(config: model.config, weights: weights, location: "int8 round trip")
        let r = try EmbeddingComparison.compare(original: model, compressed: int8, on: corpus, compressedBytes: bytes, options: o)
        #expect(r.embeddingCosine.estimate > 0.999 && r.embeddingCosine.estimate < 1)
        #expect(r.embeddingCosine.lower <= r.embeddingCosine.estimate && r.embeddingCosine.estimate <= r.embeddingCosine.upper)
        #expect(r.retrievalAgreement.estimate > 0.8)
        // The embedding output is untouched (tables are kept), every layer after it drifts a little.
        #expect(r.hiddenStates[0].cosine.estimate == 1 && r.hiddenStates[6].cosine.estimate < 1)
    }

    @Test func tooFewSentencesIsAnErrorNamingTheFile() throws {
        let model = try Self.loaded.get()
        let corpus = SentenceCorpus(source: "short.txt", sentences: ["a b c."], tokens: [[101, 102]], maxTokens: 256)
        #expect(throws: EmbeddingTaskError.tooFewSentences(file: "short.txt", found: 1, needed: 10_000)) {
            try EmbeddingComparison.compare(original: model, compressed: model, on: corpus)
        }
    }
}
