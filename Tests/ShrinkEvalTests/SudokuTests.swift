import Testing
@testable import ShrinkEval

/// Brute-force reference for `SudokuCanonical`: every group element, digits
/// relabelled by first appearance, the smallest image.
func referenceCanonicalForm(_ grid: [UInt8], layout: SudokuLayout) -> [UInt8] {
    var best: [UInt8]?
    for t in SudokuTransform.allWithoutRelabelling(layout) {
        var image = t.apply(grid, layout: layout)
        var label = [UInt8](repeating: 0, count: layout.size + 1), next: UInt8 = 1
        for i in 0..<image.count {
            if label[Int(image[i])] == 0 { label[Int(image[i])] = next; next += 1 }
            image[i] = label[Int(image[i])]
        }
        if best == nil || image.lexicographicallyPrecedes(best!) { best = image }
    }
    return best!
}

func randomGrids(_ layout: SudokuLayout, count: Int, seed: UInt64) -> [[UInt8]] {
    let solver = SudokuSolver(layout: layout)
    var rng = SeededGenerator(seed: seed)
    return (0..<count).map { _ in solver.randomSolution(using: &rng) }
}

@Suite struct SudokuTests {
    @Test func generatorIsXoshiroSeededBySplitMix() {
        // SplitMix64 from state 0: reference value from Vigna's splitmix64.c.
        var sm = SplitMix64(state: 0)
        #expect(sm.next() == 0xE220_A839_7B1D_CDAF)
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7)
        #expect((0..<4).map { _ in a.next() } == (0..<4).map { _ in b.next() })
        var c = SeededGenerator(seed: 7)
        #expect((0..<1000).allSatisfy { _ in (0..<10).contains(c.below(10)) })
    }

    @Test func layoutsHaveUpstreamBoxes() {
        let six = SudokuLayout(size: 6)!
        #expect((six.boxRows, six.boxColumns, six.bandCount, six.stackCount) == (2, 3, 3, 2))
        #expect(!six.isTransposable && SudokuLayout(size: 9)!.isTransposable)
        #expect(SudokuLayout(size: 4)!.symmetryGroupOrder == 128)
        #expect(six.symmetryGroupOrder == 3456)
        #expect(SudokuLayout(size: 9)!.symmetryGroupOrder == 3_359_232)
        #expect(SudokuLayout(size: 5) == nil)
    }

    @Test(arguments: [4, 6, 9])
    func randomGridsAreValid(size: Int) {
        let layout = SudokuLayout(size: size)!
        #expect(randomGrids(layout, count: 20, seed: 1).allSatisfy { SudokuRules.isValidSolution($0, layout: layout) })
    }

    @Test(arguments: [4, 6])
    func canonicalFormMatchesBruteForce(size: Int) {
        let layout = SudokuLayout(size: size)!
        for grid in randomGrids(layout, count: size == 4 ? 30 : 8, seed: 2) {
            #expect(SudokuCanonical.canonicalForm(grid, layout: layout).form == referenceCanonicalForm(grid, layout: layout))
        }
    }

    @Test(arguments: [4, 6, 9])
    func canonicalFormIsConstantOnAugmentations(size: Int) {
        let layout = SudokuLayout(size: size)!
        var rng = SeededGenerator(seed: 3)
        for grid in randomGrids(layout, count: 4, seed: 3) {
            let form = SudokuCanonical.canonicalForm(grid, layout: layout).form
            for _ in 0..<5 {
                let image = SudokuTransform.random(layout, using: &rng).apply(grid, layout: layout)
                #expect(SudokuRules.isValidSolution(image, layout: layout))
                #expect(SudokuCanonical.canonicalForm(image, layout: layout).form == form)
            }
        }
    }

    @Test func nineByNineClassesOfRandomGridsDiffer() {
        let layout = SudokuLayout(size: 9)!
        let forms = randomGrids(layout, count: 20, seed: 4).map { SudokuCanonical.canonicalForm($0, layout: layout).form }
        #expect(Set(forms).count == 20)
    }

    /// Classes found, weighted by their sizes |group|·n!/|automorphisms|, account for
    /// every grid (288 and 28,200,960), so none is missing; 6×6 has 49.
    @Test func classCountsAreTwoAndFortyNine() {
        let four = SudokuClasses.all(SudokuLayout(size: 4)!)!
        #expect(four.count == 2)
        #expect(four.gridCounts.reduce(0, +) == 288)
        let six = SudokuClasses.all(SudokuLayout(size: 6)!)!
        #expect(six.count == 49)
        #expect(six.gridCounts.reduce(0, +) == 28_200_960)
        for rep in six.representatives {
            #expect(SudokuCanonical.canonicalForm(rep, layout: six.layout).form == rep)
        }
        // Every random grid lands in a listed class.
        #expect(randomGrids(six.layout, count: 200, seed: 5).allSatisfy { six.classID(of: $0) != nil })
    }

    @Test func solverCountsSolutions() {
        let layout = SudokuLayout(size: 4)!
        let solver = SudokuSolver(layout: layout)
        #expect(solver.countSolutions([UInt8](repeating: 0, count: 16), limit: 1000) == 288)
        let grid = randomGrids(layout, count: 1, seed: 6)[0]
        #expect(solver.countSolutions(grid) == 1)
        var clash = grid
        clash[1] = clash[0]
        #expect(solver.countSolutions(clash) == 0)
    }

    @Test(arguments: [(4, 5, 8, 100), (6, 14, 18, 200), (9, 26, 32, 12)])
    func puzzlesHaveTheirLabelAsUniqueSolution(size: Int, low: Int, high: Int, count: Int) throws {
        let options = SudokuDatasetOptions(size: size, count: count, split: .train, givensMin: low, givensMax: high, seed: 11)
        let puzzles = try SudokuDataset.generate(options)
        let layout = options.layout!
        let solver = SudokuSolver(layout: layout)
        #expect(puzzles.count == count)
        #expect(Set(puzzles.map(\.puzzle)).count == count)
        for p in puzzles {
            #expect(SudokuRules.isValidSolution(p.solution, layout: layout))
            #expect(SudokuRules.isConsistent(puzzle: p.puzzle, solution: p.solution))
            #expect(solver.countSolutions(p.puzzle) == 1)
            #expect(solver.solve(p.puzzle) == p.solution)
            #expect((low...high).contains(p.givens))
        }
    }

    @Test func sixBySixSplitsShareNoClass() throws {
        let layout = SudokuLayout(size: 6)!
        let classes = SudokuClasses.all(layout)!
        let test = SudokuDataset.testClassIDs(layout: layout, testClasses: 8, splitSeed: 0)
        #expect(test.count == 8)
        let options = { (split: PuzzleSplit) in SudokuDatasetOptions(size: 6, count: 150, split: split, givensMin: 16, givensMax: 20, testClasses: 8, seed: 0) }
        let train = try SudokuDataset.generate(options(.train)), testSet = try SudokuDataset.generate(options(.test))
        let trainForms = Set(train.map { SudokuCanonical.canonicalForm($0.solution, layout: layout).form })
        let testForms = Set(testSet.map { SudokuCanonical.canonicalForm($0.solution, layout: layout).form })
        #expect(trainForms.isDisjoint(with: testForms))
        #expect(Set(testSet.map { classes.classID(of: $0.solution)! }).isSubset(of: test))
        #expect(Set(train.map { classes.classID(of: $0.solution)! }).isDisjoint(with: test))
        #expect(Set(train.map(\.solution)).isDisjoint(with: Set(testSet.map(\.solution))))
        // The test file's metadata lists exactly its classes.
        let meta = SudokuDataset.encode(testSet, options: options(.test)).metadata
        #expect(meta["classes"] == "[" + test.map(String.init).joined(separator: ",") + "]")
        #expect(meta["class_total"] == "49")
    }

    @Test func nineByNineSplitsShareNoClass() throws {
        let layout = SudokuLayout(size: 9)!
        let options = { (split: PuzzleSplit) in SudokuDatasetOptions(size: 9, count: 8, split: split, testFraction: 0.5, seed: 0) }
        let train = try SudokuDataset.generate(options(.train)), test = try SudokuDataset.generate(options(.test))
        let trainForms = Set(train.map { SudokuCanonical.canonicalForm($0.solution, layout: layout).form })
        let testForms = Set(test.map { SudokuCanonical.canonicalForm($0.solution, layout: layout).form })
        #expect(trainForms.isDisjoint(with: testForms))
        #expect(testForms.allSatisfy { SudokuDataset.isTestClass(canonicalForm: $0, testFraction: 0.5, splitSeed: 0) })
        #expect(trainForms.allSatisfy { !SudokuDataset.isTestClass(canonicalForm: $0, testFraction: 0.5, splitSeed: 0) })
    }

    @Test func encodingIsUpstreams() throws {
        #expect(SudokuDataset.token(0) == 1)
        #expect((1...9).allSatisfy { SudokuDataset.token(UInt8($0)) == Int32($0 + 1) })
        #expect(SudokuDataset.vocabulary(size: 9).count == 11)
        #expect(SudokuDataset.vocabulary(size: 6) == ["pad", "blank", "1", "2", "3", "4", "5", "6"])
        let options = SudokuDatasetOptions(size: 6, count: 5, split: .train, seed: 1)
        let puzzles = try SudokuDataset.generate(options)
        let set = SudokuDataset.encode(puzzles, options: options)
        #expect(set.sequenceLength == 36 && set.inputs.count == 5 * 36)
        for (i, p) in puzzles.enumerated() {
            for c in 0..<36 {
                #expect(set.inputs[i * 36 + c] == (p.puzzle[c] == 0 ? 1 : Int32(p.puzzle[c]) + 1))
                #expect(set.labels[i * 36 + c] == Int32(p.solution[c]) + 1)
            }
        }
        #expect(!set.inputs.contains(0) && !set.labels.contains(0) && !set.labels.contains(1))
        #expect(set.metadata["vocabulary"] == #"["pad","blank","1","2","3","4","5","6"]"#)
        #expect(set.metadata["vocab_size"] == "8")
    }

    /// Candidate k depends only on k: a longer run extends a shorter one.
    @Test func outputDoesNotDependOnBatching() throws {
        let short = try SudokuDataset.generate(SudokuDatasetOptions(size: 6, count: 40, split: .test, seed: 9))
        let long = try SudokuDataset.generate(SudokuDatasetOptions(size: 6, count: 300, split: .test, seed: 9))
        #expect(Array(long.prefix(40)) == short)
    }

    @Test func badOptionsNameTheFlag() {
        func message(_ o: SudokuDatasetOptions) -> String {
            do { try o.validate(); return "" } catch { return "\(error)" }
        }
        #expect(message(SudokuDatasetOptions(size: 5, count: 1, split: .train)).hasPrefix("--size 5"))
        #expect(message(SudokuDatasetOptions(size: 6, count: 0, split: .train)).hasPrefix("--count 0"))
        #expect(message(SudokuDatasetOptions(size: 9, count: 1, split: .train, givensMin: 10)).hasPrefix("--givens-min 10"))
        #expect(message(SudokuDatasetOptions(size: 6, count: 1, split: .train, givensMax: 36)).hasPrefix("--givens-max 36"))
        #expect(message(SudokuDatasetOptions(size: 6, count: 1, split: .train, givensMin: 18, givensMax: 16)).hasPrefix("--givens-min 18"))
        #expect(message(SudokuDatasetOptions(size: 6, count: 1, split: .train, testClasses: 49)).hasPrefix("--test-classes 49"))
        #expect(message(SudokuDatasetOptions(size: 9, count: 1, split: .train, testClasses: 3)).hasPrefix("--test-classes"))
        #expect(message(SudokuDatasetOptions(size: 6, count: 1, split: .train, testFraction: 0.2)).hasPrefix("--test-fraction"))
    }
}
