import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkPlan
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// A small planning problem: a random TRM (hidden 16, one layer) on 4×4 Sudoku,
/// two options per tensor (INT8 or INT2 per channel), two calibration puzzles.
func smallOptions(maxBytes: Int) -> Planner.Options {
    var o = Planner.Options()
    o.bits = [8, 2]
    o.granularities = [.channel]
    o.methods = [.rtn]
    o.calibrationCount = 2
    o.limit = 8
    o.maxBytes = maxBytes
    return o
}

func syntheticRequest(_ tmp: TemporaryDirectory) throws -> Planner.Request {
    let dir = tmp.file("tiny_trm")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let config = """
    {"arch": "trm", "seq_len": 16, "vocab_size": 6, "H_cycles": 2, "L_cycles": 2, "L_layers": 1, "hidden_size": 16,
     "expansion": 2, "num_heads": 2, "pos_encodings": "rope", "halt_max_steps": 2}
    """
    try config.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
    let c = try JSONDecoder().decode(ReasonerConfig.self, from: Data(config.utf8))
    var rng = TestRandom(seed: 3)
    try writeF32(ReasonerFamily(c).tensorLayout.map { ($0.name, $0.shape, rng.normals($0.parameters, scale: 0.3)) }, to: dir + "/model.safetensors")
    for split in [PuzzleSplit.train, .test] {
        let o = SudokuDatasetOptions(size: 4, count: 8, split: split)
        try SudokuDataset.encode(try SudokuDataset.generate(o), options: o).write(to: tmp.file("\(split).safetensors"))
    }
    return Planner.Request(directory: dir, calibration: tmp.file("train.safetensors"), data: tmp.file("test.safetensors"))
}

/// The synthetic model's accounting and its all-INT8 per-channel recipe.
func syntheticAccount(_ request: Planner.Request) throws -> (ModelAccount, [String: TensorChoice]) {
    let c = try #require((try ModelRegistry.family(config: request.directory) as? ReasonerFamily)?.config)
    let account = ModelAccount(ReasonerFamily(c))
    return (account, Dictionary(uniqueKeysWithValues: account.tensors.filter(\.quantizable).map { ($0.name, TensorChoice(bits: 8, granularity: .channel, method: .rtn)) }))
}

/// The plan file is a recipe `shrink quantize --recipe` applies exactly: the same choices, the predicted bytes.
func expectTheRecipeWritesThePlan(_ plan: Planner.Plan, _ m: Planner.ModelPlan, _ request: Planner.Request, _ tmp: TemporaryDirectory) throws {
    try Recipe.encoder().encode(plan).write(to: URL(fileURLWithPath: tmp.file("plan.json")))
    var q = QuantizeOptions()
    q.perTensor = try RecipeFile.load(path: tmp.file("plan.json"), model: "tiny_trm").choices
    #expect(q.perTensor == m.quantize)
    try QuantizeJob.run(try Checkpoint.open(request.directory), options: q, outputDirectory: tmp.file("out"))
    #expect(try SafetensorsFile(path: tmp.file("out/model.safetensors")).totalBytes == m.prediction.weightBytes)
}

@Test func planFitsItsBudgetAndItsRecipeWritesThePredictedBytes() throws {
    let tmp = TemporaryDirectory()
    let request = try syntheticRequest(tmp)
    let (account, int8) = try syntheticAccount(request)
    let budget = account.weightBytes(int8) - 1  // all-INT8 does not fit: some tensor must go to INT2
    let plan = try Planner.run([request], device: DeviceProfile.resolve("soc-8mb-sram"), options: smallOptions(maxBytes: budget))
    #expect(plan.fits)
    let m = try #require(plan.models.first)
    #expect(m.prediction.weightBytes <= budget)
    let measured = try #require(m.measurement)
    #expect(measured.writtenTensorBytes == m.prediction.weightBytes)
    #expect(m.quantize.values.contains { $0.bits == 2 })
    #expect(m.quantize.count == int8.count)  // kept FP32 costs more than either option

    try expectTheRecipeWritesThePlan(plan, m, request, tmp)
}

