import ShrinkTensor

/// The shape of a Sudoku: an n×n grid of boxes `boxRows` tall and `boxColumns`
/// wide, n = boxRows · boxColumns. Rows group into bands (one box tall), columns
/// into stacks (one box wide).
public struct SudokuLayout: Hashable, Codable, Sendable {
    public let boxRows: Int
    public let boxColumns: Int

    /// 4×4 (2×2 boxes), 6×6 (boxes 2 rows × 3 columns) and 9×9 (3×3).
    public static let supportedSizes = [4, 6, 9]

    public init?(size: Int) {
        switch size {
        case 4: (boxRows, boxColumns) = (2, 2)
        case 6: (boxRows, boxColumns) = (2, 3)
        case 9: (boxRows, boxColumns) = (3, 3)
        default: return nil
        }
    }

    public var size: Int { boxRows * boxColumns }
    public var cellCount: Int { size * size }
    /// Bands are `boxRows` rows tall; there are `boxColumns` of them.
    public var bandCount: Int { size / boxRows }
    /// Stacks are `boxColumns` columns wide; there are `boxRows` of them.
    public var stackCount: Int { size / boxColumns }
    /// Transposition keeps the box structure only when boxes are square.
    public var isTransposable: Bool { boxRows == boxColumns }

    @inline(__always) public func box(row: Int, column: Int) -> Int {
        (row / boxRows) * stackCount + column / boxColumns
    }

    /// The fewest givens a puzzle with a unique solution can have (4×4: 4;
    /// 6×6: 8; 9×9: 17, McGuire, Tugemann & Civario 2012).
    public var minimumGivens: Int {
        switch size { case 4: 4; case 6: 8; default: 17 }
    }

    /// Order of the validity-preserving permutation group without relabelling:
    /// bands, rows within bands, stacks, columns within stacks, and transposition
    /// for square boxes (4×4: 128; 6×6: 3,456; 9×9: 3,359,232).
    public var symmetryGroupOrder: Int {
        func factorial(_ k: Int) -> Int { k <= 1 ? 1 : (2...k).reduce(1, *) }
        func power(_ b: Int, _ e: Int) -> Int { (0..<e).reduce(1) { r, _ in r * b } }
        let rows = factorial(bandCount) * power(factorial(boxRows), bandCount)
        let columns = factorial(stackCount) * power(factorial(boxColumns), stackCount)
        return rows * columns * (isTransposable ? 2 : 1)
    }

    /// Number of valid solution grids, where it fits in an Int (4×4: 288;
    /// 6×6: 28,200,960, Pettersen; 9×9: 6.67·10²¹, Felgenhauer & Jarvis 2005, does not).
    public var solutionGridCount: Int? {
        switch size { case 4: 288; case 6: 28_200_960; default: nil }
    }
}


/// A backtracking Sudoku solver over bitmask candidates (bit d−1 set = digit d
/// possible), always branching on the empty cell with the fewest candidates.
/// Grids are row-major, 0 for blank, digits 1…n. Not thread-safe: one per thread.
public final class SudokuSolver {
    public let layout: SudokuLayout
    let n: Int, cells: Int
    let full: UInt16
    private let rowOf, colOf, boxOf: UnsafeMutablePointer<Int>
    private let grid: UnsafeMutablePointer<UInt8>
    private let rows, cols, boxes, banned: UnsafeMutablePointer<UInt16>
    private var found = 0
    private var limit = 0
    private var solution: [UInt8] = []
    private var recordSolution = false

    public init(layout: SudokuLayout) {
        self.layout = layout
        n = layout.size
        cells = layout.cellCount
        full = UInt16((1 << n) - 1)
        rowOf = .allocate(capacity: cells); colOf = .allocate(capacity: cells); boxOf = .allocate(capacity: cells)
        for c in 0..<cells {
            rowOf[c] = c / n; colOf[c] = c % n; boxOf[c] = layout.box(row: c / n, column: c % n)
        }
        grid = .allocate(capacity: cells)
        rows = .allocate(capacity: n); cols = .allocate(capacity: n); boxes = .allocate(capacity: n)
        banned = .allocate(capacity: cells)
        banned.initialize(repeating: 0, count: cells)
    }

    deinit {
        rowOf.deallocate(); colOf.deallocate(); boxOf.deallocate()
        grid.deallocate(); rows.deallocate(); cols.deallocate(); boxes.deallocate(); banned.deallocate()
    }

    /// Number of solutions, counting no further than `limit` (2 answers "is it unique?").
    public func countSolutions(_ puzzle: [UInt8], limit: Int = 2) -> Int {
        guard load(puzzle) else { return 0 }
        found = 0; self.limit = limit; recordSolution = false
        search()
        return found
    }

    /// The first solution found, or nil when there is none.
    public func solve(_ puzzle: [UInt8]) -> [UInt8]? {
        guard load(puzzle) else { return nil }
        found = 0; limit = 1; recordSolution = true
        search()
        return found > 0 ? solution : nil
    }

    /// Whether `puzzle` has a solution with `cell` (blank in `puzzle`) not equal to `digit`.
    /// Removing a given keeps a unique solution unique exactly when this is false.
    func hasSolution(_ puzzle: [UInt8], avoiding digit: UInt8, at cell: Int) -> Bool {
        guard load(puzzle) else { return false }
        banned[cell] = 1 << (digit - 1)
        found = 0; limit = 1; recordSolution = false
        search()
        banned[cell] = 0
        return found > 0
    }

