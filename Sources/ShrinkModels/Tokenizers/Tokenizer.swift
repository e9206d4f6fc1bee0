import ShrinkFormats
import ShrinkTensor

/// Text to token ids and back, as the model's own tokenizer does it.
///
/// `encode` adds no special tokens for the byte-level BPE tokenizers (the caller puts BOS first when `addsBOS`,
/// as llama.cpp's `common_tokenize(…, add_special: true)` does); the WordPiece tokenizer's `encode` returns the
/// post-processed sequence ([CLS] … [SEP], truncated as its tokenizer.json says), because that is what a BERT
/// encoder consumes.
public protocol Tokenizer: Sendable {
    func encode(_ text: String) -> [Int32]
    func decode(_ ids: [Int32]) -> String
    var vocabularySize: Int { get }
    var bosID: Int32? { get }
    /// GGUF `tokenizer.ggml.add_bos_token`, or whether a tokenizer.json post-processor puts a first token.
    var addsBOS: Bool { get }
}

/// Opens the tokenizer a model ships with.
public enum TokenizerFile {
    /// A `.gguf` file (its `tokenizer.ggml.*` metadata), a tokenizer.json, or a model directory holding one; the
    /// JSON's `model.type` picks WordPiece or byte-level BPE.
    public static func open(_ path: String) throws(TokenizerError) -> any Tokenizer {
        if GGUFReader.looksLikeGGUF(path) { return try ByteLevelBPETokenizer(ggufFile: path) }
        let file = FileSystem.isDirectory(path) ? path + "/tokenizer.json" : path
        let json = try TokenizerJSON.load(file)
        let type = try json.string("model.type")
        switch type {
        case "WordPiece": return try WordPieceTokenizer(json: json)
        case "BPE": return try ByteLevelBPETokenizer(json: json)
        default: throw .unsupported(file: file, key: "model.type", value: type, supported: ["WordPiece", "BPE"])
        }
    }
}

/// What can be wrong with tokenizer data (a tokenizer.json or GGUF `tokenizer.ggml.*` metadata). Each message names
/// the file and the key.
public enum TokenizerError: UserFacingError, Equatable, Sendable {
    case cannotRead(file: String, reason: String)
    /// The GGUF file itself is unreadable (its own error names the file and the item).
    case gguf(FormatError)
    case notJSON(file: String, detail: String)
    case missingKey(file: String, key: String)
    case wrongKind(file: String, key: String, expected: String, found: String)
    case unsupported(file: String, key: String, value: String, supported: [String])
    case unknownToken(file: String, key: String, token: String)
    case duplicateToken(file: String, key: String, token: String)
    case idOutOfRange(file: String, key: String, id: Int, vocabularySize: Int)
    case inconsistent(file: String, key: String, detail: String)

    public var description: String {
        switch self {
        case let .cannotRead(f, r): "\(f): cannot read the tokenizer: \(r)"
        case let .gguf(e): e.description
        case let .notJSON(f, d): "\(f): not valid JSON (\(d)); re-download the model's tokenizer.json"
        case let .missingKey(f, k): "\(f): tokenizer key '\(k)' is missing; re-download the model's tokenizer files"
        case let .wrongKind(f, k, e, found): "\(f): tokenizer key '\(k)' should be \(e) but is \(found)"
        case let .unsupported(f, k, v, s): "\(f): tokenizer key '\(k)' is '\(v)', which Shrink does not implement (supported: \(s.joined(separator: ", ")))"
        case let .unknownToken(f, k, t): "\(f): tokenizer key '\(k)' names the token '\(t)', which is not in the vocabulary"
        case let .duplicateToken(f, k, t): "\(f): tokenizer key '\(k)' lists the token '\(t)' twice"
        case let .idOutOfRange(f, k, id, n): "\(f): tokenizer key '\(k)' holds id \(id), outside the vocabulary of \(n) tokens"
        case let .inconsistent(f, k, d): "\(f): tokenizer key '\(k)' \(d)"
        }
    }
}

/// Typed access to a parsed tokenizer.json, each failure naming the file and the dotted key.
struct TokenizerJSON {
    let file: String
    let root: JSONValue

    static func load(_ path: String) throws(TokenizerError) -> TokenizerJSON {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch {
            switch error {
            case let .cannotOpen(e): throw .cannotRead(file: path, reason: FileSystem.errorText(e))
            case .notARegularFile: throw .cannotRead(file: path, reason: "not a regular file; pass a tokenizer.json or the model directory")
            case let .cannotMap(e): throw .cannotRead(file: path, reason: "mmap failed: \(FileSystem.errorText(e))")
            }
        }
        let root: JSONValue
        do { root = try StrictJSONParser.parse(mapped.bytes(0..<mapped.byteCount)) } catch {
            throw .notJSON(file: path, detail: error.description)
        }
        guard root.objectMembers != nil else { throw .wrongKind(file: path, key: "(root)", expected: "an object", found: root.kindName) }
        return TokenizerJSON(file: path, root: root)
    }

