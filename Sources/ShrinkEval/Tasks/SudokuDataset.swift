import ShrinkTensor

/// Parameters of a Sudoku dataset (`shrink data sudoku`).
public struct SudokuDatasetOptions: Codable, Sendable {
    public var size: Int
    public var count: Int
    public var split: PuzzleSplit
    public var givensMin: Int
    public var givensMax: Int
    /// 4×4 and 6×6: how many of the classes (2 and 49) go to test.
    public var testClasses: Int?
    /// 9×9: the fraction of classes, by hash of the canonical form, that go to test.
    public var testFraction: Double?
    /// Drives the puzzles: grids, augmentations, removal order.
    public var seed: UInt64
    /// Drives which classes are test; train and test files must share it.
    public var splitSeed: UInt64

    public init(size: Int, count: Int, split: PuzzleSplit, givensMin: Int? = nil, givensMax: Int? = nil,
                testClasses: Int? = nil, testFraction: Double? = nil, seed: UInt64 = 0, splitSeed: UInt64 = 0) {
        self.size = size
        self.count = count
        self.split = split
        let defaults = Self.defaultGivens(size: size)
        self.givensMin = givensMin ?? defaults.lowerBound
        self.givensMax = givensMax ?? defaults.upperBound
        self.testClasses = testClasses ?? (size == 9 ? nil : Self.defaultTestClasses(size: size))
        self.testFraction = testFraction ?? (size == 9 ? 0.1 : nil)
        self.seed = seed
        self.splitSeed = splitSeed
    }

    public static func defaultGivens(size: Int) -> ClosedRange<Int> {
        switch size { case 4: 5...8; case 6: 14...18; default: 26...32 }
    }

    static func defaultTestClasses(size: Int) -> Int? {
        switch size { case 4: 1; case 6: 8; default: nil }
    }

    public var layout: SudokuLayout? { SudokuLayout(size: size) }

    public func validate() throws {
        guard let layout else { throw PuzzleOptionsError.unsupportedSize(flag: "--size", value: size, allowed: "4, 6 or 9") }
        guard count > 0 else { throw PuzzleOptionsError.notPositive(flag: "--count", value: count) }
        let allowed = "\(layout.minimumGivens) to \(layout.cellCount - 1) for \(size)×\(size) (fewer than \(layout.minimumGivens) givens never have a unique solution)"
        for (flag, v) in [("--givens-min", givensMin), ("--givens-max", givensMax)]
        where v < layout.minimumGivens || v >= layout.cellCount {
            throw PuzzleOptionsError.outOfRange(flag: flag, value: "\(v)", allowed: allowed)
        }
        guard givensMin <= givensMax else {
            throw PuzzleOptionsError.outOfRange(flag: "--givens-min", value: "\(givensMin)", allowed: "at most --givens-max (\(givensMax))")
        }
        if let classes = SudokuClasses.all(layout) {
            if testFraction != nil { throw PuzzleOptionsError.notForThisSize(flag: "--test-fraction", size: size, instead: "--test-classes") }
            let k = testClasses ?? 0
            guard k >= 1, k < classes.count else {
                throw PuzzleOptionsError.outOfRange(flag: "--test-classes", value: "\(k)", allowed: "1 to \(classes.count - 1) of the \(classes.count) classes of \(size)×\(size) grids")
            }
        } else {
            if testClasses != nil { throw PuzzleOptionsError.notForThisSize(flag: "--test-classes", size: size, instead: "--test-fraction (9×9 has 5.47·10⁹ classes)") }
            let f = testFraction ?? 0
            guard f > 0, f < 1 else { throw PuzzleOptionsError.outOfRange(flag: "--test-fraction", value: "\(f)", allowed: "a fraction strictly between 0 and 1") }
        }
    }
}

/// One generated puzzle: givens (0 blank) and its unique solution.
public struct SudokuPuzzle: Hashable, Sendable {
    public var puzzle: [UInt8]
    public var solution: [UInt8]
    /// 4×4/6×6: the class id; 9×9: the hash of the canonical form.
    public var classKey: UInt64
    public var givens: Int { puzzle.reduce(0) { $0 + ($1 == 0 ? 0 : 1) } }
}

/// Summary of a generated Sudoku dataset (`shrink data sudoku --json`).
public struct SudokuDatasetSummary: Codable, Sendable {
    public var task = "sudoku"
    public var size: Int
    public var split: PuzzleSplit
    public var count: Int
    public var seqLen: Int
    public var vocabSize: Int
    /// Class ids of this split (4×4/6×6), nil for 9×9.
    public var classes: [Int]?
    public var classTotal: Int?
    /// Distinct classes the puzzles actually come from.
    public var classesUsed: Int
    public var meanGivens: Double
    public var minGivens: Int
    public var maxGivens: Int
}

