import Foundation

/// BERT's WordPiece tokenizer as Hugging Face `tokenizers` runs it from a tokenizer.json: added tokens matched
/// first, then BertNormalizer, BertPreTokenizer, greedy longest-match WordPiece, the post-processor's [CLS] … [SEP]
/// and its truncation.
///
/// Sources: tokenizers/src/normalizers/bert.rs, pre_tokenizers/bert.rs, models/wordpiece/mod.rs,
/// processors/template.rs, decoders/wordpiece.rs, tokenizer/added_vocabulary.rs (tokenizers 0.23); the greedy
/// longest-match-first algorithm of Wu et al. 2016 (arXiv:1609.08144) as BERT's tokenization.py implements it.
///
/// Single sequences only (the JSON's `pair` template is not used). Padding from the JSON is not applied: a batch
/// pads with `padID` and masks, so `encode` returns real tokens only.
public struct WordPieceTokenizer: Tokenizer {
    public let normalizer: BertNormalizer?
    /// Token strings by id (the model vocabulary, extended by any added token beyond it).
    public let tokens: [String]
    let ids: [String: Int32]
    public let unknownID: Int32
    public let continuingSubwordPrefix: String
    public let maxInputCharsPerWord: Int
    /// Ids the post-processor puts before and after a single sequence ([CLS] and [SEP] for BERT).
    public let prefixIDs: [Int32]
    public let suffixIDs: [Int32]
    /// The total length (special tokens included) that tokenizer.json's `truncation` asks for, or nil.
    public let maxLength: Int?
    /// Truncation keeps the first tokens (true, tokenizers' `Right`) or the last ones (`Left`).
    public let truncatesRight: Bool
    public let padID: Int32?
    let rawAdded: AddedTokenMatcher
    let normalizedAdded: AddedTokenMatcher
    let specialIDs: Set<Int32>
    let decoderCleanup: Bool

    public var vocabularySize: Int { tokens.count }
    public var bosID: Int32? { prefixIDs.first }
    public var addsBOS: Bool { !prefixIDs.isEmpty }

    /// Reads a tokenizer.json whose model is WordPiece (all-MiniLM-L6-v2's, BERT's).
    public init(contentsOf path: String) throws(TokenizerError) {
        try self.init(json: TokenizerJSON.load(path))
    }

