import Foundation
import ShrinkFormats
import ShrinkTensor

/// What can go wrong reading sentences for the embedding task. Each case names the file and the fix.
public enum EmbeddingTaskError: UserFacingError, Equatable, Sendable {
    case notText(file: String)
    case tooFewSentences(file: String, found: Int, needed: Int)
    case badMaxTokens(file: String, value: String)

    public var description: String {
        switch self {
        case let .notText(f): "\(f): is not UTF-8 text; pass a plain-text file of prose (data/text/evaluation.txt)"
        case let .tooFewSentences(f, found, needed):
            "\(f): holds \(found) sentence\(found == 1 ? "" : "s") (SentenceSplitter), the comparison needs at least \(needed); pass a longer text, or lower --min-sentences (and --queries)"
        case let .badMaxTokens(f, v): "\(f): max_seq_length '\(v)' is not a positive integer"
        }
    }
}

/// Sentences of a text, tokenized for an encoder: the units the embedding task encodes.
public struct SentenceCorpus: Sendable {
    /// The file the sentences came from.
    public var source: String
    public var sentences: [String]
    /// Per sentence, its token ids (`[CLS] … [SEP]`), truncated to `maxTokens`.
    public var tokens: [[Int32]]
    public var maxTokens: Int

    public init(source: String, sentences: [String], tokens: [[Int32]], maxTokens: Int) {
        self.source = source; self.sentences = sentences; self.tokens = tokens; self.maxTokens = maxTokens
    }

    public var count: Int { sentences.count }
    public var tokenCount: Int { tokens.reduce(0) { $0 + $1.count } }

    /// The units of the text at `path` (`SentenceSplitter`), the first `limit` of them, each tokenized by
    /// `tokenize` and truncated as sentence-transformers truncates (Transformer.max_seq_length, via the
    /// tokenizer's truncation): the first `maxTokens − 1` ids, then the last one (`[SEP]`).
    public static func read(_ path: String, limit: Int? = nil, maxTokens: Int = 256,
                            tokenize: (String) throws -> [Int32]) throws -> SentenceCorpus {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch {
            throw FormatError.cannotOpen(file: path, reason: "\(error); pass a text file (tools/fetch_real.sh puts the novels in data/text)")
        }
        guard let text = String(validating: mapped.bytes(0..<mapped.byteCount), as: UTF8.self) else { throw EmbeddingTaskError.notText(file: path) }
        var sentences = SentenceSplitter.units(in: text)
        if let limit { sentences = Array(sentences.prefix(max(0, limit))) }
        let tokens = try sentences.map { s -> [Int32] in
            let ids = try tokenize(s)
            return ids.count <= maxTokens || maxTokens < 2 ? ids : Array(ids.prefix(maxTokens - 1)) + [ids.last!]
        }
        return SentenceCorpus(source: path, sentences: sentences, tokens: tokens, maxTokens: maxTokens)
    }

    /// sentence-transformers' `max_seq_length` from `sentence_bert_config.json` in `modelDirectory`, or nil
    /// when the file is absent (a plain transformers checkpoint).
    public static func maxSequenceLength(modelDirectory: String) throws -> Int? {
        let file = modelDirectory + "/sentence_bert_config.json"
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        struct Config: Decodable {
            var value: Int?
            enum CodingKeys: String, CodingKey { case value = "max_seq_length" }
        }
        guard let c = try? JSONDecoder().decode(Config.self, from: data) else {
            throw EmbeddingTaskError.badMaxTokens(file: file, value: String(decoding: data.prefix(60), as: UTF8.self))
        }
        guard let v = c.value else { return nil }
        guard v > 0 else { throw EmbeddingTaskError.badMaxTokens(file: file, value: "\(v)") }
        return v
    }
}
