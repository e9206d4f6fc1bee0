import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkPlan
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// Replays the fuzz corpora (FUZZING.md) through the parsers in the normal test suite, without sanitizers: the
/// committed seeds (Fuzz/Corpus/<Target>) and every input a fuzzer crashed on (Tests/Fixtures/fuzz/<Target>,
/// each fixed since). Each input must be refused with a typed error or read whole; a crash fails the suite.
/// (This target links every parser's module, so all the replays live here.)
@Suite struct FuzzCorpusTests {
    /// Inputs per corpus folder: what tools/make_fuzz_seeds.py writes, and the crash regressions.
    static let expected: [String: Int] = [
        "Fuzz/Corpus/FuzzSafetensors": 38, "Fuzz/Corpus/FuzzShardIndex": 6, "Fuzz/Corpus/FuzzStrictJSON": 15,
        "Fuzz/Corpus/FuzzGGUF": 48, "Fuzz/Corpus/FuzzGGMLBlocks": 13, "Fuzz/Corpus/FuzzConfig": 15,
        "Fuzz/Corpus/FuzzRecipe": 19, "Fuzz/Corpus/FuzzDeviceProfile": 3, "Fuzz/Corpus/FuzzTokenizerJSON": 4,
        "Fuzz/Corpus/FuzzGGUFTokenizer": 3, "Fuzz/Corpus/FuzzPuzzleDataset": 7,
        "Fuzz/Corpus/FuzzIDX": 6,
    ]

    static func inputs(_ folder: String) -> [String] {
        FileSystem.list(Fixtures.path(folder)).map { Fixtures.path(folder) + "/" + $0 }
    }

    /// The target's corpus folders and the crash regressions, with the number of files found.
    static func corpus(_ target: String) -> [String] {
        inputs("Fuzz/Corpus/" + target) + inputs("Tests/Fixtures/fuzz/" + target)
    }

    @Test func everyCorpusFolderHoldsTheExpectedInputs() {
        for (folder, count) in Self.expected {
            #expect(Self.inputs(folder).count == count, "\(folder): \(Self.inputs(folder).count) inputs, expected \(count)")
        }
        #expect(Self.regressions.reduce(0) { $0 + Self.inputs("Tests/Fixtures/fuzz/" + $1.key).count } == Self.regressions.values.reduce(0, +))
        for (target, count) in Self.regressions {
            #expect(Self.inputs("Tests/Fixtures/fuzz/" + target).count == count, "Tests/Fixtures/fuzz/\(target)")
        }
    }

    /// Crash inputs the fuzzers found, per target (each fixed; see FUZZING.md "Findings").
    static let regressions: [String: Int] = ["FuzzConfig": 1, "FuzzGGUFTokenizer": 1]

