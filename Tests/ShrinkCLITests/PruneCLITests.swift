import Foundation
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// Runs the binary with `arguments` and expects a failure whose message contains `message`, and nothing at `output`.
func expectRefused(_ arguments: [String], _ message: String, output: String) throws {
    let r = try CLI.run(arguments)
    #expect(r.status != 0)
    #expect(r.stderr.contains(message), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: output))
}

/// `shrink quantize --prune`: the flags, the recipe they write, and eval on the pruned checkpoint.
@Suite struct PruneCLITests {
    static let model = Fixtures.path("Tests/Fixtures/tiny/trm-learned")

    @Test func sparseGPTJointlyWithGPTQRecordsTheSparsityPerTensor() throws {
        let dir = TemporaryDirectory()
        let r = try CLI.run(["quantize", Self.model, "-o", dir.file("q"), "--bits", "4", "--method", "gptq", "--prune", "sparsegpt",
                             "--sparsity", "2:4", "--calib", Self.model + "/data.safetensors", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let recipe = try Recipe.decoder().decode(Recipe.self, from: Data(r.stdout.utf8))
        let quantized = recipe.tensors.filter { $0.action == .quantized }
        #expect(!quantized.isEmpty)
        for t in quantized {
            #expect(t.sparsity == "2:4" && t.measuredSparsity == 0.5 && t.sparseFormat == "dense", "\(t.name)")
            #expect(t.prune?.hasPrefix("sparsegpt") == true && t.method?.hasPrefix("gptq") == true)
        }
        let config = try String(contentsOfFile: dir.file("q/config.json"), encoding: .utf8)
        #expect(config.contains(#""sparsity_structure": "2:4""#) && config.contains(#""format": "pack-quantized""#))
    }

    @Test func wandaWithoutBitsStoresSparseAndEvalRunsOnIt() throws {
        let dir = TemporaryDirectory()
        let q = try CLI.run(["quantize", Self.model, "-o", dir.file("p"), "--prune", "wanda", "--sparsity", "0.5",
                             "--calib", Self.model + "/data.safetensors", "--quiet"])
        #expect(q.status == 0, "\(q.stderr)")
        let recipe = try Recipe.decoder().decode(Recipe.self, from: Data(contentsOf: URL(fileURLWithPath: dir.file("p/shrink.json"))))
        #expect(recipe.format == "compressed-tensors/sparse-bitmask" && recipe.method == "prune wanda 0.5")
        #expect(recipe.tensors.contains { $0.action == .pruned })
        let e = try CLI.run(["eval", dir.file("p"), "--data", Self.model + "/data.safetensors", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        #expect(json["puzzles"] as? Int == 3)
    }

    @Test(arguments: [
        (["--prune", "random", "--sparsity", "0.5"], "--prune 'random'"),
        (["--prune", "magnitude"], "--sparsity"),
        (["--prune", "magnitude", "--sparsity", "3:4"], "--sparsity '3:4'"),
        (["--prune", "magnitude", "--sparsity", "1.5"], "--sparsity '1.5'"),
        (["--sparsity", "0.5"], "--sparsity needs --prune"),
        (["--prune", "wanda", "--sparsity", "0.5"], "--calib"),
        (["--prune", "wanda", "--sparsity", "0.5", "--sparsity-scope", "global", "--calib", "MODEL/data.safetensors"], "--sparsity-scope global"),
        (["--prune", "magnitude", "--sparsity", "2:4", "--sparsity-scope", "global"], "--sparsity-scope global"),
        (["--prune", "magnitude", "--sparsity", "0.5", "--sparsity-scope", "all"], "--sparsity-scope 'all'"),
        (["--prune", "magnitude", "--sparsity", "0.5", "--bits", "4", "--method", "awq", "--calib", "MODEL/data.safetensors"], "--prune: AWQ"),
        (["--prune", "magnitude", "--sparsity", "0.5", "--bits", "4", "--grid", "ggml", "--group", "8"], "--grid"),
    ])
    func badPruningFlagsAreOneLineErrorsNamingTheFlag(arguments: [String], message: String) throws {
        let dir = TemporaryDirectory()
        try expectRefused(["quantize", Self.model, "-o", dir.file("q")] + arguments.map { $0.replacingOccurrences(of: "MODEL", with: Self.model) },
                          message, output: dir.file("q"))
    }
}

/// `shrink prune --structured mlp|heads` and the sweep's pruning flags, end to end through the binary.
@Suite struct StructuredPruneCLITests {
    static let model = Fixtures.path("Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb")

    @Test func theShrunkModelEvaluatesAndItsReportStatesTheWidths() throws {
        let dir = TemporaryDirectory()
        let r = try CLI.run(["prune", Self.model, "--sparsity", "0.25", "-o", dir.file("p"), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let groups = json["groups"] as! [[String: Any]]
        #expect(groups.count == 2 && groups.allSatisfy { $0["width_before"] as? Int == 256 && $0["width_after"] as? Int == 192 })
        let config = try String(contentsOfFile: dir.file("p/config.json"), encoding: .utf8)
        #expect(config.contains(#""intermediate_size": 192"#) && config.contains(#""intermediate_size_t": 192"#))
        let e = try CLI.run(["eval", dir.file("p"), "--data", Self.model + "/data.safetensors", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
    }

    /// Heads: num_heads shrinks and head_dim is written (hidden_size / num_heads no longer gives it); the smaller
    /// model is compared with the original like any compressed copy.
    @Test func removingHeadsWritesNumHeadsAndHeadDim() throws {
        let dir = TemporaryDirectory(), hrm = Fixtures.path("Tests/Fixtures/tiny/hrm-rope")
        let r = try CLI.run(["prune", hrm, "--structured", "heads", "--sparsity", "0.5", "-o", dir.file("p"), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let groups = json["groups"] as! [[String: Any]]
        #expect(json["target"] as? String == "heads")
        #expect(groups.count == 2 && groups.allSatisfy { $0["width_before"] as? Int == 2 && $0["width_after"] as? Int == 1 && $0["unit"] as? Int == 8 })
        let config = try String(contentsOfFile: dir.file("p/config.json"), encoding: .utf8)
        #expect(config.contains(#""num_heads": 1"#) && config.contains(#""head_dim": 8"#) && config.contains(#""hidden_size": 16"#))
        let c = try CLI.run(["compare", hrm, dir.file("p"), "--data", hrm + "/data.safetensors", "--json"])
        #expect(c.status == 0, "\(c.stderr)")
    }

    @Test(arguments: [
        (["prune", "MODEL", "--sparsity", "1.5", "-o", "OUT"], "--sparsity 1.5"),
        (["prune", "MODEL", "--sparsity", "0.5", "--method", "taylor", "-o", "OUT"], "--method 'taylor'"),
        (["prune", "MODEL", "--sparsity", "0.5", "--method", "wanda", "-o", "OUT"], "--calib"),
        (["prune", "MODEL", "--sparsity", "0.5", "--structured", "heads", "-o", "OUT"], "has no attention heads to remove"),
        (["prune", "MODEL", "--sparsity", "0.5", "--structured", "attention", "-o", "OUT"], "--structured 'attention' is unknown; use mlp or heads"),
        (["sweep", "MODEL", "--data", "MODEL/data.safetensors", "--prune", "wanda"], "--prune wanda needs --calib"),
        (["sweep", "MODEL", "--data", "MODEL/data.safetensors", "--bits", "none"], "--bits none needs --prune"),
        (["sweep", "MODEL", "--data", "MODEL/data.safetensors", "--prune", "magnitude", "--ranks", "4", "--low-rank-method", "svd"], "--ranks compensates quantization"),
        (["plan", "MODEL", "--device", "mcu-4mb", "--calib", "MODEL/data.safetensors", "--data", "MODEL/data.safetensors", "--ranks", "0"], "--ranks: '0'"),
    ])
    func badFlagsAreOneLineErrorsNamingTheFlag(arguments: [String], message: String) throws {
        let dir = TemporaryDirectory()
        try expectRefused(arguments.map { $0.replacingOccurrences(of: "MODEL", with: Self.model).replacingOccurrences(of: "OUT", with: dir.file("p")) },
                          message, output: dir.file("p"))
    }
}
