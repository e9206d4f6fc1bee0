import FuzzSupport
import ShrinkFormats
import ShrinkModels


/// libFuzzer target: the `tokenizer.ggml.*` metadata of a GGUF file (and `general.architecture`, which picks the
/// family, as `ModelRegistry.family(gguf:)` reads it). An accepted tokenizer encodes and decodes fixed texts.
func fuzzGGUFTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    FuzzInput.withFile(bytes, name: "model.gguf") { path in
        guard let reader = try? GGUFReader(path: path) else { return }
        if let family = try? ModelRegistry.family(gguf: reader) {
            fuzzSink(family.tensorLayout)
            fuzzSink(family.cost(CostQuery(steps: 1, context: 8)))
        }
        guard let tokenizer = try? ByteLevelBPETokenizer(gguf: reader) else { return }
        for text in ["", "Hello, world! It's 2024.", "  a  b\n\n\tc", "über naïve café 北京 🙂 e\u{301}", "\u{FFFD}\u{0}x"] {
            let ids = tokenizer.encode(text)
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
                fatalError("encode gave id \(bad) outside the vocabulary of \(tokenizer.vocabularySize)")
            }
            fuzzSink(tokenizer.decode(ids))
        }
        fuzzSink(tokenizer.decode([-1, Int32.max, 0]))
    }
    return 0
}

fuzzMain(fuzzGGUFTokenizer)
