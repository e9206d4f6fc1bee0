import ShrinkFormats
import ShrinkTensor

/// Which half of a dataset a file holds. Train and test never share an
/// equivalence class (Sudoku) or a maze up to rotation and reflection.
public enum PuzzleSplit: String, Codable, CaseIterable, Sendable {
    case train, test
}

/// Generated puzzles in the token encoding TRM/HRM train on, ready to write.
///
/// Encoding (as upstream): token 0 is padding; Sudoku blank is 1 and digit d is
/// d + 1 (vocabulary n + 2); Maze characters `#`, space, `S`, `G`, `o` are 1…5
/// (vocabulary 6). A puzzle is its grid in row-major order, so seq_len = n².
public struct PuzzleSet: Sendable {
    public var task: String
    public var count: Int
    public var sequenceLength: Int
    /// Token names, index = token id.
    public var vocabulary: [String]
    /// count × sequenceLength, row-major.
    public var inputs: [Int32]
    public var labels: [Int32]
    /// Everything needed to regenerate the file, as strings (`__metadata__`).
    public var metadata: [String: String]

    /// Writes `inputs` and `labels` (I32 [count, seq_len]) and `puzzle_identifiers`
    /// (I32 [count], all 0: Sudoku and Maze have no per-puzzle embedding, so every
    /// puzzle uses identifier 0, upstream's "blank" identifier) atomically.
    /// Same puzzles and metadata give a byte-identical file.
    public func write(to path: String) throws {
        let tensors = [
            TensorInfo(name: "inputs", dtype: .i32, shape: Shape([count, sequenceLength])),
            TensorInfo(name: "labels", dtype: .i32, shape: Shape([count, sequenceLength])),
            TensorInfo(name: "puzzle_identifiers", dtype: .i32, shape: Shape([count])),
        ]
        let writer = try SafetensorsWriter(path: path, tensors: tensors, metadata: metadata)
        try writer.write("inputs", values: inputs.map { $0.littleEndian })
        try writer.write("labels", values: labels.map { $0.littleEndian })
        try writer.write("puzzle_identifiers", values: [Int32](repeating: 0, count: count))
        try writer.commit()
    }

    /// The vocabulary as the metadata spells it: a JSON array of token names.
    static func vocabularyText(_ names: [String]) -> String {
        "[" + names.map { JSONText.quote($0) }.joined(separator: ",") + "]"
    }
}

/// A puzzle dataset file (`shrink data` output, or any safetensors file with the
/// same tensors and metadata), loaded and checked for `shrink eval`.
///
/// Requires `inputs` and `labels` as I32 [N, L], optionally `puzzle_identifiers`
/// I32 [N] (zeros when absent), metadata `task`, `seq_len` (= L) and
/// `vocab_size` (every token below it), and `count` (= N) when present.
public struct PuzzleDataset: Sendable {
    public let path: String
    public let task: String
    public let count: Int
    public let sequenceLength: Int
    public let vocabularySize: Int
    public let metadata: [String: String]
    /// count × sequenceLength, row-major.
    public let inputs: [Int32]
    public let labels: [Int32]
    public let puzzleIdentifiers: [Int32]

