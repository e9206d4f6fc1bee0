/// The pre-tokenizer regexes of byte-level BPE vocabularies, as hand-written scanners over code points (no regex
/// engine: one pass, no backtracking). Raw values are GGUF `tokenizer.ggml.pre`.
///
/// Each scanner is a line-by-line translation of llama.cpp's `unicode_regex_split_custom_gpt2` / `_qwen2`
/// (src/unicode.cpp, b10605), which implement these regexes exactly:
/// - gpt2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2, Radford et al. 2019)
/// - smollm: every `\p{N}` code point split off first (llama-vocab.cpp LLAMA_VOCAB_PRE_TYPE_SMOLLM; HF
///   `Digits(individual_digits: true)`), then gpt2 on each piece
/// - qwen2: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
///
/// `\s` is Unicode White_Space, `\p{L}` the L* categories, `\p{N}` Nd, Nl and No.
public enum BPEPreTokenizer: String, Sendable, CaseIterable, Codable {
    case gpt2 = "gpt-2"
    case smollm
    case qwen2

    /// GGUF `tokenizer.ggml.pre` names that llama-vocab.cpp (b10605) maps to one of these regexes with no other setting.
    public init?(ggufPre name: String) {
        switch name {
        case "gpt-2", "phi-2", "mpt", "olmo": self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b": self = .smollm
        case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2": self = .qwen2
        default: return nil
        }
    }

    /// Scalar classes, one byte per code point: 0 means "outside the piece" (llama.cpp's empty flags).
    static let letter: UInt8 = 1, number: UInt8 = 2, whitespace: UInt8 = 4, inside: UInt8 = 8

