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
