import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkTestSupport
import Testing

/// Goldens from Hugging Face `tokenizers` (tools/reference/tokenizer_goldens.py): Tests/Fixtures/tokenizers/*.json.
enum TokenizerGoldens {
    static let textFiles = ["evaluation.txt", "calibration.txt", "emma.txt", "mansfieldpark.txt", "persuasion.txt",
                            "northangerabbey.txt", "prideprejudice.txt", "sensesensibility.txt"]

    struct Stream: Decodable { var count: Int?; var tokens: Int; var sha256: String }
    struct ShortString: Decodable { var text: String; var ids: [Int32]; var decoded: String? }
    /// A random string over tricky pieces (tokenizer_goldens.py `fuzz_strings`); llama.cpp's ids where they differ.
    struct Fuzz: Decodable { var text: String; var ids: [Int32]; var llama_cpp_ids: [Int32]? }
    struct Truncation: Decodable { var text: String; var max_length: Int; var ids: [Int32] }
    struct SmolLM2: Decodable {
        struct File: Decodable { var bytes: Int; var tokens: Int; var sha256: String }
        struct LlamaCpp: Decodable { var tokens: Int; var sha256: String; var equal: Bool }
        var files: [String: File]
        var strings: [ShortString]
        var llama_cpp: [String: LlamaCpp]
        var fuzz: [Fuzz]
    }
    struct Tiny: Decodable {
        struct One: Decodable { var file: String; var vocabulary: Int; var files: [String: Stream]; var strings: [ShortString]; var fuzz: [Fuzz] }
        var tokenizers: [String: One]
    }
    struct MiniLM: Decodable {
        var files: [String: [String: Stream]]
        var strings: [ShortString]
        var truncation: [Truncation]
        var fuzz: [Fuzz]
    }

    static func load<T: Decodable>(_ name: String, as: T.Type) throws -> T {
        let path = Fixtures.path("Tests/Fixtures/tokenizers/\(name).json")
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// A real file under models/ or data/text/, or a failure saying how to get it.
    static func realFile(_ relative: String) throws -> String {
        let path = Fixtures.path(relative)
        try #require(FileManager.default.fileExists(atPath: path), "\(relative) is missing: run tools/fetch_real.sh")
        return path
    }

    static func text(_ name: String) throws -> String {
        let path = try realFile("data/text/\(name)")
        return try #require(String(data: Data(contentsOf: URL(fileURLWithPath: path)), encoding: .utf8), "\(path) is not UTF-8")
    }

    /// Units as the golden script cuts them: non-blank lines, and maximal runs of them joined by "\n".
    static func minilmUnits(_ text: String) -> (lines: [String], paragraphs: [String]) {
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        func blank(_ l: Substring) -> Bool { l.unicodeScalars.allSatisfy(\.properties.isWhitespace) }
        var lines: [String] = [], paragraphs: [String] = [], current: [Substring] = []
        for l in all {
            if blank(l) {
                if !current.isEmpty { paragraphs.append(current.joined(separator: "\n")) }
                current = []
            } else {
                lines.append(String(l))
                current.append(l)
            }
        }
        if !current.isEmpty { paragraphs.append(current.joined(separator: "\n")) }
        return (lines, paragraphs)
    }
}

/// The sha256 of ids as little-endian int32, as the golden script hashes them.
func idStreamSHA256(_ ids: [Int32]) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(ids.count * 4)
    for id in ids { withUnsafeBytes(of: id.littleEndian) { bytes.append(contentsOf: $0) } }
    return SHA256.hex(bytes)
}

/// FIPS 180-4 SHA-256, for comparing long id streams with the goldens' digests.
enum SHA256 {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
        0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
        0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
        0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var m = message
        let bitLength = UInt64(message.count) * 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for i in (0..<8).reversed() { m.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        var w = [UInt32](repeating: 0, count: 64)
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for t in 0..<16 {
                w[t] = UInt32(m[chunk + 4 * t]) << 24 | UInt32(m[chunk + 4 * t + 1]) << 16 | UInt32(m[chunk + 4 * t + 2]) << 8 | UInt32(m[chunk + 4 * t + 3])
            }
            for t in 16..<64 {
                let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for t in 0..<64 {
                let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[t] &+ w[t]
                let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, v) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] = h[i] &+ v }
        }
        return h.map { v in (0..<8).map { String((v >> (28 - 4 * UInt32($0))) & 0xF, radix: 16) }.joined() }.joined()
    }
}

