import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// A copy of a tiny fixture with one thing changed.
func alteredFixture(_ name: String, in dir: TemporaryDirectory, config: ((inout [String: Any]) -> Void)? = nil,
                    tensors: ((inout [(String, [Int], [Float])]) -> Void)? = nil) throws -> String {
    let source = Fixtures.path("Tests/Fixtures/tiny/\(name)")
    let out = dir.file(name)
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    var json = try JSONSerialization.jsonObject(with: Data(fileBytes(source + "/config.json"))) as! [String: Any]
    config?(&json)
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: out + "/config.json"))
    let f = try SafetensorsFile(path: source + "/model.safetensors")
    var list = try f.tensorNames.map { ($0, f.info($0)!.shape.dims, try f.floats($0)) }
    tensors?(&list)
    try writeF32(list, to: out + "/model.safetensors")
    return out
}

@Suite struct BindingTests {
    @Test func aMissingTensorIsNamed() throws {
        let dir = TemporaryDirectory()
        let path = try alteredFixture("trm-learned", in: dir, tensors: { $0.removeAll { $0.0 == "inner.lm_head.weight" } })
        #expect(throws: ModelError.missingTensor(file: path + "/model.safetensors", tensor: "inner.lm_head.weight")) {
            try RecursiveReasoner.load(directory: path)
        }
    }

    @Test func aMisShapedTensorIsNamedWithBothShapes() throws {
        let dir = TemporaryDirectory()
        let path = try alteredFixture("trm-learned", in: dir, tensors: { list in
            let i = list.firstIndex { $0.0 == "inner.q_head.bias" }!
            list[i] = ("inner.q_head.bias", [3], [0, 0, 0])
        })
        #expect(throws: ModelError.wrongShape(file: path + "/model.safetensors", tensor: "inner.q_head.bias", expected: Shape([2]), actual: Shape([3]))) {
            try RecursiveReasoner.load(directory: path)
        }
    }

    @Test func anExtraTensorIsNamed() throws {
        let dir = TemporaryDirectory()
        let path = try alteredFixture("trm-learned", in: dir, tensors: { $0.append(("inner.surprise", [2], [1, 2])) })
        #expect(throws: ModelError.unexpectedTensor(file: path + "/model.safetensors", tensor: "inner.surprise")) {
            try RecursiveReasoner.load(directory: path)
        }
    }

    @Test func aConfigThatDisagreesWithTheWeightsIsCaught() throws {
        let dir = TemporaryDirectory()
        // The checkpoint has attention weights; claiming mlp_t asks for tensors that are not there.
        let path = try alteredFixture("trm-learned", in: dir, config: { $0["mlp_t"] = true })
        #expect(throws: ModelError.self) { try RecursiveReasoner.load(directory: path) }
        let bad = try alteredFixture("hrm-rope", in: dir, config: { $0["num_heads"] = 3 })
        #expect(throws: ModelError.badConfig(file: bad + "/config.json", field: "num_heads", reason: "must divide hidden_size 16 (or set head_dim)")) {
            try RecursiveReasoner.load(directory: bad)
        }
    }

    @Test func nonFiniteWeightsAreRefused() throws {
        let dir = TemporaryDirectory()
        let path = try alteredFixture("trm-learned", in: dir, tensors: { list in
            let i = list.firstIndex { $0.0 == "inner.L_init" }!
            list[i].2[3] = .nan
        })
        #expect(throws: ModelError.nonFinite(file: path + "/model.safetensors", tensor: "inner.L_init")) {
            try RecursiveReasoner.load(directory: path)
        }
    }

    @Test func tokensOutsideTheVocabularyAreRefused() throws {
        let m = try RecursiveReasoner.load(directory: Fixtures.path("Tests/Fixtures/tiny/trm-learned"))
        let inputs = [Int32](repeating: 9, count: m.config.seqLen)
        #expect(throws: ModelError.self) { try m.run(inputs: inputs, puzzleIdentifiers: [0], batch: 1) { _, _ in } }
    }

    @Test func aCompressedDirectoryIsAModelToo() throws {
        // `shrink quantize` keeps the model's config.json next to quantization_config,
        // so a compressed directory loads like the original; at 8 bits it stays close.
        let dir = TemporaryDirectory()
        let source = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        var o = QuantizeOptions()
        o.bits = 8
        try QuantizeJob.run(try Checkpoint.open(source), options: o, outputDirectory: dir.file("q8"))
        let full = try RecursiveReasoner.load(directory: source)
        let q8 = try RecursiveReasoner.load(directory: dir.file("q8"))
        let golden = try SafetensorsFile(path: source + "/golden.safetensors")
        let inputs = try golden.integers("inputs").map { Int32($0) }, ids = try golden.integers("puzzle_identifiers").map { Int32($0) }
        var a: [Float] = [], b: [Float] = []
        try full.run(inputs: inputs, puzzleIdentifiers: ids, batch: ids.count) { _, out in a = out.logits }
        try q8.run(inputs: inputs, puzzleIdentifiers: ids, batch: ids.count) { _, out in b = out.logits }
        var stats = ErrorStatistics()
        stats.add(reference: a, output: b)
        #expect(stats.cosine > 0.999 && stats.cosine < 1, "cosine \(stats.cosine)")
    }
}
