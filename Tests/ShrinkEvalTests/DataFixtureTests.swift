import Foundation
import Testing
@testable import ShrinkEval

/// Fixtures/data/ holds datasets made by `shrink data` (commands in the file's
/// metadata). Puzzle k depends only on (seed, split, k), so regenerating the
/// first rows must reproduce them: the fixtures match the generator.
private let dataDirectory: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path + "/Fixtures/data"
}()

private func fixture(_ name: String) -> String { dataDirectory + "/" + name }
private let haveFixtures = FileManager.default.fileExists(atPath: fixture("sudoku6-test.safetensors"))

@Suite(.enabled(if: haveFixtures, "Fixtures/data/ not generated")) struct DataFixtureTests {
    @Test(arguments: ["sudoku6-train.safetensors", "sudoku6-test.safetensors"])
    func sudokuFixturesMatchTheGenerator(name: String) throws {
        let data = try PuzzleDataset(path: fixture(name))
        let m = data.metadata
        let options = SudokuDatasetOptions(
            size: Int(m["size"]!)!, count: 30, split: PuzzleSplit(rawValue: m["split"]!)!,
            givensMin: Int(m["givens_min"]!)!, givensMax: Int(m["givens_max"]!)!,
            testClasses: Int(m["test_classes"]!)!, seed: UInt64(m["seed"]!)!, splitSeed: UInt64(m["split_seed"]!)!)
        let set = SudokuDataset.encode(try SudokuDataset.generate(options), options: options)
        #expect(Array(data.inputs.prefix(set.inputs.count)) == set.inputs)
        #expect(Array(data.labels.prefix(set.labels.count)) == set.labels)
    }

    @Test(arguments: ["maze15-train.safetensors", "maze15-test.safetensors"])
    func mazeFixturesMatchTheGenerator(name: String) throws {
        let data = try PuzzleDataset(path: fixture(name))
        let m = data.metadata
        let options = MazeDatasetOptions(
            size: Int(m["size"]!)!, count: 30, split: PuzzleSplit(rawValue: m["split"]!)!, minPath: Int(m["min_path"]!)!,
            loopFraction: Double(m["loop_fraction"]!)!, testFraction: Double(m["test_fraction"]!)!,
            seed: UInt64(m["seed"]!)!, splitSeed: UInt64(m["split_seed"]!)!)
        let set = MazeDataset.encode(try MazeDataset.generate(options), options: options)
        #expect(Array(data.inputs.prefix(set.inputs.count)) == set.inputs)
        #expect(Array(data.labels.prefix(set.labels.count)) == set.labels)
    }

    @Test func sudokuFixtureSplitsShareNoClass() throws {
        let train = try PuzzleDataset(path: fixture("sudoku6-train.safetensors"))
        let test = try PuzzleDataset(path: fixture("sudoku6-test.safetensors"))
        #expect(train.metadata["classes"] != test.metadata["classes"])
        let classes = SudokuClasses.all(SudokuLayout(size: 6)!)!
        func ids(_ d: PuzzleDataset, every step: Int) -> Set<Int> {
            Set(stride(from: 0, to: d.count, by: step).map { classes.classID(of: d.label($0).map { UInt8($0 - 1) })! })
        }
        let listed = { (d: PuzzleDataset) in Set(d.metadata["classes"]!.dropFirst().dropLast().split(separator: ",").map { Int($0)! }) }
        #expect(ids(train, every: 25).isSubset(of: listed(train)))
        #expect(ids(test, every: 5).isSubset(of: listed(test)))
        #expect(listed(train).isDisjoint(with: listed(test)) && listed(train).count + listed(test).count == 49)
    }
}
