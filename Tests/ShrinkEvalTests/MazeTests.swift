import Testing
@testable import ShrinkEval

@Suite struct MazeTests {
    @Test func tokensAreUpstreams() {
        #expect(MazeDataset.vocabulary == ["pad", "#", " ", "S", "G", "o"])
        #expect(MazeToken.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5])
        #expect(String(MazeToken.allCases.dropFirst().map(\.character)) == "# SGo")
    }

    @Test(arguments: [(9, 8), (15, 25), (16, 20)])
    func labelsAreTheUniqueShortestPath(size: Int, minPath: Int) throws {
        let options = MazeDatasetOptions(size: size, count: 60, split: .train, minPath: minPath, seed: 3)
        let mazes = try MazeDataset.generate(options)
        #expect(mazes.count == 60)
        for m in mazes {
            let s = m.input.firstIndex(of: MazeToken.start.rawValue)!, g = m.input.firstIndex(of: MazeToken.goal.rawValue)!
            #expect(m.input.filter { $0 == MazeToken.start.rawValue }.count == 1)
            #expect(m.input.filter { $0 == MazeToken.goal.rawValue }.count == 1)
            #expect(!m.input.contains(MazeToken.path.rawValue) && !m.input.contains(MazeToken.pad.rawValue))
            let bfs = MazeRules.distances(m.input, size: size, from: s)
            #expect(bfs.distance[g] == m.pathLength)
            #expect(bfs.paths[g] == 1)
            #expect(m.pathLength >= minPath)
            // Path length in moves = 'o' cells + 1.
            #expect(m.label.filter { $0 == MazeToken.path.rawValue }.count + 1 == m.pathLength)
            #expect(MazeRules.isShortestPathLabel(m.label, input: m.input, size: size))
            // The border is wall.
            #expect((0..<size).allSatisfy { m.input[$0] == MazeToken.wall.rawValue && m.input[$0 * size] == MazeToken.wall.rawValue })
        }
    }

    @Test func loopsMakeSeveralRoutes() throws {
        let perfect = try MazeDataset.generate(MazeDatasetOptions(size: 15, count: 20, split: .train, minPath: 10, loopFraction: 0, seed: 1))
        let loopy = try MazeDataset.generate(MazeDatasetOptions(size: 15, count: 20, split: .train, minPath: 10, loopFraction: 0.3, seed: 1))
        func openCells(_ m: [Maze]) -> Int { m.reduce(0) { $0 + $1.input.filter { $0 != MazeToken.wall.rawValue }.count } }
        // A perfect maze on 7×7 rooms opens 49 rooms and 48 walls; loops open more.
        #expect(perfect.allSatisfy { $0.input.filter { $0 != MazeToken.wall.rawValue }.count == 97 })
        #expect(openCells(loopy) > openCells(perfect))
    }

    @Test func checkerRejectsWrongLabels() throws {
        let m = try MazeDataset.generate(MazeDatasetOptions(size: 11, count: 1, split: .train, minPath: 6, seed: 2))[0]
        var cut = m.label
        cut[cut.firstIndex(of: MazeToken.path.rawValue)!] = MazeToken.open.rawValue
        #expect(!MazeRules.isShortestPathLabel(cut, input: m.input, size: 11))
        var extra = m.label
        if let spare = extra.firstIndex(of: MazeToken.open.rawValue) { extra[spare] = MazeToken.path.rawValue }
        #expect(!MazeRules.isShortestPathLabel(extra, input: m.input, size: 11))
    }

    @Test func trainAndTestShareNoMazeUpToSymmetry() throws {
        let train = try MazeDataset.generate(MazeDatasetOptions(size: 9, count: 300, split: .train, minPath: 6, seed: 0))
        let test = try MazeDataset.generate(MazeDatasetOptions(size: 9, count: 100, split: .test, minPath: 6, seed: 0))
        let trainForms = Set(train.map { MazeDataset.dihedralCanonical($0.input, size: 9) })
        #expect(test.allSatisfy { !trainForms.contains(MazeDataset.dihedralCanonical($0.input, size: 9)) })
        let options = MazeDatasetOptions(size: 9, count: 1, split: .test)
        #expect(test.allSatisfy { MazeDataset.isTest($0, options: options) })
        #expect(train.allSatisfy { !MazeDataset.isTest($0, options: options) })
    }

    @Test func dihedralCanonicalIsInvariant() {
        let n = 5
        let grid: [UInt8] = (0..<(n * n)).map { UInt8($0 * 7 % 5) }
        let rotated = (0..<(n * n)).map { grid[(n - 1 - $0 % n) * n + $0 / n] }
        let mirrored = (0..<(n * n)).map { grid[($0 / n) * n + n - 1 - $0 % n] }
        let form = MazeDataset.dihedralCanonical(grid, size: n)
        #expect(MazeDataset.dihedralCanonical(rotated, size: n) == form)
        #expect(MazeDataset.dihedralCanonical(mirrored, size: n) == form)
    }

    @Test func badOptionsNameTheFlag() {
        func message(_ o: MazeDatasetOptions) -> String {
            do { try o.validate(); return "" } catch { return "\(error)" }
        }
        #expect(message(MazeDatasetOptions(size: 3, count: 1, split: .train)).hasPrefix("--size 3"))
        #expect(message(MazeDatasetOptions(size: 15, count: -1, split: .train)).hasPrefix("--count -1"))
        #expect(message(MazeDatasetOptions(size: 15, count: 1, split: .train, minPath: 1000)).hasPrefix("--min-path 1000"))
        #expect(message(MazeDatasetOptions(size: 15, count: 1, split: .train, loopFraction: 2)).hasPrefix("--loop-fraction"))
    }
}
