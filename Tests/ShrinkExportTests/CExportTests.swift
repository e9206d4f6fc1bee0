import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing
@testable import ShrinkExport

/// Builds exported C with the system compiler and runs it through tools/c_driver.c.
enum CBuild {
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

struct CBuildFailure: Error, CustomStringConvertible {
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

    private func quantized(_ model: String, bits: Int, granularity: Granularity = .channel, keep: String? = nil,
                           lowRank: LowRankCompensation.Option? = nil, into dir: String) throws {
        var o = QuantizeOptions()
        o.bits = bits
        o.granularity = granularity
        o.keep = keep
        o.lowRank = lowRank
        try QuantizeJob.run(try Checkpoint.open(model), options: o, outputDirectory: dir)
    }

    /// The export in `export`, built under ASan/UBSan (3 puzzles) and at -O2 (`count`): the two builds agree, and
    /// ≥ 99.9% of cells and the puzzle-exact count agree with `shrink eval` of `model`.
    private func expectAgreement(export: String, model: String, data: PuzzleDataset, count n: Int, scratch tmp: TemporaryDirectory) throws {
        try CBuild.build(export, flags: ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"], executable: tmp.file("san"))
        let sanitized = try CBuild.predict(tmp.file("san"), data: data, count: 3, scratch: tmp)
        try CBuild.build(export, flags: ["-O2"], executable: tmp.file("run"))
        let L = data.sequenceLength
        let c = try CBuild.predict(tmp.file("run"), data: data, count: n, scratch: tmp)
        #expect(Array(c[0..<(3 * L)]) == sanitized)
        let reference = try shrinkPredictions(model, data, count: n)
        let agreeing = zip(c, reference).filter { $0 == $1 }.count
        #expect(Double(agreeing) >= 0.999 * Double(n * L), "\(agreeing) of \(n * L) cells agree")
        let task = try PuzzleTask(data, limit: n)
        #expect(task.score(c, units: 0..<n).filter(\.exact).count == task.score(reference, units: 0..<n).filter(\.exact).count)
    }

    /// Every architecture variant (RoPE, learned positions, mlp_t, puzzle embeddings,
    /// HRM), FP32 and packed 4-bit: the C predicts what `shrink eval` predicts.
    @Test(arguments: ["hrm-rope", "trm-learned", "trm-mlp-t-puzzle-emb", "trm-rope-puzzle-emb", "trm-mlp-t-pruned", "hrm-rope-pruned"])
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
        try expectAgreement(export: tmp.file("c"), model: tmp.file("int4"), data: data, count: 100, scratch: tmp)
    }

    /// `--low-rank` factors (W ≈ Ŵ + A·B), stored F16 (the default: `uint16_t` bits decoded by the runtime) or F32
    /// (float arrays): every tiny variant's C predicts exactly what `shrink eval` predicts from Ŵ + A·B.
    @Test(arguments: ["hrm-rope", "trm-learned", "trm-mlp-t-puzzle-emb", "trm-rope-puzzle-emb", "trm-mlp-t-pruned", "hrm-rope-pruned"])
    func tinyModelsWithLowRankFactorsPredictLikeShrinkEval(_ name: String) throws {
        let tmp = TemporaryDirectory()
        let model = Fixtures.path("Tests/Fixtures/tiny/\(name)")
        let data = try PuzzleDataset(path: model + "/data.safetensors")
        for dtype in [DType.f16, .f32] {
            let q = tmp.file("int3-lr-\(dtype.rawValue)")
            try quantized(model, bits: 3, lowRank: .init(rank: 4, method: .svd, dtype: dtype), into: q)
            let compressed = try CompressedCheckpoint(directory: q)
            let out = tmp.file("c-\(dtype.rawValue)")
            let s = try CExport.run(model: q, output: out)
            let factored = s.linears.filter { $0.rank > 0 }
            #expect(!factored.isEmpty && factored.count == s.linears.filter { compressed.lowRankWeights.contains($0.name) }.count)
            #expect(factored.allSatisfy { $0.rank == min(4, $0.rows, $0.columns) })
            let weights = String(decoding: fileBytes(out + "/weights.c"), as: UTF8.self)
            #expect(weights.contains(dtype == .f16 ? "static const uint16_t w1_lora_a[" : "static const float w1_lora_a["), "\(name) \(dtype)")
            #expect(s.lowRankScratchBytes == 4 * CExport.lowRankRows(try RecursiveReasoner.load(directory: q).config) * factored.map(\.rank).max()!)
            try CBuild.build(out, flags: ["-O2"], executable: out + "/run")
            let c = try CBuild.predict(out + "/run", data: data, count: data.count, scratch: tmp)
            #expect(c == (try shrinkPredictions(q, data, count: data.count)), "\(name) \(dtype)")
        }
    }

