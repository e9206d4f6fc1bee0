import Foundation
import ShrinkTestSupport
import Testing

/// `shrink plan --stack`: a config-only stack through the CLI (table, JSON file, budget verdicts), and refusals
/// that are one line naming the manifest and the field.
@Suite struct StackPlanCLITests {
    static let qwen = Fixtures.path("Fixtures/configs/qwen2.5-0.5b/config.json")

    static func manifest(_ dir: TemporaryDirectory, _ json: String) throws -> String {
        try json.write(toFile: dir.file("stack.json"), atomically: true, encoding: .utf8)
        return dir.file("stack.json")
    }

    @Test func aConfigOnlyStackWritesItsPlanAndSaysWhetherItFits() throws {
        let dir = TemporaryDirectory()
        let stack = try Self.manifest(dir, #"{"budget": "1GB", "components": [{"name": "qwen", "config": "\#(Self.qwen)", "context": 2048, "recipe": {"bits": 4, "group": 32}}]}"#)
        let r = try CLI.run(["plan", "--stack", stack, "--device", "jetson-orin-nano-8gb", "-o", dir.file("plan.json")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("accounted from config, not measured") && r.stdout.contains("fits jetson-orin-nano-8gb")
                && r.stdout.contains("fits the budget"), "\(r.stdout)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("plan.json")))) as? [String: Any])
        let totals = try #require(json["totals"] as? [String: Int])
        #expect(json["fits_budget"] as? Bool == true && totals["kv_cache_bytes"] == 24 * 2 * 2 * 64 * 2048 * 2)
        // --budget overrides the manifest's: 100 MB does not hold it.
        let tight = try CLI.run(["plan", "--stack", stack, "--device", "jetson-orin-nano-8gb", "--budget", "100MB"])
        #expect(tight.status == 0 && tight.stdout.contains("does not fit the budget"), "\(tight.stdout)\(tight.stderr)")
    }

    @Test func refusalsAreOneLineNamingTheField() throws {
        let dir = TemporaryDirectory()
        let stack = try Self.manifest(dir, #"{"components": [{"name": "qwen", "config": "\#(Self.qwen)", "recipe": {"bits": 4}}]}"#)
        let noContext = try CLI.run(["plan", "--stack", stack, "--device", "jetson-orin-nano-8gb"])
        #expect(noContext.status != 0 && noContext.stderr.contains("stack.json: stack manifest field 'components[0].context' is missing"), "\(noContext.stderr)")
        #expect(noContext.stderr.split(separator: "\n").count == 1, "\(noContext.stderr)")
        let badBudget = try CLI.run(["plan", "--stack", stack, "--device", "jetson-orin-nano-8gb", "--budget", "lots"])
        #expect(badBudget.status != 0 && badBudget.stderr.contains("--budget 'lots' is not a size"), "\(badBudget.stderr)")
        let noDevice = try CLI.run(["plan", "--stack", stack])
        #expect(noDevice.status != 0 && noDevice.stderr.contains("--device is required"), "\(noDevice.stderr)")
        let withModels = try CLI.run(["plan", "--stack", stack, Fixtures.path("Fixtures/models/vae_tiny64"), "--device", "mcu-4mb"])
        #expect(withModels.status != 0 && withModels.stderr.contains("give no MODEL arguments"), "\(withModels.stderr)")
    }
}
