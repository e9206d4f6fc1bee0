import ShrinkTensor

/// Maze cells as upstream (HRM's maze builder, charset "# SGo") tokenizes them:
/// the character's index in "# SGo" plus one; 0 is padding.
public enum MazeToken: UInt8, CaseIterable, Sendable {
    case pad = 0, wall = 1, open = 2, start = 3, goal = 4, path = 5

    public var character: Character {
        switch self { case .pad: "\0"; case .wall: "#"; case .open: " "; case .start: "S"; case .goal: "G"; case .path: "o" }
    }
}

/// One maze: the input grid (walls, open cells, S, G) and the label (the input
/// with the cells of the unique shortest path strictly between S and G set to
/// `o`), both row-major n×n tokens.
public struct Maze: Hashable, Sendable {
    public var size: Int
    public var input: [UInt8]
    public var label: [UInt8]
    /// Moves from S to G along the shortest path (= number of `o` cells + 1).
    public var pathLength: Int

    /// Rows of characters, for messages and tests.
    public func text(_ grid: [UInt8]? = nil) -> String {
        let g = grid ?? label
        return (0..<size).map { r in String((0..<size).map { MazeToken(rawValue: g[r * size + $0])?.character ?? "?" }) }.joined(separator: "\n")
    }
}

/// Breadth-first search on maze grids (4-neighbour moves through non-wall cells).
public enum MazeRules {
    /// Distances in moves from `start` to every cell (−1: unreachable), and the
    /// number of distinct shortest paths to each cell, saturated at 2.
    public static func distances(_ grid: [UInt8], size n: Int, from start: Int) -> (distance: [Int], paths: [Int]) {
        var distance = [Int](repeating: -1, count: n * n), paths = [Int](repeating: 0, count: n * n)
        var queue = [start]
        queue.reserveCapacity(n * n)
        distance[start] = 0; paths[start] = 1
        var head = 0
        while head < queue.count {
            let v = queue[head]; head += 1
            let r = v / n, c = v % n
            for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                let rr = r + dr, cc = c + dc
                guard rr >= 0, rr < n, cc >= 0, cc < n else { continue }
                let u = rr * n + cc
                guard grid[u] != MazeToken.wall.rawValue else { continue }
                if distance[u] < 0 {
                    distance[u] = distance[v] + 1; paths[u] = paths[v]; queue.append(u)
                } else if distance[u] == distance[v] + 1 {
                    paths[u] = min(2, paths[u] + paths[v])
                }
            }
        }
        return (distance, paths)
    }

    /// The BFS shortest-path length (moves) from S to G of an input grid, nil if unreachable or S/G missing.
    public static func shortestPathLength(input: [UInt8], size n: Int) -> Int? {
        guard let s = input.firstIndex(of: MazeToken.start.rawValue), let g = input.firstIndex(of: MazeToken.goal.rawValue) else { return nil }
        let d = distances(input, size: n, from: s).distance[g]
        return d >= 0 ? d : nil
    }

    /// True when `label` is `input` with a shortest S→G path marked: only open
    /// cells become `o`, the `o` cells with S and G form one simple 4-connected
    /// path from S to G, and its length in moves equals the BFS distance.
    public static func isShortestPathLabel(_ label: [UInt8], input: [UInt8], size n: Int) -> Bool {
        guard label.count == input.count, let best = shortestPathLength(input: input, size: n) else { return false }
        var onPath = Set<Int>()
        for i in 0..<input.count {
            if label[i] == MazeToken.path.rawValue {
                guard input[i] == MazeToken.open.rawValue else { return false }
                onPath.insert(i)
            } else if label[i] != input[i] {
                return false
            }
        }
        let s = input.firstIndex(of: MazeToken.start.rawValue)!, g = input.firstIndex(of: MazeToken.goal.rawValue)!
        onPath.insert(g)
        var at = s, moves = 0
        var visited: Set<Int> = [s]
        while at != g {
            let r = at / n, c = at % n
            let next = [(-1, 0), (1, 0), (0, -1), (0, 1)].compactMap { (dr, dc) -> Int? in
                let rr = r + dr, cc = c + dc
                guard rr >= 0, rr < n, cc >= 0, cc < n else { return nil }
                let u = rr * n + cc
                return onPath.contains(u) && !visited.contains(u) ? u : nil
            }
            guard next.count == 1 else { return false }
            at = next[0]; visited.insert(at); moves += 1
        }
        return visited.count == onPath.count + 1 && moves == best
    }
}

