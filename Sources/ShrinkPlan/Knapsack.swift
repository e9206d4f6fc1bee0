/// Multiple-choice knapsack: pick exactly one option per item so the summed cost
/// stays within a budget and the summed (additive) error is least. Exact dynamic
/// programming over costs counted in `unit`s, each cost rounded up, so a solution
/// never exceeds the budget in true bytes (Kellerer, Pferschy, Pisinger,
/// "Knapsack Problems", 2004, §11.5: DP by capacities for the MCKP).
public enum MultipleChoiceKnapsack {
    public struct Option: Sendable, Equatable {
        public var cost: Int
        public var error: Double
        public init(cost: Int, error: Double) { self.cost = cost; self.error = error }
    }

    public struct Solution: Sendable, Equatable {
        /// The chosen option of every item.
        public var choices: [Int]
        public var cost: Int
        public var error: Double
    }

    /// The unit that keeps the DP table at most `maxCells` capacities wide.
    public static func unit(budget: Int, maxCells: Int = 1 << 16) -> Int { max(1, (budget + maxCells - 1) / maxCells) }

    /// nil when even the cheapest option of every item together exceeds the budget.
    public static func solve(_ items: [[Option]], budget: Int, unit: Int = 1) -> Solution? {
        guard budget >= 0, items.allSatisfy({ !$0.isEmpty }) else { return nil }
        let capacity = budget / unit
        let width = capacity + 1
        var best = [Double](repeating: 0, count: width)
        var pick = [[Int32]](repeating: [], count: items.count)
        for (i, options) in items.enumerated() {
            var next = [Double](repeating: .infinity, count: width)
            var chosen = [Int32](repeating: -1, count: width)
            for (k, o) in options.enumerated() {
                let w = (o.cost + unit - 1) / unit
                guard w <= capacity else { continue }
                for c in w..<width where best[c - w] + o.error < next[c] {
                    next[c] = best[c - w] + o.error
                    chosen[c] = Int32(k)
                }
            }
            best = next
            pick[i] = chosen
        }
        guard let c0 = (0..<width).min(by: { best[$0] < best[$1] || (best[$0] == best[$1] && $0 < $1) }), best[c0].isFinite else { return nil }
        var choices = [Int](repeating: 0, count: items.count)
        var c = c0
        for i in stride(from: items.count - 1, through: 0, by: -1) {
            let k = Int(pick[i][c])
            choices[i] = k
            c -= (items[i][k].cost + unit - 1) / unit
        }
        let cost = zip(items, choices).reduce(0) { $0 + $1.0[$1.1].cost }
        return Solution(choices: choices, cost: cost, error: zip(items, choices).reduce(0) { $0 + $1.0[$1.1].error })
    }

    /// Exhaustive search (for tests and tiny problems).
    public static func bruteForce(_ items: [[Option]], budget: Int) -> Solution? {
        var bestSolution: Solution?
        var choices = [Int](repeating: 0, count: items.count)
        func visit(_ i: Int, cost: Int, error: Double) {
            if cost > budget { return }
            if i == items.count {
                if bestSolution == nil || error < bestSolution!.error { bestSolution = Solution(choices: choices, cost: cost, error: error) }
                return
            }
            for (k, o) in items[i].enumerated() {
                choices[i] = k
                visit(i + 1, cost: cost + o.cost, error: error + o.error)
            }
        }
        visit(0, cost: 0, error: 0)
        return bestSolution
    }
}
