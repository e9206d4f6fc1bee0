import Foundation

/// GGUF `tokenizer.ggml.token_type` values (llama.h `llama_token_type`).
public enum GGMLTokenType: Int32, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6
}

/// Byte-level BPE (GPT-2 style, as SmolLM2, Qwen2 and Llama 3 use it): pre-tokenize with the vocabulary's regex,
/// map each pre-token's UTF-8 bytes to GPT-2's printable byte alphabet, then apply merges lowest rank first
/// (Sennrich et al. 2016, arXiv:1508.07909; Radford et al. 2019). Matches llama.cpp's `llm_tokenizer_bpe`
/// (src/llama-vocab.cpp) and Hugging Face tokenizers' `BPE` + `ByteLevel`.
///
/// Special (control) tokens in the text are not parsed: "<|im_end|>" is spelled with ordinary tokens, as
/// `llama-perplexity` tokenizes (`common_tokenize(ctx, text, add_special: true, parse_special: false)`).
/// User-defined tokens (GGUF type 4, tokenizer.json non-special added tokens) are matched in the text, as both
/// llama.cpp and tokenizers do. `encode` never adds BOS; callers put `bosID` first when `addsBOS`.
public struct ByteLevelBPETokenizer: Tokenizer {
    /// Token strings by id, in the byte-level alphabet (U+0120 "Ġ" is a space).
    public let tokens: [String]
    public let tokenTypes: [GGMLTokenType]
    public let preTokenizer: BPEPreTokenizer
    public let bosID: Int32?
    public let eosID: Int32?
    public let addsBOS: Bool
    /// tokenizers' `ignore_merges` (Llama 3): a pre-token that is itself in the vocabulary is one token.
    public let ignoresMerges: Bool
    /// tokenizer.json `normalizer: NFC` (Qwen2); GGUF vocabularies are not normalized, as in llama.cpp.
    public let normalizesNFC: Bool
    /// The id of each single byte's token.
    let byteIDs: [Int32]
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    let merges: [UInt64: UInt64]
    /// The bytes each id decodes to (empty for control tokens).
    let pieces: [[UInt8]]
    let userDefined: AddedTokenMatcher
    let wholeWordIDs: [[UInt8]: Int32]

    public var vocabularySize: Int { tokens.count }

    /// Where the arrays came from, for error messages: the file and the key each array was read from.
    public struct Source: Sendable {
        public var file: String
        public var tokensKey: String
        public var mergesKey: String
        public var typesKey: String
        public static func gguf(_ file: String) -> Source {
            Source(file: file, tokensKey: "tokenizer.ggml.tokens", mergesKey: "tokenizer.ggml.merges", typesKey: "tokenizer.ggml.token_type")
        }
        public static func tokenizerJSON(_ file: String) -> Source {
            Source(file: file, tokensKey: "model.vocab", mergesKey: "model.merges", typesKey: "added_tokens")
        }
    }

    /// The core: plain arrays, as GGUF stores them.
    /// - Parameters:
    ///   - tokens: token strings by id, byte-level alphabet (user-defined and control tokens as plain text).
    ///   - merges: "left right" in rank order (GGUF `tokenizer.ggml.merges`).
    ///   - tokenTypes: GGUF `tokenizer.ggml.token_type` by id (raw values), or nil for all normal.
    public init(tokens: [String], merges: [String], tokenTypes: [Int32]? = nil, preTokenizer: BPEPreTokenizer,
                bosID: Int32?, eosID: Int32?, addsBOS: Bool, ignoresMerges: Bool = false, normalizesNFC: Bool = false,
                source: Source = .gguf("(arrays)")) throws(TokenizerError) {
        let file = source.file
        guard !tokens.isEmpty, tokens.count < Int(Int32.max) else {
            throw .inconsistent(file: file, key: source.tokensKey, detail: "holds \(tokens.count) tokens")
        }
        var types: [GGMLTokenType] = []
        if let tokenTypes {
            guard tokenTypes.count == tokens.count else {
                throw .inconsistent(file: file, key: source.typesKey, detail: "has \(tokenTypes.count) entries for \(tokens.count) tokens")
            }
            types.reserveCapacity(tokens.count)
            for (i, raw) in tokenTypes.enumerated() {
                guard let t = GGMLTokenType(rawValue: raw) else {
                    throw .unsupported(file: file, key: "\(source.typesKey)[\(i)]", value: String(raw), supported: ["0 through 6"])
                }
                types.append(t)
            }
        } else {
            types = Array(repeating: .normal, count: tokens.count)
        }
        for (name, id) in [("bos", bosID), ("eos", eosID)] {
            if let id, id < 0 || Int(id) >= tokens.count {
                throw .idOutOfRange(file: file, key: "tokenizer.ggml.\(name)_token_id", id: Int(id), vocabularySize: tokens.count)
            }
        }

        var ids = [String: Int32](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() where ids[t] == nil { ids[t] = Int32(i) }

        let alphabet = Self.byteAlphabet
        // Some vocabularies lack a few bytes (SmolLM2: 21 control and never-valid UTF-8 bytes); such a byte stays a
        // symbol that merges nothing and is dropped from the output, as llama.cpp does. Printable ASCII must exist.
        var byteIDs = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = ids[String(Character(alphabet[b]))] {
                byteIDs[b] = id
            } else if (0x21...0x7E).contains(b) {
                throw .inconsistent(file: file, key: source.tokensKey, detail: "lacks the byte-level token '\(alphabet[b])' for byte 0x\(String(b, radix: 16)); is this a byte-level BPE vocabulary?")
            }
        }

        var table = [UInt64: UInt64](minimumCapacity: merges.count)
        for (rank, merge) in merges.enumerated() {
            // llama.cpp splits at the first space after the first character.
            let scalars = merge.unicodeScalars
            guard !scalars.isEmpty, let cut = scalars.dropFirst().firstIndex(of: " ") else {
                throw .inconsistent(file: file, key: "\(source.mergesKey)[\(rank)]", detail: "is '\(merge)', not two tokens separated by a space")
            }
            let left = String(scalars[..<cut]), right = String(scalars[scalars.index(after: cut)...])
            guard let a = ids[left] else { throw .unknownToken(file: file, key: "\(source.mergesKey)[\(rank)]", token: left) }
            guard let b = ids[right] else { throw .unknownToken(file: file, key: "\(source.mergesKey)[\(rank)]", token: right) }
            guard let ab = ids[left + right] else { throw .unknownToken(file: file, key: "\(source.mergesKey)[\(rank)]", token: left + right) }
            let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
            if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(UInt32(ab)) }
        }

