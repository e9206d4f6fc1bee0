import Foundation
import ShrinkFormats
import ShrinkTensor
import Testing
@testable import ShrinkEval

private func scratchDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "shrink-eval-tests-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite struct PuzzleDatasetTests {
    @Test func sameOptionsGiveByteIdenticalFiles() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sudoku = SudokuDatasetOptions(size: 6, count: 200, split: .train, givensMin: 16, givensMax: 20, testClasses: 8, seed: 4)
        let maze = MazeDatasetOptions(size: 11, count: 100, split: .test, minPath: 10, seed: 4)
        for i in 0..<2 {
            try SudokuDataset.encode(try SudokuDataset.generate(sudoku), options: sudoku).write(to: "\(dir)/s\(i).safetensors")
            try MazeDataset.encode(try MazeDataset.generate(maze), options: maze).write(to: "\(dir)/m\(i).safetensors")
        }
        #expect(FileManager.default.contents(atPath: "\(dir)/s0.safetensors") == FileManager.default.contents(atPath: "\(dir)/s1.safetensors"))
        #expect(FileManager.default.contents(atPath: "\(dir)/m0.safetensors") == FileManager.default.contents(atPath: "\(dir)/m1.safetensors"))
        // A different seed gives different puzzles.
        var other = sudoku
        other.seed = 5
        try SudokuDataset.encode(try SudokuDataset.generate(other), options: other).write(to: "\(dir)/s2.safetensors")
        #expect(FileManager.default.contents(atPath: "\(dir)/s0.safetensors") != FileManager.default.contents(atPath: "\(dir)/s2.safetensors"))
    }

    @Test func readerLoadsWhatWasWritten() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let options = SudokuDatasetOptions(size: 4, count: 30, split: .test, seed: 1)
        let set = SudokuDataset.encode(try SudokuDataset.generate(options), options: options)
        let path = "\(dir)/s4.safetensors"
        try set.write(to: path)
        let data = try PuzzleDataset(path: path)
        #expect(data.task == "sudoku" && data.count == 30 && data.sequenceLength == 16 && data.vocabularySize == 6)
        #expect(data.inputs == set.inputs && data.labels == set.labels)
        #expect(data.puzzleIdentifiers == [Int32](repeating: 0, count: 30))
        #expect(data.vocabulary == ["pad", "blank", "1", "2", "3", "4"])
        #expect(Array(data.label(3)) == Array(set.labels[48..<64]))
        for key in ["split", "seed", "split_seed", "givens_min", "givens_max", "classes", "count", "seq_len"] {
            #expect(data.metadata[key] != nil, "metadata lacks \(key)")
        }
        let file = try SafetensorsFile(path: path)
        #expect(file.info("inputs")?.dtype == .i32 && file.info("inputs")?.shape.dims == [30, 16])
        #expect(file.info("puzzle_identifiers")?.shape.dims == [30])
    }

    @Test func readerNamesTheFileAndTheProblem() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, tensors: [(String, DType, [Int])], metadata: [String: String]) throws -> String {
            let path = "\(dir)/\(name).safetensors"
            let w = try SafetensorsWriter(path: path, tensors: tensors.map { TensorInfo(name: $0.0, dtype: $0.1, shape: Shape($0.2)) }, metadata: metadata)
            for t in tensors { try w.write(t.0, values: [UInt8](repeating: 2, count: t.2.reduce(1, *) * t.1.byteSize)) }
            try w.commit()
            return path
        }
        let meta = ["task": "sudoku", "seq_len": "4", "vocab_size": "6"]
        let f16 = try write("f16", tensors: [("inputs", .f16, [2, 4]), ("labels", .i32, [2, 4])], metadata: meta)
        #expect(throws: PuzzleDatasetError.wrongDType(file: f16, tensor: "inputs", found: .f16)) { try PuzzleDataset(path: f16) }
        let noTask = try write("notask", tensors: [("inputs", .i32, [2, 4]), ("labels", .i32, [2, 4])], metadata: ["seq_len": "4", "vocab_size": "6"])
        #expect(throws: PuzzleDatasetError.missingMetadata(file: noTask, key: "task")) { try PuzzleDataset(path: noTask) }
        let shape = try write("shape", tensors: [("inputs", .i32, [2, 5]), ("labels", .i32, [2, 4])], metadata: meta)
        #expect(throws: PuzzleDatasetError.self) { try PuzzleDataset(path: shape) }
        let noLabels = try write("nolabels", tensors: [("inputs", .i32, [2, 4])], metadata: meta)
        #expect(throws: PuzzleDatasetError.missingTensor(file: noLabels, tensor: "labels")) { try PuzzleDataset(path: noLabels) }
        let small = try write("vocab", tensors: [("inputs", .i32, [2, 4]), ("labels", .i32, [2, 4])], metadata: ["task": "x", "seq_len": "4", "vocab_size": "2"])
        do {
            _ = try PuzzleDataset(path: small)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".hasPrefix(small))
            #expect("\(error)".contains("outside the vocabulary"))
        }
    }
}