/// Parameters of a maze dataset (`shrink data maze`).
public struct MazeDatasetOptions: Codable, Sendable {
    public var size: Int
    public var count: Int
    public var split: PuzzleSplit
    /// Keep only mazes whose shortest S→G path has at least this many moves.
    public var minPath: Int
    /// Fraction of the walls a perfect maze keeps between neighbouring rooms that
    /// are knocked out to make loops (0: a perfect maze, one route).
    public var loopFraction: Double
    /// Fraction of mazes (by hash, up to rotation and reflection) that are test.
    public var testFraction: Double
    public var seed: UInt64
    public var splitSeed: UInt64

    public static let sizes = 7...64

    public init(size: Int, count: Int, split: PuzzleSplit, minPath: Int? = nil, loopFraction: Double = 0.1,
                testFraction: Double = 0.1, seed: UInt64 = 0, splitSeed: UInt64 = 0) {
        self.size = size; self.count = count; self.split = split
        self.minPath = minPath ?? size
        self.loopFraction = loopFraction; self.testFraction = testFraction
        self.seed = seed; self.splitSeed = splitSeed
    }

    public func validate() throws {
        guard Self.sizes.contains(size) else {
            throw PuzzleOptionsError.unsupportedSize(flag: "--size", value: size, allowed: "\(Self.sizes.lowerBound) to \(Self.sizes.upperBound)")
        }
        guard count > 0 else { throw PuzzleOptionsError.notPositive(flag: "--count", value: count) }
        let rooms = ((size - 1) / 2) * ((size - 1) / 2)
        guard minPath >= 1, minPath <= 2 * rooms else {
            throw PuzzleOptionsError.outOfRange(flag: "--min-path", value: "\(minPath)", allowed: "1 to \(2 * rooms) moves for --size \(size)")
        }
        guard loopFraction >= 0, loopFraction <= 1 else {
            throw PuzzleOptionsError.outOfRange(flag: "--loop-fraction", value: "\(loopFraction)", allowed: "0 to 1")
        }
        guard testFraction > 0, testFraction < 1 else {
            throw PuzzleOptionsError.outOfRange(flag: "--test-fraction", value: "\(testFraction)", allowed: "a fraction strictly between 0 and 1")
        }
    }
}

/// Summary of a generated maze dataset (`shrink data maze --json`).
public struct MazeDatasetSummary: Codable, Sendable {
    public var task = "maze"
    public var size: Int
    public var split: PuzzleSplit
    public var count: Int
    public var seqLen: Int
    public var vocabSize: Int
    public var meanPathLength: Double
    public var minPathLength: Int
    public var maxPathLength: Int
}

/// Maze datasets.
///
/// Generation: rooms sit at odd coordinates (1, 3, …; for even n the last row
/// and column stay wall too) and a randomized depth-first search carves a perfect
/// maze between them; then `loopFraction` of the remaining walls between
/// neighbouring rooms are knocked out, so several routes exist. S is a random
/// open cell; BFS from S counts shortest paths, and G is drawn among the open
/// cells at least `minPath` moves away whose shortest path is unique — so the
/// label is well defined — or the maze is discarded and redrawn.
///
/// Split: a maze is test when the hash of its dihedral canonical form (the
/// smallest of its 8 rotations and reflections), salted with `splitSeed`, falls
/// under `testFraction`; train and test files made with any seeds (same split
/// seed) never share a maze nor one of its rotations or reflections. Duplicate
/// mazes within a file are skipped.
public enum MazeDataset {
    public static let vocabulary = ["pad", "#", " ", "S", "G", "o"]

