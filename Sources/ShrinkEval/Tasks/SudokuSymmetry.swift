import ShrinkTensor

/// One element of the Sudoku symmetry group that TRM/HRM use for augmentation:
/// optional transposition (square boxes only), then a row order that permutes
/// bands and rows within bands, a column order that permutes stacks and columns
/// within stacks, then a relabelling of the digits.
public struct SudokuTransform: Hashable, Sendable {
    public var transpose: Bool
    /// Output row i is (possibly transposed) input row `rowOrder[i]`.
    public var rowOrder: [Int]
    /// Output column j is input column `columnOrder[j]`.
    public var columnOrder: [Int]
    /// `relabel[d]` replaces digit d; `relabel[0] == 0` keeps blanks blank.
    public var relabel: [UInt8]

    public static func identity(_ layout: SudokuLayout) -> SudokuTransform {
        SudokuTransform(transpose: false, rowOrder: Array(0..<layout.size), columnOrder: Array(0..<layout.size),
                        relabel: (0...layout.size).map(UInt8.init))
    }

    public func apply(_ grid: [UInt8], layout: SudokuLayout) -> [UInt8] {
        let n = layout.size
        var out = [UInt8](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                let (r, c) = (rowOrder[i], columnOrder[j])
                out[i * n + j] = relabel[Int(transpose ? grid[c * n + r] : grid[r * n + c])]
            }
        }
        return out
    }

    /// A uniformly random element of the group, relabelling included.
    public static func random(_ layout: SudokuLayout, using rng: inout SeededGenerator) -> SudokuTransform {
        let rows = BlockPermutation.random(blocks: layout.bandCount, blockSize: layout.boxRows, using: &rng)
        let columns = BlockPermutation.random(blocks: layout.stackCount, blockSize: layout.boxColumns, using: &rng)
        let transpose = layout.isTransposable && rng.below(2) == 1
        let digits = rng.permutation(layout.size)
        return SudokuTransform(transpose: transpose, rowOrder: rows, columnOrder: columns,
                               relabel: [0] + digits.map { UInt8($0 + 1) })
    }

    /// Every element of the group without relabelling (128 for 4×4, 3,456 for 6×6);
    /// for reference checks, not for 9×9.
    public static func allWithoutRelabelling(_ layout: SudokuLayout) -> [SudokuTransform] {
        precondition(layout.size <= 6, "the 9×9 group has 3,359,232 elements; enumerate it lazily")
        let rows = BlockPermutation.all(blocks: layout.bandCount, blockSize: layout.boxRows)
        let columns = BlockPermutation.all(blocks: layout.stackCount, blockSize: layout.boxColumns)
        let relabel = (0...layout.size).map(UInt8.init)
        var all: [SudokuTransform] = []
        for t in layout.isTransposable ? [false, true] : [false] {
            for r in rows { for c in columns { all.append(SudokuTransform(transpose: t, rowOrder: r, columnOrder: c, relabel: relabel)) } }
        }
        return all
    }
}

/// Permutations of `blocks · blockSize` indices that move whole blocks and
/// permute indices within each block (bands/rows or stacks/columns).
enum BlockPermutation {
    static func all(blocks: Int, blockSize: Int) -> [[Int]] {
        let outer = permutations(blocks), inner = permutations(blockSize)
        var result: [[Int]] = []
        func extend(_ prefix: [Int], blockIndex: Int, order: [Int]) {
            if blockIndex == blocks { result.append(prefix); return }
            let base = order[blockIndex] * blockSize
            for p in inner { extend(prefix + p.map { base + $0 }, blockIndex: blockIndex + 1, order: order) }
        }
        for o in outer { extend([], blockIndex: 0, order: o) }
        return result
    }

    static func random(blocks: Int, blockSize: Int, using rng: inout SeededGenerator) -> [Int] {
        var result: [Int] = []
        for b in rng.permutation(blocks) {
            result += rng.permutation(blockSize).map { b * blockSize + $0 }
        }
        return result
    }

    /// All permutations of 0..<n in lexicographic order.
    static func permutations(_ n: Int) -> [[Int]] {
        if n == 0 { return [[]] }
        var result: [[Int]] = []
        for first in 0..<n {
            for rest in permutations(n - 1) { result.append([first] + rest.map { $0 >= first ? $0 + 1 : $0 }) }
        }
        return result
    }
}