    init(json: TokenizerJSON) throws(TokenizerError) {
        let file = json.file
        let modelType = try json.string("model.type")
        guard modelType == "WordPiece" else {
            throw .unsupported(file: file, key: "model.type", value: modelType, supported: ["WordPiece"])
        }
        var tokens = try json.vocabulary("model.vocab")
        let added = try json.addedTokens()
        var ids = [String: Int32](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() { ids[t] = Int32(i) }
        for a in added {
            guard a.id >= 0, a.id < Int(Int32.max) else { throw .idOutOfRange(file: file, key: "added_tokens.\(a.content)", id: a.id, vocabularySize: tokens.count) }
            if a.id < tokens.count {
                guard tokens[a.id] == a.content else {
                    throw .inconsistent(file: file, key: "added_tokens.\(a.content)", detail: "has id \(a.id), which the vocabulary gives to '\(tokens[a.id])'")
                }
            } else if a.id == tokens.count {
                tokens.append(a.content)
                ids[a.content] = Int32(a.id)
            } else {
                throw .idOutOfRange(file: file, key: "added_tokens.\(a.content)", id: a.id, vocabularySize: tokens.count)
            }
        }
        self.tokens = tokens
        self.ids = ids

        let unk = try json.string("model.unk_token")
        guard let unkID = ids[unk] else { throw .unknownToken(file: file, key: "model.unk_token", token: unk) }
        unknownID = unkID
        continuingSubwordPrefix = try json.optional("model.continuing_subword_prefix") == nil ? "##" : json.string("model.continuing_subword_prefix")
        maxInputCharsPerWord = try json.optional("model.max_input_chars_per_word") == nil ? 100 : json.int("model.max_input_chars_per_word")

        if let n = json.optional("normalizer") {
            let type = try json.string("type", in: n, prefix: "normalizer.")
            guard type == "BertNormalizer" else { throw .unsupported(file: file, key: "normalizer.type", value: type, supported: ["BertNormalizer"]) }
            let lowercase = try json.bool("lowercase", in: n, prefix: "normalizer.", default: true)
            normalizer = BertNormalizer(
                cleanText: try json.bool("clean_text", in: n, prefix: "normalizer.", default: true),
                handleChineseChars: try json.bool("handle_chinese_chars", in: n, prefix: "normalizer.", default: true),
                // tokenizers: `strip_accents: null` follows `lowercase`.
                stripAccents: try json.bool("strip_accents", in: n, prefix: "normalizer.", default: lowercase),
                lowercase: lowercase)
        } else {
            normalizer = nil
        }
        if let p = json.optional("pre_tokenizer") {
            let type = try json.string("type", in: p, prefix: "pre_tokenizer.")
            guard type == "BertPreTokenizer" else { throw .unsupported(file: file, key: "pre_tokenizer.type", value: type, supported: ["BertPreTokenizer"]) }
        }

        var prefix: [Int32] = [], suffix: [Int32] = []
        if let post = json.optional("post_processor") {
            let type = try json.string("type", in: post, prefix: "post_processor.")
            switch type {
            case "TemplateProcessing":
                var specials: [String: [Int32]] = [:]
                for (name, entry) in try json.object("special_tokens", in: post, prefix: "post_processor.") {
                    let key = "post_processor.special_tokens.\(name).ids"
                    specials[name] = try json.array("ids", in: entry, prefix: "post_processor.special_tokens.\(name).").map { v throws(TokenizerError) in
                        guard let id = v.intValue else { throw .wrongKind(file: file, key: key, expected: "integer ids", found: v.kindName) }
                        guard id >= 0, id < tokens.count else { throw .idOutOfRange(file: file, key: key, id: id, vocabularySize: tokens.count) }
                        return Int32(id)
                    }
                }
                var seenSequence = false
                for (i, piece) in try json.array("single", in: post, prefix: "post_processor.").enumerated() {
                    let key = "post_processor.single[\(i)]"
                    if piece["Sequence"] != nil {
                        guard !seenSequence else { throw .inconsistent(file: file, key: key, detail: "repeats the sequence") }
                        seenSequence = true
                    } else if let special = piece["SpecialToken"] {
                        let name = try json.string("id", in: special, prefix: key + ".SpecialToken.")
                        guard let pieceIDs = specials[name] else { throw .unknownToken(file: file, key: key + ".SpecialToken.id", token: name) }
                        if seenSequence { suffix += pieceIDs } else { prefix += pieceIDs }
                    } else {
                        throw .wrongKind(file: file, key: key, expected: "a Sequence or SpecialToken item", found: piece.kindName)
                    }
                }
                guard seenSequence else { throw .inconsistent(file: file, key: "post_processor.single", detail: "has no Sequence item") }
            case "BertProcessing":
                func pair(_ name: String) throws(TokenizerError) -> Int32 {
                    let a = try json.array(name, in: post, prefix: "post_processor.")
                    guard a.count == 2, let id = a[1].intValue else {
                        throw .wrongKind(file: file, key: "post_processor.\(name)", expected: "a [token, id] pair", found: "\(a.count) items")
                    }
                    guard id >= 0, id < tokens.count else { throw .idOutOfRange(file: file, key: "post_processor.\(name)", id: id, vocabularySize: tokens.count) }
                    return Int32(id)
                }
                prefix = [try pair("cls")]
                suffix = [try pair("sep")]
            default:
                throw .unsupported(file: file, key: "post_processor.type", value: type, supported: ["TemplateProcessing", "BertProcessing"])
            }
        }
        prefixIDs = prefix
        suffixIDs = suffix

        if let t = json.optional("truncation") {
            let n = try json.int("max_length", in: t, prefix: "truncation.")
            guard n > prefix.count + suffix.count else {
                throw .inconsistent(file: file, key: "truncation.max_length", detail: "is \(n), leaving no room beside the \(prefix.count + suffix.count) special tokens")
            }
            maxLength = n
            let direction = json.optional("direction", in: t)?.stringValue ?? "Right"
            guard direction == "Right" || direction == "Left" else {
                throw .unsupported(file: file, key: "truncation.direction", value: direction, supported: ["Right", "Left"])
            }
            truncatesRight = direction == "Right"
        } else {
            maxLength = nil
            truncatesRight = true
        }
        if let pad = json.optional("padding") {
            let id = try json.int("pad_id", in: pad, prefix: "padding.")
            guard id >= 0, id < tokens.count else { throw .idOutOfRange(file: file, key: "padding.pad_id", id: id, vocabularySize: tokens.count) }
            padID = Int32(id)
        } else {
            padID = ids["[PAD]"]
        }
        if let d = json.optional("decoder") {
            let type = try json.string("type", in: d, prefix: "decoder.")
            guard type == "WordPiece" else { throw .unsupported(file: file, key: "decoder.type", value: type, supported: ["WordPiece"]) }
            decoderCleanup = try json.bool("cleanup", in: d, prefix: "decoder.", default: true)
        } else {
            decoderCleanup = true
        }

        let normalizer = self.normalizer
        rawAdded = AddedTokenMatcher(added.filter { !$0.normalized }.map { (Array($0.content.unicodeScalars), Int32($0.id)) })
        normalizedAdded = AddedTokenMatcher(added.filter(\.normalized).map {
            let s = Array($0.content.unicodeScalars)
            return (normalizer?.normalize(s) ?? s, Int32($0.id))
        })
        specialIDs = Set(added.filter(\.special).map { Int32($0.id) })
    }

    /// The post-processed ids ([CLS] … [SEP]), truncated to tokenizer.json's `truncation.max_length` if it has one.
    public func encode(_ text: String) -> [Int32] { encode(text, maxLength: maxLength) }

    /// The post-processed ids, at most `maxLength` in all (special tokens included); nil for no truncation.
    public func encode(_ text: String, maxLength: Int?) -> [Int32] {
        var body = encodeWithoutSpecialTokens(text)
        if let maxLength {
            let room = max(0, maxLength - prefixIDs.count - suffixIDs.count)
            if body.count > room { body = truncatesRight ? Array(body.prefix(room)) : Array(body.suffix(room)) }
        }
        return prefixIDs + body + suffixIDs
    }

    /// WordPiece ids of the text alone: no [CLS]/[SEP], no truncation.
    public func encodeWithoutSpecialTokens(_ text: String) -> [Int32] {
        var out: [Int32] = []
        rawAdded.split(Array(text.unicodeScalars)) { segment, added in
            if let added { out.append(added); return }
            let normalized = normalizer?.normalize(segment) ?? Array(segment)
            normalizedAdded.split(normalized[...]) { piece, added in
                if let added { out.append(added); return }
                BertPreTokenizer.split(piece) { word in appendWordPiece(word, to: &out) }
            }
        }
        return out
    }

    /// Greedy longest-match-first over the word's characters; a word with any unmatched remainder, or longer than
    /// `maxInputCharsPerWord`, becomes one [UNK] (models/wordpiece/mod.rs `tokenize`).
    func appendWordPiece(_ word: ArraySlice<Unicode.Scalar>, to out: inout [Int32]) {
        guard word.count <= maxInputCharsPerWord else { out.append(unknownID); return }
        let mark = out.count
        var start = word.startIndex
        while start < word.endIndex {
            var end = word.endIndex
            var found: Int32?
            while start < end {
                var piece = start > word.startIndex ? continuingSubwordPrefix : ""
                piece.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = ids[piece] { found = id; break }
                end -= 1
            }
            guard let found else {
                out.removeSubrange(mark...)
                out.append(unknownID)
                return
            }
            out.append(found)
            start = end
        }
    }

    /// Tokens joined with spaces, `##` pieces glued to the previous one, special tokens skipped and tokenizers'
    /// `cleanup` applied per token (decoders/wordpiece.rs), as `Tokenizer.decode(ids)` does by default.
    public func decode(_ ids: [Int32]) -> String {
        var out = ""
        var first = true
        for id in ids where id >= 0 && Int(id) < tokens.count && !specialIDs.contains(id) {
            var token = tokens[Int(id)]
            if !first {
                if token.hasPrefix(continuingSubwordPrefix) {
                    token.removeFirst(continuingSubwordPrefix.count)
                } else {
                    token = " " + token
                }
            }
            first = false
            out += decoderCleanup ? Self.cleanup(token) : token
        }
        return out
    }

    /// decoders/wordpiece.rs `cleanup`: the spaces BERT's tokenization put before punctuation and contractions.
    static func cleanup(_ s: String) -> String {
        guard s.hasPrefix(" ") else { return s }
        var t = s
        for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                       (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            t = t.replacingOccurrences(of: a, with: b)
        }
        return t
    }
}

/// tokenizers' BertNormalizer (normalizers/bert.rs), applied in its order: clean text, pad CJK ideographs,
/// strip accents (NFD, drop Mn), lower-case (per character, full mapping).
public struct BertNormalizer: Sendable, Equatable {
    public var cleanText: Bool
    public var handleChineseChars: Bool
    public var stripAccents: Bool
    public var lowercase: Bool