    /// The value at a dotted path ("model.vocab"), or nil when absent or JSON null.
    func optional(_ key: String, in base: JSONValue? = nil) -> JSONValue? {
        var v: JSONValue? = base ?? root
        for part in key.split(separator: ".") { v = v?[String(part)] }
        if case .null = v { return nil }
        return v
    }

    func value(_ key: String, in base: JSONValue? = nil, prefix: String = "") throws(TokenizerError) -> JSONValue {
        guard let v = optional(key, in: base) else { throw .missingKey(file: file, key: prefix + key) }
        return v
    }

    func string(_ key: String, in base: JSONValue? = nil, prefix: String = "") throws(TokenizerError) -> String {
        let v = try value(key, in: base, prefix: prefix)
        guard let s = v.stringValue else { throw .wrongKind(file: file, key: prefix + key, expected: "a string", found: v.kindName) }
        return s
    }

    func int(_ key: String, in base: JSONValue? = nil, prefix: String = "") throws(TokenizerError) -> Int {
        let v = try value(key, in: base, prefix: prefix)
        guard let n = v.intValue else { throw .wrongKind(file: file, key: prefix + key, expected: "an integer", found: v.kindName) }
        return n
    }

    func bool(_ key: String, in base: JSONValue? = nil, prefix: String = "", default fallback: Bool) throws(TokenizerError) -> Bool {
        guard let v = optional(key, in: base) else { return fallback }
        guard case let .bool(b) = v else { throw .wrongKind(file: file, key: prefix + key, expected: "a boolean", found: v.kindName) }
        return b
    }

    func array(_ key: String, in base: JSONValue? = nil, prefix: String = "") throws(TokenizerError) -> [JSONValue] {
        let v = try value(key, in: base, prefix: prefix)
        guard let a = v.arrayValue else { throw .wrongKind(file: file, key: prefix + key, expected: "an array", found: v.kindName) }
        return a
    }

    func object(_ key: String, in base: JSONValue? = nil, prefix: String = "") throws(TokenizerError) -> [(key: String, value: JSONValue)] {
        let v = try value(key, in: base, prefix: prefix)
        guard let m = v.objectMembers else { throw .wrongKind(file: file, key: prefix + key, expected: "an object", found: v.kindName) }
        return m
    }

    /// A `{token: id}` vocabulary: ids dense in 0..<count, each token once.
    func vocabulary(_ key: String) throws(TokenizerError) -> [String] {
        let members = try object(key)
        var tokens = [String?](repeating: nil, count: members.count)
        for (token, v) in members {
            guard let id = v.intValue else { throw .wrongKind(file: file, key: "\(key).\(token)", expected: "an integer id", found: v.kindName) }
            guard id >= 0, id < members.count else { throw .idOutOfRange(file: file, key: "\(key).\(token)", id: id, vocabularySize: members.count) }
            if let other = tokens[id] { throw .inconsistent(file: file, key: key, detail: "gives id \(id) to two tokens ('\(other)' and '\(token)')") }
            tokens[id] = token
        }
        // n distinct ids in 0..<n fill every slot.
        return tokens.compactMap { $0 }
    }

    /// The `added_tokens` list: special tokens with their ids (they may extend the model's vocabulary).
    func addedTokens() throws(TokenizerError) -> [AddedToken] {
        guard optional("added_tokens") != nil else { return [] }
        var out: [AddedToken] = []
        for (i, entry) in try array("added_tokens").enumerated() {
            let p = "added_tokens[\(i)]."
            let t = AddedToken(
                id: try int("id", in: entry, prefix: p), content: try string("content", in: entry, prefix: p),
                special: try bool("special", in: entry, prefix: p, default: false),
                normalized: try bool("normalized", in: entry, prefix: p, default: true))
            for flag in ["single_word", "lstrip", "rstrip"] where try bool(flag, in: entry, prefix: p, default: false) {
                throw .unsupported(file: file, key: p + flag, value: "true", supported: ["false"])
            }
            out.append(t)
        }
        return out
    }
}

/// A tokenizer.json `added_tokens` entry.
struct AddedToken: Sendable, Equatable {
    var id: Int
    var content: String
    var special: Bool
    var normalized: Bool
}