/// Canonical form of a solution grid under the augmentation group: the
/// lexicographically smallest row-major grid among all images of the grid under
/// transposition (square boxes only), band / row-in-band / stack /
/// column-in-stack permutations, with digits relabelled in order of first
/// appearance. Two grids have the same canonical form exactly when one
/// augmentation turns one into the other, so it identifies the equivalence class
/// for every size, 9×9 included.
///
/// Search: after relabelling, an image's first row is always 1…n, so an image is
/// fixed by (orientation, which row goes on top, column order) up to the order of
/// the remaining rows; rows of a grid are distinct, so the smallest completion
/// sorts the top band's other rows and every other band's rows, and orders the
/// other bands by their first row. That leaves 2·9·1,296 = 23,328 candidates for
/// 9×9 (432 for 6×6, 32 for 4×4) instead of |group|, most rejected after one band.
public enum SudokuCanonical {
    public struct Result: Sendable {
        /// The canonical grid (row-major, first row 1…n).
        public var form: [UInt8]
        /// How many group elements with relabelling map the grid to its canonical
        /// form: the grid's stabilizer order, so the class holds
        /// |group| · n! / automorphisms grids.
        public var automorphisms: Int
    }

    private static let columnOrders: [Int: [UInt8]] = {
        var table: [Int: [UInt8]] = [:]
        for size in SudokuLayout.supportedSizes {
            let l = SudokuLayout(size: size)!
            table[size] = BlockPermutation.all(blocks: l.stackCount, blockSize: l.boxColumns).flatMap { $0.map(UInt8.init) }
        }
        return table
    }()

    /// For each column order σ, its inverse (column → position).
    private static let inverseColumnOrders: [Int: [UInt8]] = {
        var table: [Int: [UInt8]] = [:]
        for (size, orders) in columnOrders {
            var inverse = [UInt8](repeating: 0, count: orders.count)
            for o in 0..<(orders.count / size) {
                for j in 0..<size { inverse[o * size + Int(orders[o * size + j])] = UInt8(j) }
            }
            table[size] = inverse
        }
        return table
    }()

    public static func canonicalForm(_ grid: [UInt8], layout: SudokuLayout) -> Result {
        let n = layout.size, r = layout.boxRows, bands = layout.bandCount, cells = n * n
        precondition(grid.count == cells && SudokuRules.isValidSolution(grid, layout: layout),
                     "canonical forms are defined for complete, valid grids")
        let orders = columnOrders[n]!
        let inverses = inverseColumnOrders[n]!
        // Column of each digit in the top row, to find a candidate's second-row
        // first cell without relabelling the whole row (the usual rejection).
        var topColumn = [Int](repeating: 0, count: n + 1)
        let orderCount = orders.count / n
        var orientations = [grid]
        if layout.isTransposable { orientations.append((0..<cells).map { grid[($0 % n) * n + $0 / n] }) }

        var best = [UInt8](repeating: .max, count: cells)
        var candidate = [UInt8](repeating: 0, count: cells)
        var relabel = [UInt8](repeating: 0, count: n + 1)
        var automorphisms = 0
        for i in 0..<n { candidate[i] = UInt8(i + 1) }

        best.withUnsafeMutableBufferPointer { bestP in
        candidate.withUnsafeMutableBufferPointer { cand in
        relabel.withUnsafeMutableBufferPointer { label in
        orders.withUnsafeBufferPointer { orderP in
        inverses.withUnsafeBufferPointer { inverseP in
        topColumn.withUnsafeMutableBufferPointer { topCol in
            for g in orientations {
                g.withUnsafeBufferPointer { gp in
                    for top in 0..<n {
                        let topBand = top / r
                        for j in 0..<n { topCol[Int(gp[top * n + j])] = j }
                        for o in 0..<orderCount {
                            let sigma = orderP.baseAddress! + o * n
                            // Second row's first cell: the smallest relabelled digit in
                            // column σ[0] among the top band's other rows.
                            let inverse = inverseP.baseAddress! + o * n
                            var lead = UInt8.max, leadRow = 0
                            for i in topBand * r..<(topBand + 1) * r where i != top {
                                let v = inverse[topCol[Int(gp[i * n + Int(sigma[0])])]] + 1
                                if v < lead { lead = v; leadRow = i }
                            }
                            if lead > bestP[n] { continue }
                            // That row is the second row: compare it with the best's, cell by cell.
                            if lead == bestP[n] {
                                var second = 0
                                for j in 1..<n {
                                    let v = Int(inverse[topCol[Int(gp[leadRow * n + Int(sigma[j])])]]) + 1
                                    second = v - Int(bestP[n + j])
                                    if second != 0 { break }
                                }
                                if second > 0 { continue }
                            }
                            for j in 0..<n { label[Int(gp[top * n + Int(sigma[j])])] = UInt8(j + 1) }
                            @inline(__always) func mapRow(_ source: Int, into slot: Int) {
                                let src = gp.baseAddress! + source * n, dst = cand.baseAddress! + slot * n
                                for j in 0..<n { dst[j] = label[Int(src[Int(sigma[j])])] }
                            }
                            // The top band: its other rows, sorted.
                            var slot = 1
                            for i in topBand * r..<(topBand + 1) * r where i != top { mapRow(i, into: slot); slot += 1 }
                            sortRows(cand.baseAddress!, from: 1, count: r - 1, n: n)
                            var order = compare(cand.baseAddress! + n, bestP.baseAddress! + n, count: (r - 1) * n)
                            if order > 0 { continue }
                            // The other bands: rows sorted within each, bands by first row.
                            for b in 0..<bands where b != topBand {
                                let first = slot
                                for i in b * r..<(b + 1) * r { mapRow(i, into: slot); slot += 1 }
                                sortRows(cand.baseAddress!, from: first, count: r, n: n)
                            }
                            sortBands(cand.baseAddress!, firstRow: r, bands: bands - 1, rowsPerBand: r, n: n)
                            if order == 0 { order = compare(cand.baseAddress! + r * n, bestP.baseAddress! + r * n, count: cells - r * n) }
                            if order < 0 {
                                bestP.baseAddress!.update(from: cand.baseAddress!, count: cells)
                                automorphisms = 1
                            } else if order == 0 {
                                automorphisms += 1
                            }
                        }
                    }
                }
            }
        }
        }
        }
        }
        }
        }
        return Result(form: best, automorphisms: automorphisms)
    }