    public init(path: String) throws {
        let source = try Checkpoint.open(path)
        let file = source.location
        let meta = source.metadata
        func require(_ key: String) throws -> String {
            guard let v = meta[key] else { throw PuzzleDatasetError.missingMetadata(file: file, key: key) }
            return v
        }
        func integer(_ key: String, _ text: String) throws -> Int {
            guard let v = Int(text), v > 0 else { throw PuzzleDatasetError.badMetadata(file: file, key: key, value: text, expected: "a positive integer") }
            return v
        }
        let task = try require("task")
        let length = try integer("seq_len", require("seq_len"))
        let vocab = try integer("vocab_size", require("vocab_size"))

        func matrix(_ name: String) throws -> (rows: Int, values: [Int32]) {
            guard let info = source.info(name) else { throw PuzzleDatasetError.missingTensor(file: file, tensor: name) }
            guard info.dtype == .i32 else { throw PuzzleDatasetError.wrongDType(file: file, tensor: name, found: info.dtype) }
            guard info.shape.rank == 2, info.shape.dims[1] == length else {
                throw PuzzleDatasetError.wrongShape(file: file, tensor: name, shape: info.shape, expected: "[N, \(length)] (seq_len from the metadata)")
            }
            return (info.shape.dims[0], try Self.int32s(source, name))
        }
        let x = try matrix("inputs"), y = try matrix("labels")
        guard x.rows == y.rows else {
            throw PuzzleDatasetError.wrongShape(file: file, tensor: "labels", shape: Shape([y.rows, length]), expected: "[\(x.rows), \(length)] like inputs")
        }
        let count = x.rows
        if let c = meta["count"], try integer("count", c) != count {
            throw PuzzleDatasetError.badMetadata(file: file, key: "count", value: c, expected: "\(count), the number of rows of inputs")
        }
        for (name, values) in [("inputs", x.values), ("labels", y.values)] {
            if let i = values.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
                throw PuzzleDatasetError.tokenOutOfRange(file: file, tensor: name, puzzle: i / length,
                                                         position: i % length, token: values[i], vocabularySize: vocab)
            }
        }
        var identifiers = [Int32](repeating: 0, count: count)
        if let info = source.info("puzzle_identifiers") {
            guard info.dtype == .i32 else { throw PuzzleDatasetError.wrongDType(file: file, tensor: "puzzle_identifiers", found: info.dtype) }
            guard info.shape.dims == [count] else {
                throw PuzzleDatasetError.wrongShape(file: file, tensor: "puzzle_identifiers", shape: info.shape, expected: "[\(count)]")
            }
            identifiers = try Self.int32s(source, "puzzle_identifiers")
        }
        self.path = file
        self.metadata = meta
        self.task = task
        self.sequenceLength = length
        self.vocabularySize = vocab
        self.count = count
        self.inputs = x.values
        self.labels = y.values
        self.puzzleIdentifiers = identifiers
    }

    /// Puzzle `index`'s input tokens.
    public func input(_ index: Int) -> ArraySlice<Int32> { inputs[index * sequenceLength..<(index + 1) * sequenceLength] }
    /// Puzzle `index`'s label tokens.
    public func label(_ index: Int) -> ArraySlice<Int32> { labels[index * sequenceLength..<(index + 1) * sequenceLength] }

    /// Token names from the `vocabulary` metadata (a JSON array of strings), if present.
    public var vocabulary: [String]? {
        guard let text = metadata["vocabulary"], let json = try? StrictJSONParser.parse(Array(text.utf8)),
              let items = json.arrayValue else { return nil }
        let names = items.compactMap(\.stringValue)
        return names.count == items.count ? names : nil
    }

    private static func int32s(_ source: any TensorSource, _ name: String) throws -> [Int32] {
        let raw = try source.rawBytes(name)
        let n = raw.count / 4
        return [Int32](unsafeUninitializedCapacity: n) { buf, done in
            for i in 0..<n { buf[i] = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
            done = n
        }
    }
}

/// What is wrong with a puzzle dataset file; each message names the file.
public enum PuzzleDatasetError: UserFacingError, Equatable, Sendable {
    case missingTensor(file: String, tensor: String)
    case wrongDType(file: String, tensor: String, found: DType)
    case wrongShape(file: String, tensor: String, shape: Shape, expected: String)
    case missingMetadata(file: String, key: String)
    case badMetadata(file: String, key: String, value: String, expected: String)
    case tokenOutOfRange(file: String, tensor: String, puzzle: Int, position: Int, token: Int32, vocabularySize: Int)

