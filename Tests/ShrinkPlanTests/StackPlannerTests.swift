import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkPlan
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// `shrink plan --stack`: the manifest's errors name the file and the field; a stack of a trained VAE, the tiny
/// random Llama (given a byte-level tokenizer) and a config-only Qwen2.5-0.5B is compressed, measured and
/// accounted, and its totals are the sums of what each part holds; the same inputs give the same bytes.
@Suite struct StackPlannerTests {
    static let jetson = try! DeviceProfile.resolve("jetson-orin-nano-8gb")
    static let qwenConfig = Fixtures.path("Fixtures/configs/qwen2.5-0.5b/config.json")
    static let testImages = Fixtures.path("data/fashion-mnist/t10k-images-idx3-ubyte")

    static func parse(_ json: String) throws -> StackManifest { try StackManifest.parse(Data(json.utf8), file: "stack.json") }

    /// Each hostile manifest fails with one line naming the file and the field.
    @Test(arguments: [
        ("{", "(document)"),
        ("[]", "(document)"),
        (#"{"name": "x"}"#, "components"),
        (#"{"components": []}"#, "components"),
        (#"{"components": [{"model": "m"}]}"#, "components[0].name"),
        (#"{"components": [{"name": "a"}]}"#, "components[0].model"),
        (#"{"components": [{"name": "a", "model": "m", "config": "c"}]}"#, "components[0].config"),
        (#"{"components": [{"name": "a", "model": "m", "recpie": {}}]}"#, "components[0].recpie"),
        (#"{"components": [{"name": "a", "model": "m"}, {"name": "a", "model": "n"}]}"#, "components[1].name"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": 9}}]}"#, "components[0].recipe.bits"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": "8"}}]}"#, "components[0].recipe.bits"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"method": "rtn"}}]}"#, "components[0].recipe.bits"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": 4, "granularity": "row"}}]}"#, "components[0].recipe.granularity"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": 4, "granularity": "group"}}]}"#, "components[0].recipe.group"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": 4, "group": 0}}]}"#, "components[0].recipe.group"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": 4, "method": "magic"}}]}"#, "components[0].recipe.method"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": 4, "grid": "hex"}}]}"#, "components[0].recipe.grid"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": 4, "scale_dtype": "i8"}}]}"#, "components[0].recipe.scale_dtype"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"file": "p.json", "bits": 4}}]}"#, "components[0].recipe.bits"),
        (#"{"components": [{"name": "a", "model": "m", "recipe": {"bits": 4, "tensors": {"w": {"bits": 4}}}}]}"#, "components[0].recipe.tensors.w"),
        (#"{"components": [{"name": "a", "model": "m", "context": 0}]}"#, "components[0].context"),
        (#"{"components": [{"name": "a", "model": "m", "kv_cache_dtype": "q4"}]}"#, "components[0].kv_cache_dtype"),
        (#"{"components": [{"name": "a", "model": "m", "evaluation": {"limit": 3}}]}"#, "components[0].evaluation.data"),
        (#"{"components": [{"name": "a", "model": "m", "evaluation": {"data": "d", "limit": 0}}]}"#, "components[0].evaluation.limit"),
        (#"{"components": [{"name": "a", "model": "m", "evaluation": {"data": "d", "context": 7}}]}"#, "components[0].evaluation.context"),
        (#"{"components": [{"name": "a", "config": "c", "evaluation": {"data": "d"}}]}"#, "components[0].evaluation"),
        (#"{"components": [{"name": "a", "config": "c", "recipe": {"bits": 4, "method": "gptq"}}]}"#, "components[0].recipe"),
        (#"{"budget": "lots", "components": [{"name": "a", "model": "m"}]}"#, "budget"),
        (#"{"budget": -1, "components": [{"name": "a", "model": "m"}]}"#, "budget"),
        (#"{"budget": "0GB", "components": [{"name": "a", "model": "m"}]}"#, "budget"),
    ])
    func hostileManifestsNameTheField(_ json: String, _ field: String) {
        do {
            _ = try Self.parse(json)
            Issue.record("accepted: \(json)")
        } catch let e as PlanError {
            guard case let .badStack(file, f, _) = e else { Issue.record("\(e)"); return }
            #expect(file == "stack.json" && f == field, "\(e)")
            #expect(!e.description.contains("\n") && e.description.hasPrefix("stack.json: stack manifest field '\(field)'"), "\(e)")
        } catch { Issue.record("untyped error \(error)") }
    }

    @Test func sizesAndTheCommittedManifestParse() throws {
        #expect(StackManifest.parseBytes("1GB") == 1_000_000_000 && StackManifest.parseBytes("1GiB") == 1 << 30)
        #expect(StackManifest.parseBytes("512 MB") == 512_000_000 && StackManifest.parseBytes("4096") == 4096)
        #expect(StackManifest.parseBytes("-1GB") == nil && StackManifest.parseBytes("GB") == nil && StackManifest.parseBytes("1e30GB") == nil)
        let m = try StackManifest.load(Fixtures.path("plans/stacks/jetson-stack-manifest.json"))
        #expect(m.budgetBytes == 1_000_000_000 && m.device == "jetson-orin-nano-8gb")
        #expect(m.components.map(\.name) == ["tiny-vae", "vision-puzzle-vae", "smollm2-135m", "qwen2.5-0.5b"])
        let smol = m.components[2]
        #expect(smol.context == 2048 && smol.kvCacheDType == .f16 && smol.recipe?.method == .gptq && smol.recipe?.grid == .ggmlSigned && smol.recipe?.actOrder == true)
        #expect(smol.recipe?.tensors["model.embed_tokens.weight"] == TensorChoice(bits: 8, granularity: .group(32), method: .rtn, grid: .ggmlSigned))
        #expect(m.components[3].source == .config("Fixtures/configs/qwen2.5-0.5b/config.json"))
    }

    /// Errors found before anything is measured: missing files, a family a stack cannot measure, a decoder
    /// without its context, data the measurement needs.
    @Test func checksEveryComponentBeforeMeasuring() throws {
        let dir = TemporaryDirectory()
        try #"{"model_type": "gpt2", "n_layer": 2}"#.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        let vae = Fixtures.path("Fixtures/models/vae_vision_puzzle"), llama = Fixtures.path("Tests/Fixtures/llama/llama-tiny")
        var cases: [(String, String)] = [
            (#"{"name": "a", "model": "/nonexistent/model"}"#, "components[0].model"),
            (#"{"name": "a", "config": "\#(dir.file("config.json"))"}"#, "components[0].config"),
            (#"{"name": "a", "config": "\#(Self.qwenConfig)"}"#, "components[0].context"),
            (#"{"name": "a", "config": "\#(Self.qwenConfig)", "context": 40000}"#, "components[0].context"),
            (#"{"name": "a", "model": "\#(vae)", "context": 16}"#, "components[0].context"),
            (#"{"name": "a", "model": "\#(vae)", "recipe": {"bits": 8}}"#, "components[0].evaluation"),
            (#"{"name": "a", "model": "\#(vae)", "recipe": {"bits": 8, "method": "gptq"}, "evaluation": {"data": "/nonexistent/t10k-images-idx3-ubyte"}}"#, "components[0].calibration"),
            (#"{"name": "a", "model": "\#(vae)", "recipe": {"bits": 8}, "evaluation": {"data": "/nonexistent/t10k-images-idx3-ubyte"}}"#, "components[0].evaluation.data"),
            (#"{"name": "a", "model": "\#(llama)", "context": 64, "recipe": {"bits": 8, "method": "gptq"}, "calibration": {"data": "/tmp"}, "evaluation": {"data": "/tmp"}}"#, "components[0].evaluation.data"),
        ]
        try #"{"quantize": {"encoder.conv_in.weight": {"bits": 4, "strategy": "channel", "method": "gptq"}}}"#
            .write(toFile: dir.file("gptq-plan.json"), atomically: true, encoding: .utf8)
        let images = #""evaluation": {"data": "\#(Self.testImages)"}"#
        cases += [
            (#"{"name": "a", "model": "\#(vae)", "recipe": {"file": "\#(dir.file("missing.json"))"}, \#(images)}"#, "components[0].recipe.file"),
            (#"{"name": "a", "model": "\#(vae)", "recipe": {"file": "\#(dir.file("config.json"))"}, \#(images)}"#, "components[0].recipe.file"),
            (#"{"name": "a", "model": "\#(vae)", "recipe": {"file": "\#(dir.file("gptq-plan.json"))"}, \#(images)}"#, "components[0].calibration"),
        ]
        for (component, field) in cases {
            let m = try Self.parse(#"{"components": [\#(component)]}"#)
            #expect {
                try StackPlanner.run(m, device: Self.jetson)
            } throws: { e in
                guard case let .badStack(_, f, _)? = e as? PlanError else { return false }
                return f == field
            }
        }
    }

    static func tinyStack(_ dir: TemporaryDirectory, budget: String) throws -> StackManifest {
        #expect(FileManager.default.fileExists(atPath: testImages), "Fashion-MNIST is missing: run tools/fetch_real.sh")
        let (model, calibration, evaluation) = try TinyDecoder.setUp(in: dir)
        return try parse("""
        {"name": "tiny", "budget": "\(budget)", "components": [
          {"name": "vae", "model": "\(Fixtures.path("Fixtures/models/vae_vision_puzzle"))", "recipe": {"bits": 8, "granularity": "channel"},
           "evaluation": {"data": "\(testImages)", "limit": 100}},
          {"name": "llm", "model": "\(model)", "context": 64, "kv_cache_dtype": "f32",
           "recipe": {"bits": 8, "group": 16, "method": "gptq"},
           "calibration": {"data": "\(calibration)", "count": 2, "context": 32},
           "evaluation": {"data": "\(evaluation)", "limit": 3, "context": 32, "split": "test"}},
          {"name": "qwen", "config": "\(qwenConfig)", "context": 2048,
           "recipe": {"bits": 4, "group": 32, "tensors": {"model.embed_tokens.weight": {"bits": 8, "strategy": "group", "group_size": 32, "method": "rtn"}}}}
        ]}
        """)
    }

    /// A plan or recipe file as the recipe: exactly its tensors are compressed, and the bytes are what it predicts.
    @Test func aRecipeFileIsAppliedAsQuantizeRecipeAppliesIt() throws {
        #expect(FileManager.default.fileExists(atPath: Self.testImages), "Fashion-MNIST is missing: run tools/fetch_real.sh")
        let dir = TemporaryDirectory()
        let vae = Fixtures.path("Fixtures/models/vae_vision_puzzle")
        let choice = TensorChoice(bits: 4, granularity: .channel, method: .rtn)
        let account = ModelAccount(try ModelRegistry.family(config: vae))
        let chosen = account.tensors.filter { $0.shape.count == 4 }.map(\.name).prefix(2)
        #expect(chosen.count == 2)
        let recipe = Dictionary(uniqueKeysWithValues: chosen.map { ($0, choice) })
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        try e.encode(["quantize": recipe]).write(to: URL(fileURLWithPath: dir.file("plan.json")))
        let m = try Self.parse(#"{"components": [{"name": "v", "model": "\#(vae)", "recipe": {"file": "\#(dir.file("plan.json"))"}, "evaluation": {"data": "\#(Self.testImages)", "limit": 20}}]}"#)
        let p = try StackPlanner.run(m, device: Self.jetson).components[0]
        #expect(p.measured && p.weightBytes == account.weightBytes(recipe) && p.weightBytes < p.originalWeightBytes)
        #expect(p.recipe == "recipe file \(dir.file("plan.json"))" && p.quality.image?.images == 20)
    }

    @Test func aTinyStackAddsUpAndIsDeterministic() throws {
        let dir = TemporaryDirectory()
        let manifest = try Self.tinyStack(dir, budget: "1GB")
        let plan = try StackPlanner.run(manifest, device: Self.jetson)
        #expect(plan.components.map(\.name) == ["vae", "llm", "qwen"])
        let (vae, llm, qwen) = (plan.components[0], plan.components[1], plan.components[2])

        // The VAE: int8 per channel on its 8 convolution kernels and 3 linear layers, measured on 100 test images.
        let vaeFamily = try ModelRegistry.family(config: Fixtures.path("Fixtures/models/vae_vision_puzzle"))
        let vaeAccount = ModelAccount(vaeFamily)
        let vaeRecipe = Dictionary(uniqueKeysWithValues: vaeAccount.tensors.filter { $0.shape.count >= 2 }.map { ($0.name, TensorChoice(bits: 8, granularity: .channel, method: .rtn)) })
        #expect(vaeRecipe.count == 11)
        #expect(vae.measured && vae.weightBytesFrom == "written" && vae.weightBytes == vaeAccount.weightBytes(vaeRecipe))
        #expect(vae.originalWeightBytes == 4 * 340_289 && vae.parameters == 340_289)
        #expect(vae.kvCache == nil && vae.activationBytes == vaeFamily.cost(CostQuery()).arena.totalBytes)
        let image = try #require(vae.quality.image)
        #expect(image.images == 100 && abs(image.negativeELBODifference.estimate) < 0.5 && image.latentCosine.estimate > 0.999)

        // The decoder: GPTQ int8 g16 on its 14 block weights; the untied head, outside the blocks, is kept by GPTQ's
        // sequential mode. Bytes are what the file holds, as the accounting predicts.
        let llmFamily = try ModelRegistry.family(config: Fixtures.path("Tests/Fixtures/llama/llama-tiny"))
        let cfg = try #require(llmFamily as? LlamaFamily).config
        let kvBytes = cfg.layers * 2 * cfg.kvHeads * cfg.headDim * 64 * 4
        #expect(llm.kvCache == StackPlanner.KVCache(layers: cfg.layers, kvHeads: cfg.kvHeads, headDim: cfg.headDim, context: 64, dtype: "f32", bytes: kvBytes))
        let arena = llmFamily.cost(CostQuery(context: 64)).arena
        #expect(arena.buffer("kv_cache")?.bytes == kvBytes, "an F32 cache is the arena's own kv_cache buffer")
        #expect(llm.activationBytes == arena.totalBytes - kvBytes && llm.workingMemoryBytes == arena.totalBytes)
        let llmAccount = ModelAccount(llmFamily)
        let inBlocks = llmAccount.tensors.filter { $0.quantizable && $0.name.hasPrefix("model.layers.") }
        #expect(inBlocks.count == 14)
        let llmRecipe = Dictionary(uniqueKeysWithValues: inBlocks.map { ($0.name, TensorChoice(bits: 8, granularity: .group(16), method: .gptq)) })
        #expect(llm.measured && llm.weightBytes == llmAccount.weightBytes(llmRecipe) && llm.weightBytes < llm.originalWeightBytes)
        let language = try #require(llm.quality.language)
        #expect(language.chunks == 3 && language.kld.value > 0 && language.kld.value < 0.05)
        #expect(llm.quality.label?.evidence == .exploratory, "3 chunks are too few to validate")

        // The config-only Qwen2.5-0.5B: its public parameter count, int4 g32 on the 168 block weights, the tied
        // embedding (also the head) at int8 g32, bf16 for the rest; KV cache 24 × 2 × 2 × 64 × 2048 × 2 bytes.
        #expect(!qwen.measured && qwen.weightBytesFrom == "accounted" && qwen.quality.summary == "accounted from config, not measured")
        #expect(qwen.parameters == 494_032_768)
        #expect(qwen.kvCache?.bytes == 24 * 2 * 2 * 64 * 2048 * 2 && qwen.kvCache?.dtype == "f16")
        // Codes, bf16 scales per group of 32 and the 2 int64 of `<name>_shape` (compressed-tensors' pack-quantized form).
        let blockWeight = { (rows: Int, columns: Int) in rows * columns / 2 + rows * (columns / 32) * 2 + 16 }
        let perLayer = blockWeight(896, 896) * 2 + blockWeight(128, 896) * 2 + blockWeight(4864, 896) * 2 + blockWeight(896, 4864)
            + 2 * (896 + 128 + 128) + 2 * 2 * 896  // q/k/v biases and the two norms, bf16
        let embedding = 151_936 * 896 + 151_936 * (896 / 32) * 2 + 16
        #expect(qwen.weightBytes == 24 * perLayer + embedding + 2 * 896)

        // Totals are the sums; on the Jetson everything sits in RAM.
        let t = plan.totals
        #expect(t.weightBytes == vae.weightBytes + llm.weightBytes + qwen.weightBytes)
        #expect(t.kvCacheBytes == kvBytes + qwen.kvCache!.bytes)
        #expect(t.activationBytes == vae.activationBytes + llm.activationBytes + qwen.activationBytes)
        #expect(t.totalBytes == t.weightBytes + t.kvCacheBytes + t.activationBytes && t.ramBytes == t.totalBytes && t.flashBytes == 0)
        #expect(plan.components.allSatisfy { $0.totalBytes == $0.weightBytes + $0.workingMemoryBytes })
        #expect(plan.fitsDevice && plan.fitsBudget == true && plan.budgetBytes == 1_000_000_000)

        // A budget below the total does not fit it; the device still does.
        let tight = try StackPlanner.run(manifest, device: Self.jetson, budgetBytes: t.totalBytes - 1)
        #expect(tight.fitsBudget == false && tight.fitsDevice && tight.verdict.contains("over the"))
        // Same inputs, same bytes.
        let encode = { (p: StackPlanner.Plan) in try Recipe.encoder().encode(p) }
        #expect(try encode(StackPlanner.run(manifest, device: Self.jetson)) == encode(plan))
    }
}