        var inverse = [UInt8?](repeating: nil, count: 512)
        for b in 0..<256 { inverse[Int(alphabet[b].value)] = UInt8(b) }
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(tokens.count)
        var userDefined: [([Unicode.Scalar], Int32)] = []
        for (i, t) in tokens.enumerated() {
            switch types[i] {
            case .control, .unknown, .unused: pieces.append([])
            case .userDefined:
                pieces.append(Array(t.utf8))
                userDefined.append((Array(t.unicodeScalars), Int32(i)))
            case .normal, .byte, .undefined:
                var bytes: [UInt8] = []
                for s in t.unicodeScalars {
                    if s.value < 512, let b = inverse[Int(s.value)] { bytes.append(b) } else { bytes.append(contentsOf: Array(String(s).utf8)) }
                }
                pieces.append(bytes)
            }
        }
        var whole: [[UInt8]: Int32] = [:]
        if ignoresMerges {
            for (i, p) in pieces.enumerated() where types[i] == .normal && whole[p] == nil { whole[p] = Int32(i) }
        }

        self.tokens = tokens
        self.tokenTypes = types
        self.preTokenizer = preTokenizer
        self.bosID = bosID
        self.eosID = eosID
        self.addsBOS = addsBOS
        self.ignoresMerges = ignoresMerges
        self.normalizesNFC = normalizesNFC
        self.byteIDs = byteIDs
        self.merges = table
        self.pieces = pieces
        self.userDefined = AddedTokenMatcher(userDefined)
        self.wholeWordIDs = whole
    }

    /// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100….
    public static let byteAlphabet: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    public func encode(_ text: String) -> [Int32] {
        let text = normalizesNFC ? text.precomposedStringWithCanonicalMapping : text
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return [] }
        // Code points with the byte offset where each starts (the String is valid UTF-8).
        var cps = [UInt32](), starts = [Int](), flags = [UInt8]()
        cps.reserveCapacity(bytes.count)
        starts.reserveCapacity(bytes.count + 1)
        flags.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            starts.append(i)
            let c: UInt32
            if b0 < 0x80 {
                c = b0; i += 1
            } else if b0 < 0xE0 {
                c = (b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F); i += 2
            } else if b0 < 0xF0 {
                c = (b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F); i += 3
            } else {
                c = (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F); i += 4
            }
            cps.append(c)
            flags.append(BPEPreTokenizer.flags(c))
        }
        starts.append(bytes.count)

        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3)
        var cache: [ArraySlice<UInt8>: Range<Int>] = [:]
        var cached: [Int32] = []
        let pre = preTokenizer
        cps.withUnsafeBufferPointer { cp in
            flags.withUnsafeBufferPointer { fl in
                func words(_ range: Range<Int>) {
                    pre.split(cp, flags: fl, range) { r in
                        let word = bytes[starts[r.lowerBound]..<starts[r.upperBound]]
                        if let hit = cache[word] {
                            out.append(contentsOf: cached[hit])
                            return
                        }
                        let from = out.count
                        appendBPE(word, to: &out)
                        let at = cached.count
                        cached.append(contentsOf: out[from...])
                        cache[word] = at..<cached.count
                    }
                }
                if userDefined.patterns.isEmpty {
                    words(0..<cp.count)
                } else {
                    let scalars = cps.map { Unicode.Scalar($0) ?? " " }
                    userDefined.split(scalars) { segment, id in
                        if let id { out.append(id) } else { words(segment.startIndex..<segment.endIndex) }
                    }
                }
            }
        }
        return out
    }

    /// Merges one pre-token's bytes, lowest rank first, leftmost among equals (llama.cpp's bigram queue order).
    func appendBPE(_ word: ArraySlice<UInt8>, to out: inout [Int32]) {
        if word.count == 1 {
            let id = byteIDs[Int(word[word.startIndex])]
            if id >= 0 { out.append(id) }
            return
        }
        if ignoresMerges, let id = wholeWordIDs[Array(word)] { out.append(id); return }
        var symbols = word.map { byteIDs[Int($0)] }
        while symbols.count > 1 {
            var best = UInt64.max, at = -1
            for j in 0..<symbols.count - 1 {
                if let m = merges[UInt64(UInt32(bitPattern: symbols[j])) << 32 | UInt64(UInt32(bitPattern: symbols[j + 1]))], m < best {
                    best = m; at = j
                }
            }
            if at < 0 { break }
            symbols[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            symbols.remove(at: at + 1)
        }
        for id in symbols where id >= 0 { out.append(id) }
    }

    /// The text the ids spell: byte-level tokens mapped back to bytes, control tokens skipped (llama.cpp
    /// `token_to_piece(special: false)`, tokenizers `decode(skip_special_tokens: true)`), invalid UTF-8 replaced
    /// with U+FFFD as tokenizers' ByteLevel decoder does.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < pieces.count { bytes.append(contentsOf: pieces[Int(id)]) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
