import ShrinkTensor

/// Arithmetic of a reasoner's forward pass per puzzle, counted from the config
/// (a multiply-add is 2 FLOPs; norms, activations and softmax are not counted:
/// they are O(P·D) next to the O(P·D²) matrix products).
public enum ReasonerCost {
    /// FLOPs of one block of a reasoning module on one puzzle.
    public static func blockFLOPs(_ c: ReasonerConfig) -> Int {
        let P = c.positions, D = c.hiddenSize, I = c.mlpWidth
        let channelMLP = 2 * P * D * 2 * I + 2 * P * I * D
        if c.mlpT {
            let It = c.tokenMLPWidth
            return channelMLP + 2 * D * P * 2 * It + 2 * D * It * P
        }
        let A = c.attentionWidth
        let projections = 2 * P * D * 3 * A + 2 * P * A * D
        let attention = 2 * P * P * A * 2  // scores and weighted values, all heads together
        return channelMLP + projections + attention
    }

    /// FLOPs of one supervision step on one puzzle at the given cycles.
    public static func stepFLOPs(_ c: ReasonerConfig, hCycles: Int, lCycles: Int) -> Int {
        let block = blockFLOPs(c)
        let lowCalls = hCycles * lCycles * c.lLayers
        let highCalls = hCycles * (c.arch == .hrm ? c.hLayers : c.lLayers)
        let heads = 2 * c.seqLen * c.hiddenSize * c.vocabSize + 2 * c.hiddenSize * 2
        return (lowCalls + highCalls) * block + heads
    }

    public static func puzzleFLOPs(_ c: ReasonerConfig, depth: RecursionDepth) -> Int {
        depth.steps * stepFLOPs(c, hCycles: depth.hCycles, lCycles: depth.lCycles)
    }
}
