import Foundation
import ShrinkEval
import ShrinkModels
import ShrinkTestSupport
import Testing

/// `shrink sweep --shard I/N` and `shrink merge`: the merged parts are the unsharded sweep, byte for byte apart
/// from the wall time, for N = 1, 2, 3; parts of other grids, duplicates and gaps are refused.
@Suite struct ShardTests {
    static let dir = Fixtures.path("Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb")

    static func options(_ shard: Shard? = nil) -> Sweep.Options {
        var o = Sweep.Options()
        o.bits = [8, 4, 2]
        o.methods = [.rtn, .mse]
        o.granularities = [.tensor, .channel]
        o.shard = shard
        return o
    }

    static func task() throws -> PuzzleTask { try PuzzleTask(PuzzleDataset(path: dir + "/data.safetensors")) }

    /// The report as the CLI writes it, with the wall time zeroed.
    static func bytes(_ r: Sweep.Report<RecursionDepth>) throws -> Data {
        var r = r
        r.summary.seconds = 0
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        return try e.encode(r)
    }

    static func parts(_ n: Int, fingerprint: String = "grid") throws -> [Sweep.Part<RecursionDepth>] {
        let model = try RecursiveReasoner.load(directory: dir)
        return try (0..<n).map { i in
            try Sweep.part(model: model, task: task(), depths: [model.fullDepth], options: options(Shard(index: i, count: n)), fingerprint: fingerprint)
        }
    }

    @Test(arguments: [1, 2, 3])
    func mergedShardsAreTheUnshardedSweep(shards n: Int) throws {
        let model = try RecursiveReasoner.load(directory: Self.dir)
        let whole = try Sweep.run(model: model, task: Self.task(), depths: [model.fullDepth], options: Self.options())
        #expect(whole.rows.count == 13 * model.fullDepth.steps && whole.fidelityExactSpearman != nil)
        let parts = try Self.parts(n)
        #expect(parts.map(\.report.rows.count).reduce(0, +) == whole.rows.count, "every row in exactly one part")
        // Shuffled order: merge sorts by the grid, not by the order of the files.
        let merged = try Sweep.merge(parts.reversed(), names: (0..<n).reversed().map { "part\($0).json" })
        #expect(try Self.bytes(merged) == Self.bytes(whole))
    }

    @Test func partsOfAnotherGridDuplicatesAndGapsAreRefused() throws {
        let parts = try Self.parts(3)
        let other = try Self.parts(3, fingerprint: "another grid")
        #expect(throws: MergeError.differentGrids(file: "b", fingerprint: "another grid", expected: "grid", first: "a")) {
            try Sweep.merge([parts[0], other[1], parts[2]], names: ["a", "b", "c"])
        }
        #expect(throws: MergeError.duplicateShard(file: "c", shard: 1, other: "b")) {
            try Sweep.merge([parts[0], parts[1], parts[1]], names: ["a", "b", "c"])
        }
        #expect(throws: MergeError.missingShards([2], of: 3)) { try Sweep.merge([parts[0], parts[1]], names: ["a", "b"]) }
        let two = try Self.parts(2)
        #expect(throws: MergeError.differentShardCounts(file: "b", count: 2, expected: 3, first: "a")) {
            try Sweep.merge([parts[0], two[1]], names: ["a", "b"])
        }
        #expect(throws: MergeError.noParts) { try Sweep.merge([Sweep.Part<RecursionDepth>](), names: []) }
        #expect(throws: ModelError.badRequest(flag: "--shard", reason: "3/3: I/N needs N ≥ 1 and 0 ≤ I < N")) { try Shard(parsing: "3/3") }
        #expect(throws: (any Error).self) { try Shard(parsing: "1of3") }
    }
}
