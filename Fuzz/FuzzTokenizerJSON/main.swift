import FuzzSupport
import ShrinkModels


/// libFuzzer target: a `tokenizer.json` (WordPiece or byte-level BPE, as `TokenizerFile.open` picks). An accepted
/// tokenizer encodes and decodes fixed texts, and decodes ids outside its vocabulary.
func fuzzTokenizerJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    FuzzInput.withFile(bytes, name: "tokenizer.json") { path in
        guard let tokenizer = try? TokenizerFile.open(path) else { return }
        exerciseTokenizer(tokenizer)
    }
    return 0
}

/// Texts that reach the pre-tokenizers' branches: letters, digits, punctuation, spaces, newlines, CJK, emoji,
/// combining marks, an unpaired-looking replacement character.
let fuzzTexts = ["", "Hello, world! It's 2024.", "  a  b\n\n\tc", "über naïve café 北京 🙂 e\u{301}", "\u{FFFD}\u{0}x", "[CLS] ##ing <s></s>"]

func exerciseTokenizer(_ tokenizer: any Tokenizer) {
    for text in fuzzTexts {
        let ids = tokenizer.encode(text)
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
            fatalError("encode gave id \(bad) outside the vocabulary of \(tokenizer.vocabularySize)")
        }
        fuzzSink(tokenizer.decode(ids))
    }
    fuzzSink(tokenizer.decode([-1, Int32.max, Int32(truncatingIfNeeded: tokenizer.vocabularySize), 0]))
    fuzzSink(tokenizer.bosID)
}

fuzzMain(fuzzTokenizerJSON)
