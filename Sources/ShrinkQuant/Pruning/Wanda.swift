import ShrinkTensor

/// Wanda (Sun, Liu, Bair, Kolter, "A Simple and Effective Pruning Approach for Large Language Models",
/// arXiv 2306.11695, Eq. 1): the score of W_ij is |W_ij|·‖X_j‖₂, the norm of input feature j over the
/// calibration tokens, and weights are compared within each output row i (§3, "comparison group"): the
/// ⌊s·columns⌋ lowest scores of each row are removed, or for N:M the lowest of each group of M inputs. No weight
/// update. ‖X_j‖₂ = √(Σ_n x_nj²) is √(n/2 · H_jj) from the calibration statistics (H = 2XᵀX/n); the constant
/// factor does not change a row's order, so √H_jj is used.
public struct WandaPruner: Pruner {
    public init() {}
    public var method: PruneMethod { .wanda }
    public var description: String { "wanda" }

    public func prune(_ weight: UnsafeBufferPointer<Float>, rows: Int, columns: Int, sparsity: Sparsity,
                      statistics: LayerStatistics?, name: String) throws -> PrunedTensor {
        guard let statistics else { throw PruningError.notCalibrated(tensor: name, method: .wanda) }
        let norms = Self.inputNorms(statistics)
        return try ScorePruning.prune(weight, rows: rows, columns: columns, sparsity: sparsity, perRow: true, name: name) { w, _, s in
            for j in 0..<w.count { s[j] = w[j].magnitude * norms[j] }
        }
    }

    public func keptCount(rows: Int, columns: Int, sparsity: Sparsity) -> Int {
        ScorePruning.keptCount(rows: rows, columns: columns, sparsity: sparsity, perRow: true)
    }

    /// ‖X_j‖₂ up to a constant: √H_jj, in float (the reference computes the norm in float too).
    public static func inputNorms(_ statistics: LayerStatistics) -> [Float] {
        statistics.hessianDiagonal.map { Float($0.squareRoot()) }
    }
}
