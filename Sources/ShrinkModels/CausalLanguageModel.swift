import ShrinkTensor

/// A model that predicts the next token (a Llama-style decoder): what the language-modelling task runs, whatever
/// its family.
public protocol CausalLanguageModel: CompressibleModel {
    var vocabularySize: Int { get }
    var hiddenSize: Int { get }
    /// Hidden states one forward pass reports: the embeddings, then the output of every block (the last one after
    /// the final norm), as Hugging Face's `output_hidden_states` counts them: blocks + 1.
    var hiddenStateCount: Int { get }
    /// The tokenizer that ships with the weights (GGUF `tokenizer.ggml.*`, or `tokenizer.json` beside them).
    func makeTokenizer() throws -> any Tokenizer
    /// One sequence from a fresh cache: the logits of positions `first..<tokens.count`, [tokens.count − first, vocab]
    /// row-major. `hiddenStates` receives (state index 0…blocks, [tokens.count, hidden]) for every position;
    /// `linearInputs` sees every linear layer's input.
    func logits(_ tokens: [Int32], from first: Int, hiddenStates: ((Int, UnsafeBufferPointer<Float>) -> Void)?,
                linearInputs: LinearInputObserver?) throws -> [Float]
}