    /// A random complete grid: the search tries digits in a random order.
    func randomSolution(using rng: inout SeededGenerator) -> [UInt8] {
        _ = load([UInt8](repeating: 0, count: cells))
        found = 0; limit = 1; recordSolution = true
        randomSearch(&rng)
        precondition(found == 1, "an empty Sudoku always has a solution")
        return solution
    }

    /// False when the givens already clash.
    private func load(_ puzzle: [UInt8]) -> Bool {
        precondition(puzzle.count == cells, "puzzle has \(puzzle.count) cells, expected \(cells)")
        for i in 0..<n { rows[i] = 0; cols[i] = 0; boxes[i] = 0 }
        for c in 0..<cells {
            let d = puzzle[c]
            grid[c] = d
            if d == 0 { continue }
            guard d <= n else { return false }
            let bit: UInt16 = 1 << (d - 1)
            if (rows[rowOf[c]] | cols[colOf[c]] | boxes[boxOf[c]]) & bit != 0 { return false }
            rows[rowOf[c]] |= bit; cols[colOf[c]] |= bit; boxes[boxOf[c]] |= bit
        }
        return true
    }

    /// The empty cell with the fewest candidates and its candidate mask; cell −1
    /// when the grid is full, mask 0 when some cell has no candidate.
    @inline(__always)
    private func mostConstrained() -> (cell: Int, mask: UInt16) {
        var best = -1, bestCount = Int.max, bestMask: UInt16 = 0
        for c in 0..<cells where grid[c] == 0 {
            let m = full & ~(rows[rowOf[c]] | cols[colOf[c]] | boxes[boxOf[c]] | banned[c])
            let k = m.nonzeroBitCount
            if k < bestCount {
                best = c; bestCount = k; bestMask = m
                if k <= 1 { break }
            }
        }
        return (best, bestMask)
    }

    @inline(__always)
    private func place(_ c: Int, _ bit: UInt16, digit: UInt8) {
        grid[c] = digit
        rows[rowOf[c]] |= bit; cols[colOf[c]] |= bit; boxes[boxOf[c]] |= bit
    }

    @inline(__always)
    private func unplace(_ c: Int, _ bit: UInt16) {
        grid[c] = 0
        rows[rowOf[c]] &= ~bit; cols[colOf[c]] &= ~bit; boxes[boxOf[c]] &= ~bit
    }

    private func foundSolution() {
        found += 1
        if recordSolution && found == 1 { solution = Array(UnsafeBufferPointer(start: grid, count: cells)) }
    }

    private func search() {
        let (c, mask) = mostConstrained()
        if c < 0 { foundSolution(); return }
        var m = mask
        while m != 0 {
            let bit = m & (0 &- m)
            m &= m - 1
            place(c, bit, digit: UInt8(bit.trailingZeroBitCount + 1))
            search()
            unplace(c, bit)
            if found >= limit { return }
        }
    }

    private func randomSearch(_ rng: inout SeededGenerator) {
        let (c, mask) = mostConstrained()
        if c < 0 { foundSolution(); return }
        var digits: [UInt8] = []
        var m = mask
        while m != 0 { digits.append(UInt8(m.trailingZeroBitCount + 1)); m &= m - 1 }
        rng.shuffle(&digits)
        for d in digits {
            let bit: UInt16 = 1 << (d - 1)
            place(c, bit, digit: d)
            randomSearch(&rng)
            unplace(c, bit)
            if found >= limit { return }
        }
    }
}

/// Checks on grids and puzzles (row-major, 0 blank, digits 1…n).
public enum SudokuRules {
    /// True when `grid` is complete and every row, column and box holds each digit once.
    public static func isValidSolution(_ grid: [UInt8], layout: SudokuLayout) -> Bool {
        let n = layout.size
        guard grid.count == layout.cellCount else { return false }
        var rows = [UInt16](repeating: 0, count: n), cols = rows, boxes = rows
        for c in 0..<grid.count {
            let d = Int(grid[c])
            guard d >= 1, d <= n else { return false }
            let bit = UInt16(1) << (d - 1), r = c / n, col = c % n, b = layout.box(row: r, column: col)
            if (rows[r] | cols[col] | boxes[b]) & bit != 0 { return false }
            rows[r] |= bit; cols[col] |= bit; boxes[b] |= bit
        }
        return true
    }

    /// True when every given of `puzzle` equals the digit of `solution` in the same cell.
    public static func isConsistent(puzzle: [UInt8], solution: [UInt8]) -> Bool {
        puzzle.count == solution.count && zip(puzzle, solution).allSatisfy { $0 == 0 || $0 == $1 }
    }
}

/// Clue removal (the usual "dig holes" generator): blanks cells of a solution in
/// a random order, putting a digit back whenever removing it would admit a
/// second solution, until `targetGivens` remain or no cell can go. The result
/// always has `solution` as its unique solution; it has more than
/// `targetGivens` givens when uniqueness blocked further removal.
public enum SudokuDigger {
    public static func dig(_ solution: [UInt8], targetGivens: Int, solver: SudokuSolver,
                           using rng: inout SeededGenerator) -> [UInt8] {
        var puzzle = solution
        var givens = solution.count
        for cell in rng.permutation(solution.count) {
            if givens <= targetGivens { break }
            let digit = puzzle[cell]
            puzzle[cell] = 0
            if solver.hasSolution(puzzle, avoiding: digit, at: cell) {
                puzzle[cell] = digit
            } else {
                givens -= 1
            }
        }
        return puzzle
    }
}