@Suite("Tokenizers")
struct TokenizerTests {
    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array(String(repeating: "a", count: 1000).utf8)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    // MARK: WordPiece (all-MiniLM-L6-v2)

    static func minilm() throws -> WordPieceTokenizer {
        try WordPieceTokenizer(contentsOf: TokenizerGoldens.realFile("models/minilm/tokenizer.json"))
    }

    @Test func wordPieceShortStringsMatchHuggingFace() throws {
        let tok = try Self.minilm()
        let golden = try TokenizerGoldens.load("minilm", as: TokenizerGoldens.MiniLM.self)
        #expect(golden.strings.count == 20)
        for s in golden.strings {
            let ids = tok.encode(s.text)
            #expect(ids == s.ids, "\(s.text.debugDescription)")
            if let decoded = s.decoded { #expect(tok.decode(ids) == decoded, "\(s.text.debugDescription)") }
        }
        #expect(golden.fuzz.count == 100)
        for f in golden.fuzz { #expect(tok.encode(f.text) == f.ids, "\(f.text.debugDescription)") }
        #expect(tok.vocabularySize == 30522)
        #expect(tok.bosID == 101 && tok.addsBOS && tok.padID == 0 && tok.maxLength == 128)
    }

    @Test func wordPieceTruncatesToAnExplicitLength() throws {
        let tok = try Self.minilm()
        let golden = try TokenizerGoldens.load("minilm", as: TokenizerGoldens.MiniLM.self)
        #expect(golden.truncation.count == 3)
        for t in golden.truncation {
            #expect(tok.encode(t.text, maxLength: t.max_length) == t.ids)
        }
        let long = String(repeating: "word ", count: 300)
        #expect(tok.encode(long).count == 128)
        #expect(tok.encode(long, maxLength: nil).count == 302)
    }

    @Test func wordPieceMatchesHuggingFaceOnEveryNovel() throws {
        let tok = try Self.minilm()
        let golden = try TokenizerGoldens.load("minilm", as: TokenizerGoldens.MiniLM.self)
        #expect(golden.files.count == TokenizerGoldens.textFiles.count)
        for name in TokenizerGoldens.textFiles {
            let expected = try #require(golden.files[name], "no golden for \(name)")
            let units = TokenizerGoldens.minilmUnits(try TokenizerGoldens.text(name))
            for (unit, pieces) in [("lines", units.lines), ("paragraphs", units.paragraphs)] {
                let want = try #require(expected[unit])
                let ids = pieces.flatMap { tok.encode($0) }
                #expect(pieces.count == want.count, "\(name) \(unit)")
                #expect(ids.count == want.tokens, "\(name) \(unit)")
                #expect(idStreamSHA256(ids) == want.sha256, "\(name) \(unit)")
            }
        }
    }

    @Test func malformedTokenizerJSONNamesTheFileAndKey() throws {
        let dir = TemporaryDirectory("tokenizer")
        func write(_ text: String) -> String {
            let path = dir.file("tokenizer.json")
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            return path
        }
        func failure(_ text: String) -> TokenizerError? {
            do { _ = try WordPieceTokenizer(contentsOf: write(text)); return nil } catch { return error }
        }
        let path = dir.file("tokenizer.json")
        let vocab = #""vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3}"#
        #expect(failure("{\"model\": ") == .notJSON(file: path, detail: "unexpected end of JSON at byte 10"))
        #expect(failure(#"{"model": {"type": "WordPiece"}}"#) == .missingKey(file: path, key: "model.vocab"))
        #expect(failure(#"{"model": {"type": "Unigram", \#(vocab)}}"#)
            == .unsupported(file: path, key: "model.type", value: "Unigram", supported: ["WordPiece"]))
        #expect(failure(#"{"model": {"type": "WordPiece", "unk_token": "<unk>", \#(vocab)}}"#)
            == .unknownToken(file: path, key: "model.unk_token", token: "<unk>"))
        #expect(failure(#"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"a": 0, "b": 5}}}"#)
            == .idOutOfRange(file: path, key: "model.vocab.b", id: 5, vocabularySize: 2))
        #expect(failure(#"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"a": "0"}}}"#)
            == .wrongKind(file: path, key: "model.vocab.a", expected: "an integer id", found: "a string"))
        #expect(failure(#"{"model": {"type": "WordPiece", "unk_token": "[UNK]", \#(vocab)}, "normalizer": {"type": "NFC"}}"#)
            == .unsupported(file: path, key: "normalizer.type", value: "NFC", supported: ["BertNormalizer"]))
        #expect(failure(#"{"model": {"type": "WordPiece", "unk_token": "[UNK]", \#(vocab)}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[X]"}}, {"Sequence": {"id": "A"}}], "special_tokens": {}}}"#)
            == .unknownToken(file: path, key: "post_processor.single[0].SpecialToken.id", token: "[X]"))
        let missing = dir.file("absent.json")
        do { _ = try WordPieceTokenizer(contentsOf: missing); Issue.record("no error for a missing file") } catch {
            #expect(error.description.hasPrefix(missing))
        }
        // A minimal valid file works, [UNK] for what it cannot spell.
        let tiny = try WordPieceTokenizer(contentsOf: write(#"{"model": {"type": "WordPiece", "unk_token": "[UNK]", \#(vocab)}}"#))
        #expect(tiny.encode("a b") == [3, 0])
    }

    // MARK: byte-level BPE (SmolLM2-135M GGUF, and tokenizer.json fixtures)

    static let smollm2Path = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    static func smollm2() throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(ggufFile: TokenizerGoldens.realFile(smollm2Path))
    }

    @Test func bpeReadsTheSmolLM2Vocabulary() throws {
        let tok = try Self.smollm2()
        #expect(tok.vocabularySize == 49152)
        #expect(tok.preTokenizer == .smollm)
        #expect(tok.bosID == 1 && tok.eosID == 2 && !tok.addsBOS)
        #expect(tok.tokenTypes.filter { $0 == .control }.count == 17)
    }

    @Test func bpeShortStringsMatchHuggingFaceAndLlamaCpp() throws {
        let tok = try Self.smollm2()
        let golden = try TokenizerGoldens.load("smollm2", as: TokenizerGoldens.SmolLM2.self)
        #expect(golden.strings.count == 20)
        for s in golden.strings {
            let ids = tok.encode(s.text)
            #expect(ids == s.ids, "\(s.text.debugDescription)")
            #expect(tok.decode(ids) == s.text, "\(s.text.debugDescription)")
            if let decoded = s.decoded { #expect(decoded == s.text) }
        }
        // Fuzz: llama.cpp's ids where it and tokenizers disagree (one string: a byte the vocabulary lacks, which
        // llama.cpp keeps as a symbol that blocks merges and tokenizers drops before merging).
        #expect(golden.fuzz.count == 100)
        #expect(golden.fuzz.filter { $0.llama_cpp_ids != nil }.count == 1)
        for f in golden.fuzz { #expect(tok.encode(f.text) == (f.llama_cpp_ids ?? f.ids), "\(f.text.debugDescription)") }
        // Control tokens in text are spelled with ordinary tokens (llama-perplexity's parse_special = false).
        #expect(tok.encode("<|im_end|>").count > 1)
        #expect(tok.decode([1, 19556, 2]) == "Hello")
    }

    @Test func bpeMatchesHuggingFaceAndLlamaCppOnEveryNovel() throws {
        let tok = try Self.smollm2()
        let golden = try TokenizerGoldens.load("smollm2", as: TokenizerGoldens.SmolLM2.self)
        #expect(golden.files.count == TokenizerGoldens.textFiles.count)
        for name in TokenizerGoldens.textFiles {
            let want = try #require(golden.files[name], "no golden for \(name)")
            let text = try TokenizerGoldens.text(name)
            #expect(text.utf8.count == want.bytes, "\(name) is not the text the goldens were made from")
            let ids = tok.encode(text)
            #expect(ids.count == want.tokens, "\(name)")
            #expect(idStreamSHA256(ids) == want.sha256, "\(name)")
            if let cpp = golden.llama_cpp[name] { #expect(cpp.equal && cpp.sha256 == want.sha256, "llama.cpp differs on \(name)") }
        }
    }

    @Test(arguments: ["gpt2", "smollm", "qwen2"])
    func bpeFromTokenizerJSONMatchesHuggingFace(_ kind: String) throws {
        let golden = try TokenizerGoldens.load("bpe_tiny", as: TokenizerGoldens.Tiny.self)
        #expect(golden.tokenizers.count == 3)
        let spec = try #require(golden.tokenizers[kind])
        let tok = try ByteLevelBPETokenizer(contentsOf: Fixtures.path("Tests/Fixtures/tokenizers/\(spec.file)"))
        #expect(tok.vocabularySize == spec.vocabulary)
        #expect(tok.preTokenizer.rawValue == (kind == "gpt2" ? "gpt-2" : kind))
        #expect(tok.addsBOS == (kind == "qwen2") && tok.bosID == (kind == "qwen2" ? 0 : nil))
        #expect(spec.strings.count == 21)
        for s in spec.strings {
            let ids = tok.encode(s.text)
            #expect(ids == s.ids, "\(kind) \(s.text.debugDescription)")
            if let decoded = s.decoded { #expect(tok.decode(ids) == decoded, "\(kind) \(s.text.debugDescription)") }
        }
        #expect(spec.fuzz.count == 100)
        for f in spec.fuzz { #expect(tok.encode(f.text) == f.ids, "\(kind) \(f.text.debugDescription)") }
        #expect(spec.files.count == 1)
        for (name, want) in spec.files {
            let ids = tok.encode(try TokenizerGoldens.text(name))
            #expect(ids.count == want.tokens, "\(kind) \(name)")
            #expect(idStreamSHA256(ids) == want.sha256, "\(kind) \(name)")
        }
    }

    @Test func malformedGGUFTokenizerMetadataNamesTheFileAndKey() throws {
        let dir = TemporaryDirectory("gguf-tokenizer")
        let tokens: [String] = (0..<256).map { String(Character(ByteLevelBPETokenizer.byteAlphabet[$0])) } + ["ab"]
        let good: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(elementType: .string, tokens.map { .string($0) })),
            ("tokenizer.ggml.merges", .array(elementType: .string, [.string("a b")])),
            ("tokenizer.ggml.bos_token_id", .uint32(0)),
        ]
        func failure(_ edit: (inout [(key: String, value: GGUFValue)]) -> Void) -> (String, TokenizerError?) {
            var file = GGUFFile()
            file.metadata = good
            edit(&file.metadata)
            let path = dir.file("t\(dir.entries.count).gguf")
            _ = FileManager.default.createFile(atPath: path, contents: Data(file.serialized()))
            do { _ = try ByteLevelBPETokenizer(ggufFile: path); return (path, nil) } catch { return (path, error) }
        }
        func set(_ key: String, _ v: GGUFValue?) -> (inout [(key: String, value: GGUFValue)]) -> Void {
            { m in m.removeAll { $0.key == key }; if let v { m.append((key, v)) } }
        }
        var (path, error) = failure { _ in }
        #expect(error == nil)
        let tok = try ByteLevelBPETokenizer(ggufFile: path)
        #expect(tok.encode("aab") == [97, 256] && tok.decode([256]) == "ab")

        (path, error) = failure(set("tokenizer.ggml.merges", nil))
        #expect(error == .missingKey(file: path, key: "tokenizer.ggml.merges"))
        (path, error) = failure(set("tokenizer.ggml.model", .string("llama")))
        #expect(error == .unsupported(file: path, key: "tokenizer.ggml.model", value: "llama", supported: ["gpt2"]))
        (path, error) = failure(set("tokenizer.ggml.pre", .string("llama-bpe")))
        #expect(error == .unsupported(file: path, key: "tokenizer.ggml.pre", value: "llama-bpe", supported: ["gpt-2", "smollm", "qwen2"]))
        (path, error) = failure(set("tokenizer.ggml.tokens", .uint32(3)))
        #expect(error == .wrongKind(file: path, key: "tokenizer.ggml.tokens", expected: "an array of strings", found: GGUFValue.uint32(3).typeDescription))
        (path, error) = failure(set("tokenizer.ggml.merges", .array(elementType: .string, [.string("a z")])))
        #expect(error == .unknownToken(file: path, key: "tokenizer.ggml.merges[0]", token: "az"))
        (path, error) = failure(set("tokenizer.ggml.merges", .array(elementType: .string, [.string("ab")])))
        #expect(error == .inconsistent(file: path, key: "tokenizer.ggml.merges[0]", detail: "is 'ab', not two tokens separated by a space"))
        (path, error) = failure(set("tokenizer.ggml.token_type", .array(elementType: .int32, [.int32(1)])))
        #expect(error == .inconsistent(file: path, key: "tokenizer.ggml.token_type", detail: "has 1 entries for 257 tokens"))
        (path, error) = failure(set("tokenizer.ggml.bos_token_id", .uint32(999)))
        #expect(error == .idOutOfRange(file: path, key: "tokenizer.ggml.bos_token_id", id: 999, vocabularySize: 257))
        (path, error) = failure(set("tokenizer.ggml.tokens", .array(elementType: .string, [.string("a"), .string("b")])))
        #expect(error?.description.hasPrefix("\(path): tokenizer key 'tokenizer.ggml.tokens' lacks the byte-level token") == true)
        let notGGUF = dir.file("not.gguf")
        _ = FileManager.default.createFile(atPath: notGGUF, contents: Data("nope".utf8))
        do { _ = try ByteLevelBPETokenizer(ggufFile: notGGUF); Issue.record("no error for a non-GGUF file") } catch {
            #expect(error.description.hasPrefix(notGGUF))
        }
    }

    @Test func malformedBPETokenizerJSONNamesTheFileAndKey() throws {
        let dir = TemporaryDirectory("bpe-json")
        let base = try String(contentsOfFile: Fixtures.path("Tests/Fixtures/tokenizers/bpe_tiny_smollm.json"), encoding: .utf8)
        func failure(_ from: String, _ to: String) -> (String, TokenizerError?) {
            let path = dir.file("t\(dir.entries.count).json")
            _ = FileManager.default.createFile(atPath: path, contents: Data(base.replacingOccurrences(of: from, with: to).utf8))
            do { _ = try ByteLevelBPETokenizer(contentsOf: path); return (path, nil) } catch { return (path, error) }
        }
        var (path, error) = failure(#""individual_digits":true"#, #""individual_digits":false"#)
        #expect(error == .unsupported(file: path, key: "pre_tokenizer.pretokenizers[0].individual_digits", value: "false", supported: ["true"]))
        (path, error) = failure(#""type":"Digits""#, #""type":"Whitespace""#)
        #expect(error == .unsupported(file: path, key: "pre_tokenizer.pretokenizers", value: "Whitespace, ByteLevel",
                                      supported: ["ByteLevel", "Sequence[Digits(individual_digits), ByteLevel]", "Sequence[Split(GPT-2 or Qwen2 regex), ByteLevel(use_regex: false)]"]))
        (path, error) = failure(#""byte_fallback":false"#, #""byte_fallback":true"#)
        #expect(error == .unsupported(file: path, key: "model.byte_fallback", value: "true", supported: ["false"]))
        (path, error) = failure(#""merges":[["#, #""merges":[7,["#)
        #expect(error == .wrongKind(file: path, key: "model.merges[0]", expected: "\"left right\" or [left, right]", found: "a number"))
        (path, error) = failure(#""type":"BPE""#, #""type":"WordPiece""#)
        #expect(error == .unsupported(file: path, key: "model.type", value: "WordPiece", supported: ["BPE"]))
    }

    @Test func tokenizerFileOpensEachKind() throws {
        let minilm = try TokenizerFile.open(TokenizerGoldens.realFile("models/minilm"))
        #expect(minilm is WordPieceTokenizer && minilm.encode("Hello") == [101, 7592, 102])
        let smol = try TokenizerFile.open(TokenizerGoldens.realFile(Self.smollm2Path))
        #expect(smol is ByteLevelBPETokenizer && smol.encode("Hello") == [19556])
        let tiny = try TokenizerFile.open(Fixtures.path("Tests/Fixtures/tokenizers/bpe_tiny_qwen2.json"))
        #expect(tiny is ByteLevelBPETokenizer && tiny.addsBOS)
    }
}
