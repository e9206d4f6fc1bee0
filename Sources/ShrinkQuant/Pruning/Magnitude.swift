import ShrinkTensor

/// Exact selection of the k smallest of non-negative scores, by two histogram passes over their IEEE-754 bit
/// patterns (for x ≥ 0 the pattern orders as the value): the top 16 bits first, then the low 16 bits within
/// the bin holding the k-th. O(1) memory beyond 2¹⁶ counters, so one threshold can span every tensor of a
/// model. Ties at the threshold are pruned in visiting order, so exactly k are pruned.
public struct SmallestSelection: Sendable, Equatable {
    /// The k-th smallest score (every score below it is pruned).
    public var threshold: Float
    /// How many scores equal to `threshold` are pruned too (the first ones visited).
    public var ties: Int
    /// k.
    public var pruned: Int

    /// Selects the k smallest of the scores `visit` hands over (it may be called twice, each time with every
    /// chunk in the same order). k = 0 prunes nothing.
    public static func select(k: Int, visit: ((UnsafeBufferPointer<Float>) -> Void) throws -> Void) rethrows -> SmallestSelection {
        guard k > 0 else { return SmallestSelection(threshold: -1, ties: 0, pruned: 0) }
        var high = [Int](repeating: 0, count: 1 << 16)
        try visit { chunk in for v in chunk { high[Int(v.magnitude.bitPattern >> 16)] += 1 } }
        var below = 0, bin = 0
        while bin < high.count && below + high[bin] < k { below += high[bin]; bin += 1 }
        var low = [Int](repeating: 0, count: 1 << 16)
        let b = UInt32(bin)
        try visit { chunk in
            for v in chunk { let p = v.magnitude.bitPattern; if p >> 16 == b { low[Int(p & 0xFFFF)] += 1 } }
        }
        var l = 0
        while l < low.count && below + low[l] < k { below += low[l]; l += 1 }
        return SmallestSelection(threshold: Float(bitPattern: b << 16 | UInt32(l)), ties: k - below, pruned: k)
    }

    /// The pruned flags of one buffer of scores, the k smallest (ties by position).
    public static func prunedFlags(_ scores: UnsafeBufferPointer<Float>, k: Int) -> [Bool] {
        let s = select(k: k) { $0(scores) }
        var ties = s.ties
        return scores.map { v in
            let m = v.magnitude
            if m < s.threshold { return true }
            if m == s.threshold && ties > 0 { ties -= 1; return true }
            return false
        }
    }
}

/// The N:M pattern on one row's scores: in each run of `of` consecutive columns, the `of − keep` smallest scores
/// are pruned (ties to the lower column). Mishra et al. (arXiv 2104.08378 §3): 2:4 keeps 2 of every 4.
enum SemiStructured {
    static func prunedFlags(scores: UnsafeBufferPointer<Float>, keep: Int, of m: Int, into flags: UnsafeMutableBufferPointer<Bool>) {
        var order = [Int](repeating: 0, count: m)
        for g in stride(from: 0, to: scores.count, by: m) {
            for j in 0..<m { order[j] = j; flags[g + j] = false }
            order.sort { scores[g + $0] < scores[g + $1] || (scores[g + $0] == scores[g + $1] && $0 < $1) }
            for j in 0..<(m - keep) { flags[g + order[j]] = true }
        }
    }
}

/// Row scores → kept weights, shared by magnitude and Wanda: per row (Wanda's comparison group) or over the
/// whole tensor (magnitude's layer-wise threshold), or N:M within each row.
enum ScorePruning {
    /// `score(r, c)` of each weight (non-negative); `perRow`: the unstructured ratio applies to each row.
    static func prune(_ w: UnsafeBufferPointer<Float>, rows: Int, columns: Int, sparsity: Sparsity, perRow: Bool,
                      name: String, score: (UnsafeBufferPointer<Float>, Int, UnsafeMutableBufferPointer<Float>) -> Void) throws -> PrunedTensor {
        let bad = w.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        if bad > 0 { throw PruningError.nonFinite(tensor: name, count: bad) }
        try sparsity.check(columns: columns, tensor: name)
        var scores = [Float](repeating: 0, count: rows * columns)
        scores.withUnsafeMutableBufferPointer { s in
            for r in 0..<rows {
                score(UnsafeBufferPointer(rebasing: w[(r * columns)..<((r + 1) * columns)]), r,
                      UnsafeMutableBufferPointer(rebasing: s[(r * columns)..<((r + 1) * columns)]))
            }
        }
        var pruned = [Bool](repeating: false, count: rows * columns)
        scores.withUnsafeBufferPointer { s in
            pruned.withUnsafeMutableBufferPointer { p in
                switch sparsity {
                case let .semiStructured(n, m):
                    for r in 0..<rows {
                        SemiStructured.prunedFlags(scores: UnsafeBufferPointer(rebasing: s[(r * columns)..<((r + 1) * columns)]), keep: n, of: m,
                                                   into: UnsafeMutableBufferPointer(rebasing: p[(r * columns)..<((r + 1) * columns)]))
                    }
                case let .unstructured(f):
                    if perRow {
                        let k = Sparsity.prunedCount(f, of: columns)
                        for r in 0..<rows {
                            let flags = SmallestSelection.prunedFlags(UnsafeBufferPointer(rebasing: s[(r * columns)..<((r + 1) * columns)]), k: k)
                            for c in 0..<columns { p[r * columns + c] = flags[c] }
                        }
                    } else {
                        let flags = SmallestSelection.prunedFlags(s, k: Sparsity.prunedCount(f, of: rows * columns))
                        for i in 0..<flags.count { p[i] = flags[i] }
                    }
                }
            }
        }
        return PrunedTensor(rows: rows, columns: columns, values: (0..<(rows * columns)).map { pruned[$0] ? 0 : w[$0] },
                            kept: pruned.map { !$0 })
    }