    static func flags(_ c: UInt32) -> UInt8 {
        if c < 0x80 { return asciiFlags[Int(c)] }
        guard let s = Unicode.Scalar(c) else { return inside }
        var f = inside
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: f |= letter
        case .decimalNumber, .letterNumber, .otherNumber: f |= number
        default: break
        }
        if s.properties.isWhitespace { f |= whitespace }
        return f
    }

    static let asciiFlags: [UInt8] = (0..<128).map { (c: Int) -> UInt8 in
        var f = inside
        switch c {
        case 0x41...0x5A, 0x61...0x7A: f |= letter
        case 0x30...0x39: f |= number
        case 0x09...0x0D, 0x20: f |= whitespace
        default: break
        }
        return f
    }

    /// Calls `piece` with the code-point range of each pre-token of `cps[range]`, in order, covering it exactly.
    func split(_ cps: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ piece: (Range<Int>) -> Void) {
        switch self {
        case .gpt2:
            Self.gpt2(cps, flags, range, piece)
        case .smollm:
            var start = range.lowerBound
            for i in range where flags[i] & Self.number != 0 {
                if start < i { Self.gpt2(cps, flags, start..<i, piece) }
                piece(i..<i + 1)
                start = i + 1
            }
            if start < range.upperBound { Self.gpt2(cps, flags, start..<range.upperBound, piece) }
        case .qwen2:
            Self.qwen2(cps, flags, range, piece)
        }
    }

    /// llama.cpp `unicode_regex_split_custom_gpt2`.
    static func gpt2(_ cps: UnsafeBufferPointer<UInt32>, _ flags: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ piece: (Range<Int>) -> Void) {
        let hi = range.upperBound
        @inline(__always) func f(_ p: Int) -> UInt8 { p < hi ? flags[p] : 0 }
        var pos = range.lowerBound
        var prev = pos
        @inline(__always) func add(_ end: Int) {
            if end > prev { piece(prev..<end) }
            prev = end
        }
        let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20
        while pos < hi {
            let c = cps[pos]
            if c == apostrophe && pos + 1 < hi {
                let n = cps[pos + 1]
                if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 {  // 's 't 'm 'd
                    pos += 2; add(pos); continue
                }
                if pos + 2 < hi {
                    let nn = cps[pos + 2]
                    if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) {  // 're 've 'll
                        pos += 3; add(pos); continue
                    }
                }
            }
            var f2 = c == space ? f(pos + 1) : flags[pos]
            if f2 & letter != 0 {  // ' ?\p{L}+'
                if c == space { pos += 1 }
                while f2 & letter != 0 { pos += 1; f2 = f(pos) }
                add(pos); continue
            }
            if f2 & number != 0 {  // ' ?\p{N}+'
                if c == space { pos += 1 }
                while f2 & number != 0 { pos += 1; f2 = f(pos) }
                add(pos); continue
            }
            if f2 & (whitespace | letter | number) == 0 && f2 != 0 {  // ' ?[^\s\p{L}\p{N}]+'
                if c == space { pos += 1 }
                while f2 & (whitespace | letter | number) == 0 && f2 != 0 { pos += 1; f2 = f(pos) }
                add(pos); continue
            }
            var spaces = 0
            while f(pos + spaces) & whitespace != 0 { spaces += 1 }
            if spaces > 1 && pos + spaces < hi {  // '\s+(?!\S)': leave the last one to the next pre-token
                pos += spaces - 1; add(pos); continue
            }
            if spaces > 0 { pos += spaces; add(pos); continue }  // '\s+'
            pos += 1; add(pos)
        }
    }

    /// llama.cpp `unicode_regex_split_custom_qwen2`.
    static func qwen2(_ cps: UnsafeBufferPointer<UInt32>, _ flags: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ piece: (Range<Int>) -> Void) {
        let hi = range.upperBound
        @inline(__always) func f(_ p: Int) -> UInt8 { p < hi ? flags[p] : 0 }
        @inline(__always) func lower(_ c: UInt32) -> UInt32 { c >= 0x41 && c <= 0x5A ? c + 0x20 : c }
        var pos = range.lowerBound
        var prev = pos
        @inline(__always) func add(_ end: Int) {
            if end > prev { piece(prev..<end) }
            prev = end
        }
        let cr: UInt32 = 0x0D, lf: UInt32 = 0x0A, space: UInt32 = 0x20
        while pos < hi {
            let c = cps[pos]
            let fl = flags[pos]
            if c == 0x27 && pos + 1 < hi {  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                let n = lower(cps[pos + 1])
                if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 { pos += 2; add(pos); continue }
                if pos + 2 < hi {
                    let nn = lower(cps[pos + 2])
                    if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) { pos += 3; add(pos); continue }
                }
            }
            if !(c == cr || c == lf || fl & number != 0) {  // [^\r\n\p{L}\p{N}]?\p{L}+
                if fl & letter != 0 || f(pos + 1) & letter != 0 {
                    pos += 1
                    while f(pos) & letter != 0 { pos += 1 }
                    add(pos); continue
                }
            }
            if fl & number != 0 { pos += 1; add(pos); continue }  // \p{N}
            var f2 = c == space ? f(pos + 1) : fl
            if f2 & (whitespace | letter | number) == 0 && fl != 0 {  //  ?[^\s\p{L}\p{N}]+[\r\n]*
                if c == space { pos += 1 }
                while f2 & (whitespace | letter | number) == 0 && f2 != 0 { pos += 1; f2 = f(pos) }
                while pos < hi && (cps[pos] == cr || cps[pos] == lf) { pos += 1 }
                add(pos); continue
            }
            var spaces = 0
            var lastLineBreakEnd = 0
            while f(pos + spaces) & whitespace != 0 {
                let c2 = cps[pos + spaces]
                if c2 == cr || c2 == lf { lastLineBreakEnd = pos + spaces + 1 }
                spaces += 1
            }
            if lastLineBreakEnd > 0 { pos = lastLineBreakEnd; add(pos); continue }  // \s*[\r\n]+
            if spaces > 1 && pos + spaces < hi { pos += spaces - 1; add(pos); continue }  // \s+(?!\S)
            if spaces > 0 { pos += spaces; add(pos); continue }  // \s+
            pos += 1; add(pos)
        }
    }
}