    public func normalize(_ input: some Collection<Unicode.Scalar>) -> [Unicode.Scalar] {
        var s: [Unicode.Scalar] = []
        s.reserveCapacity(input.count)
        var ascii = true
        for c in input {
            if cleanText {
                if c.value == 0 || c.value == 0xFFFD || Self.isControl(c) { continue }
                if Self.isWhitespace(c) { s.append(" "); continue }
            }
            if handleChineseChars && Self.isChineseChar(c) {
                s.append(" "); s.append(c); s.append(" ")
                ascii = false
                continue
            }
            if c.value >= 0x80 { ascii = false }
            s.append(c)
        }
        if stripAccents && !ascii {
            let decomposed = String(String.UnicodeScalarView(s)).decomposedStringWithCanonicalMapping
            s = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            if ascii {
                for i in s.indices where s[i].value >= 0x41 && s[i].value <= 0x5A { s[i] = Unicode.Scalar(UInt8(s[i].value + 0x20)) }
            } else {
                s = s.flatMap { c -> [Unicode.Scalar] in
                    if c.value < 0x80 {
                        return [c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(UInt8(c.value + 0x20)) : c]
                    }
                    return Array(c.properties.lowercaseMapping.unicodeScalars)
                }
            }
        }
        return s
    }

    /// bert.rs `is_whitespace`: \t \n \r and Unicode White_Space.
    @inline(__always) static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x80 ? c.value == 0x20 || (c.value >= 0x09 && c.value <= 0x0D) : c.properties.isWhitespace
    }