    static func keptCount(rows: Int, columns: Int, sparsity: Sparsity, perRow: Bool) -> Int {
        switch sparsity {
        case let .semiStructured(n, m): rows * columns / m * n
        case let .unstructured(f): perRow ? rows * (columns - Sparsity.prunedCount(f, of: columns))
            : rows * columns - Sparsity.prunedCount(f, of: rows * columns)
        }
    }
}

/// Magnitude pruning (Han, Pool, Tran, Dally, "Learning both Weights and Connections for Efficient Neural
/// Networks", NeurIPS 2015, §3): remove the weights of smallest |w|. Unstructured: the ⌊s·rows·columns⌋ smallest
/// of the tensor (layer scope), or those below one threshold over every pruned tensor (`global`, from
/// `GlobalMagnitude.threshold`); N:M: the smallest |w| of each group of M inputs of a row.
public struct MagnitudePruner: Pruner {
    /// A global threshold's share for this tensor; nil: the layer's own ratio.
    public var global: SmallestSelection?
    public init(global: SmallestSelection? = nil) { self.global = global }
    public var method: PruneMethod { .magnitude }
    public var description: String { global == nil ? "magnitude" : "magnitude (global)" }

    public func prune(_ weight: UnsafeBufferPointer<Float>, rows: Int, columns: Int, sparsity: Sparsity,
                      statistics: LayerStatistics?, name: String) throws -> PrunedTensor {
        guard let g = global else {
            return try ScorePruning.prune(weight, rows: rows, columns: columns, sparsity: sparsity, perRow: false, name: name) { w, _, s in
                for i in 0..<w.count { s[i] = w[i].magnitude }
            }
        }
        let bad = weight.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        if bad > 0 { throw PruningError.nonFinite(tensor: name, count: bad) }
        var ties = g.ties
        var values = [Float](repeating: 0, count: weight.count), kept = [Bool](repeating: true, count: weight.count)
        for i in 0..<weight.count {
            let m = weight[i].magnitude
            if m < g.threshold || (m == g.threshold && ties > 0) {
                if m == g.threshold { ties -= 1 }
                kept[i] = false
            } else {
                values[i] = weight[i]
            }
        }
        return PrunedTensor(rows: rows, columns: columns, values: values, kept: kept)
    }

    public func keptCount(rows: Int, columns: Int, sparsity: Sparsity) -> Int {
        if let g = global { return rows * columns - g.pruned }
        return ScorePruning.keptCount(rows: rows, columns: columns, sparsity: sparsity, perRow: false)
    }
}

/// One magnitude threshold over several tensors (`--sparsity-scope global`): the ⌊s·N⌋ smallest |w| of all N
/// weights of the pruned tensors, ties pruned in tensor order, then row-major order.
public enum GlobalMagnitude {
    /// Each tensor's share: the threshold, and how many of its weights equal to it are pruned.
    /// `read(name)` returns a tensor's values; it is called four times per tensor (sizes, the two selection
    /// passes, the shares).
    public static func threshold(names: [String], fraction: Double, read: (String) throws -> [Float]) throws -> [String: SmallestSelection] {
        var total = 0
        for n in names { total += try read(n).count }
        let k = Sparsity.prunedCount(fraction, of: total)
        let s = try SmallestSelection.select(k: k) { body in
            for n in names {
                let v = try read(n)
                let bad = v.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
                if bad > 0 { throw PruningError.nonFinite(tensor: n, count: bad) }
                v.withUnsafeBufferPointer(body)
            }
        }
        var remaining = s.ties
        var shares: [String: SmallestSelection] = [:]
        for n in names {
            var equal = 0, below = 0
            if k > 0 { for v in try read(n) { let m = v.magnitude; if m < s.threshold { below += 1 } else if m == s.threshold { equal += 1 } } }
            let mine = min(equal, remaining)
            remaining -= mine
            shares[n] = SmallestSelection(threshold: s.threshold, ties: mine, pruned: below + mine)
        }
        return shares
    }
}