/// Sudoku datasets split by equivalence class.
///
/// Upstream (TRM/HRM) augments Sudoku with digit relabelling, row permutations
/// within bands, column permutations within stacks, band and stack permutations,
/// and transposition. Train and test must not share a grid that such an
/// augmentation connects, so the split is by class (`SudokuCanonical`):
/// - 4×4 and 6×6 (2 and 49 classes): `splitSeed` picks `testClasses` class ids
///   for test, the rest are train. A puzzle's grid is a uniformly random element
///   of a uniformly random grid of the split (a class drawn with weight its grid
///   count, then a random augmentation of its representative), so every grid of
///   the split's classes can appear.
/// - 9×9: classes cannot be listed; a random grid (randomized backtracking) is
///   test when the hash of its canonical form (salted with `splitSeed`) falls
///   under `testFraction`. The canonical form is exact, so no class ever
///   straddles the split, whatever the seeds of the two files. (Within a file
///   two random grids share a class with negligible probability: there are
///   5,472,730,538 classes, Russell & Jarvis 2006.)
/// Clues are then removed in a random order while the solution stays unique
/// (`SudokuDigger`), down to a target drawn uniformly in the givens range; a
/// puzzle that uniqueness stops above `givensMax` is redug, then replaced.
/// Duplicate puzzles within a file are skipped.
public enum SudokuDataset {
    /// Vocabulary: pad, blank, then the digits.
    public static func vocabulary(size: Int) -> [String] { ["pad", "blank"] + (1...size).map(String.init) }

    /// Token of a cell value (0 blank, d digit): blank → 1, d → d + 1; 0 is padding.
    @inline(__always) public static func token(_ cell: UInt8) -> Int32 { Int32(cell) + 1 }

    /// The test class ids for `splitSeed` (4×4/6×6), sorted.
    public static func testClassIDs(layout: SudokuLayout, testClasses: Int, splitSeed: UInt64) -> [Int] {
        let total = SudokuClasses.all(layout)!.count
        var rng = SeededGenerator(seed: splitSeed, stream: StableHash.fnv1a("sudoku-\(layout.size)-classes".utf8), index: 0)
        return Array(rng.permutation(total).prefix(testClasses)).sorted()
    }

    /// Whether a 9×9 class (hash of its canonical form) is a test class.
    public static func isTestClass(canonicalForm: [UInt8], testFraction: Double, splitSeed: UInt64) -> Bool {
        Double(unitHash: classKey(canonicalForm: canonicalForm, splitSeed: splitSeed)) < testFraction
    }

    static func classKey(canonicalForm: [UInt8], splitSeed: UInt64) -> UInt64 {
        StableHash.fnv1a(canonicalForm, salt: splitSeed)
    }

    /// Generates the puzzles of one split.
    public static func generate(_ options: SudokuDatasetOptions, progress: (any ProgressSink)? = nil) throws -> [SudokuPuzzle] {
        try options.validate()
        let layout = options.layout!
        let splitClasses: [Int]?
        if let classes = SudokuClasses.all(layout) {
            let test = testClassIDs(layout: layout, testClasses: options.testClasses!, splitSeed: options.splitSeed)
            splitClasses = options.split == .test ? test : (0..<classes.count).filter { !test.contains($0) }
        } else {
            splitClasses = nil
        }
        let stream = StableHash.fnv1a("sudoku-\(layout.size)-\(options.split.rawValue)".utf8)
        return try CandidateCollector.collect(
            count: options.count, progress: progress, label: "sudoku \(layout.size)×\(layout.size) \(options.split.rawValue)",
            widen: "widen --givens-min/--givens-max, or use a larger --size",
            key: { $0.puzzle }
        ) { range in
            let solver = SudokuSolver(layout: layout)
            return CandidateCollector.untilFailure(range) { k in
                var rng = SeededGenerator(seed: options.seed, stream: stream, index: UInt64(k))
                return candidate(options, layout: layout, splitClasses: splitClasses, solver: solver, using: &rng)
            }
        }
    }