    public static func generate(_ options: MazeDatasetOptions, progress: (any ProgressSink)? = nil) throws -> [Maze] {
        try options.validate()
        let stream = StableHash.fnv1a("maze-\(options.size)-\(options.split.rawValue)".utf8)
        return try CandidateCollector.collect(
            count: options.count, progress: progress, label: "maze \(options.size)×\(options.size) \(options.split.rawValue)",
            widen: "lower --min-path, raise --test-fraction (test split), or use a larger --size",
            key: { $0.input }
        ) { range in
            var generator = MazeGenerator(size: options.size)
            return CandidateCollector.untilFailure(range) { k in
                var rng = SeededGenerator(seed: options.seed, stream: stream, index: UInt64(k))
                let splitAttempts = 100_000, shapeAttempts = 2_000
                var misses = 0
                for _ in 0..<splitAttempts {
                    guard let maze = generator.make(minPath: options.minPath, loopFraction: options.loopFraction, using: &rng) else {
                        misses += 1
                        if misses == shapeAttempts {
                            return .failure(.unreachable(flag: "--min-path", detail: "no \(options.size)×\(options.size) maze in \(shapeAttempts) tries had a unique shortest path of \(options.minPath) moves or more; lower --min-path or --loop-fraction"))
                        }
                        continue
                    }
                    if isTest(maze, options: options) == (options.split == .test) { return .success(maze) }
                }
                return .failure(.unreachable(flag: "--test-fraction", detail: "no \(options.split.rawValue) maze in \(splitAttempts) tries"))
            }
        }
    }

    public static func isTest(_ maze: Maze, options: MazeDatasetOptions) -> Bool {
        Double(unitHash: StableHash.fnv1a(dihedralCanonical(maze.input, size: maze.size), salt: options.splitSeed)) < options.testFraction
    }

    /// The smallest (row-major, lexicographic) of the grid's 8 rotations and reflections.
    public static func dihedralCanonical(_ grid: [UInt8], size n: Int) -> [UInt8] {
        var best: [UInt8]?
        var image = [UInt8](repeating: 0, count: n * n)
        for t in 0..<8 {
            for r in 0..<n {
                for c in 0..<n {
                    var (rr, cc) = t & 1 == 0 ? (r, c) : (c, r)
                    if t & 2 != 0 { rr = n - 1 - rr }
                    if t & 4 != 0 { cc = n - 1 - cc }
                    image[r * n + c] = grid[rr * n + cc]
                }
            }
            if best == nil || image.lexicographicallyPrecedes(best!) { best = image }
        }
        return best!
    }

    public static func encode(_ mazes: [Maze], options o: MazeDatasetOptions) -> PuzzleSet {
        let L = o.size * o.size
        var inputs: [Int32] = [], labels: [Int32] = []
        inputs.reserveCapacity(mazes.count * L); labels.reserveCapacity(mazes.count * L)
        for m in mazes {
            inputs += m.input.map { Int32($0) }
            labels += m.label.map { Int32($0) }
        }
        let meta: [String: String] = [
            "format": "shrink-puzzles", "format_version": "1",
            "task": "maze", "size": "\(o.size)", "split": o.split.rawValue,
            "seed": "\(o.seed)", "split_seed": "\(o.splitSeed)",
            "count": "\(mazes.count)", "seq_len": "\(L)",
            "vocab_size": "\(vocabulary.count)", "vocabulary": PuzzleSet.vocabularyText(vocabulary),
            "encoding": "row-major grid; token 0 pad, then '#',' ','S','G','o' are 1..5; inputs have no 'o'",
            "min_path": "\(o.minPath)", "loop_fraction": "\(o.loopFraction)",
            "path_length": "moves from S to G on the unique shortest path; labels mark the cells strictly between with 'o'",
            "class_split": "hashed: a maze is test when FNV-1a-64 of the smallest of its 8 rotations/reflections, salted with split_seed, mapped to [0,1), is below test_fraction",
            "test_fraction": "\(o.testFraction)",
            "puzzle_identifiers": "0 for every puzzle (Maze has no per-puzzle embedding)",
        ]
        return PuzzleSet(task: "maze", count: mazes.count, sequenceLength: L, vocabulary: vocabulary,
                         inputs: inputs, labels: labels, metadata: meta)
    }

