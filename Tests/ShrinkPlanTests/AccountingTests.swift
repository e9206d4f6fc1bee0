import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkPlan
import ShrinkQuant
import ShrinkTestSupport
import Testing

let fixtureModels = ["trm_mlp_sudoku6", "trm_att_sudoku6", "hrm_sudoku6", "trm_att_maze7", "trm_mlp_sudoku9"]

func reasonerConfig(_ fixture: String) throws -> ReasonerConfig {
    guard let family = try ModelRegistry.family(config: Fixtures.path("Fixtures/models/\(fixture)")) as? ReasonerFamily else {
        throw PlanError.badRequest(flag: fixture, reason: "is not a reasoner")
    }
    return family.config
}

@Test(arguments: fixtureModels)
func tensorListMatchesTheCheckpoint(fixture: String) throws {
    let account = ModelAccount(ReasonerFamily(try reasonerConfig(fixture)))
    let file = try Checkpoint.open(Fixtures.path("Fixtures/models/\(fixture)"))
    #expect(account.tensors.map(\.name) == file.tensorNames)
    #expect(account.tensors.map(\.info) == file.infos)
    #expect(account.parameters == (try RecursiveReasoner.load(directory: Fixtures.path("Fixtures/models/\(fixture)"))).parameterCount)
    #expect(account.weightBytes([:]) == file.totalBytes)
}

/// Per-tensor recipes whose predicted bytes must equal the tensor bytes of the file QuantizeJob writes.
func recipes(_ account: ModelAccount) -> [[String: TensorChoice]] {
    let names = account.tensors.filter(\.quantizable).map(\.name)
    let all4 = Dictionary(uniqueKeysWithValues: names.map { ($0, TensorChoice(bits: 4, granularity: .channel, method: .rtn)) })
    let mixes: [TensorChoice] = [.init(bits: 8, granularity: .group(32), method: .mse), .init(bits: 3, granularity: .tensor, method: .rtn),
                                 .init(bits: 2, granularity: .group(64), method: .rtn), .init(bits: 6, granularity: .channel, method: .mse),
                                 .init(bits: 5, granularity: .group(32), method: .rtn)]
    let columns = Dictionary(uniqueKeysWithValues: account.tensors.map { ($0.name, $0.shape.last!) })
    let mixed = Dictionary(uniqueKeysWithValues: names.enumerated().map { i, name in
        var c = mixes[i % mixes.count]
        if let g = c.granularity.groupSize, columns[name]! % g != 0 {
            // mlp_t rows are seq_len long (36, 49, 81): a small group that divides them.
            let small = [4, 3, 7].first { columns[name]! % $0 == 0 }!
            c = TensorChoice(bits: c.bits, granularity: .group(small), method: c.method)
        }
        return (name, c)
    })
    let partial = Dictionary(uniqueKeysWithValues: names.prefix(3).map { ($0, TensorChoice(bits: 3, granularity: .group(32), method: .rtn)) })
    // Low-rank factors on some tensors (ranks above a small matrix's min(rows, columns) are capped there).
    let ranked = Dictionary(uniqueKeysWithValues: names.enumerated().map { i, name in
        (name, TensorChoice(bits: 3, granularity: .channel, method: .rtn, lowRank: i % 2 == 0 ? .init(rank: [4, 16, 1000][i % 3], method: .svd) : nil))
    })
    return [all4, mixed, partial, ranked]
}

@Test(arguments: fixtureModels)
func predictedBytesEqualWrittenTensorBytes(fixture: String) throws {
    let account = ModelAccount(ReasonerFamily(try reasonerConfig(fixture)))
    let tmp = TemporaryDirectory()
    for (i, recipe) in recipes(account).enumerated() {
        var o = QuantizeOptions()
        o.perTensor = recipe
        let out = tmp.file("q\(i)")
        try QuantizeJob.run(try Checkpoint.open(Fixtures.path("Fixtures/models/\(fixture)")), options: o, outputDirectory: out)
        let written = try SafetensorsFile(path: out + "/model.safetensors")
        #expect(account.weightBytes(recipe) == written.totalBytes, "recipe \(i)")
        // The written file is read back as the model the recipe describes.
        #expect(try RecursiveReasoner.load(directory: out).parameterCount == account.parameters)
    }
}