    private static func candidate(_ o: SudokuDatasetOptions, layout: SudokuLayout, splitClasses: [Int]?,
                                  solver: SudokuSolver, using rng: inout SeededGenerator) -> Result<SudokuPuzzle, PuzzleOptionsError> {
        let gridAttempts = 250, digsPerGrid = 4
        for _ in 0..<gridAttempts {
            let solution: [UInt8], key: UInt64
            if let ids = splitClasses {
                let classes = SudokuClasses.all(layout)!
                var pick = rng.below(ids.reduce(0) { $0 + classes.gridCounts[$1] })
                var id = ids[0]
                for i in ids {
                    if pick < classes.gridCounts[i] { id = i; break }
                    pick -= classes.gridCounts[i]
                }
                solution = SudokuTransform.random(layout, using: &rng).apply(classes.representatives[id], layout: layout)
                key = UInt64(id)
            } else {
                var found: ([UInt8], UInt64)?
                for _ in 0..<10_000 {
                    let grid = solver.randomSolution(using: &rng)
                    let form = SudokuCanonical.canonicalForm(grid, layout: layout).form
                    let k = classKey(canonicalForm: form, splitSeed: o.splitSeed)
                    if (Double(unitHash: k) < o.testFraction!) == (o.split == .test) { found = (grid, k); break }
                }
                guard let found else {
                    return .failure(.unreachable(flag: "--test-fraction", detail: "no \(o.split.rawValue) grid in 10,000 tries; use a fraction further from 0 and 1"))
                }
                (solution, key) = found
            }
            for _ in 0..<digsPerGrid {
                let target = o.givensMin + rng.below(o.givensMax - o.givensMin + 1)
                let puzzle = SudokuDigger.dig(solution, targetGivens: target, solver: solver, using: &rng)
                let p = SudokuPuzzle(puzzle: puzzle, solution: solution, classKey: key)
                if p.givens <= o.givensMax { return .success(p) }
            }
        }
        return .failure(.unreachable(flag: "--givens-max", detail: "\(o.givensMax) givens with a unique solution were not reached in \(gridAttempts * digsPerGrid) tries on \(o.size)×\(o.size) grids; raise --givens-max"))
    }

    /// Encodes puzzles (inputs: givens, labels: solutions) with the file's metadata.
    public static func encode(_ puzzles: [SudokuPuzzle], options o: SudokuDatasetOptions) -> PuzzleSet {
        let layout = o.layout!
        let vocab = vocabulary(size: o.size)
        var inputs: [Int32] = [], labels: [Int32] = []
        inputs.reserveCapacity(puzzles.count * layout.cellCount)
        labels.reserveCapacity(puzzles.count * layout.cellCount)
        for p in puzzles {
            inputs += p.puzzle.map(token)
            labels += p.solution.map(token)
        }
        var meta: [String: String] = [
            "format": "shrink-puzzles", "format_version": "1",
            "task": "sudoku", "size": "\(o.size)", "box_rows": "\(layout.boxRows)", "box_columns": "\(layout.boxColumns)",
            "split": o.split.rawValue, "seed": "\(o.seed)", "split_seed": "\(o.splitSeed)",
            "count": "\(puzzles.count)", "seq_len": "\(layout.cellCount)",
            "vocab_size": "\(vocab.count)", "vocabulary": PuzzleSet.vocabularyText(vocab),
            "encoding": "row-major grid; token 0 pad, 1 blank, digit d is d+1",
            "givens_min": "\(o.givensMin)", "givens_max": "\(o.givensMax)",
            "puzzle_identifiers": "0 for every puzzle (Sudoku has no per-puzzle embedding)",
        ]
        if let classes = SudokuClasses.all(layout) {
            let test = testClassIDs(layout: layout, testClasses: o.testClasses!, splitSeed: o.splitSeed)
            let ids = o.split == .test ? test : (0..<classes.count).filter { !test.contains($0) }
            meta["class_split"] = "listed: class ids are indices of the sorted canonical forms under relabelling, band/row-in-band/stack/column-in-stack permutations\(layout.isTransposable ? " and transposition" : "")"
            meta["classes"] = "[" + ids.map(String.init).joined(separator: ",") + "]"
            meta["class_total"] = "\(classes.count)"
            meta["test_classes"] = "\(o.testClasses!)"
        } else {
            meta["class_split"] = "hashed: a grid is test when FNV-1a-64 of its canonical form, salted with split_seed, mapped to [0,1), is below test_fraction"
            meta["test_fraction"] = "\(o.testFraction!)"
        }
        return PuzzleSet(task: "sudoku", count: puzzles.count, sequenceLength: layout.cellCount, vocabulary: vocab,
                         inputs: inputs, labels: labels, metadata: meta)
    }

    public static func summary(_ puzzles: [SudokuPuzzle], options o: SudokuDatasetOptions) -> SudokuDatasetSummary {
        let layout = o.layout!
        let givens = puzzles.map(\.givens)
        var ids: [Int]?, total: Int?
        if let classes = SudokuClasses.all(layout) {
            let test = testClassIDs(layout: layout, testClasses: o.testClasses!, splitSeed: o.splitSeed)
            ids = o.split == .test ? test : (0..<classes.count).filter { !test.contains($0) }
            total = classes.count
        }
        return SudokuDatasetSummary(
            size: o.size, split: o.split, count: puzzles.count, seqLen: layout.cellCount, vocabSize: o.size + 2,
            classes: ids, classTotal: total, classesUsed: Set(puzzles.map(\.classKey)).count,
            meanGivens: givens.isEmpty ? 0 : Double(givens.reduce(0, +)) / Double(givens.count),
            minGivens: givens.min() ?? 0, maxGivens: givens.max() ?? 0)
    }
}
