import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// What the registry and model locations change for users.
@Suite struct PipelineCLITests {
    @Test func compareTakesAWeightsFileAndUsesTheConfigBesideIt() throws {
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        let dir = TemporaryDirectory()
        let q = try CLI.run(["quantize", model, "-o", dir.file("q"), "--bits", "8", "--quiet"])
        #expect(q.status == 0, "\(q.stderr)")
        let byFile = try CLI.run(["compare", model + "/model.safetensors", dir.file("q/model.safetensors"), "--data", model + "/data.safetensors", "--json"])
        #expect(byFile.status == 0, "\(byFile.stderr)")
        let byDirectory = try CLI.run(["compare", model, dir.file("q"), "--data", model + "/data.safetensors", "--json"])
        #expect(byDirectory.status == 0, "\(byDirectory.stderr)")
        // The same models, however named.
        func figures(_ json: String) throws -> [String: Any] {
            var j = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            for side in ["original", "compressed"] { var s = j[side] as! [String: Any]; s["model"] = nil; j[side] = s }
            return j
        }
        #expect(NSDictionary(dictionary: try figures(byFile.stdout)).isEqual(to: try figures(byDirectory.stdout)))
        let e = try CLI.run(["eval", dir.file("q/model.safetensors"), "--data", model + "/data.safetensors", "--quiet"])
        #expect(e.status == 0, "\(e.stderr)")
    }

    @Test func accountOnMiniLMReportsABertOf22_71MParameters() throws {
        let config = Fixtures.path("models/minilm/config.json")
        guard FileSystem.exists(config) else { Issue.record("\(config) is missing: run tools/fetch_real.sh"); return }
        let r = try CLI.run(["account", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("bert, 22.71M parameters"), "\(r.stdout)")
    }

    @Test func compareSentencesOnTooShortATextIsOneLineNamingTheFile() throws {
        let model = Fixtures.path("models/minilm")
        guard FileSystem.exists(model + "/model.safetensors") else { Issue.record("\(model) is missing: run tools/fetch_real.sh"); return }
        let dir = TemporaryDirectory()
        try "It was a truth. It was another.".write(toFile: dir.file("t.txt"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["compare", model, model, "--sentences", dir.file("t.txt"), "--quiet"])
        #expect(r.status == 1)
        #expect(r.stderr.filter { $0 == "\n" }.count == 1 && r.stderr.contains(dir.file("t.txt")) && r.stderr.contains("holds 2 sentences"), "\(r.stderr)")
        let neither = try CLI.run(["compare", model, model])
        #expect(neither.status != 0 && neither.stderr.contains("--sentences"), "\(neither.stderr)")
    }

    @Test func accountOnAConfigNoFamilyClaimsNamesItAndTheKnownFamilies() throws {
        let dir = TemporaryDirectory()
        try #"{"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_model": 512, "num_layers": 6, "num_heads": 8, "vocab_size": 32128}"#
            .write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["account", dir.file("config.json")])
        #expect(r.status == 1)
        #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("'t5'") && r.stderr.contains("T5ForConditionalGeneration") && r.stderr.contains("trm/hrm") && r.stderr.contains("decoder"), "\(r.stderr)")
        #expect(!r.stdout.contains("parameters"))
    }

    @Test(arguments: [
        (#"{"quantize": {"inner.lm_head.weight": {"bits": 4, "strategy": "group", "method": "rtn"}}}"#, "inner.lm_head.weight"),
        (#"{"quantize": {"inner.lm_head.weight": {"bits": 4, "strategy": "channel", "method": "fancy"}}}"#, "method 'fancy' is unknown"),
        (#"{"quantize": {"inner.lm_head.weight": {"bits": 12, "strategy": "channel", "method": "rtn"}}}"#, "bits 12"),
        (#"{"models": [{"name": "a", "quantize": {}}, {"name": "b", "quantize": {}}]}"#, "has no plan for model"),
        (#"{"device": "mcu"}"#, "no 'quantize' object"),
        ("not json", "not a JSON recipe"),
    ])
    func aBadRecipeFileIsOneLineNamingTheEntry(file: String, message: String) throws {
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        let dir = TemporaryDirectory()
        try file.write(toFile: dir.file("plan.json"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["quantize", model, "-o", dir.file("out"), "--recipe", dir.file("plan.json")])
        #expect(r.status == 1)
        #expect(r.stderr.contains(message) && r.stderr.contains(dir.file("plan.json")), "\(r.stderr)")
        #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
    }
}