    @inline(__always)
    private static func compare(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count: Int) -> Int {
        for i in 0..<count where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return 0
    }

    @inline(__always)
    private static func swapRanges(_ p: UnsafeMutablePointer<UInt8>, _ a: Int, _ b: Int, length: Int) {
        for k in 0..<length { let t = p[a + k]; p[a + k] = p[b + k]; p[b + k] = t }
    }

    /// Insertion sort of `count` rows starting at row `from` (at most 3 rows here).
    private static func sortRows(_ p: UnsafeMutablePointer<UInt8>, from: Int, count: Int, n: Int) {
        guard count > 1 else { return }
        for i in (from + 1)..<(from + count) {
            var j = i
            while j > from && compare(p + j * n, p + (j - 1) * n, count: n) < 0 {
                swapRanges(p, j * n, (j - 1) * n, length: n)
                j -= 1
            }
        }
    }

    /// Insertion sort of bands (blocks of rows) by their first row.
    private static func sortBands(_ p: UnsafeMutablePointer<UInt8>, firstRow: Int, bands: Int, rowsPerBand: Int, n: Int) {
        guard bands > 1 else { return }
        let bandLength = rowsPerBand * n
        for i in 1..<bands {
            var j = i
            while j > 0 {
                let a = (firstRow * n) + j * bandLength, b = a - bandLength
                guard compare(p + a, p + b, count: n) < 0 else { break }
                swapRanges(p, a, b, length: bandLength)
                j -= 1
            }
        }
    }
}

/// The equivalence classes of solution grids of one size, numbered by the order
/// of their canonical forms (class 0 is the smallest). Only 4×4 (2 classes) and
/// 6×6 (49 classes) are small enough to list.
public struct SudokuClasses: Sendable {
    public let layout: SudokuLayout
    /// Canonical forms, sorted; a class's id is its index.
    public let representatives: [[UInt8]]
    /// Grids in each class: |group| · n! / automorphisms.
    public let gridCounts: [Int]

    /// The classes of 4×4 and 6×6 grids, found once per process (see `discover`).
    public static func all(_ layout: SudokuLayout) -> SudokuClasses? {
        switch layout.size {
        case 4: four
        case 6: six
        default: nil
        }
    }

    private static let four = discover(SudokuLayout(size: 4)!)
    private static let six = discover(SudokuLayout(size: 6)!)

    /// Finds every class by canonicalizing random grids (a fixed internal seed)
    /// until the classes found hold all `solutionGridCount` grids between them,
    /// a proof by counting that none is missing.
    public static func discover(_ layout: SudokuLayout) -> SudokuClasses {
        guard let total = layout.solutionGridCount else { preconditionFailure("\(layout.size)×\(layout.size) classes cannot be listed") }
        let solver = SudokuSolver(layout: layout)
        var rng = SeededGenerator(seed: 0x5D0C_0C1A_55E5)
        var found: [[UInt8]: Int] = [:]
        var covered = 0
        let perClass = layout.symmetryGroupOrder * (1...layout.size).reduce(1, *)
        while covered < total {
            let c = SudokuCanonical.canonicalForm(solver.randomSolution(using: &rng), layout: layout)
            if found[c.form] == nil {
                found[c.form] = perClass / c.automorphisms
                covered += perClass / c.automorphisms
            }
        }
        precondition(covered == total, "class sizes overshoot the grid count: canonical form is broken")
        let sorted = found.keys.sorted { $0.lexicographicallyPrecedes($1) }
        return SudokuClasses(layout: layout, representatives: sorted, gridCounts: sorted.map { found[$0]! })
    }

    public var count: Int { representatives.count }

    /// The class id of a valid grid.
    public func classID(of grid: [UInt8]) -> Int? {
        let form = SudokuCanonical.canonicalForm(grid, layout: layout).form
        return representatives.firstIndex(of: form)
    }
}