    public var description: String {
        switch self {
        case let .missingTensor(f, t): "\(f): no tensor '\(t)'; a puzzle dataset needs inputs and labels (write one with `shrink data`)"
        case let .wrongDType(f, t, d): "\(f): tensor '\(t)' is \(d.rawValue); puzzle datasets store tokens as I32"
        case let .wrongShape(f, t, s, e): "\(f): tensor '\(t)' has shape \(s), expected \(e)"
        case let .missingMetadata(f, k): "\(f): metadata has no '\(k)'; is this a `shrink data` file?"
        case let .badMetadata(f, k, v, e): "\(f): metadata '\(k)' is '\(v)', expected \(e)"
        case let .tokenOutOfRange(f, t, p, i, v, n): "\(f): \(t)[\(p)][\(i)] is token \(v), outside the vocabulary 0..<\(n)"
        }
    }
}

/// Bad generation parameters; each message names the flag and the allowed values.
public enum PuzzleOptionsError: UserFacingError, Equatable, Sendable {
    case unsupportedSize(flag: String, value: Int, allowed: String)
    case notPositive(flag: String, value: Int)
    case outOfRange(flag: String, value: String, allowed: String)
    case notForThisSize(flag: String, size: Int, instead: String)
    case unreachable(flag: String, detail: String)
    case tooFewDistinct(requested: Int, found: Int, candidates: Int, widen: String)

    public var description: String {
        switch self {
        case let .unsupportedSize(f, v, a): "\(f) \(v) is not supported; use \(a)"
        case let .notPositive(f, v): "\(f) \(v) must be positive"
        case let .outOfRange(f, v, a): "\(f) \(v) is out of range; use \(a)"
        case let .notForThisSize(f, s, i): "\(f) does not apply to size \(s); use \(i)"
        case let .unreachable(f, d): "\(f): \(d)"
        case let .tooFewDistinct(r, found, c, w): "only \(found) distinct puzzles among \(c) candidates, \(r) requested; lower --count or \(w)"
        }
    }
}

/// Runs a candidate generator over indices 0, 1, 2, … on both cores and keeps the
/// first `count` distinct results in index order. Candidate k depends only on k
/// (each makes its own generator from (seed, stream, k)), so the output does not
/// depend on the number of threads or on batch sizes.
enum CandidateCollector {
    static func collect<Item: Sendable>(
        count: Int, progress: (any ProgressSink)?, label: String, widen: String,
        key: (Item) -> [UInt8],
        generate: @escaping @Sendable (Range<Int>) -> [Result<Item, PuzzleOptionsError>]
    ) throws -> [Item] {
        var accepted: [Item] = []
        accepted.reserveCapacity(count)
        var seen = Set<[UInt8]>()
        var next = 0
        let candidateLimit = 20 * count + 10_000
        while accepted.count < count {
            guard next < candidateLimit else { throw PuzzleOptionsError.tooFewDistinct(requested: count, found: accepted.count, candidates: next, widen: widen) }
            let batch = min(1024, max(64, (count - accepted.count) * 17 / 16 + 8))
            let start = next
            let parts = ParallelReduce.map(count: batch, minChunk: 16) { generate((start + $0.lowerBound)..<(start + $0.upperBound)) }
            next += batch
            outer: for part in parts {
                for result in part {
                    if accepted.count == count { break outer }
                    let item = try result.get()
                    if seen.insert(key(item)).inserted { accepted.append(item) }
                }
            }
            progress?.update(done: accepted.count, total: count, item: label)
        }
        progress?.finish()
        return accepted
    }

    /// Candidates of `range` in order, stopping after the first failure: later
    /// ones would be thrown away, and failing costs the most tries.
    static func untilFailure<Item>(_ range: Range<Int>, _ body: (Int) -> Result<Item, PuzzleOptionsError>) -> [Result<Item, PuzzleOptionsError>] {
        var results: [Result<Item, PuzzleOptionsError>] = []
        results.reserveCapacity(range.count)
        for k in range {
            let r = body(k)
            results.append(r)
            if case .failure = r { break }
        }
        return results
    }
}

extension Double {
    /// Maps a 64-bit hash to [0, 1) (top 53 bits).
    @inline(__always) init(unitHash h: UInt64) { self = Double(h >> 11) * 0x1p-53 }
}
