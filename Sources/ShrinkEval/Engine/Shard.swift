import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkTensor

/// One of N deterministic slices of a grid (`--shard I/N`, I from 0, as a Slurm job array numbers its tasks): the
/// grid's entries whose index is I modulo N. Round robin rather than contiguous ranges, so slices of a grid
/// sorted by cost (bits, then granularity) cost about the same.
public struct Shard: Codable, Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(index) else {
            throw ModelError.badRequest(flag: "--shard", reason: "\(index)/\(count): I/N needs N ≥ 1 and 0 ≤ I < N")
        }
        self.index = index; self.count = count
    }

    /// "I/N".
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw ModelError.badRequest(flag: "--shard", reason: "'\(text)' must be I/N, e.g. 0/4 for the first of 4 shards (I from 0 to N − 1)")
        }
        try self.init(index: i, count: n)
    }

    /// Whether grid entry `i` is this shard's.
    public func owns(_ i: Int) -> Bool { i % count == index }

    public var description: String { "\(index)/\(count)" }
}

/// What identifies a grid: its inputs' bytes (model, data, calibration) and the flags that shape it. Shards of one
/// grid carry the same fingerprint, so `shrink merge` can refuse parts of different grids.
public struct GridFingerprint: Sendable {
    private var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}

    /// Mixes in a file's bytes (or a directory's files, names and bytes, in sorted order), or a missing marker.
    public mutating func add(file path: String) throws {
        if FileSystem.isDirectory(path) {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
            for name in names where !FileSystem.isDirectory(path + "/" + name) {
                add(text: name)
                try add(file: path + "/" + name)
            }
            return
        }
        let m = try MappedFile(path: path)
        if m.byteCount > 0 { hash = StableHash.fnv1a(m.bytes(0..<m.byteCount), salt: hash) }
        add(text: "#\(m.byteCount)")
    }

    public mutating func add(text: String) { hash = StableHash.fnv1a(Array(text.utf8) + [0], salt: hash) }

    public var value: String { String(format: "%016llx", hash) }
}

/// Errors of `shrink merge`: each names the file and the fix.
public enum MergeError: UserFacingError, Equatable {
    case noParts
    case notAPart(file: String, detail: String)
    case differentGrids(file: String, fingerprint: String, expected: String, first: String)
    case differentShardCounts(file: String, count: Int, expected: Int, first: String)
    case duplicateShard(file: String, shard: Int, other: String)
    case missingShards([Int], of: Int)

    public var description: String {
        switch self {
        case .noParts: "merge needs the partial files of every shard (shrink sweep|plan … --shard I/N -o PART.json)"
        case let .notAPart(f, d): "\(f): not a partial result of `shrink sweep --shard` or `shrink plan --shard` (\(d))"
        case let .differentGrids(f, fp, e, first):
            "\(f): its grid fingerprint \(fp) differs from \(e) of \(first): parts of different models, data or flags cannot be merged; rerun that shard with the same command"
        case let .differentShardCounts(f, n, e, first): "\(f): is one of \(n) shards, \(first) one of \(e); merge the parts of one --shard I/N run"
        case let .duplicateShard(f, s, other): "\(f): shard \(s) is also in \(other); pass each shard once"
        case let .missingShards(s, n): "shards \(s.map(String.init).joined(separator: ", ")) of \(n) are missing; run them (--shard I/\(n)) and merge all \(n) parts"
        }
    }
}

/// The checks every merge makes: one fingerprint, one shard count, each shard exactly once.
public enum ShardSet {
    /// - Parameters: `parts` are each part's fingerprint and shard, `names` label them in errors.
    public static func check(_ parts: [(fingerprint: String, shard: Shard)], names: [String]) throws {
        guard let first = parts.first else { throw MergeError.noParts }
        var seen: [Int: String] = [:]
        for (part, name) in zip(parts, names) {
            guard part.fingerprint == first.fingerprint else {
                throw MergeError.differentGrids(file: name, fingerprint: part.fingerprint, expected: first.fingerprint, first: names[0])
            }
            guard part.shard.count == first.shard.count else {
                throw MergeError.differentShardCounts(file: name, count: part.shard.count, expected: first.shard.count, first: names[0])
            }
            if let other = seen[part.shard.index] { throw MergeError.duplicateShard(file: name, shard: part.shard.index, other: other) }
            seen[part.shard.index] = name
        }
        let missing = (0..<first.shard.count).filter { seen[$0] == nil }
        guard missing.isEmpty else { throw MergeError.missingShards(missing, of: first.shard.count) }
    }
}

extension Sweep {
    /// One shard's share of a sweep: its rows (all rows of the recipes it owns, in the grid's order), the whole
    /// grid's recipe names (what orders the merged rows), and what identifies the grid.
    public struct Part<Depth: SweepDepth>: Codable, Sendable {
        public static var formatName: String { "shrink-sweep-part" }
        public var format: String
        public var fingerprint: String
        public var shard: Shard
        /// Every recipe of the grid, in its order (the original first).
        public var recipes: [String]
        /// The sweep's seed (the merged Spearman interval resamples with it).
        public var seed: UInt64
        /// The sweep over this shard's recipes (no Spearman: that needs every row).
        public var report: Report<Depth>
    }

    /// Combines every shard's part into the report the unsharded sweep writes (the same rows in the same order,
    /// the same Spearman interval; `seconds` is the slowest shard's). `names` label the parts in errors.
    public static func merge<Depth: SweepDepth>(_ parts: [Part<Depth>], names: [String]) throws -> Report<Depth> {
        for (part, name) in zip(parts, names) where part.format != Part<Depth>.formatName {
            throw MergeError.notAPart(file: name, detail: "format '\(part.format)'")
        }
        try ShardSet.check(parts.map { ($0.fingerprint, $0.shard) }, names: names)
        guard let first = parts.first else { throw MergeError.noParts }

        let index = Dictionary(first.recipes.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        var byRecipe = [[Row<Depth>]](repeating: [], count: first.recipes.count)
        for (part, name) in zip(parts, names) {
            for row in part.report.rows {
                guard let i = index[row.recipe], part.shard.owns(i) else {
                    throw MergeError.notAPart(file: name, detail: "row of recipe '\(row.recipe)' is not shard \(part.shard)'s")
                }
                byRecipe[i].append(row)
            }
        }
        var summary = first.report.summary
        summary.rows = byRecipe.flatMap { $0 }
        summary.seconds = parts.map(\.report.seconds).max() ?? 0
        summary.fidelityExactSpearman = spearman(of: summary.rows, trained: first.report.trainedDepth, seed: first.seed)
        return Report(summary: summary, trainedDepth: first.report.trainedDepth)
    }

    /// Spearman's ρ of fidelity with exact accuracy across the quantized rows at the trained depth (nil under 3).
    static func spearman<Depth: SweepDepth>(of rows: [Row<Depth>], trained: Depth, seed: UInt64) -> Statistics.Interval? {
        let quantized = rows.filter { $0.bits != nil && $0.depth == trained }
        return quantized.count >= 3 ? spearmanBootstrap(quantized.map(\.fidelity), quantized.map(\.exact.estimate), seed: seed) : nil
    }
}
