import ShrinkFormats
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

/// A family of causal language models, whose tokenizer ships with its weights: what calibration tokenizes text
/// with before any weight is bound.
public protocol LanguageModelFamily: ModelFamily {
    var vocabularySize: Int { get }
    /// The tokenizer of the model at `location` (a GGUF file's `tokenizer.ggml.*`, or `tokenizer.json` beside the weights).
    func tokenizer(location: String) throws -> any Tokenizer
}

/// A decoder whose blocks can be re-run from a saved input with one block's tensors, or the head's, replaced:
/// the planner measures every tensor option's effect on the output without rerunning the blocks before it.
public protocol BlockwiseLanguageModel: CausalLanguageModel {
    /// Every block's tensors, in order (the family's `SequentialFamily.blocks`).
    var blockTensors: [[String]] { get }
    /// The head's tensors (the tied table when the input table is the head): replacing them runs everything.
    var headTensors: [String] { get }
    /// One sequence from a fresh cache: the input of every block, and the logits of positions `first…`.
    func trace(_ tokens: [Int32], from first: Int) throws -> (blockInputs: [[Float]], logits: [Float])
    /// The logits of positions `first…` of a `tokens`-long sequence, running blocks `block`… from `input` (the
    /// input of `block`, from `trace`) with the tensors of `block` bound from `weights`.
    func logits(fromBlock block: Int, input: [Float], tokens: Int, from first: Int, replacing weights: any TensorSource) throws -> [Float]
    /// The logits with the head (and a tied input table) bound from `weights`.
    func logits(_ tokens: [Int32], from first: Int, head weights: any TensorSource) throws -> [Float]
}
