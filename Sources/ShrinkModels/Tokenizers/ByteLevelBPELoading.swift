import ShrinkFormats

/// Reading a byte-level BPE tokenizer from GGUF metadata (llama-vocab.cpp `llama_vocab::impl::load`) or from a
/// Hugging Face tokenizer.json (tokenizers' `BPE` model with a `ByteLevel` pre-tokenizer).
extension ByteLevelBPETokenizer {
    /// From GGUF `tokenizer.ggml.*`: model `gpt2`, `pre` one of `BPEPreTokenizer`'s llama.cpp names, tokens,
    /// merges, optional token types, BOS/EOS ids and `add_bos_token` (false when absent, llama.cpp's BPE default).
    public init(gguf reader: GGUFReader) throws(TokenizerError) {
        let file = reader.location
        func string(_ key: String) throws(TokenizerError) -> String {
            guard let v = reader.value(key) else { throw .missingKey(file: file, key: key) }
            guard let s = v.stringValue else { throw .wrongKind(file: file, key: key, expected: "a string", found: v.typeDescription) }
            return s
        }
        func strings(_ key: String) throws(TokenizerError) -> [String] {
            guard let v = reader.value(key) else { throw .missingKey(file: file, key: key) }
            guard case let .array(t, items) = v, t == .string else {
                throw .wrongKind(file: file, key: key, expected: "an array of strings", found: v.typeDescription)
            }
            return items.map { $0.stringValue ?? "" }
        }
        func id(_ key: String) throws(TokenizerError) -> Int32? {
            guard let v = reader.value(key) else { return nil }
            guard let n = v.intValue else { throw .wrongKind(file: file, key: key, expected: "an integer", found: v.typeDescription) }
            guard n >= 0, n < Int(Int32.max) else { throw .idOutOfRange(file: file, key: key, id: n, vocabularySize: 0) }
            return Int32(n)
        }
        let model = try string("tokenizer.ggml.model")
        guard model == "gpt2" else { throw .unsupported(file: file, key: "tokenizer.ggml.model", value: model, supported: ["gpt2"]) }
        let preName = try string("tokenizer.ggml.pre")
        guard let pre = BPEPreTokenizer(ggufPre: preName) else {
            throw .unsupported(file: file, key: "tokenizer.ggml.pre", value: preName, supported: BPEPreTokenizer.allCases.map(\.rawValue))
        }
        var types: [Int32]?
        if let v = reader.value("tokenizer.ggml.token_type") {
            guard case let .array(_, items) = v else {
                throw .wrongKind(file: file, key: "tokenizer.ggml.token_type", expected: "an array of integers", found: v.typeDescription)
            }
            var out: [Int32] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard let n = item.intValue, let t = Int32(exactly: n) else {
                    throw .wrongKind(file: file, key: "tokenizer.ggml.token_type[\(i)]", expected: "an int32", found: item.typeDescription)
                }
                out.append(t)
            }
            types = out
        }
        var addsBOS = false
        if let v = reader.value("tokenizer.ggml.add_bos_token") {
            guard let b = v.boolValue else { throw .wrongKind(file: file, key: "tokenizer.ggml.add_bos_token", expected: "a bool", found: v.typeDescription) }
            addsBOS = b
        }
        try self.init(
            tokens: strings("tokenizer.ggml.tokens"), merges: strings("tokenizer.ggml.merges"), tokenTypes: types,
            preTokenizer: pre, bosID: id("tokenizer.ggml.bos_token_id"), eosID: id("tokenizer.ggml.eos_token_id"),
            addsBOS: addsBOS, source: .gguf(file))
    }

    /// Opens a GGUF file and reads its tokenizer.
    public init(ggufFile path: String) throws(TokenizerError) {
        let reader: GGUFReader
        do { reader = try GGUFReader(path: path) } catch let error as FormatError {
            throw .gguf(error)
        } catch {
            throw .cannotRead(file: path, reason: "\(error)")
        }
        try self.init(gguf: reader)
    }

    /// GPT-2's pre-tokenizer regex and Qwen2's, as tokenizer.json spells them in a `Split` pre-tokenizer.
    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// From a tokenizer.json whose model is BPE and whose pre-tokenizer is one of: `ByteLevel` (GPT-2);
    /// `Sequence[Digits(individual_digits), ByteLevel]` (SmolLM2); `Sequence[Split(Qwen2 or GPT-2 regex, Isolated),
    /// ByteLevel(use_regex: false)]` (Qwen2.5). Added tokens marked special become control tokens (not parsed in
    /// text), the others user-defined. `addsBOS` is true when the post-processor's template starts with a token.
    public init(contentsOf path: String) throws(TokenizerError) {
        try self.init(json: TokenizerJSON.load(path))
    }

    init(json: TokenizerJSON) throws(TokenizerError) {
        let file = json.file
        let type = try json.string("model.type")
        guard type == "BPE" else { throw .unsupported(file: file, key: "model.type", value: type, supported: ["BPE"]) }
        if try json.bool("model.byte_fallback", default: false) {
            throw .unsupported(file: file, key: "model.byte_fallback", value: "true", supported: ["false"])
        }
        for key in ["model.continuing_subword_prefix", "model.end_of_word_suffix"] {
            if let v = json.optional(key), v.stringValue != "" {
                throw .unsupported(file: file, key: key, value: v.stringValue ?? v.kindName, supported: ["null"])
            }
        }
        if let v = json.optional("model.dropout"), case let .number(d) = v, Double(d) != 0 {
            throw .unsupported(file: file, key: "model.dropout", value: d, supported: ["null"])
        }
        var tokens = try json.vocabulary("model.vocab")
        var types = [Int32](repeating: GGMLTokenType.normal.rawValue, count: tokens.count)
        for a in try json.addedTokens() {
            let key = "added_tokens.\(a.content)"
            let t = a.special ? GGMLTokenType.control : .userDefined
            if a.id >= 0 && a.id < tokens.count {
                guard tokens[a.id] == a.content else {
                    throw .inconsistent(file: file, key: key, detail: "has id \(a.id), which the vocabulary gives to '\(tokens[a.id])'")
                }
                types[a.id] = t.rawValue
            } else if a.id == tokens.count {
                tokens.append(a.content)
                types.append(t.rawValue)
            } else {
                throw .idOutOfRange(file: file, key: key, id: a.id, vocabularySize: tokens.count)
            }
        }
        var merges: [String] = []
        let rawMerges = try json.array("model.merges")
        merges.reserveCapacity(rawMerges.count)
        for (i, m) in rawMerges.enumerated() {
            if let s = m.stringValue {
                merges.append(s)
            } else if let pair = m.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                merges.append(a + " " + b)
            } else {
                throw .wrongKind(file: file, key: "model.merges[\(i)]", expected: "\"left right\" or [left, right]", found: m.kindName)
            }
        }

        var nfc = false
        if let n = json.optional("normalizer") {
            let t = try json.string("type", in: n, prefix: "normalizer.")
            guard t == "NFC" else { throw .unsupported(file: file, key: "normalizer.type", value: t, supported: ["NFC", "null"]) }
            nfc = true
        }
        let pre = try Self.preTokenizer(json)

        var bos: Int32?
        if let post = json.optional("post_processor") {
            bos = try Self.templateFirstToken(json, post, key: "post_processor", vocabularySize: tokens.count)
        }
        if let d = json.optional("decoder") {
            let t = try json.string("type", in: d, prefix: "decoder.")
            guard t == "ByteLevel" else { throw .unsupported(file: file, key: "decoder.type", value: t, supported: ["ByteLevel"]) }
        }
        try self.init(
            tokens: tokens, merges: merges, tokenTypes: types, preTokenizer: pre, bosID: bos, eosID: nil, addsBOS: bos != nil,
            ignoresMerges: json.bool("model.ignore_merges", default: false), normalizesNFC: nfc, source: .tokenizerJSON(file))
    }

    static func preTokenizer(_ json: TokenizerJSON) throws(TokenizerError) -> BPEPreTokenizer {
        let file = json.file
        let p = try json.value("pre_tokenizer")
        func byteLevel(_ v: JSONValue, _ key: String, regex: Bool) throws(TokenizerError) {
            let t = try json.string("type", in: v, prefix: key + ".")
            guard t == "ByteLevel" else { throw .unsupported(file: file, key: key + ".type", value: t, supported: ["ByteLevel"]) }
            if try json.bool("add_prefix_space", in: v, prefix: key + ".", default: true) {
                throw .unsupported(file: file, key: key + ".add_prefix_space", value: "true", supported: ["false"])
            }
            guard try json.bool("use_regex", in: v, prefix: key + ".", default: true) == regex else {
                throw .unsupported(file: file, key: key + ".use_regex", value: String(!regex), supported: [String(regex)])
            }
        }
        let supported = ["ByteLevel", "Sequence[Digits(individual_digits), ByteLevel]", "Sequence[Split(GPT-2 or Qwen2 regex), ByteLevel(use_regex: false)]"]
        let type = try json.string("type", in: p, prefix: "pre_tokenizer.")
        if type == "ByteLevel" {
            try byteLevel(p, "pre_tokenizer", regex: true)
            return .gpt2
        }
        guard type == "Sequence" else { throw .unsupported(file: file, key: "pre_tokenizer.type", value: type, supported: supported) }
        let items = try json.array("pretokenizers", in: p, prefix: "pre_tokenizer.")
        let kinds = try items.enumerated().map { (i, v) throws(TokenizerError) in try json.string("type", in: v, prefix: "pre_tokenizer.pretokenizers[\(i)].") }
        switch kinds {
        case ["Digits", "ByteLevel"]:
            guard try json.bool("individual_digits", in: items[0], default: false) else {
                throw .unsupported(file: file, key: "pre_tokenizer.pretokenizers[0].individual_digits", value: "false", supported: ["true"])
            }
            try byteLevel(items[1], "pre_tokenizer.pretokenizers[1]", regex: true)
            return .smollm
        case ["Split", "ByteLevel"]:
            let key = "pre_tokenizer.pretokenizers[0]."
            let regex = try json.string("pattern.Regex", in: items[0], prefix: key)
            let behavior = try json.string("behavior", in: items[0], prefix: key)
            guard behavior == "Isolated" else { throw .unsupported(file: file, key: key + "behavior", value: behavior, supported: ["Isolated"]) }
            if try json.bool("invert", in: items[0], prefix: key, default: false) {
                throw .unsupported(file: file, key: key + "invert", value: "true", supported: ["false"])
            }
            try byteLevel(items[1], "pre_tokenizer.pretokenizers[1]", regex: false)
            switch regex {
            case gpt2Regex: return .gpt2
            case qwen2Regex: return .qwen2
            default: throw .unsupported(file: file, key: key + "pattern.Regex", value: regex, supported: [gpt2Regex, qwen2Regex])
            }
        default:
            throw .unsupported(file: file, key: "pre_tokenizer.pretokenizers", value: kinds.joined(separator: ", "), supported: supported)
        }
    }

    /// The first token of a TemplateProcessing single template (the BOS it adds), nil for ByteLevel, looking inside
    /// a Sequence of processors.
    static func templateFirstToken(_ json: TokenizerJSON, _ post: JSONValue, key: String, vocabularySize: Int) throws(TokenizerError) -> Int32? {
        let file = json.file
        let type = try json.string("type", in: post, prefix: key + ".")
        switch type {
        case "ByteLevel": return nil
        case "Sequence":
            var first: Int32?
            for (i, p) in try json.array("processors", in: post, prefix: key + ".").enumerated() {
                if let id = try templateFirstToken(json, p, key: "\(key).processors[\(i)]", vocabularySize: vocabularySize) { first = first ?? id }
            }
            return first
        case "TemplateProcessing":
            let single = try json.array("single", in: post, prefix: key + ".")
            guard let head = single.first, let special = head["SpecialToken"] else { return nil }
            let name = try json.string("id", in: special, prefix: key + ".single[0].SpecialToken.")
            guard let entry = post["special_tokens"]?[name] else { throw .missingKey(file: file, key: "\(key).special_tokens.\(name)") }
            let ids = try json.array("ids", in: entry, prefix: "\(key).special_tokens.\(name).")
            guard ids.count == 1, let id = ids[0].intValue else {
                throw .wrongKind(file: file, key: "\(key).special_tokens.\(name).ids", expected: "one integer id", found: "\(ids.count) items")
            }
            guard id >= 0, id < vocabularySize else { throw .idOutOfRange(file: file, key: "\(key).special_tokens.\(name).ids", id: id, vocabularySize: vocabularySize) }
            return Int32(id)
        default:
            throw .unsupported(file: file, key: key + ".type", value: type, supported: ["ByteLevel", "TemplateProcessing", "Sequence"])
        }
    }
}
