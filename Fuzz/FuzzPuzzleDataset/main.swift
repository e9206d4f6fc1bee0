import FuzzSupport
import ShrinkEval


/// libFuzzer target: Shrink's puzzle dataset files (Sudoku and maze sets: a safetensors file with `inputs`,
/// `labels`, optional `puzzle_identifiers` and task metadata). An accepted set is read as the tasks read it.
func fuzzPuzzleDataset(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    FuzzInput.withFile(bytes, name: "puzzles.safetensors") { path in
        guard let set = try? PuzzleDataset(path: path) else { return }
        for i in 0..<min(set.count, 64) { fuzzSink(set.input(i)); fuzzSink(set.label(i)) }
        fuzzSink(set.vocabulary)
    }
    return 0
}

fuzzMain(fuzzPuzzleDataset)
