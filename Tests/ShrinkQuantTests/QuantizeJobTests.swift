import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

@Suite struct QuantizeJobTests {
    func options(bits: Int = 4, _ granularity: Granularity = .group(64), symmetric: Bool = true) -> QuantizeOptions {
        var o = QuantizeOptions()
        o.bits = bits
        o.granularity = granularity
        o.symmetric = symmetric
        return o
    }

    @Test func defaultModelQuantizesWeightsAndKeepsNormsBiasesAndEmbeddings() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("q")
        let recipe = try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: options(), outputDirectory: out)
        #expect(Set(dir.entries) == ["q"])
        #expect(FileSystem.list(out) == ["config.json", "model.safetensors", "shrink.json"])
        let byName = Dictionary(uniqueKeysWithValues: recipe.tensors.map { ($0.name, $0) })
        #expect(byName["layers.0.weight"]?.action == .quantized)
        #expect(byName["head.weight"]?.action == .quantized)
        #expect(byName["embed.weight"]?.action == .kept)
        #expect(byName["norm.weight"]?.action == .kept)
        #expect(byName["layers.0.bias"]?.action == .kept)
        // 4 bits + one f32 scale per 64 weights + the 16-byte weight_shape.
        #expect(byName["layers.1.weight"]?.bitsPerWeight == 4.5 + 16.0 * 8 / 65536)
        #expect(byName["layers.1.weight"]!.error!.sqnrDB > 15)

        let stored = try SafetensorsFile(path: out + "/model.safetensors")
        #expect(stored.info("layers.1.weight_packed") == TensorInfo(name: "layers.1.weight_packed", dtype: .i32, shape: Shape([256, 32])))
        #expect(stored.info("layers.1.weight_scale")?.shape == Shape([256, 4]))
        #expect(try stored.integers("layers.1.weight_shape") == [256, 256])
        #expect(stored.info("layers.1.weight") == nil)
        // Kept tensors are byte-identical copies.
        let original = try SafetensorsFile(path: Fixtures.defaultModel)
        #expect(Array(try stored.rawBytes("embed.weight")) == Array(try original.rawBytes("embed.weight")))
    }

    @Test func sameInputAndFlagsGiveByteIdenticalOutputs() throws {
        let dir = TemporaryDirectory()
        for name in ["a", "b"] {
            try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: options(bits: 3, .group(32), symmetric: false), outputDirectory: dir.file(name))
        }
        for f in ["model.safetensors", "config.json", "shrink.json"] {
            #expect(fileBytes(dir.file("a/" + f)) == fileBytes(dir.file("b/" + f)), "\(f) differs")
        }
    }

    @Test func dequantizedFileEqualsTheInMemoryReconstruction() throws {
        let dir = TemporaryDirectory()
        for (bits, granularity, symmetric) in [(8, Granularity.channel, true), (4, .group(32), false), (2, .tensor, false), (5, .group(64), true)] {
            let out = dir.file("q\(bits)")
            try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: options(bits: bits, granularity, symmetric: symmetric), outputDirectory: out)
            let restoredPath = dir.file("r\(bits).safetensors")
            try DequantizeJob.run(try CompressedCheckpoint(directory: out), outputPath: restoredPath, dtype: nil)
            let restored = try SafetensorsFile(path: restoredPath)
            let original = try SafetensorsFile(path: Fixtures.defaultModel)
            #expect(restored.tensorNames == original.tensorNames)
            let w = try original.floats("layers.0.weight")
            let q = try RoundToNearest.quantize(w, rows: 256, columns: 128,
                                                scheme: QuantScheme(bits: bits, granularity: granularity, symmetric: symmetric), name: "w")
            #expect(try restored.floats("layers.0.weight") == q.dequantized())
            #expect(try restored.floats("norm.weight") == (try original.floats("norm.weight")))
        }
    }

    @Test func diffOfACompressedDirectoryMatchesTheRecipeErrors() throws {
        let dir = TemporaryDirectory()
        let recipe = try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: options(), outputDirectory: dir.file("q"))
        let report = try TensorDiff.compare(reference: Checkpoint.open(Fixtures.defaultModel), other: CompressedCheckpoint(directory: dir.file("q")))
        #expect(report.sameStructure)
        for t in recipe.tensors where t.action == .quantized {
            let d = report.tensors.first { $0.name == t.name }!
            #expect(abs(d.error.sqnrDB - t.error!.sqnrDB) < 1e-5)  // same sums, other summation order
        }
        #expect(report.tensors.first { $0.name == "embed.weight" }!.error.sqnrDB == .infinity)
    }

    @Test func aNaNInALaterTensorLeavesNoOutputAtAll() throws {
        let dir = TemporaryDirectory()
        var rng = TestRandom(seed: 9)
        var bad = rng.normals(64 * 64)
        bad[100] = .nan
        try writeF32([("a.weight", [64, 64], rng.normals(64 * 64)), ("b.weight", [64, 64], rng.normals(64 * 64)), ("z.weight", [64, 64], bad)],
                     to: dir.file("nan.safetensors"))
        #expect(throws: QuantizationError.nonFinite(tensor: "z.weight", count: 1)) {
            try QuantizeJob.run(try Checkpoint.open(dir.file("nan.safetensors")), options: options(), outputDirectory: dir.file("out"))
        }
        #expect(dir.entries == ["nan.safetensors"])  // no output, no staging leftovers
    }

    @Test func aGroupThatDoesNotDivideARowIsRefusedBeforeWriting() throws {
        let dir = TemporaryDirectory()
        #expect(throws: QuantizationError.badGroup(flag: "--group", group: 48, tensor: "head.weight", columns: 256)) {
            try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: options(bits: 4, .group(48)), outputDirectory: dir.file("out"))
        }
        #expect(dir.entries.isEmpty)
    }

    @Test func flagsOutOfRangeAreRefused() {
        #expect(throws: QuantizationError.unsupportedBits(flag: "--bits", bits: 9)) { try options(bits: 9).validate() }
        #expect(throws: QuantizationError.unsupportedBits(flag: "--bits", bits: 1)) { try options(bits: 1).validate() }
        #expect(throws: QuantizationError.self) { try options(bits: 4, .group(0)).validate() }
        var o = options()
        o.keep = "norm|("
        #expect(throws: QuantizationError.self) { try o.validate() }
    }

    @Test func keepAndIncludePatternsAndEmbeddingsSelectTensors() throws {
        var o = options()
        o.keep = "head"
        o.quantizeEmbeddings = true
        let plan = try QuantizeJob.plan(try Checkpoint.open(Fixtures.defaultModel), options: o)
        let quantized = plan.filter { $0.scheme != nil }.map(\.info.name)
        #expect(quantized == ["embed.weight", "layers.0.weight", "layers.1.weight"])
        o.keep = nil
        o.include = "^layers\\.1\\."
        #expect(try QuantizeJob.plan(try Checkpoint.open(Fixtures.defaultModel), options: o).filter { $0.scheme != nil }.map(\.info.name) == ["layers.1.weight"])
    }

    @Test func anExistingNonEmptyOutputNeedsForceAndIsThenReplacedWhole() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("q")
        try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: options(bits: 8, .channel), outputDirectory: out)
        #expect(throws: FormatError.self) {
            try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: options(), outputDirectory: out)
        }
        try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: options(), outputDirectory: out, overwrite: true)
        let c = try CompressedCheckpoint(directory: out)
        #expect(c.packedWeights["layers.0.weight"]?.layout.scheme.bits == 4)
        #expect(dir.entries == ["q"])
    }

    @Test func configJSONFollowsCompressedTensors() throws {
        let dir = TemporaryDirectory()
        var o = options(bits: 4, .group(64))
        o.keep = "embed"
        try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: o, outputDirectory: dir.file("q"))
        let ours = try StrictJSONParser.parse(fileBytes(dir.file("q/config.json")))["quantization_config"]!
        // Written by compressed-tensors 0.20.0's ModelCompressor for the same modules and scheme.
        let theirs = try StrictJSONParser.parse(fileBytes(Fixtures.path("Tests/Fixtures/pack/config_w4_g64_sym.json")))["quantization_config"]!
        // Targets are a set; `ignore` lists only the unquantized Linear modules there, while a
        // checkpoint cannot tell module classes, so Shrink lists every kept 2-D weight's module.
        func normalized(_ v: JSONValue) -> JSONValue {
            let group = v["config_groups"]!["group_0"]!
            let targets = group["targets"]!.arrayValue!.compactMap(\.stringValue).sorted().map { JSONValue.string($0) }
            return v.setting("config_groups", to: .object([("group_0", group.setting("targets", to: .array(targets)))]))
                .setting("ignore", to: .array([]))
        }
        #expect(normalized(ours) == normalized(theirs))
        #expect(ours["ignore"] == .array([.string("embed")]))
    }
}