    public static func summary(_ mazes: [Maze], options o: MazeDatasetOptions) -> MazeDatasetSummary {
        let lengths = mazes.map(\.pathLength)
        return MazeDatasetSummary(
            size: o.size, split: o.split, count: mazes.count, seqLen: o.size * o.size, vocabSize: vocabulary.count,
            meanPathLength: lengths.isEmpty ? 0 : Double(lengths.reduce(0, +)) / Double(lengths.count),
            minPathLength: lengths.min() ?? 0, maxPathLength: lengths.max() ?? 0)
    }
}

/// Scratch buffers for one thread's maze generation.
struct MazeGenerator {
    let n: Int
    let rooms: Int  // per side
    private var grid: [UInt8]
    private var visited: [Bool]
    private var stack: [Int]
    private var spareWalls: [Int]

    init(size: Int) {
        n = size
        rooms = (size - 1) / 2
        grid = [UInt8](repeating: 0, count: size * size)
        visited = [Bool](repeating: false, count: rooms * rooms)
        stack = []; stack.reserveCapacity(rooms * rooms)
        spareWalls = []; spareWalls.reserveCapacity(2 * rooms * rooms)
    }

    /// A maze meeting the constraints, or nil when this draw has no suitable goal.
    mutating func make(minPath: Int, loopFraction: Double, using rng: inout SeededGenerator) -> Maze? {
        let wall = MazeToken.wall.rawValue, open = MazeToken.open.rawValue
        for i in 0..<grid.count { grid[i] = wall }
        for i in 0..<visited.count { visited[i] = false }
        @inline(__always) func cell(_ room: Int) -> Int { (2 * (room / rooms) + 1) * n + 2 * (room % rooms) + 1 }

        // Randomized depth-first search (recursive backtracker) over rooms.
        let first = rng.below(rooms * rooms)
        visited[first] = true; grid[cell(first)] = open
        stack.removeAll(keepingCapacity: true)
        stack.append(first)
        var choices = [Int](repeating: 0, count: 4)
        while let room = stack.last {
            let r = room / rooms, c = room % rooms
            var k = 0
            if r > 0, !visited[room - rooms] { choices[k] = room - rooms; k += 1 }
            if r < rooms - 1, !visited[room + rooms] { choices[k] = room + rooms; k += 1 }
            if c > 0, !visited[room - 1] { choices[k] = room - 1; k += 1 }
            if c < rooms - 1, !visited[room + 1] { choices[k] = room + 1; k += 1 }
            if k == 0 { stack.removeLast(); continue }
            let next = choices[rng.below(k)]
            visited[next] = true
            grid[cell(next)] = open
            grid[(cell(room) + cell(next)) / 2] = open
            stack.append(next)
        }

        // Knock out a fraction of the walls still standing between neighbouring rooms.
        spareWalls.removeAll(keepingCapacity: true)
        for room in 0..<(rooms * rooms) {
            let r = room / rooms, c = room % rooms
            if c < rooms - 1, grid[cell(room) + 1] == wall { spareWalls.append(cell(room) + 1) }
            if r < rooms - 1, grid[cell(room) + n] == wall { spareWalls.append(cell(room) + n) }
        }
        rng.shuffle(&spareWalls)
        let knock = Int((loopFraction * Double(spareWalls.count)).rounded())
        for w in spareWalls.prefix(knock) { grid[w] = open }

        // S anywhere open; G among cells far enough with a unique shortest path.
        var openCells: [Int] = []
        for i in 0..<grid.count where grid[i] == open { openCells.append(i) }
        let s = openCells[rng.below(openCells.count)]
        let (distance, paths) = MazeRules.distances(grid, size: n, from: s)
        let goals = openCells.filter { distance[$0] >= minPath && paths[$0] == 1 }
        guard !goals.isEmpty else { return nil }
        let g = goals[rng.below(goals.count)]

        var input = grid
        input[s] = MazeToken.start.rawValue
        input[g] = MazeToken.goal.rawValue
        var label = input
        var at = g
        while distance[at] > 1 {
            let r = at / n, c = at % n
            var previous = -1
            for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                let rr = r + dr, cc = c + dc
                guard rr >= 0, rr < n, cc >= 0, cc < n else { continue }
                if distance[rr * n + cc] == distance[at] - 1 { previous = rr * n + cc; break }
            }
            at = previous
            label[at] = MazeToken.path.rawValue
        }
        return Maze(size: n, input: input, label: label, pathLength: distance[g])
    }
}
