import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkTensor

/// `shrink data`: puzzle datasets (Sudoku, Maze) for the recursive reasoners.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Generate puzzle datasets (Sudoku, Maze) as safetensors, split train/test by equivalence class.",
        subcommands: [SudokuData.self, MazeData.self]
    )

    struct SudokuData: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sudoku",
            abstract: "Sudoku puzzles with unique solutions; train and test never share a grid class under upstream's augmentations.")

        @Option(help: "Grid size: 4 (2×2 boxes), 6 (2×3 boxes) or 9 (3×3 boxes).")
        var size = 9

        @OptionGroup var file: DatasetFileOptions

        @Option(help: "Fewest givens (default 4×4: 5, 6×6: 14, 9×9: 26).")
        var givensMin: Int?

        @Option(help: "Most givens (default 4×4: 8, 6×6: 18, 9×9: 32).")
        var givensMax: Int?

        @Option(help: "4×4 and 6×6: classes held out for test (of 2 and 49; default 1 and 8).")
        var testClasses: Int?

        @Option(help: "9×9: fraction of grid classes held out for test, by hash (default 0.1).")
        var testFraction: Double?

        @OptionGroup var out: OutputOptions

        func run() throws {
            let output = file.output
            let options = SudokuDatasetOptions(
                size: size, count: file.count, split: try file.parsedSplit(), givensMin: givensMin, givensMax: givensMax,
                testClasses: testClasses, testFraction: testFraction, seed: file.seed, splitSeed: file.splitSeed)
            let start = Date()
            let puzzles = try SudokuDataset.generate(options, progress: out.progress)
            let set = SudokuDataset.encode(puzzles, options: options)
            try set.write(to: output)
            let report = DataReport(output: output, bytes: fileBytes(output), seconds: Date().timeIntervalSince(start),
                                    sudoku: SudokuDataset.summary(puzzles, options: options), maze: nil)
            try out.emit(report) {
                let s = report.sudoku!
                let classes = s.classes.map { "classes \($0.map(String.init).joined(separator: ",")) of \(s.classTotal!)" } ?? "classes by hash, \(s.classesUsed) distinct"
                return "wrote \(output): \(s.count) \(s.size)×\(s.size) Sudoku (\(s.split.rawValue)), givens \(s.minGivens)–\(s.maxGivens) (mean \(Format.fixed(s.meanGivens, 2))), "
                    + "\(classes), \(Format.bytes(report.bytes)), \(Format.fixed(report.seconds, 2)) s"
            }
        }
    }

    struct MazeData: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "maze",
            abstract: "Mazes with a unique shortest path from S to G; train and test never share a maze up to rotation and reflection.")

        @Option(help: "Grid side, 7 to 64.")
        var size = 15

        @OptionGroup var file: DatasetFileOptions

        @Option(help: "Keep mazes whose shortest path from S to G has at least this many moves (default: the size).")
        var minPath: Int?

        @Option(help: "Fraction of a perfect maze's remaining inner walls knocked out to make loops.")
        var loopFraction = 0.1

        @Option(help: "Fraction of mazes held out for test, by hash.")
        var testFraction = 0.1

        @OptionGroup var out: OutputOptions

        func run() throws {
            let output = file.output
            let options = MazeDatasetOptions(size: size, count: file.count, split: try file.parsedSplit(), minPath: minPath,
                                              loopFraction: loopFraction, testFraction: testFraction, seed: file.seed, splitSeed: file.splitSeed)
            let start = Date()
            let mazes = try MazeDataset.generate(options, progress: out.progress)
            try MazeDataset.encode(mazes, options: options).write(to: output)
            let report = DataReport(output: output, bytes: fileBytes(output), seconds: Date().timeIntervalSince(start),
                                    sudoku: nil, maze: MazeDataset.summary(mazes, options: options))
            try out.emit(report) {
                let m = report.maze!
                return "wrote \(output): \(m.count) \(m.size)×\(m.size) mazes (\(m.split.rawValue)), shortest path \(m.minPathLength)–\(m.maxPathLength) moves "
                    + "(mean \(Format.fixed(m.meanPathLength, 2))), \(Format.bytes(report.bytes)), \(Format.fixed(report.seconds, 2)) s"
            }
        }
    }

    struct DataReport: Codable {
        var output: String
        var bytes: Int
        var seconds: Double
        var sudoku: SudokuDatasetSummary?
        var maze: MazeDatasetSummary?
    }
}

/// Flags every dataset generator shares.
struct DatasetFileOptions: ParsableArguments {
    @Option(help: "Number of puzzles.")
    var count: Int

    @Option(help: "train or test.")
    var split = "train"

    @Option(help: "Seed of the puzzles.")
    var seed: UInt64 = 0

    @Option(help: "Seed of the train/test assignment; use the same for both splits.")
    var splitSeed: UInt64 = 0

    @Option(name: [.short, .long], help: "Output .safetensors file.")
    var output: String

    func parsedSplit() throws -> PuzzleSplit {
        guard let s = PuzzleSplit(rawValue: split) else { throw PuzzleOptionsError.outOfRange(flag: "--split", value: split, allowed: "train or test") }
        return s
    }
}

private func fileBytes(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
}