    /// bert.rs `is_control`: the Other categories (Cc, Cf, Cs, Co, Cn) except \t \n \r.
    @inline(__always) static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c.value >= 0x20 && c.value < 0x7F { return false }
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// bert.rs `is_chinese_char`: the CJK Unified Ideographs blocks BERT pads with spaces.
    static func isChineseChar(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: true
        default: false
        }
    }
}

/// tokenizers' BertPreTokenizer (pre_tokenizers/bert.rs): split on whitespace (removed) and isolate every
/// punctuation character (ASCII punctuation, which includes symbols like `$` and `^`, or Unicode category P*).
enum BertPreTokenizer {
    static func split(_ s: ArraySlice<Unicode.Scalar>, _ word: (ArraySlice<Unicode.Scalar>) -> Void) {
        var start = s.startIndex
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if BertNormalizer.isWhitespace(c) {
                if start < i { word(s[start..<i]) }
                start = i + 1
            } else if isPunctuation(c) {
                if start < i { word(s[start..<i]) }
                word(s[i..<i + 1])
                start = i + 1
            }
            i += 1
        }
        if start < s.endIndex { word(s[start..<s.endIndex]) }
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return true
        case 0..<0x80: return false
        default:
            switch c.properties.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
                 .finalPunctuation, .otherPunctuation: return true
            default: return false
            }
        }
    }
}

/// Finds added tokens in text, leftmost-longest as tokenizers' AddedVocabulary does (Aho-Corasick
/// `LeftmostLongest`), and hands out the pieces between them and the tokens' ids in order.
struct AddedTokenMatcher: Sendable {
    let patterns: [([Unicode.Scalar], Int32)]
    /// Which ASCII scalars start a pattern (most text never holds one), and the other first scalars.
    let asciiFirst: [Bool]
    let otherFirst: Set<Unicode.Scalar>

    init(_ patterns: [([Unicode.Scalar], Int32)]) {
        self.patterns = patterns.filter { !$0.0.isEmpty }
        var ascii = [Bool](repeating: false, count: 128)
        var other = Set<Unicode.Scalar>()
        for (p, _) in self.patterns {
            if p[0].value < 128 { ascii[Int(p[0].value)] = true } else { other.insert(p[0]) }
        }
        asciiFirst = ascii
        otherFirst = other
    }

    func split(_ s: ArraySlice<Unicode.Scalar>, _ body: (ArraySlice<Unicode.Scalar>, Int32?) -> Void) {
        guard !patterns.isEmpty else { body(s, nil); return }
        var start = s.startIndex
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            guard c.value < 128 ? asciiFirst[Int(c.value)] : otherFirst.contains(c) else { i += 1; continue }
            var best: (length: Int, id: Int32)?
            for (p, id) in patterns where p.count <= s.endIndex - i && p.count > (best?.length ?? 0) && p[0] == s[i] {
                if s[i..<i + p.count].elementsEqual(p) { best = (p.count, id) }
            }
            if let best {
                if start < i { body(s[start..<i], nil) }
                body(s[i..<i], best.id)
                i += best.length
                start = i
            } else {
                i += 1
            }
        }
        if start < s.endIndex { body(s[start..<s.endIndex], nil) }
    }

    func split(_ s: [Unicode.Scalar], _ body: (ArraySlice<Unicode.Scalar>, Int32?) -> Void) { split(s[...], body) }
}
