import CShrinkKernels
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink plan` for a language model: a per-tensor recipe under a byte or bits-per-weight budget, chosen from
/// measured sensitivities, then applied (GPTQ sequentially, as `shrink quantize --recipe` does) and measured on a
/// held-out text. A tensor option's sensitivity is the mean KL divergence of the model's next-token distribution
/// with only that tensor compressed, against the original, over the scored positions of calibration chunks
/// (the blocks before the tensor's are not rerun: their outputs are the original's). The knapsack adds the
/// tensors' divergences, as the planner of the reasoners adds their drifts.
public enum LanguagePlanner {
    public struct Options: Sendable {
        public var bits = [8, 5, 4]
        public var granularities: [Granularity] = [.group(32)]
        public var methods: [Method] = [.rtn, .gptq]
        /// Zero-point options (`symmetric: false`) besides the symmetric ones.
        public var asymmetric = false
        /// The grids of the options: ggml's Q4_0/Q5_0 scale rule maps the recipe exactly onto GGUF's legacy blocks.
        public var grids: [QuantScheme.Grid] = [.ggmlSigned]
        public var scaleDType: DType = .f16
        /// Bytes allowed for every tensor together (the file's tensor bytes), or bits per weight over all parameters.
        public var maxBytes: Int?
        public var bitsPerWeight: Double?
        /// Options for the output head (and a tied input table) too.
        public var quantizeHead = true
        /// Calibration chunks whose positions the sensitivities score, and their length.
        public var sensitivityChunks = 1
        public var sensitivityContext = 256
        /// Calibration chunks (of `calibrationContext` tokens) GPTQ's statistics come from, for the sensitivities
        /// and when the recipe is applied.
        public var calibrationChunks = 32
        public var calibrationContext = 512
        /// The held-out text the applied recipe is measured on, and how many chunks of it.
        public var evaluationText: String?
        public var evaluationChunks: Int?
        public var seed: UInt64 = 0
        /// Sensitivities measured by an earlier plan of the same model (its `candidates`): the knapsack reruns
        /// under a new budget without measuring again.
        public var reuse: [Candidate]?
        public init() {}
    }

    public struct Candidate: Codable, Sendable {
        public var tensor: String
        /// nil: kept as stored.
        public var choice: TensorChoice?
        public var bytes: Int
        /// Mean KLD (nats per position) with only this tensor so compressed.
        public var kld: Double

        /// A measured divergence as the knapsack costs it. llama-perplexity's KLD sums only the entries with
        /// log p > −16, so a near-lossless option can come out a hair below zero: a divergence is never negative, and
        /// the knapsack must not prefer it to keeping. An option whose outputs were NaN or infinite costs +∞, so it is
        /// never chosen (clamping NaN at zero would make it look free).
        static func divergence(_ kld: Double) -> Double { kld.isNaN ? .infinity : max(0, kld) }
    }

    public struct Measurement: Codable, Sendable {
        public var writtenTensorBytes: Int
        public var bitsPerWeight: Double
        public var perplexity: LanguageComparison.Estimate
        public var originalPerplexity: LanguageComparison.Estimate
        public var kld: LanguageComparison.Estimate
        public var kldP99: Double
        public var sameTop: LanguageComparison.Estimate
        public var label: Comparison.Label
        public var text: String
        public var chunks: Int
    }

    public struct Plan: Codable, Sendable {
        public var model: String
        public var family: String
        public var parameters: Int
        /// Tensor bytes of the original as stored.
        public var originalBytes: Int
        public var budgetBytes: Int
        public var fits: Bool
        public var verdict: String
        /// Tensor name → choice: what `shrink quantize --recipe` applies (tensors not named are kept).
        public var quantize: [String: TensorChoice]
        public var scaleDtype: String
        /// Calibration chunks GPTQ's statistics come from (the first N of the calibration text).
        public var calibrationPuzzles: Int?
        public var calibration: String
        public var predictedBytes: Int
        public var predictedBitsPerWeight: Double
        /// Σ of the chosen options' sensitivities.
        public var predictedKld: Double
        public var candidates: [Candidate]
        public var measurement: Measurement?
        public var seconds: Double = 0
        enum CodingKeys: String, CodingKey {
            case model, family, parameters, originalBytes, budgetBytes, fits, verdict, quantize, scaleDtype, calibrationPuzzles
            case calibration, predictedBytes, predictedBitsPerWeight, predictedKld, candidates, measurement
        }
    }

    public static func run(model path: String, calibration: String, options: Options, progress: (any ProgressSink)? = nil) throws -> Plan {
        let t0 = Date()
        let loaded = try ModelRegistry.load(path)
        guard let model = loaded as? any BlockwiseLanguageModel else {
            throw PlanError.badRequest(flag: "MODEL", reason: "\(path) is a \(type(of: loaded.familyDescription).familyName); the language-model planner needs a decoder")
        }
        return try plan(model, path: path, calibration: calibration, options: options, started: t0, progress: progress)
    }

    static func plan<M: BlockwiseLanguageModel>(_ model: M, path: String, calibration: String, options: Options, started t0: Date,
                                                 progress: (any ProgressSink)?) throws -> Plan {
        if options.grids.contains(.ggmlMinimum) {
            throw PlanError.badRequest(flag: "--grids", reason: "ggml (Q4_1/Q5_1's float minima) cannot be written by `shrink quantize --recipe`; use integer or ggml-sym")
        }
        guard options.sensitivityChunks >= 1, options.calibrationChunks >= 1 else {
            throw PlanError.badRequest(flag: "--calib-count", reason: "needs at least one calibration chunk")
        }
        let family = model.familyDescription
        let stored = try ModelLocation(path).openWeights()
        let weights = family.presenting(stored)
        let parameters = weights.parameterCount
        let originalBytes = stored.totalStoredBytes
        guard let budget = options.maxBytes ?? options.bitsPerWeight.map({ Int($0 * Double(parameters) / 8) }) else {
            throw PlanError.badRequest(flag: "--max-bytes", reason: "a language-model plan needs a budget: --max-bytes BYTES or --bpw BITS")
        }

        let (items, targets): ([[Candidate]], [TensorInfo])
        if let reuse = options.reuse {
            let grouped = Dictionary(grouping: reuse, by: \.tensor)
            if let unknown = grouped.keys.sorted().first(where: { weights.info($0) == nil }) {
                throw PlanError.badRequest(flag: "--reuse", reason: "its candidates name '\(unknown)', which \(path) does not have; reuse a plan of the same model")
            }
            targets = weights.infos.filter { grouped[$0.name] != nil }
            items = targets.map { grouped[$0.name]!.map { c in var c = c; c.kld = Candidate.divergence(c.kld); return c } }
        } else {
            (items, targets) = try measure(model, weights: weights, calibration: calibration, options: options, progress: progress)
        }

        // Tensors no option touches count at their stored size.
        let targetNames = Set(targets.map(\.name))
        let fixed = weights.infos.filter { !targetNames.contains($0.name) }.reduce(0) { $0 + (weights.storedByteCount($1.name) ?? $1.byteCount) }
        let left = budget - fixed
        let knapsack = items.map { $0.map { MultipleChoiceKnapsack.Option(cost: $0.bytes, error: $0.kld) } }
        var fits = true
        var solution = left >= 0 ? MultipleChoiceKnapsack.solve(knapsack, budget: left, unit: MultipleChoiceKnapsack.unit(budget: left)) : nil
        if solution == nil {
            fits = false
            let choices = knapsack.map { o in o.indices.min { (o[$0].cost, o[$0].error) < (o[$1].cost, o[$1].error) }! }
            solution = .init(choices: choices, cost: zip(knapsack, choices).reduce(0) { $0 + $1.0[$1.1].cost },
                             error: zip(knapsack, choices).reduce(0) { $0 + $1.0[$1.1].error })
        }
        var recipe: [String: TensorChoice] = [:]
        for (k, list) in items.enumerated() { if let c = list[solution!.choices[k]].choice { recipe[list[0].tensor] = c } }
        let predicted = fixed + solution!.cost
        let bpw = Double(predicted * 8) / Double(parameters)
        let verdict = fits
            ? "fits \(budget) bytes: \(predicted) bytes, \(String(format: "%.3f", bpw)) bits per weight, predicted KLD \(String(format: "%.5f", solution!.error))"
            : "nothing fits \(budget) bytes: the smallest recipe needs \(predicted) bytes (\(String(format: "%.3f", bpw)) bits per weight)"
        var plan = Plan(model: path, family: family.variant, parameters: parameters, originalBytes: originalBytes, budgetBytes: budget,
                        fits: fits, verdict: verdict, quantize: recipe, scaleDtype: options.scaleDType.flagName,
                        calibrationPuzzles: recipe.values.contains(where: \.needsCalibration) ? options.calibrationChunks : nil,
                        calibration: calibration, predictedBytes: predicted, predictedBitsPerWeight: bpw, predictedKld: solution!.error,
                        candidates: items.flatMap { $0 }, measurement: nil)
        if let eval = options.evaluationText {
            plan.measurement = try measure(model, path: path, plan: plan, evaluation: eval, options: options, progress: progress)
        }
        plan.seconds = Date().timeIntervalSince(t0)
        return plan
    }

    /// Every quantizable weight's options with their measured KLD.
    static func measure<M: BlockwiseLanguageModel>(_ model: M, weights: any TensorSource, calibration: String, options: Options,
                                                    progress: (any ProgressSink)?) throws -> ([[Candidate]], [TensorInfo]) {
        let family = model.familyDescription
        let path = model.location
        // Reference runs of the sensitivity chunks: every block's input and the scored positions' log-softmax.
        guard let language = family as? any LanguageModelFamily else {
            throw PlanError.badRequest(flag: "MODEL", reason: "\(path) is a \(family.variant) without a tokenizer; the language-model planner needs a decoder family")
        }
        let context = options.sensitivityContext
        let (units, _) = try TextCalibration.units(calibration, family: language, location: model.location, vocabulary: model.vocabularySize,
                                                   count: options.sensitivityChunks, context: context)
        let first = context / 2
        let references = try units.map { unit -> (inputs: [[Float]], logits: [Float], sums: [sk_logsumexp_t]) in
            let (inputs, logits) = try model.trace(unit, from: first)
            return (inputs, logits, reductions(logits, vocab: model.vocabularySize))
        }
        let methods = options.methods
        let needsStatistics = methods.contains(where: \.needsCalibration)
        let statistics = needsStatistics
            ? try TextCalibration.statistics(model, calibration: calibration, count: options.calibrationChunks,
                                             context: options.calibrationContext, progress: progress).0 : [:]

        // Candidates of every quantizable weight: in a block (rerun from that block) or the head (rerun from the start).
        var blockOf: [String: Int] = [:]
        for (b, names) in model.blockTensors.enumerated() { for n in names { blockOf[n] = b } }
        let head = Set(options.quantizeHead ? model.headTensors : [])
        let targets = weights.infos.filter { ($0.shape.rank == 2 && blockOf[$0.name] != nil) || head.contains($0.name) }
        var schemes: [TensorChoice] = []
        for bits in options.bits {
            for g in options.granularities {
                for method in methods {
                    for grid in options.grids {
                        for symmetric in options.asymmetric && grid == .integer ? [true, false] : [true] {
                            schemes.append(TensorChoice(bits: bits, granularity: g, method: method, symmetric: symmetric, grid: grid))
                        }
                    }
                }
            }
        }
        var items: [[Candidate]] = []
        for (ti, info) in targets.enumerated() {
            let rows = info.shape.dims[0], columns = info.shape.dims[1]
            let w = try weights.floats(info.name)
            var list = [Candidate(tensor: info.name, choice: nil, bytes: weights.storedByteCount(info.name) ?? info.byteCount, kld: 0)]
            // The head is outside the blocks: sequential GPTQ keeps it, so a recipe quantizes it with round to nearest.
            var tensorSchemes = schemes
            if blockOf[info.name] == nil {
                tensorSchemes = []
                for c in schemes {
                    var r = c
                    if r.method.needsCalibration { r.method = .rtn }
                    if !tensorSchemes.contains(r) { tensorSchemes.append(r) }
                }
            }
            for choice in tensorSchemes {
                if let g = choice.granularity.groupSize, columns % g != 0 { continue }
                if choice.method.needsCalibration && statistics[info.name] == nil { continue }
                if choice.method == .awq { continue }  // AWQ folds scales between tensors: not a per-tensor option
                progress?.update(done: ti, total: targets.count, item: "\(info.name) \(choice)")
                let scheme = choice.scheme(scaleDType: options.scaleDType)
                let q = try choice.method.compressor().compress(w, rows: rows, columns: columns, scheme: scheme,
                                                               statistics: statistics[info.name], name: info.name)
                let overlay = OverlaySource(base: weights)
                try overlay.replace(info.name, with: q.dequantized())
                var kld = 0.0, positions = 0
                for (i, ref) in references.enumerated() {
                    let logits: [Float]
                    if let b = blockOf[info.name] {
                        logits = try model.logits(fromBlock: b, input: ref.inputs[b], tokens: context, from: first, replacing: overlay)
                    } else {
                        logits = try model.logits(units[i], from: first, head: overlay)
                    }
                    // The positions llama-perplexity scores: context/2 … context − 2.
                    let (sum, count) = meanKLD(ref.logits, ref.sums, logits, vocab: model.vocabularySize, rows: context - 1 - first)
                    kld += sum; positions += count
                }
                list.append(Candidate(tensor: info.name, choice: choice, bytes: q.layout.storedBytes, kld: Candidate.divergence(kld / Double(max(1, positions)))))
            }
            items.append(list)
            weights.release(info.name)
        }
        progress?.finish()
        return (items, targets)

    }

    /// Applies the recipe with the quantize pipeline (sequential GPTQ on the calibration text), reads the written
    /// model back and compares it with the original on the held-out text.
    static func measure<M: BlockwiseLanguageModel>(_ model: M, path: String, plan: Plan, evaluation: String, options: Options,
                                                    progress: (any ProgressSink)?) throws -> Measurement {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("shrink-plan-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var q = QuantizeOptions()
        q.perTensor = plan.quantize
        q.scaleDType = options.scaleDType
        try QuantizePipeline.run(checkpoint: path, options: q,
                                 calibration: .init(data: plan.calibration, count: options.calibrationChunks, context: options.calibrationContext),
                                 outputDirectory: scratch, overwrite: false, progress: progress)
        let written = try SafetensorsFile(path: scratch + "/model.safetensors").totalBytes
        let compressed = try ModelRegistry.load(scratch, as: M.self, needed: "the compressed decoder")
        var o = LanguageComparison.Options()
        o.seed = options.seed
        let task = try TextOptions(path: evaluation, chunks: options.evaluationChunks, split: "test").task(for: model)
        let r = try LanguageComparison.compare(original: model, compressed: compressed, on: task, options: o, progress: progress)
        return Measurement(writtenTensorBytes: written, bitsPerWeight: Double(written * 8) / Double(plan.parameters),
                           perplexity: r.compressed.perplexity, originalPerplexity: r.original.perplexity, kld: r.kld,
                           kldP99: r.kldDistribution.p99, sameTop: r.sameTop, label: r.label, text: evaluation, chunks: r.chunks)
    }

    static func reductions(_ logits: [Float], vocab: Int) -> [sk_logsumexp_t] {
        let rows = logits.count / vocab
        return logits.withUnsafeBufferPointer { l in
            (0..<rows).map { r in
                var out = sk_logsumexp_t()
                sk_logsumexp_row(l.baseAddress! + r * vocab, vocab, &out)
                return out
            }
        }
    }

    /// Σ KL(reference ‖ other) over the first `rows` positions (llama-perplexity's, cut at log p < −16), and the count.
    static func meanKLD(_ reference: [Float], _ sums: [sk_logsumexp_t], _ other: [Float], vocab: Int, rows: Int) -> (Double, Int) {
        var total = 0.0
        reference.withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                for r in 0..<rows {
                    var la = sums[r], lb = sk_logsumexp_t()
                    sk_logsumexp_row(b.baseAddress! + r * vocab, vocab, &lb)
                    total += sk_kl_divergence_row(a.baseAddress! + r * vocab, &la, b.baseAddress! + r * vocab, &lb, vocab, -16)
                }
            }
        }
        return (total, rows)
    }
}