@Test func flopsMatchPyTorchsFlopCounter() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Tests/Fixtures/plan/reference_flops.json")))
    let golden = try JSONSerialization.jsonObject(with: data) as! [String: [String: Int]]
    for fixture in fixtureModels {
        let c = try reasonerConfig(fixture)
        let full = RecursionDepth(steps: c.haltMaxSteps, hCycles: c.hCycles, lCycles: c.lCycles)
        var one = full
        one.steps = 1
        #expect(ReasonerCost.puzzleFLOPs(c, depth: one) == golden[fixture]!["one_step"]!, "\(fixture)")
        #expect(ReasonerCost.puzzleFLOPs(c, depth: full) == golden[fixture]!["all_steps"]!, "\(fixture)")
    }
}

@Test func workingMemoryOfTheAttentionFixtureReusesBuffersAcrossPhases() throws {
    let c = try reasonerConfig("trm_att_sudoku6")
    let account = ModelAccount(ReasonerFamily(c))
    // P = 36, D = 64, I = 256: persistent x, z_H, z_L (P·D each) and one weight row (I),
    // then the largest phase, the channel MLP: gate_up P·2I + act P·I + out P·D.
    let persistent = 3 * 36 * 64 + 256, mlp = 36 * 512 + 36 * 256 + 36 * 64
    #expect(account.activationBytes == 4 * (persistent + mlp))
    // Attention (qkv P·3D + out P·D + scores P + out P·D) shares the MLP's memory.
    let attention = 36 * 192 + 36 * 64 + 36 + 36 * 64
    #expect(account.activationBytes < 4 * (persistent + mlp + attention))
    // The planner budgets exactly what the C export allocates.
    #expect(account.activationBytes == ReasonerFamily(c).arena(batch: 1).totalBytes)
}

/// TRM on ARC-AGI-1 as upstream publishes it: config/arch/trm.yaml (hidden_size 512,
/// 8 heads, expansion 4, L_layers 2, H_cycles 3, L_cycles 6, puzzle_emb_ndim =
/// hidden_size, puzzle_emb_len 16, halt_max_steps 16), seq_len 900 and vocab 12 of
/// the 30×30 ARC grids, num_puzzle_identifiers 876,406 of the released
/// arc1concept-aug-1000 dataset.
let trmARC = """
{"arch": "trm", "seq_len": 900, "vocab_size": 12, "num_puzzle_identifiers": 876406, "puzzle_emb_ndim": 512, "puzzle_emb_len": 16,
 "H_cycles": 3, "L_cycles": 6, "H_layers": 0, "L_layers": 2, "hidden_size": 512, "num_heads": 8, "expansion": 4,
 "pos_encodings": "rope", "halt_max_steps": 16, "mlp_t": false}
"""

@Test func trmARCFromItsBareConfig() throws {
    let tmp = TemporaryDirectory()
    try trmARC.write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
    guard let c = (try ModelRegistry.family(config: tmp.file("config.json")) as? ReasonerFamily)?.config else { Issue.record("not a reasoner"); return }
    let account = ModelAccount(ReasonerFamily(c))
    let table = try #require(account.tensors.first { $0.name == "inner.puzzle_emb.weights" })
    #expect(table.rowRead)
    // The network without the table: the paper's 6.83M parameters (arXiv 2606.26488 §1).
    #expect(account.parameters - table.parameters == 6_830_082)
    #expect(table.storedBytes(nil) == 876_406 * 512 * 4)
    // 99.4 MB is a table of 48,535 F32 rows of 512 (or 97,070 BF16 rows).
    var small = c
    small.numPuzzleIdentifiers = 48_535
    let smallTable = try #require(ModelAccount(ReasonerFamily(small)).tensors.first { $0.name == "inner.puzzle_emb.weights" })
    #expect((Double(smallTable.storedBytes(nil)) / 1e6 * 10).rounded() / 10 == 99.4)
}

@Test func qwenDecoderFromItsConfig() throws {
    let tmp = TemporaryDirectory()
    // Qwen/Qwen2.5-0.5B config.json (the fields accounting reads).
    try """
    {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
     "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
     "tie_word_embeddings": true, "torch_dtype": "bfloat16"}
    """.write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
    guard let d = try ModelRegistry.family(config: tmp.path) as? LlamaFamily else { Issue.record("not a decoder"); return }
    let account = ModelAccount(d, dtype: d.parameterDType, query: CostQuery(context: 1024))
    #expect(account.parameters == 494_032_768)  // the model card's 0.49B; safetensors holds exactly this many
    #expect(account.weightBytes([:]) == 2 * 494_032_768)
    #expect(!account.tensors.contains { $0.rowRead })  // the tied table is also the output projection
    #expect(account.arena.buffer("kv_cache")!.floats == 2 * 24 * 1024 * 128)
    // KV cache + hidden + residual persist; the logits (151,936 floats) are the largest phase.
    #expect(account.activationBytes == 4 * (2 * 24 * 1024 * 128 + 2 * 896 + 151_936))
}