    /// The runtime's F16 decoder against Swift's `Float(Float16(bitPattern:))` for every finite half.
    @Test func theRuntimeDecodesEveryFiniteHalfExactly() throws {
        let tmp = TemporaryDirectory()
        let q = tmp.file("lr")
        try quantized(Fixtures.path("Tests/Fixtures/tiny/trm-learned"), bits: 4, lowRank: .init(rank: 2, method: .svd), into: q)
        try CExport.run(model: q, output: tmp.file("c"))
        let harness = tmp.file("halves.c")
        try Data("""
            #include <stdio.h>
            #include "model.c"
            int main(int argc, char **argv) {
                FILE *out = fopen(argv[1], "wb");
                unsigned h;
                (void)argc;
                for (h = 0; h < 65536u; h++) {
                    const float f = half_to_float((uint16_t)h);
                    if ((h & 0x7c00u) != 0x7c00u) fwrite(&f, sizeof f, 1, out);
                }
                return fclose(out) != 0;
            }

            """.utf8).write(to: URL(fileURLWithPath: harness))
        try CBuild.run(["cc"] + CBuild.warnings + ["-O2", "-I" + tmp.file("c"), harness, tmp.file("c/weights.c"), "-lm", "-o", tmp.file("halves")])
        try CBuild.run([tmp.file("halves"), tmp.file("halves.bin")])
        let decoded = try Data(contentsOf: URL(fileURLWithPath: tmp.file("halves.bin"))).withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
        let expected = (0..<65536).map { UInt16($0) }.filter { $0 & 0x7C00 != 0x7C00 }.map { Float(Float16(bitPattern: $0)).bitPattern }
        #expect(decoded.count == 63488 && decoded == expected)
    }

    /// A trained fixture at INT3 group 32 with rank-8 SVD factors (`shrink quantize --bits 3 --group 32 --low-rank 8`)
    /// on 32 puzzles (the debug build's `shrink eval` of this model is slow; tools/check_c.sh runs 1,000): the C
    /// agrees with `shrink eval`, which runs Ŵ + A·B.
    @Test func trmMlpSudokuInt3WithLowRankFactorsAgreesWithShrinkEval() throws {
        let tmp = TemporaryDirectory()
        let data = try PuzzleDataset(path: Fixtures.path("Fixtures/data/sudoku6-hard-test.safetensors"))
        let q = tmp.file("int3-lr8")
        // mlp_t's gate_up_proj has 36 inputs, which no group of 32 divides.
        try quantized(Fixtures.path("Fixtures/models/trm_mlp_sudoku6"), bits: 3, granularity: .group(32), keep: #"mlp_t\.gate_up"#,
                      lowRank: .init(rank: 8, method: .svd), into: q)
        let s = try CExport.run(model: q, output: tmp.file("c"))
        #expect(s.linears.filter { $0.rank == 8 }.count == s.linears.filter { $0.bits == 3 }.count && s.linears.contains { $0.bits == 3 })
        try expectAgreement(export: tmp.file("c"), model: q, data: data, count: 32, scratch: tmp)
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