@Suite struct DiffTests {
    @Test func aCheckpointComparedWithItselfIsExactEvenWithInfinities() throws {
        // The sharded fixture holds ±Inf in F64/F32 tensors: inf − inf must not make NaN.
        let r = try TensorDiff.compare(reference: Checkpoint.open(Fixtures.path("Tests/Fixtures/sharded")),
                                       other: Checkpoint.open(Fixtures.path("Tests/Fixtures/sharded_reference.safetensors")))
        #expect(r.sameStructure)
        #expect(r.tensors.allSatisfy { $0.error.sqnrDB == .infinity && $0.error.cosine == 1 && $0.error.maxAbsError == 0 })
    }

    @Test func shapeMismatchesAndMissingNamesAreListed() throws {
        let dir = TemporaryDirectory()
        try writeF32([("a", [2, 2], [1, 2, 3, 4]), ("b", [2], [1, 2])], to: dir.file("x.safetensors"))
        try writeF32([("a", [4], [1, 2, 3, 4]), ("c", [2], [1, 2])], to: dir.file("y.safetensors"))
        let r = try TensorDiff.compare(reference: Checkpoint.open(dir.file("x.safetensors")), other: Checkpoint.open(dir.file("y.safetensors")))
        #expect(r.shapeMismatches.map(\.name) == ["a"])
        #expect(r.onlyInReference == ["b"] && r.onlyInOther == ["c"])
        #expect(r.tensors.isEmpty && r.overall == nil)
    }
}

@Suite struct OutputPathTests {
    @Test func missingParentDirectoriesOfAnOutputDirectoryAreCreated() throws {
        let dir = TemporaryDirectory()
        try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: QuantizeOptions(), outputDirectory: dir.file("a/b/q"))
        #expect(FileSystem.list(dir.file("a/b/q")) == ["config.json", "model.safetensors", "shrink.json"])
        #expect(FileSystem.list(dir.file("a/b")) == ["q"])
    }

    @Test func anOutputDirectoryBelowAFileIsRefused() throws {
        let dir = TemporaryDirectory()
        try writeF32([("x", [1], [1])], to: dir.file("file"))
        #expect(throws: FormatError.self) {
            try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: QuantizeOptions(), outputDirectory: dir.file("file/q"))
        }
    }
}