@Test func badConfigNamesTheField() throws {
    let tmp = TemporaryDirectory()
    try #"{"H_cycles": 2, "seq_len": 4}"#.write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
    #expect(throws: ModelError.badConfig(file: tmp.file("config.json"), field: "vocab_size", reason: "is missing or has the wrong type")) {
        try ModelRegistry.family(config: tmp.path)
    }
}

@Test func aConfigNoFamilyClaimsIsAnErrorListingTheFamilies() throws {
    let tmp = TemporaryDirectory()
    // google-t5/t5-small config.json: an encoder-decoder no family claims. An unclaimed config must not be read
    // as a decoder (a BERT config once was: "decoder(bert), 37.60M parameters").
    try """
    {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_model": 512, "d_ff": 2048,
     "num_layers": 6, "num_heads": 8, "vocab_size": 32128}
    """.write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
    let known = ModelRegistry.families.map { "\($0.familyName) (\($0.claimedBy))" }
    #expect(known.count == 4)
    #expect(throws: ModelError.unknownFamily(file: tmp.file("config.json"), modelType: "t5", architectures: ["T5ForConditionalGeneration"], known: known)) {
        try ModelRegistry.family(config: tmp.path)
    }
    let message = ModelError.unknownFamily(file: "c.json", modelType: "t5", architectures: ["T5ForConditionalGeneration"], known: known).description
    #expect(message.contains("'t5'") && message.contains("trm/hrm") && message.contains("decoder") && message.contains("bert") && message.contains("shrink-vae"))
}

@Test func miniLMConfigIsBertWith22_71MParameters() throws {
    let tmp = TemporaryDirectory()
    // sentence-transformers/all-MiniLM-L6-v2 config.json (the fields the family reads).
    try """
    {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 384, "intermediate_size": 1536, "hidden_act": "gelu",
     "num_hidden_layers": 6, "num_attention_heads": 12, "vocab_size": 30522, "max_position_embeddings": 512,
     "type_vocab_size": 2, "layer_norm_eps": 1e-12}
    """.write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
    let family = try #require(try ModelRegistry.family(config: tmp.path) as? BertFamily)
    let account = ModelAccount(family, dtype: family.parameterDType, query: CostQuery(context: 128))
    #expect(account.family == "bert")
    #expect(account.parameters == 22_713_216)
    #expect(account.tensors.filter(\.quantizable).count == 37)
    #expect(account.tensors.filter(\.rowRead).map(\.name).sorted() == ["embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight", "embeddings.word_embeddings.weight"])
}

@Test func familiesOwnTheirFoldPairsAndEveryPairIsInTheLayout() throws {
    var folds = 0, blocks = 0
    for fixture in fixtureModels {
        let family = ReasonerFamily(try reasonerConfig(fixture))
        blocks += family.levels.map(\.layers).reduce(0, +)
        let layout = Dictionary(uniqueKeysWithValues: family.tensorLayout.map { ($0.name, $0) })
        for f in family.scaleFolds {
            let consumer = try #require(layout[f.consumers[0]]), producer = try #require(layout[f.producer])
            // The folded rows of the producer are exactly the consumer's input channels.
            #expect(f.rows.count == consumer.shape[1] && f.rows.upperBound <= producer.shape[0])
            folds += 1
        }
    }
    #expect(blocks > 0 && folds == 2 * blocks)  // every block: down ← up rows, and o ← v rows (or mlp_t down ← up)
}

/// A GGUF file is accounted as stored: its Q4_1/Q8_0 blocks, not FP32.
@Suite struct GGUFAccountingTests {
    @Test func theSmolLM2ReleaseIsCountedInItsBlockTypes() throws {
        let path = Fixtures.path("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileSystem.exists(path) else { throw ModelError.badRequest(flag: path, reason: "is missing: run tools/fetch_real.sh") }
        let family = try ModelRegistry.family(config: path)
        let reader = try GGUFReader(path: path)
        let r = ConfigAccount.make(family, choice: nil, stored: family.presenting(try ModelLocation(path).openWeights()))
        #expect(r.parameters == 134_515_008)
        #expect(r.weightBytes == reader.storedBytes, "every tensor of the layout is in the file, counted as stored")
        #expect(r.weightBytes < r.fp32Bytes / 5)
    }
}