    /// Copies `input` to `name` in a fresh folder (parsers read files by name and look for siblings).
    func staged(_ input: String, as name: String, in dir: TemporaryDirectory) throws -> String {
        let path = dir.file(name)
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: input, toPath: path)
        return path
    }

    @Test func safetensorsAndPuzzleSets() throws {
        let dir = TemporaryDirectory()
        var read = 0
        for input in Self.corpus("FuzzSafetensors") + Self.corpus("FuzzPuzzleDataset") {
            let path = try staged(input, as: "model.safetensors", in: dir)
            if let f = try? SafetensorsFile(path: path) {
                for n in f.tensorNames { _ = try f.rawBytes(n) }
                read += 1
            }
            _ = try? PuzzleDataset(path: path)
        }
        #expect(read > 0)
    }

    /// Each IDX seed split at IDXLABELS as Fuzz/FuzzIDX splits it; the two whole Fashion-MNIST cuts must read.
    @Test func idxImageSets() throws {
        let dir = TemporaryDirectory()
        var read = 0
        for input in Self.corpus("FuzzIDX") {
            let bytes = try #require(FileManager.default.contents(atPath: input))
            let marker = Data("IDXLABELS".utf8)
            let cut = bytes.range(of: marker)
            let images = cut.map { bytes[..<$0.lowerBound] } ?? bytes
            let labels = cut.map { bytes[$0.upperBound...] } ?? Data()
            try Data(images).write(to: URL(fileURLWithPath: dir.file("i")))
            try Data(labels).write(to: URL(fileURLWithPath: dir.file("l")))
            for kind in IDXKind.allCases { _ = try? IDXFile(path: dir.file("i"), kind: kind); _ = try? IDXFile(path: dir.file("l"), kind: kind) }
            if let set = try? LabelledImages(images: dir.file("i"), labels: dir.file("l")) {
                #expect(set.count == 3 && set.rows == 28)
                read += 1
            }
        }
        #expect(read == 2)
    }

    @Test func shardIndexes() throws {
        let dir = TemporaryDirectory()
        for shard in FileSystem.list(Fixtures.path("Tests/Fixtures/sharded")) where shard.hasSuffix(".safetensors") {
            _ = try staged(Fixtures.path("Tests/Fixtures/sharded/" + shard), as: shard, in: dir)
        }
        var opened = 0
        for input in Self.corpus("FuzzShardIndex") {
            if let c = try? ShardedCheckpoint(indexPath: try staged(input, as: "model.safetensors.index.json", in: dir)) {
                for n in c.tensorNames { _ = try c.rawBytes(n) }
                opened += 1
            }
        }
        #expect(opened >= 1, "the committed sharded fixture's index should open")
    }

    @Test func jsonRecipesDevicesAndConfigs() throws {
        let dir = TemporaryDirectory()
        for input in Self.corpus("FuzzStrictJSON") + Self.corpus("FuzzRecipe") + Self.corpus("FuzzDeviceProfile") + Self.corpus("FuzzConfig") {
            let data = try Data(contentsOf: URL(fileURLWithPath: input))
            if let v = try? StrictJSONParser.parse(Array(data)) {
                #expect(try StrictJSONParser.parse(Array(v.serialized().utf8)) == v, "\(input): JSON round trip")
            }
            _ = try? RecipeFile.load(path: try staged(input, as: "recipe.json", in: dir), model: "trm_mlp_sudoku6")
            _ = try? DeviceProfile.parse(data, file: input)
            if let family = try? ModelRegistry.family(config: data, file: input) {
                _ = family.tensorLayout
                _ = family.cost(CostQuery())
            }
        }
    }

    @Test func ggufFilesBlocksAndTokenizers() throws {
        let dir = TemporaryDirectory()
        var decoded = 0
        for input in Self.corpus("FuzzGGUF") + Self.corpus("FuzzGGUFTokenizer") {
            let path = try staged(input, as: "model.gguf", in: dir)
            guard let r = try? GGUFReader(path: path) else { continue }
            for n in r.tensorOrder where (r.tensor(n)?.elementCount ?? 0) <= 1 << 24 {
                _ = try r.floats(n)
                decoded += 1
            }
            if let family = try? ModelRegistry.family(gguf: r) { _ = family.tensorLayout }
            if let t = try? ByteLevelBPETokenizer(gguf: r) { _ = t.decode(t.encode("Hello, world! 北京 🙂")) }
        }
        #expect(decoded > 0)
        for input in Self.corpus("FuzzGGMLBlocks") {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: input)))
            guard let first = bytes.first else { continue }
            let type = GGMLType.allCases[Int(first) % GGMLType.allCases.count]
            let rest = Array(bytes.dropFirst())
            let (fast, reference) = rest.withUnsafeBytes { (type.dequantize($0), type.dequantize($0, reference: true)) }
            #expect(zip(fast, reference).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }, "\(input)")
        }
        for input in Self.corpus("FuzzTokenizerJSON") {
            let path = try staged(input, as: "tokenizer.json", in: dir)
            if let t = try? TokenizerFile.open(path) { _ = t.decode(t.encode("Hello, world! 北京 🙂") + [-1, Int32.max]) }
        }
    }
}
