import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// Runs the built `shrink` binary, as a user would.
struct CLI {
    static let binary: String = {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("shrink").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return dir.appendingPathComponent("shrink").path
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite struct CLITests {
    @Test func inspectJSONListsEveryTensorWithItsBytes() throws {
        let r = try CLI.run(["inspect", Fixtures.defaultModel, "--json"])
        #expect(r.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(json["parameters"] as? Int == 134_794)
        let tensors = json["tensors"] as! [[String: Any]]
        #expect(tensors.count == 10)
        #expect(tensors.first { $0["name"] as? String == "layers.1.weight" }?["bytes"] as? Int == 262_144)
        #expect(r.stderr.isEmpty)
    }

    @Test func quantizeDequantizeDiffEndToEnd() throws {
        let dir = TemporaryDirectory()
        let q = try CLI.run(["quantize", Fixtures.defaultModel, "-o", dir.file("q"), "--bits", "4", "--group", "64", "--asym", "--keep", "norm|bias", "--json"])
        #expect(q.status == 0, "\(q.stderr)")
        let recipe = try Recipe.decoder().decode(Recipe.self, from: Data(q.stdout.utf8))
        #expect(recipe.totals.quantizedTensors == 3)

        let d = try CLI.run(["dequantize", dir.file("q"), "-o", dir.file("r.safetensors"), "--dtype", "bf16", "--quiet"])
        #expect(d.status == 0, "\(d.stderr)")
        #expect(try SafetensorsFile(path: dir.file("r.safetensors")).info("layers.0.weight")?.dtype == .bf16)

        let diff = try CLI.run(["diff", Fixtures.defaultModel, dir.file("r.safetensors"), "--json"])
        #expect(diff.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(diff.stdout.utf8)) as! [String: Any]
        let tensors = report["tensors"] as! [[String: Any]]
        let w = tensors.first { $0["name"] as? String == "layers.0.weight" }!["error"] as! [String: Any]
        #expect((w["sqnr_db"] as! Double) > 15 && (w["sqnr_db"] as! Double) < 40)
        #expect((w["cosine"] as! Double) > 0.99)
        let text = try CLI.run(["diff", Fixtures.defaultModel, dir.file("q")])
        #expect(text.stdout.contains("layers.0.weight") && text.stdout.contains("SQNR"))
    }

    @Test(arguments: [
        (["quantize", "MODEL", "-o", "OUT", "--bits", "9"], "--bits 9"),
        (["quantize", "MODEL", "-o", "OUT", "--group", "0"], "--group 0"),
        (["quantize", "MODEL", "-o", "OUT", "--group", "48"], "--group 48 does not divide"),
        (["quantize", "MODEL", "-o", "OUT", "--keep", "norm|("], "--keep"),
        (["quantize", "MODEL", "-o", "OUT", "--scale-dtype", "f8"], "--scale-dtype"),
        (["quantize", "MISSING", "-o", "OUT"], "no such file"),
        (["dequantize", "MODEL", "-o", "OUT"], "config.json"),
        (["dequantize", "QDIR", "-o", "TMPDIR"], "existing directory"),
        (["dequantize", "QDIR", "-o", "TMPDIR/no/such/x.safetensors"], "does not exist"),
    ])
    func badFlagsAndPathsFailWithOneLineNamingThem(arguments: [String], message: String) throws {
        let dir = TemporaryDirectory()
        let qdir = dir.file("qdir")
        try QuantizeJob.run(try Checkpoint.open(Fixtures.defaultModel), options: QuantizeOptions(), outputDirectory: qdir)
        let args = arguments.map {
            $0.replacingOccurrences(of: "MODEL", with: Fixtures.defaultModel).replacingOccurrences(of: "QDIR", with: qdir)
                .replacingOccurrences(of: "OUT", with: dir.file("out")).replacingOccurrences(of: "MISSING", with: dir.file("missing.safetensors"))
                .replacingOccurrences(of: "TMPDIR", with: dir.path)
        }
        let r = try CLI.run(args)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "stderr: \(r.stderr)")
        #expect(!FileSystem.exists(dir.file("out")))
        #expect(!r.stderr.contains("Fatal error"))
    }
}

@Suite struct CLIHostileInputTests {
    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var file: String
        var stage: String
        var testDescription: String { file }
    }

    static let cases: [Case] = try! JSONDecoder().decode([Case].self, from: Data(fileBytes(Fixtures.path("Tests/Fixtures/hostile/cases.json"))))

    @Test(arguments: cases)
    func everyBrokenFileGivesOneLineAndANonZeroExitWithoutOutput(_ c: Case) throws {
        let dir = TemporaryDirectory()
        let path = Fixtures.path("Tests/Fixtures/hostile/" + c.file)
        let r = try CLI.run(c.stage == "open" ? ["inspect", path] : ["quantize", path, "-o", dir.file("out")])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("shrink: error: "))
        #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(dir.entries.isEmpty)
    }
}

