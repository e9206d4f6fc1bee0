import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing
@testable import ShrinkExport

/// Builds exported C with the system compiler and runs it through tools/c_driver.c.
private enum CBuild {
    static let warnings = ["-std=c99", "-Wall", "-Wextra", "-Werror"]

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw CBuildFailure(command: arguments.joined(separator: " "), output: out) }
        return out
    }

    /// Compiles `dir` with the driver; `flags` on top of C99 with warnings as errors.
    static func build(_ dir: String, flags: [String], executable: String) throws {
        try run(["cc"] + warnings + flags + ["-I" + dir, Fixtures.path("tools/c_driver.c"), dir + "/model.c", dir + "/weights.c", "-lm", "-o", executable])
    }

    /// Runs the driver on the first `count` puzzles; returns [count, seq_len] predictions.
    static func predict(_ executable: String, data: PuzzleDataset, count: Int, scratch: TemporaryDirectory) throws -> [Int32] {
        let L = data.sequenceLength
        var records: [Int32] = []
        for i in 0..<count { records.append(data.puzzleIdentifiers[i]); records += data.inputs[(i * L)..<((i + 1) * L)] }
        let input = scratch.file("in.bin"), output = scratch.file("out.bin")
        try records.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: input)) }
        try run([executable, input, output, String(count)])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
    }
}

private struct CBuildFailure: Error, CustomStringConvertible {
    var command: String
    var output: String
    var description: String { "\(command) failed:\n\(output)" }
}

@Suite(.serialized) struct CExportTests {
    private func shrinkPredictions(_ dir: String, _ data: PuzzleDataset, count: Int) throws -> [Int32] {
        let m = try RecursiveReasoner.load(directory: dir)
        let task = try PuzzleTask(data, limit: count)
        return try task.lastStep(of: m).predictions
    }

    private func quantized(_ model: String, bits: Int, into dir: String) throws {
        var o = QuantizeOptions()
        o.bits = bits
        o.granularity = .channel
        try QuantizeJob.run(try Checkpoint.open(model), options: o, outputDirectory: dir)
    }

    /// Every architecture variant (RoPE, learned positions, mlp_t, puzzle embeddings,
    /// HRM), FP32 and packed 4-bit: the C predicts what `shrink eval` predicts.
    @Test(arguments: ["hrm-rope", "trm-learned", "trm-mlp-t-puzzle-emb", "trm-rope-puzzle-emb"])
    func tinyModelsPredictLikeShrinkEval(_ name: String) throws {
        let tmp = TemporaryDirectory()
        let model = Fixtures.path("Tests/Fixtures/tiny/\(name)")
        let data = try PuzzleDataset(path: model + "/data.safetensors")
        try quantized(model, bits: 4, into: tmp.file("int4"))
        for source in [model, tmp.file("int4")] {
            let out = tmp.file("c-\(FileSystem.lastComponent(source))")
            let s = try CExport.run(model: source, output: out, overwrite: true)
            #expect(s.files.count == 5)
            try CBuild.build(out, flags: ["-O2"], executable: out + "/run")
            let c = try CBuild.predict(out + "/run", data: data, count: data.count, scratch: tmp)
            #expect(c == (try shrinkPredictions(source, data, count: data.count)), "\(name) from \(source)")
        }
    }

    /// A trained fixture, packed INT4, under ASan/UBSan on a few puzzles and at -O2
    /// on 100: ≥ 99.9% of cells and the puzzle-exact count agree with `shrink eval`.
    @Test func hrmSudokuInt4AgreesWithShrinkEval() throws {
        let tmp = TemporaryDirectory()
        let data = try PuzzleDataset(path: Fixtures.path("Fixtures/data/sudoku6-easy-test.safetensors"))
        try quantized(Fixtures.path("Fixtures/models/hrm_sudoku6"), bits: 4, into: tmp.file("int4"))
        let s = try CExport.run(model: tmp.file("int4"), output: tmp.file("c"))
        #expect(s.linears.allSatisfy { $0.bits == 4 })
        #expect(s.arena.totalBytes == ReasonerFamily(try RecursiveReasoner.load(directory: tmp.file("int4")).config).arena(batch: 1).totalBytes)
        try CBuild.build(tmp.file("c"), flags: ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"], executable: tmp.file("san"))
        let sanitized = try CBuild.predict(tmp.file("san"), data: data, count: 3, scratch: tmp)
        try CBuild.build(tmp.file("c"), flags: ["-O2"], executable: tmp.file("run"))
        let n = 100, L = data.sequenceLength
        let c = try CBuild.predict(tmp.file("run"), data: data, count: n, scratch: tmp)
        #expect(Array(c[0..<(3 * L)]) == sanitized)
        let reference = try shrinkPredictions(tmp.file("int4"), data, count: n)
        let agreeing = zip(c, reference).filter { $0 == $1 }.count
        #expect(Double(agreeing) >= 0.999 * Double(n * L), "\(agreeing) of \(n * L) cells agree")
        let task = try PuzzleTask(data, limit: n)
        #expect(task.score(c, units: 0..<n).filter(\.exact).count == task.score(reference, units: 0..<n).filter(\.exact).count)
    }

    @Test func exportIsDeterministicAndRejectsZeroSteps() throws {
        let tmp = TemporaryDirectory()
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        try CExport.run(model: model, output: tmp.file("a"), steps: 3)
        try CExport.run(model: model, output: tmp.file("b"), steps: 3)
        for f in ["model.h", "model_config.h", "model.c", "weights.c"] {
            #expect(fileBytes(tmp.file("a/" + f)) == fileBytes(tmp.file("b/" + f)))
        }
        #expect(String(decoding: fileBytes(tmp.file("a/model_config.h")), as: UTF8.self).contains("#define SHRINK_STEPS 3\n"))
        #expect(throws: ExportError.badFlag(flag: "--steps", value: "0", reason: "must be at least 1")) {
            try CExport.run(model: model, output: tmp.file("c"), steps: 0)
        }
        #expect(!FileSystem.exists(tmp.file("c")))
    }
}
