import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink plan`: a per-tensor recipe and recursion depth that fits a device,
/// chosen from measured sensitivities, then applied and measured.
public enum Planner {
    public struct Options: Sendable {
        public var bits = [8, 6, 4, 3, 2]
        public var granularities: [Granularity] = [.channel, .group(32)]
        public var methods: [Method] = [.rtn, .mse, .gptq]
        /// Low-rank compensation ranks offered on top of every quantization option (none: bits alone), found by
        /// `lowRankMethod` and stored F16.
        public var ranks: [Int] = []
        public var lowRankMethod: LowRankCompensation.Method = .eora
        /// Weight bytes allowed (all models together), on top of what the device allows.
        public var maxBytes: Int?
        /// Least puzzle-exact accuracy: depths are tried from fewest steps up and the
        /// first measured at or above it is taken (without it: full depth).
        public var minExact: Double?
        /// Calibration puzzles per sensitivity run and for GPTQ's Hessians.
        public var calibrationCount = 32
        /// Test puzzles per evaluation.
        public var limit: Int?
        public var seed: UInt64 = 0
        /// Measure only this shard's tensor options (`Shard.owns` their index in the order the planner measures
        /// them: models, tensors, bits, granularities, methods, ranks); see `sensitivities`.
        public var shard: Shard?
        public init() {}
    }

    /// A measured option and its index in the planner's order of options (−1: the tensor kept as stored).
    public struct IndexedCandidate: Codable, Sendable {
        public var index: Int
        public var candidate: Candidate
    }

    /// One tensor option with its measured sensitivity.
    public struct Candidate: Codable, Sendable {
        public var tensor: String
        /// nil: kept as stored.
        public var choice: TensorChoice?
        public var bytes: Int
        /// Per supervision step, mean over calibration puzzles of (1 − cos(carry, FP32
        /// carry)) + (1 − cos(logits, FP32 logits)): the carry for the reasoning, the
        /// logits because lm_head never touches the carry.
        public var error: [Double]
    }

    public struct Prediction: Codable, Sendable {
        public var weightBytes: Int
        public var ramBytes: Int
        public var flashBytes: Int
        public var activationBytes: Int
        public var flopsPerPuzzle: Int
        public var bytesMovedPerPuzzle: Int
        public var latencySeconds: Double
        /// Additive model: depth error + Σ tensor errors (1 − carry cosine + 1 − logit cosine).
        public var carryError: Double
    }

    public struct Measurement: Codable, Sendable {
        public var writtenTensorBytes: Int
        public var exact: Statistics.Interval
        public var cell: Statistics.Interval
        public var fp32Exact: Statistics.Interval
        public var exactDifference: Statistics.Interval
        /// Carry-trajectory fidelity (cosine to FP32) at the last step.
        public var carryFidelity: Double
        public var label: Comparison.Label
    }

    public struct ModelPlan: Codable, Sendable {
        public var name: String
        public var model: String
        public var family: String
        public var parameters: Int
        public var fp32Bytes: Int
        public var steps: Int
        public var hCycles: Int
        public var lCycles: Int
        public var streamedTables: [String]
        /// Tensor name → choice: what `shrink quantize --recipe` applies.
        public var quantize: [String: TensorChoice]
        /// Calibration puzzles GPTQ's statistics came from (the first N of the
        /// training split); nil when no choice needs calibration.
        public var calibrationPuzzles: Int?
        public var prediction: Prediction
        public var measurement: Measurement?
    }

    public struct Plan: Codable, Sendable {
        public var device: DeviceProfile
        public var fits: Bool
        public var verdict: String
        public var budget: Budget
        public var models: [ModelPlan]
        /// Wall time of planning; not written to the plan file, which stays byte-identical for the same inputs.
        public var seconds: Double = 0

        enum CodingKeys: String, CodingKey { case device, fits, verdict, budget, models }
    }

    public struct Budget: Codable, Sendable {
        public var ramBytes: Int
        public var flashBytes: Int
        public var maxWeightBytes: Int?
        /// Bytes left for the chosen weights (all models) after activations and streamed tables.
        public var weightBytes: Int
    }

    /// One model to plan: a directory, its calibration and test sets.
    public struct Request: Sendable {
        public var directory: String
        public var calibration: String
        public var data: String
        public init(directory: String, calibration: String, data: String) {
            self.directory = directory; self.calibration = calibration; self.data = data
        }
    }

    struct Prepared {
        var request: Request
        var model: RecursiveReasoner
        var account: ModelAccount
        var items: [[Candidate]]
        /// The same error of the FP32 model at step s against full depth.
        var depthError: [Double]
        /// Layer statistics for GPTQ, captured on the first `calibrationCount` puzzles.
        var statistics: [String: LayerStatistics]
        var calibrationPuzzles: Int
        /// Each candidate's index in the order of options (parallel to `items`).
        var indices: [[Int]]
    }

    /// `options.shard`'s share of the sensitivities of every model (per model, per quantizable tensor), what a
    /// sharded `shrink plan` writes for `shrink merge`, whose `run(…, measured:)` plans on all shards' together.
    public static func sensitivities(_ requests: [Request], options: Options, progress: (any ProgressSink)? = nil) throws -> [[[IndexedCandidate]]] {
        guard !requests.isEmpty else { throw PlanError.badRequest(flag: "MODEL", reason: "give at least one model directory") }
        var first = 0
        return try requests.map { r in
            let p = try prepare(r, options: options, sensitivities: true, firstIndex: first, progress: progress)
            first = p.nextIndex
            return zip(p.prepared.items, p.prepared.indices).map { list, idx in zip(idx, list).map { IndexedCandidate(index: $0, candidate: $1) } }
        }
    }

    /// One shard's sensitivities, with the plan command they belong to (`shrink merge` replays it on all shards'
    /// sensitivities, from the same working directory) and what identifies the grid.
    public struct Part: Codable, Sendable {
        public static let formatName = "shrink-plan-part"
        public var format: String
        public var fingerprint: String
        public var shard: Shard
        /// `shrink plan`'s arguments, without --shard, -o, --json and --quiet.
        public var arguments: [String]
        public var sensitivities: [[[IndexedCandidate]]]
        public init(fingerprint: String, shard: Shard, arguments: [String], sensitivities: [[[IndexedCandidate]]]) {
            format = Self.formatName
            self.fingerprint = fingerprint; self.shard = shard; self.arguments = arguments; self.sensitivities = sensitivities
        }
    }

    /// Every shard's sensitivities combined, per model and tensor in the order `prepare` measures them.
    public static func combine(_ shards: [[[[IndexedCandidate]]]]) -> [[[Candidate]]]? {
        guard let first = shards.first else { return nil }
        return first.indices.map { m in
            first[m].indices.map { t in
                var byIndex: [Int: Candidate] = [:]
                for s in shards where m < s.count && t < s[m].count { for c in s[m][t] { byIndex[c.index] = c.candidate } }
                return byIndex.keys.sorted().map { byIndex[$0]! }
            }
        }
    }

    /// - Parameter measured: every tensor option's sensitivity, measured by the shards of a sharded plan
    ///   (`sensitivities`, `combine`): used instead of measuring them here; the plan is the one the unsharded
    ///   run makes.
    public static func run(_ requests: [Request], device: DeviceProfile, options: Options, measured: [[[Candidate]]]? = nil,
                           progress: (any ProgressSink)? = nil) throws -> Plan {
        let t0 = Date()
        guard !requests.isEmpty else { throw PlanError.badRequest(flag: "MODEL", reason: "give at least one model directory") }
        if let measured, measured.count != requests.count {
            throw PlanError.badRequest(flag: "MODEL", reason: "the measured sensitivities are of \(measured.count) models, not \(requests.count)")
        }
        // Sensitivities are measured only when the unquantized models do not fit:
        // otherwise keeping every tensor (zero error) is the optimum at any depth.
        var prepared = try requests.map { try prepare($0, options: options, sensitivities: false, progress: progress).prepared }
        let full = prepared.map { $0.model.config.haltMaxSteps }
        if !(try choose(prepared, steps: full, device: device, options: options).1) {
            prepared = try requests.indices.map { i in
                try prepare(requests[i], options: options, sensitivities: true, measured: measured?[i], progress: progress).prepared
            }
        }
        let maxSteps = prepared.map { $0.model.config.haltMaxSteps }
        // Steps tried: full depth, or with --min-exact every depth from 1 up (one per model, the same index).
        let ladder: [[Int]] = options.minExact == nil ? [maxSteps] : (1...maxSteps.max()!).map { s in maxSteps.map { min(s, $0) } }

        // The budget does not depend on the depth, so either every rung fits or none does.
        var closest: Plan?
        for steps in ladder {
            var (plan, fitted) = try choose(prepared, steps: steps, device: device, options: options)
            for i in plan.models.indices {
                plan.models[i].measurement = try measure(prepared[i], plan.models[i], options: options)
            }
            plan.seconds = Date().timeIntervalSince(t0)
            let meets = options.minExact.map { m in plan.models.allSatisfy { ($0.measurement?.exact.estimate ?? 0) >= m } } ?? true
            if !fitted || meets { return plan }
            closest = plan
        }
        var plan = closest!
        plan.verdict = "no depth reaches --min-exact \(options.minExact!) within the budget; the closest (full depth) is shown: " + plan.verdict
        plan.fits = false
        return plan
    }

    /// A model's reference run, statistics and tensor options with their sensitivities: measured here (only
    /// `options.shard`'s, numbered from `firstIndex` in the order of the loops), or taken from `measured`.
    static func prepare(_ r: Request, options: Options, sensitivities: Bool, measured: [[Candidate]]? = nil, firstIndex: Int = 0,
                        progress: (any ProgressSink)?) throws -> (prepared: Prepared, nextIndex: Int) {
        let model = try RecursiveReasoner.load(directory: r.directory)
        let calib = try PuzzleDataset(path: r.calibration)
        // The first n calibration puzzles, as one batch: sensitivities compare each candidate's states and outputs with FP32's.
        let task = try PuzzleTask(calib, limit: options.calibrationCount, batchSize: options.calibrationCount)
        if task.split == "test" { throw CalibrationError.testSplit(path: r.calibration) }
        try task.check(model)
        let n = task.unitCount
        let depth = model.fullDepth
        let reference = try Sensitivity.trace(model, on: task, depth: depth)
        let depthError = (0..<depth.steps).map { Sensitivity.error(reference, stage: $0, against: reference, stage: depth.steps - 1) }

        let calibrated = sensitivities && (options.methods.contains(where: \.needsCalibration)
            || (!options.ranks.isEmpty && options.lowRankMethod == .eora))
        // GPTQ's statistics in calibration's own batches of 128 (what `shrink quantize --recipe --calib` captures).
        let statistics = calibrated ? try PuzzleTask(calib, limit: n, batchSize: 128).layerStatistics(of: model) : [:]
        let base = try Checkpoint.open(r.directory)
        let account = ModelAccount(model.family, dtype: base.infos.first?.dtype ?? .f32)
        var items: [[Candidate]] = [], indices: [[Int]] = []
        var next = firstIndex
        let quantizable = account.tensors.filter(\.quantizable)
        if let measured {
            guard measured.count == quantizable.count, zip(measured, quantizable).allSatisfy({ $0.first?.tensor == $1.name }) else {
                throw PlanError.badRequest(flag: "MODEL", reason: "the measured sensitivities do not list \(r.directory)'s \(quantizable.count) quantizable tensors in order")
            }
            items = measured
            indices = measured.map { Array(0..<$0.count) }
        }
        for (ti, t) in quantizable.enumerated() where measured == nil {
            let w = try base.floats(t.name)
            var list = [Candidate(tensor: t.name, choice: nil, bytes: t.storedBytes(nil), error: [Double](repeating: 0, count: depth.steps))]
            var listIndices = [-1]
            for bits in sensitivities ? options.bits : [] {
                for g in options.granularities where g.groupSize.map({ t.shape[1] % $0 == 0 }) ?? true {
                    for method in options.methods {
                        var quantized: QuantizedTensor?  // one quantization, shared by the option's ranks
                        for rank in [0] + options.ranks {
                            let index = next
                            next += 1
                            if let shard = options.shard, !shard.owns(index) { continue }
                            let lowRank = rank > 0 ? LowRankCompensation.Option(rank: rank, method: options.lowRankMethod) : nil
                            progress?.update(done: ti, total: quantizable.count, item: "\(t.name) int\(bits) \(g) \(method.rawValue)" + (lowRank.map { " + \($0.description)" } ?? ""))
                            let choice = TensorChoice(bits: bits, granularity: g, method: method, lowRank: lowRank)
                            if choice.needsCalibration && statistics[t.name] == nil { continue }  // never ran on calibration: no option
                            let q = try quantized ?? method.compressor().compress(w, rows: t.shape[0], columns: t.shape[1], scheme: choice.scheme(scaleDType: .f32),
                                                                                  statistics: statistics[t.name], name: t.name)
                            quantized = q
                            let values = try lowRank.map { lr in
                                try w.withUnsafeBufferPointer {
                                    try LowRankCompensation.compensate($0, quantized: q, option: lr, statistics: statistics[t.name], name: t.name).values
                                }
                            } ?? q.dequantized()
                            let overlay = OverlaySource(base: base)
                            try overlay.replace(t.name, with: values)
                            let m = try RecursiveReasoner(config: model.config, weights: overlay, location: r.directory)
                            let got = try Sensitivity.trace(m, on: task, depth: depth)
                            list.append(Candidate(tensor: t.name, choice: choice, bytes: t.storedBytes(choice), error: (0..<depth.steps).map {
                                Sensitivity.error(got, stage: $0, against: reference, stage: $0)
                            }))
                            listIndices.append(index)
                        }
                    }
                }
            }
            items.append(list)
            indices.append(listIndices)
        }
        return (Prepared(request: r, model: model, account: account, items: items, depthError: depthError, statistics: statistics,
                         calibrationPuzzles: n, indices: indices), next)
    }

    /// Solves the knapsack over every model's tensors under the device's memory at
    /// the given steps, with row-read tables streamed from flash when that is what
    /// lets it fit. Returns the plan and whether it fits.
    static func choose(_ models: [Prepared], steps: [Int], device: DeviceProfile, options: Options) throws -> (Plan, Bool) {
        let activations = models.reduce(0) { $0 + $1.account.activationBytes }
        // Bytes of tensors no option changes (norms, inits, embedding tables), split into row-read and the rest.
        let fixedTables = models.reduce(0) { $0 + $1.account.rowReadBytes([:]) }
        let fixedOther = models.reduce(0) { s, m in s + m.account.tensors.filter { !$0.quantizable && !$0.rowRead }.reduce(0) { $0 + $1.storedBytes(nil) } }
        // Streaming moves the tables to flash; it is chosen whenever flash holds them
        // (a row per token costs less than keeping the table in scarce RAM).
        let stream = fixedTables > 0 && (device.weightMemory == .flash || fixedTables <= device.flashBytes)
        var weightBudget: Int
        switch device.weightMemory {
        case .ram:
            weightBudget = device.ramBytes - activations - fixedOther - (stream ? 0 : fixedTables)
        case .flash:
            weightBudget = activations <= device.ramBytes ? device.flashBytes - fixedOther - fixedTables : -1
        }
        if let m = options.maxBytes { weightBudget = min(weightBudget, m - fixedOther - fixedTables) }

        var items: [[MultipleChoiceKnapsack.Option]] = []
        var owners: [(model: Int, item: Int)] = []
        for (mi, m) in models.enumerated() {
            for (ii, list) in m.items.enumerated() {
                items.append(list.map { .init(cost: $0.bytes, error: $0.error[steps[mi] - 1]) })
                owners.append((mi, ii))
            }
        }
        var fits = true
        var solution = weightBudget >= 0
            ? MultipleChoiceKnapsack.solve(items, budget: weightBudget, unit: MultipleChoiceKnapsack.unit(budget: weightBudget)) : nil
        if solution == nil {
            // Nothing fits: the smallest recipe (cheapest option everywhere, least error among equals).
            fits = false
            let choices = items.map { opts in opts.indices.min { (opts[$0].cost, opts[$0].error) < (opts[$1].cost, opts[$1].error) }! }
            solution = .init(choices: choices, cost: zip(items, choices).reduce(0) { $0 + $1.0[$1.1].cost },
                             error: zip(items, choices).reduce(0) { $0 + $1.0[$1.1].error })
        }
        var plans: [ModelPlan] = []
        for (mi, m) in models.enumerated() {
            var recipe: [String: TensorChoice] = [:]
            var error = m.depthError[steps[mi] - 1]
            for (k, owner) in owners.enumerated() where owner.model == mi {
                let cand = m.items[owner.item][solution!.choices[k]]
                if let c = cand.choice { recipe[cand.tensor] = c }
                error += cand.error[steps[mi] - 1]
            }
            let c = m.model.config
            let depth = RecursionDepth(steps: steps[mi], hCycles: c.hCycles, lCycles: c.lCycles)
            let weights = m.account.weightBytes(recipe)
            let tables = m.account.rowReadBytes(recipe)
            let resident = weights - (stream ? tables : 0)
            let ram = m.account.activationBytes + (device.weightMemory == .ram ? resident : 0)
            let flash = (stream ? tables : 0) + (device.weightMemory == .flash ? resident : 0)
            let flops = ReasonerCost.puzzleFLOPs(c, depth: depth)
            let moved = ReasonerAccounting.bytesMovedPerPuzzle(c, account: m.account, recipe: recipe, depth: depth)
            plans.append(ModelPlan(
                name: FileSystem.lastComponent(m.request.directory.hasSuffix("/") ? String(m.request.directory.dropLast()) : m.request.directory), model: m.request.directory, family: m.account.family,
                parameters: m.account.parameters, fp32Bytes: m.account.weightBytes([:]), steps: steps[mi], hCycles: c.hCycles, lCycles: c.lCycles,
                streamedTables: stream ? m.account.tensors.filter(\.rowRead).map(\.name) : [], quantize: recipe,
                calibrationPuzzles: recipe.values.contains(where: \.needsCalibration) ? m.calibrationPuzzles : nil,
                prediction: Prediction(weightBytes: weights, ramBytes: ram, flashBytes: flash, activationBytes: m.account.activationBytes,
                                       flopsPerPuzzle: flops, bytesMovedPerPuzzle: moved,
                                       latencySeconds: max(Double(flops) / device.flopsPerSecond, Double(moved) / device.bandwidthBytesPerSecond),
                                       carryError: error),
                measurement: nil))
        }
        let totalRAM = plans.reduce(0) { $0 + $1.prediction.ramBytes }, totalFlash = plans.reduce(0) { $0 + $1.prediction.flashBytes }
        let totalWeights = plans.reduce(0) { $0 + $1.prediction.weightBytes }
        let verdict: String
        if fits {
            verdict = "fits \(device.name): RAM \(totalRAM) of \(device.ramBytes) bytes, flash \(totalFlash) of \(device.flashBytes) bytes"
                + (options.maxBytes.map { ", weights \(totalWeights) of --max-bytes \($0)" } ?? "")
        } else {
            let limit = options.maxBytes.map { "--max-bytes \($0)" } ?? "the device"
            verdict = "nothing fits \(limit) on \(device.name): the smallest recipe needs RAM \(totalRAM) (has \(device.ramBytes)), "
                + "flash \(totalFlash) (has \(device.flashBytes)), weights \(totalWeights) bytes; its measured accuracy is below"
        }
        let budget = Budget(ramBytes: device.ramBytes, flashBytes: device.flashBytes, maxWeightBytes: options.maxBytes, weightBytes: weightBudget)
        return (Plan(device: device, fits: fits, verdict: verdict, budget: budget, models: plans, seconds: 0), fits)
    }

    /// Applies the recipe with `QuantizeJob` (the same code `shrink quantize --recipe`
    /// runs), reads the written model back and compares it with FP32 on the test set.
    static func measure(_ m: Prepared, _ plan: ModelPlan, options: Options) throws -> Measurement {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("shrink-plan-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var q = QuantizeOptions()
        q.perTensor = plan.quantize
        try QuantizeJob.run(try Checkpoint.open(m.request.directory), options: q, outputDirectory: scratch, calibration: m.statistics)
        let written = try SafetensorsFile(path: scratch + "/model.safetensors").totalBytes
        let compressed = try RecursiveReasoner.load(directory: scratch, streamPuzzleEmbedding: plan.streamedTables.contains(ReasonerNames.puzzleEmbedding))
        var o = Comparison.Options()
        o.seed = options.seed
        let task = try PuzzleTask(PuzzleDataset(path: m.request.data), limit: options.limit, steps: plan.steps)
        let report = try Comparison.compare(original: m.model, compressed: compressed, on: task, options: o)
        return Measurement(writtenTensorBytes: written, exact: report.compressed.accuracy.exact, cell: report.compressed.accuracy.cell,
                           fp32Exact: report.original.accuracy.exact, exactDifference: report.exactDifference,
                           carryFidelity: report.finalFidelity.carry.estimate, label: report.label)
    }
}

/// How far a candidate's run drifts from the original's, per stage, on calibration units of any task: the
/// planner's sensitivity (1 − state cosine) + (1 − output cosine), mean over units. The state is the reasoner's
/// carry; the outputs are the logits, because a reasoner's lm_head never touches the carry. A candidate whose run
/// produced NaN or ±Inf has sensitivity +∞.
public enum Sensitivity {
    public static func trace<Task: EvaluationTask>(_ model: Task.Model, on task: Task, depth: Task.Depth) throws -> StageRecords<Task.Outcome> {
        try task.run(model, units: 0..<task.unitCount, depth: depth, trace: true, linearInputs: nil)
    }

    public static func error<Outcome>(_ a: StageRecords<Outcome>, stage s: Int, against b: StageRecords<Outcome>, stage t: Int) -> Double {
        let units = a.outcomes[s].count
        let stateWidth = a.states![s].count / max(1, units), outputWidth = a.outputs![s].count / max(1, units)
        let drift = 2 - StateCosine.mean(StateCosine.perUnit(a.states![s], b.states![t], width: stateWidth))
            - StateCosine.mean(StateCosine.perUnit(a.outputs![s], b.outputs![t], width: outputWidth))
        // A run that went NaN or infinite is as far as a run can drift: the knapsack must never pick it.
        return drift.isNaN ? .infinity : drift
    }
}