/// Ranks on top of the bits: every option is measured with its factors and costs their bytes; at a budget that
/// all-INT8 misses, the knapsack may spend bytes on a rank, and the recipe it writes has exactly the predicted bytes
/// (factors included) and the measured quality.
@Test func aPlanWithRanksCountsTheFactorsAndQuantizeWritesThem() throws {
    let tmp = TemporaryDirectory()
    let request = try syntheticRequest(tmp)
    let (account, int8) = try syntheticAccount(request)
    var o = smallOptions(maxBytes: account.weightBytes(int8) - 1)
    o.ranks = [2, 64]  // 64 caps at every weight's min(rows, columns): the full residual, stored F16
    o.lowRankMethod = .svd
    let options = try Planner.sensitivities([request], options: o)[0]
    let quantizable = account.tensors.filter(\.quantizable)
    #expect(options.count == quantizable.count)
    for (list, t) in zip(options, quantizable) {
        #expect(list.count == 1 + 2 * 3, "kept, then int8 and int2 each at rank 0, 2 and 64")
        for c in list.map(\.candidate) { #expect(c.bytes == t.storedBytes(c.choice)) }
        let int2 = list.map(\.candidate).filter { $0.choice?.bits == 2 }
        #expect(int2.map { $0.choice?.lowRank?.rank ?? 0 } == [0, 2, 64])
        let full = min(t.shape[0], t.shape[1])
        #expect(int2[1].bytes - int2[0].bytes == 2 * (t.shape[0] + t.shape[1]) * 2)
        #expect(int2[2].bytes - int2[0].bytes == full * (t.shape[0] + t.shape[1]) * 2)
        // Full-rank factors hold the whole residual (up to F16 rounding): the INT2 option then drifts as little as
        // the original, whatever INT2 alone did.
        #expect(int2[2].error.allSatisfy { $0 < 1e-4 }, "\(t.name): \(int2[2].error) against INT2 alone \(int2[0].error)")
    }
    let plan = try Planner.run([request], device: DeviceProfile.resolve("soc-8mb-sram"), options: o)
    let m = try #require(plan.models.first)
    #expect(plan.fits && m.prediction.weightBytes <= account.weightBytes(int8) - 1)
    #expect(m.measurement?.writtenTensorBytes == m.prediction.weightBytes)
    try expectTheRecipeWritesThePlan(plan, m, request, tmp)
}

@Test func nothingFitsSaysSoAndMeasuresTheClosest() throws {
    let tmp = TemporaryDirectory()
    let plan = try Planner.run([try syntheticRequest(tmp)], device: DeviceProfile.resolve("soc-8mb-sram"), options: smallOptions(maxBytes: 1000))
    #expect(!plan.fits)
    #expect(plan.verdict.hasPrefix("nothing fits --max-bytes 1000"))
    let m = try #require(plan.models.first)
    #expect(m.quantize.values.allSatisfy { $0.bits == 2 })  // the smallest recipe
    #expect(m.measurement != nil)
}

@Test func gptqPlanIsAppliedExactlyByQuantizeWithItsCalibration() throws {
    let tmp = TemporaryDirectory()
    let request = try syntheticRequest(tmp)
    let (account, int8) = try syntheticAccount(request)
    var o = smallOptions(maxBytes: account.weightBytes(int8) - 1)
    o.methods = [.gptq]
    let plan = try Planner.run([request], device: DeviceProfile.resolve("soc-8mb-sram"), options: o)
    let m = try #require(plan.models.first)
    #expect(plan.fits && !m.quantize.isEmpty && m.quantize.values.allSatisfy { $0.method == .gptq })
    #expect(m.calibrationPuzzles == 2)

    try Recipe.encoder().encode(plan).write(to: URL(fileURLWithPath: tmp.file("plan.json")))
    let file = try RecipeFile.load(path: tmp.file("plan.json"), model: "tiny_trm")
    #expect(file.needsCalibration && file.calibrationPuzzles == 2 && file.choices == m.quantize)
    var q = QuantizeOptions()
    q.perTensor = file.choices
    // GPTQ without calibration statistics is refused, with the flag that fixes it.
    #expect(throws: QuantizationError.self) { try QuantizeJob.run(try Checkpoint.open(request.directory), options: q, outputDirectory: tmp.file("none")) }
    #expect(!FileManager.default.fileExists(atPath: tmp.file("none")))

    let recipe = try QuantizePipeline.run(checkpoint: request.directory, options: q, calibration: .init(data: request.calibration, count: 2),
                                          outputDirectory: tmp.file("out"), overwrite: false)
    #expect(recipe.tensors.filter { $0.action == .quantized }.allSatisfy { $0.method?.hasPrefix("gptq") == true })
    #expect(try SafetensorsFile(path: tmp.file("out/model.safetensors")).totalBytes == m.prediction.weightBytes)
    // The same weights on the same puzzles: the comparison reproduces the plan's measurement.
    var co = Comparison.Options()
    co.seed = o.seed
    let report = try Comparison.compare(original: RecursiveReasoner.load(directory: request.directory),
                                        compressed: RecursiveReasoner.load(directory: tmp.file("out")),
                                        on: PuzzleTask(PuzzleDataset(path: request.data), limit: o.limit, steps: m.steps), options: co)
    #expect(report.finalFidelity.carry.estimate == m.measurement?.carryFidelity)

    // The error feedback changed the weights: round-to-nearest at the same bits writes others.
    q.perTensor = file.choices.mapValues { TensorChoice(bits: $0.bits, granularity: $0.granularity, method: .rtn) }
    try QuantizeJob.run(try Checkpoint.open(request.directory), options: q, outputDirectory: tmp.file("rtn"))
    let name = try #require(file.choices.keys.sorted().first) + "_packed"
    let rtn = try SafetensorsFile(path: tmp.file("rtn/model.safetensors")), gptq = try SafetensorsFile(path: tmp.file("out/model.safetensors"))
    #expect(Array(try rtn.rawBytes(name)) != Array(try gptq.rawBytes(name)))
}
