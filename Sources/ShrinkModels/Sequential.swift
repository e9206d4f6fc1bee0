import ShrinkFormats

/// A family whose blocks run one at a time over calibration inputs held in memory: GPTQ's sequential mode
/// (Frantar et al., arXiv 2210.17323, §4 and the reference `llama_sequential`): each block's linear inputs are
/// captured from the outputs of the already-compressed blocks before it, its weights are solved, and its
/// compressed form produces the next block's inputs. Only one block's weights are ever bound, so the peak is
/// one block plus its statistics plus the calibration activations, never the whole model in f32.
public protocol SequentialFamily: RunnableFamily {
    /// Every block's tensors (upstream names, as in `tensorLayout`), in the order the blocks run.
    var blocks: [[String]] { get }
    /// A runner over `weights` (named as `tensorLayout` names them, see `presenting`) for calibration sequences.
    func sequentialRunner(_ weights: any TensorSource, location: String) throws -> any SequentialRunner
}

/// The states of a batch of calibration units between blocks.
public protocol SequentialRunner: AnyObject {
    /// Starts from the units' inputs (token ids of each sequence): embeds them into the first block's input.
    func begin(_ units: [[Int32]]) throws
    /// Runs block `index` over every unit with that block's tensors taken from `weights`, showing every linear
    /// input to `observer`; with `advance`, the block's outputs replace the states (the next block's inputs).
    func run(block index: Int, weights: any TensorSource, observer: LinearInputObserver?, advance: Bool) throws
    /// Bytes the runner holds for the units' states.
    var stateBytes: Int { get }
}