@Suite struct CLIGGUFTests {
    static let file = Fixtures.path("Tests/Fixtures/gguf/types.gguf")

    @Test func inspectListsGGMLTypesAndMetadata() throws {
        let r = try CLI.run(["inspect", Self.file])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("q6_k") && r.stdout.contains("test.strings") && r.stdout.contains("GGUF v3, alignment 32"))
        let j = try CLI.run(["inspect", Self.file, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        #expect((json["tensors"] as! [Any]).count == 20)
        #expect(((json["gguf"] as! [String: Any])["keys"] as! [Any]).count >= 18)
    }

    @Test func dequantizeWritesGGUFPysValuesAndDiffFindsTheVersionsEqual() throws {
        let dir = TemporaryDirectory()
        let r = try CLI.run(["dequantize", Self.file, "-o", dir.file("d.safetensors"), "--dtype", "f32"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try SafetensorsFile(path: dir.file("d.safetensors"))
        let golden = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/gguf/types_dequantized.safetensors"))
        #expect(out.tensorNames == golden.tensorNames)
        for n in golden.tensorNames {
            #expect(out.info(n) == golden.info(n))
            #expect(Array(try out.rawBytes(n)) == Array(try golden.rawBytes(n)), "\(n)")
        }
        let d = try CLI.run(["diff", Self.file, Fixtures.path("Tests/Fixtures/gguf/types_v2.gguf"), "--json"])
        #expect(d.status == 0, "\(d.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as! [String: Any]
        #expect((json["tensors"] as! [Any]).count == 20)
    }
}

@Suite struct CLIHostileGGUFTests {
    static let cases: [String] = FileSystem.list(Fixtures.path("Tests/Fixtures/hostile/gguf")).filter { $0.hasSuffix(".gguf") }.sorted()

    @Test func corpusIsThere() { #expect(Self.cases.count == 46) }

    @Test(arguments: cases)
    func inspectAndDequantizeFailWithOneLineAndWriteNothing(_ file: String) throws {
        let path = Fixtures.path("Tests/Fixtures/hostile/gguf/" + file)
        for args in [["inspect", path], ["dequantize", path, "-o", "OUT"], ["diff", path, path]] {
            let dir = TemporaryDirectory()
            let r = try CLI.run(args.map { $0 == "OUT" ? dir.file("out.safetensors") : $0 })
            #expect(r.status == 1, "\(args[0]) \(file)")
            #expect(r.stderr.hasPrefix("shrink: error: " + path + ": "), "\(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(dir.entries.isEmpty)
        }
    }
}

@Suite struct CLIReasonerTests {
    @Test func evalReportsAccuraciesWithIntervalsAsJSON() throws {
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        let r = try CLI.run(["eval", model, "--data", model + "/data.safetensors", "--json", "--per-puzzle"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(json["puzzles"] as? Int == 3)
        let perStep = json["per_step"] as! [[String: Any]]
        #expect(perStep.count == 2)
        let exact = (json["accuracy"] as! [String: Any])["exact"] as! [String: Double]
        #expect(exact["lower"]! <= exact["estimate"]! && exact["estimate"]! <= exact["upper"]!)
        #expect((json["puzzles_detail"] as! [Any]).count == 3)
    }

    @Test func evalWithFewerStepsRunsThatMany() throws {
        let model = Fixtures.path("Tests/Fixtures/tiny/hrm-rope")
        let r = try CLI.run(["eval", model, "--data", model + "/data.safetensors", "--steps", "1", "--h-cycles", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect((json["depth"] as! [String: Int]) == ["steps": 1, "h_cycles": 1, "l_cycles": 2])
    }

    @Test(arguments: [
        (["--data", "Fixtures/data/sudoku6-test.safetensors"], "seq_len"),
        (["--data", "MODEL/data.safetensors", "--steps", "0"], "--steps"),
        (["--data", "MODEL/model.safetensors"], "shrink data"),
        (["--data", "Fixtures/data/missing.safetensors"], "no such file"),
    ])
    func evalRefusesDataThatDoesNotFit(arguments: [String], message: String) throws {
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-learned")
        let args = ["eval", model] + arguments.map {
            $0.hasPrefix("MODEL") ? $0.replacingOccurrences(of: "MODEL", with: model) : $0.hasPrefix("Fixtures/") ? Fixtures.path($0) : $0
        }
        let r = try CLI.run(args)
        #expect(r.status == 1)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    @Test func accountFromAConfigAloneEqualsTheBytesQuantizeWrites() throws {
        let model = Fixtures.path("Fixtures/models/trm_att_maze7")
        let dir = TemporaryDirectory()
        let q = try CLI.run(["quantize", model, "-o", dir.file("q"), "--bits", "4", "--group", "32", "--quiet"])
        #expect(q.status == 0, "\(q.stderr)")
        let written = try SafetensorsFile(path: dir.file("q/model.safetensors")).infos.reduce(0) { $0 + $1.byteCount }
        let r = try CLI.run(["account", model + "/config.json", "--bits", "4", "--group", "32", "--device", "mcu-4mb", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(json["weight_bytes"] as? Int == written)
        #expect(json["parameters"] as? Int == 132_098)
        #expect((json["fit"] as? [String: Any])?["fits"] as? Bool == true)
        let bad = try CLI.run(["account", model, "--group", "32"])
        #expect(bad.status != 0 && bad.stderr.contains("--group needs --bits"), "\(bad.stderr)")
    }

    @Test func studyRefusesFilesThatAreNotSweeps() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("study-\(UInt32.random(in: 0...UInt32.max)).md").path
        let notSweep = Fixtures.path("Tests/Fixtures/tiny/trm-learned/config.json")
        let r = try CLI.run(["study", notSweep, "-o", out])
        #expect(r.status == 1)
        #expect(r.stderr.contains("config.json: not a `shrink sweep` JSON report"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let missing = try CLI.run(["study", Fixtures.path("study/trm_mlp_sudoku6.json"), "-o", out, "--notes", "/nonexistent/notes.md"])
        #expect(missing.status == 1 && missing.stderr.contains("--notes"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func dataIsByteIdenticalForTheSameSeed() throws {
        let dir = TemporaryDirectory()
        for name in ["a", "b"] {
            let r = try CLI.run(["data", "sudoku", "--size", "4", "--count", "50", "--split", "train", "--givens-min", "6", "--givens-max", "8",
                                 "--seed", "3", "-o", dir.file(name + ".safetensors"), "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(fileBytes(dir.file("a.safetensors")) == fileBytes(dir.file("b.safetensors")))
    }
}

@Suite struct CLICalibrationTests {
    @Test func gptqCalibratesOnTrainingPuzzlesAndRecordsIt() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-learned")
        let r = try CLI.run(["quantize", model, "-o", dir.file("q"), "--bits", "4", "--method", "gptq", "--calib", model + "/data.safetensors", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let recipe = try Recipe.decoder().decode(Recipe.self, from: Data(r.stdout.utf8))
        #expect(recipe.method == "gptq" && recipe.calibration?.puzzles == 3)
        #expect(recipe.tensors.filter { $0.action == .quantized }.allSatisfy { $0.method?.hasPrefix("gptq") == true })
    }

    @Test func aRecipeWithGPTQTensorsNeedsCalibrationAndUsesThePlansPuzzleCount() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-learned")
        try """
        {"models": [{"name": "trm-learned", "calibration_puzzles": 2, "quantize": {
          "inner.L_level.layers.0.mlp.down_proj.weight": {"bits": 4, "strategy": "channel", "method": "gptq"},
          "inner.L_level.layers.0.mlp.gate_up_proj.weight": {"bits": 8, "strategy": "group", "group_size": 8, "method": "rtn"}}}]}
        """.write(toFile: dir.file("plan.json"), atomically: true, encoding: .utf8)
        let refused = try CLI.run(["quantize", model, "-o", dir.file("q"), "--recipe", dir.file("plan.json")])
        #expect(refused.status != 0 && refused.stderr.contains("gptq") && refused.stderr.contains("--calib"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("q")))

        let r = try CLI.run(["quantize", model, "-o", dir.file("q"), "--recipe", dir.file("plan.json"), "--calib", model + "/data.safetensors", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let recipe = try Recipe.decoder().decode(Recipe.self, from: Data(r.stdout.utf8))
        #expect(recipe.calibration?.puzzles == 2)
        let methods = Dictionary(uniqueKeysWithValues: recipe.tensors.filter { $0.action == .quantized }.map { ($0.name, $0.method ?? "") })
        #expect(methods.count == 2)
        #expect(methods["inner.L_level.layers.0.mlp.down_proj.weight"]?.hasPrefix("gptq") == true)
        #expect(methods["inner.L_level.layers.0.mlp.gate_up_proj.weight"]?.hasPrefix("gptq") == false)
    }

    @Test func aCalibrationActivationThatOverflowsStopsWithOneLineAndNoOutput() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb")
        // The same model with gate_up × 1e30: finite weights whose down_proj input overflows to ±Inf.
        let source = try Checkpoint.open(model)
        let overflowing = "inner.L_level.layers.0.mlp.gate_up_proj.weight"
        try writeF32(try source.tensorNames.map { name in
            (name, try source.requireInfo(name).shape.dims, try source.floats(name).map { name == overflowing ? $0 * 1e30 : $0 })
        }, to: dir.file("model.safetensors"))
        try FileManager.default.copyItem(atPath: model + "/config.json", toPath: dir.file("config.json"))
        let r = try CLI.run(["quantize", dir.path, "-o", dir.file("q"), "--bits", "4", "--method", "gptq", "--calib", model + "/data.safetensors"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("shrink: error: calibration stopped: the input of layer 'inner.L_level.layers.0.mlp.down_proj.weight' is "), "\(r.stderr)")
        #expect(r.stderr.contains(" of \(model)/data.safetensors (position ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("q")))
    }

    @Test func calibratingOnATestSplitIsRefused() throws {
        let dir = TemporaryDirectory()
        let r = try CLI.run(["quantize", Fixtures.path("Tests/Fixtures/tiny/trm-learned"), "-o", dir.file("q"), "--method", "gptq",
                             "--calib", Fixtures.path("Fixtures/data/sudoku6-test.safetensors")])
        #expect(r.status == 1 && r.stderr.contains("test split"))
        #expect(dir.entries.isEmpty)
    }
}

@Suite struct CLIShardTests {
    /// `shrink sweep --shard I/3` three times and `shrink merge` write the unsharded sweep's files, apart from the
    /// wall time; a part of another grid is refused with one line naming it.
    @Test func shardedSweepMergesToTheUnshardedFiles() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb")
        let grid = ["--data", model + "/data.safetensors", "--bits", "8,4,2", "--methods", "rtn", "--granularities", "tensor,channel", "--quiet"]
        let whole = try CLI.run(["sweep", model] + grid + ["-o", dir.file("whole.md")])
        #expect(whole.status == 0, "\(whole.stderr)")
        for i in 0..<3 {
            let r = try CLI.run(["sweep", model] + grid + ["--shard", "\(i)/3", "-o", dir.file("part-\(i).json")])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merged = try CLI.run(["merge", dir.file("part-2.json"), dir.file("part-0.json"), dir.file("part-1.json"), "-o", dir.file("merged.md"), "--quiet"])
        #expect(merged.status == 0, "\(merged.stderr)")
        func lines(_ name: String, dropping prefix: String) throws -> [Substring] {
            try String(contentsOfFile: dir.file(name), encoding: .utf8).split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix) }
        }
        #expect(try lines("merged.json", dropping: "\"seconds\"") == lines("whole.json", dropping: "\"seconds\""))
        #expect(try lines("merged.md", dropping: "wall time") == lines("whole.md", dropping: "wall time"))

        let other = try CLI.run(["sweep", model] + grid.map { $0 == "8,4,2" ? "8,4" : $0 } + ["--shard", "1/3", "-o", dir.file("other-1.json")])
        #expect(other.status == 0, "\(other.stderr)")
        let refused = try CLI.run(["merge", dir.file("part-0.json"), dir.file("other-1.json"), dir.file("part-2.json"), "-o", dir.file("bad.md")])
        #expect(refused.status != 0 && refused.stderr.contains("other-1.json: its grid fingerprint") && refused.stderr.split(separator: "\n").count == 1,
                "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("bad.md")))
    }

    /// `shrink plan --shard I/3` measures a third of the tensor options each; `shrink merge` replays the plan on all of
    /// them and writes the unsharded plan's file, byte for byte.
    @Test func shardedPlanMergesToTheUnshardedPlan() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb"), data = model + "/data.safetensors"
        let plan = ["plan", model, "--device", "mcu-4mb", "--max-bytes", "30KB", "--calib", data, "--data", data, "--bits", "8,4",
                    "--methods", "rtn,mse", "--calib-count", "3", "--quiet"]
        let whole = try CLI.run(plan + ["-o", dir.file("whole.json")])
        #expect(whole.status == 0, "\(whole.stderr)")
        var measured = 0
        for i in 0..<3 {
            let r = try CLI.run(plan + ["--shard", "\(i)/3", "-o", dir.file("part-\(i).json")])
            #expect(r.status == 0, "\(r.stderr)")
            measured += try String(contentsOfFile: dir.file("part-\(i).json"), encoding: .utf8).components(separatedBy: "\"index\" : ").count - 1
        }
        #expect(measured > 3 * 4, "each shard measured its share of the options (plus the kept ones)")
        let merged = try CLI.run(["merge", dir.file("part-1.json"), dir.file("part-2.json"), dir.file("part-0.json"), "-o", dir.file("merged.json")])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(fileBytes(dir.file("merged.json")) == fileBytes(dir.file("whole.json")))
        let gap = try CLI.run(["merge", dir.file("part-1.json"), dir.file("part-2.json"), "-o", dir.file("gap.json")])
        #expect(gap.status != 0 && gap.stderr.contains("shards 0 of 3 are missing"), "\(gap.stderr)")
    }
}
