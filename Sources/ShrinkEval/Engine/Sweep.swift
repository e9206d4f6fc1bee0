import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink sweep`: a grid of weight-compression recipes × run depths on one model, each evaluated against the
/// original model on the same units of a task. The original's run (outcomes and states) is done once per depth
/// and reused; every stage count 1…K comes from the same run, since stage k of a K-stage run is a k-stage run.
public enum Sweep {
    public struct Options: Sendable {
        public var bits = [8, 6, 4, 3, 2]
        public var methods: [Method] = [.rtn, .mse]
        public var granularities: [Granularity] = [.tensor, .channel, .group(32), .group(64), .group(128)]
        public var symmetric = true
        public var quantizeEmbeddings = false
        /// Units whose states are kept for fidelity (memory: units × stages × state width × 4 bytes).
        public var fidelityPuzzles = 500
        public var seed: UInt64 = 0
        /// Recipes of these bit widths are also evaluated at the extra depths (the original always is).
        public var cycleBits: [Int] = [8]
        /// Only this shard's recipes (`Shard.owns` their index in the grid, the original being 0); every shard runs
        /// the original too, as the reference its rows are paired with.
        public var shard: Shard?
        /// The pruning axis (none: the grid is quantization only). Each choice is crossed with every quantization
        /// recipe of the grid, or, with `bits` empty, evaluated alone (the pruned weights kept at full precision,
        /// stored sparse); Wanda and SparseGPT rows need calibration.
        public var prunings: [PruneChoice] = []
        /// The low-rank axis: each rank R > 0 crosses every quantization recipe with rank-R compensation of its
        /// error by `lowRankMethod` (0: the recipe alone). EoRA rows need calibration.
        public var ranks: [Int] = [0]
        public var lowRankMethod: LowRankCompensation.Method = .eora
        public init() {}
    }

    /// One recipe at one depth: what it measured, and the run it measured (the task's depth stopped after the
    /// row's stage). Both are written into the row's own keys (a reasoner's depth: steps, h_cycles, l_cycles).
    @dynamicMemberLookup
    public struct Row<Depth: SweepDepth>: Codable, Sendable {
        public struct Measured: Codable, Sendable {
            public var recipe: String
            public var bits: Int?
            public var method: String
            public var granularity: String
            /// The pruning method and its sparsity (a fraction, or N:M), for rows of the pruning axis.
            public var prune: String?
            public var sparsity: String?
            /// The low-rank compensation's rank and method, for rows of the low-rank axis.
            public var lowRank: String?
            public var weightBytes: Int
            public var flopsPerPuzzle: Int
            /// Unit success (puzzle-exact) with a Wilson 95% interval.
            public var exact: Statistics.Interval
            /// Graded score (cell accuracy) with a bootstrap 95% interval over units.
            public var cell: Statistics.Interval
            /// Mean state cosine to the original model at the same depth, at this row's last stage (1 for the original).
            public var fidelity: Double
            public var exactVersusFP32: Statistics.Interval
            /// Cell accuracy minus the original's at the same depth, paired per unit (bootstrap 95% over units);
            /// absent from sweeps written before it was measured.
            public var cellVersusFP32: Statistics.Interval?
            public var mcNemarP: Double
            public var label: Comparison.Label
            /// Paired against the original model at full depth (all stages): the question "does this recipe at
            /// this depth match the full model?".
            public var exactVersusFP32FullDepth: Statistics.Interval
            public var mcNemarPFullDepth: Double
            public var labelVersusFullDepth: Comparison.Label

            // "FP32" spelled "Fp32" so that the snake_case JSON (exact_versus_fp32) decodes back.
            enum CodingKeys: String, CodingKey {
                case recipe, bits, method, granularity, prune, sparsity, lowRank, weightBytes, flopsPerPuzzle, exact, cell, fidelity
                case exactVersusFP32 = "exactVersusFp32", cellVersusFP32 = "cellVersusFp32", mcNemarP, label
                case exactVersusFP32FullDepth = "exactVersusFp32FullDepth", mcNemarPFullDepth, labelVersusFullDepth
            }
        }

        public var measured: Measured
        public var depth: Depth

        public init(measured: Measured, depth: Depth) { self.measured = measured; self.depth = depth }
        public subscript<T>(dynamicMember key: KeyPath<Measured, T>) -> T { measured[keyPath: key] }

        public init(from decoder: Decoder) throws {
            measured = try Measured(from: decoder)
            depth = try Depth(from: decoder)
        }

        public func encode(to encoder: Encoder) throws {
            try measured.encode(to: encoder)
            try depth.encode(to: encoder)
        }
    }

    /// A sweep: its rows and what they were measured on. The trained depth is written as the depth's own
    /// summary keys (a reasoner: trained_h_cycles).
    @dynamicMemberLookup
    public struct Report<Depth: SweepDepth>: Codable, Sendable {
        public struct Summary: Codable, Sendable {
            public var model: String
            public var architecture: String
            public var data: String
            public var puzzles: Int
            public var rows: [Row<Depth>]
            /// Spearman rank correlation of fidelity with exact accuracy across the quantized rows, with a
            /// bootstrap 95% interval over rows.
            public var fidelityExactSpearman: Statistics.Interval?
            public var seconds: Double
        }

        public var summary: Summary
        /// The depth the model was trained to run: its rows are the grid, rows at other depths come from the
        /// extra depths.
        public var trainedDepth: Depth

        public subscript<T>(dynamicMember key: KeyPath<Summary, T>) -> T { summary[keyPath: key] }

        init(summary: Summary, trainedDepth: Depth) { self.summary = summary; self.trainedDepth = trainedDepth }

        public init(from decoder: Decoder) throws {
            summary = try Summary(from: decoder)
            trainedDepth = try Depth.trained(from: decoder, rows: summary.rows.map(\.depth))
        }

        public func encode(to encoder: Encoder) throws {
            try summary.encode(to: encoder)
            try trainedDepth.encodeTrained(to: encoder)
        }
    }

    /// One recipe of the grid: nil options is the original model.
    struct Recipe { var name: String; var options: QuantizeOptions? }

    /// - Parameters:
    ///   - depths: the task's depths to run, the trained one first (rows of the others only for `cycleBits`).
    ///   - calibration: layer statistics from training data (needed by awq and gptq rows).
    public static func run<Task: EvaluationTask>(model: Task.Model, task: Task, depths: [Task.Depth], options: Options,
                                                 calibration: [String: LayerStatistics]? = nil,
                                                 progress: (any ProgressSink)? = nil) throws -> Report<Task.Depth> where Task.Depth: SweepDepth {
        try runGrid(model: model, task: task, depths: depths, options: options, calibration: calibration, progress: progress).report
    }

    /// `options.shard`'s part of the sweep, to merge with the other shards' (`merge`); `fingerprint` identifies the grid.
    public static func part<Task: EvaluationTask>(model: Task.Model, task: Task, depths: [Task.Depth], options: Options, fingerprint: String,
                                                  calibration: [String: LayerStatistics]? = nil,
                                                  progress: (any ProgressSink)? = nil) throws -> Part<Task.Depth> where Task.Depth: SweepDepth {
        guard let shard = options.shard else { throw ModelError.badRequest(flag: "--shard", reason: "a partial sweep needs --shard I/N") }
        let (report, recipes) = try runGrid(model: model, task: task, depths: depths, options: options, calibration: calibration, progress: progress)
        return Part(format: Part<Task.Depth>.formatName, fingerprint: fingerprint, shard: shard, recipes: recipes, seed: options.seed, report: report)
    }

    static func runGrid<Task: EvaluationTask>(model: Task.Model, task: Task, depths: [Task.Depth], options: Options,
                                              calibration: [String: LayerStatistics]?,
                                              progress: (any ProgressSink)?) throws -> (report: Report<Task.Depth>, recipes: [String]) where Task.Depth: SweepDepth {
        try task.check(model)
        let t0 = Date()
        let count = task.unitCount
        guard let family = model.familyDescription as? any RunnableFamily else {
            throw ModelError.notRunnable(file: model.location, family: type(of: model.familyDescription).familyName)
        }
        let location = ModelLocation(model.location)
        let base = try location.openWeights()
        let fp32Bytes = base.totalBytes

        let recipes = grid(base, options: options, calibrated: calibration != nil)
        let keep = min(count, options.fidelityPuzzles)
        var rows: [Row<Task.Depth>] = []
        var references = [Run<Task.Outcome>?](repeating: nil, count: depths.count)
        let owned = Set(recipes.indices.filter { options.shard?.owns($0) ?? true })
        for (i, recipe) in recipes.enumerated() where owned.contains(i) || (i == 0 && !owned.isEmpty) {
            progress?.update(done: i, total: recipes.count, item: recipe.name)
            var candidate = model
            var bytes = fp32Bytes
            if let o = recipe.options {
                var start: any TensorSource = base
                if o.method == .awq {
                    // AWQ rows quantize the folded (function-preserving) weights.
                    start = try AWQ.fold(base, decisions: QuantizeJob.plan(base, options: o), folds: family.scaleFolds, statistics: calibration!).0
                }
                let q = try QuantizeJob.roundTrip(start, options: o, calibration: calibration ?? [:])
                bytes = q.storedBytes
                guard let bound = try family.bind(q.weights, location: model.location + " [\(recipe.name)]", streamEmbeddings: false) as? Task.Model else {
                    throw ModelError.wrongFamily(file: model.location, family: type(of: family).familyName, needed: "\(Task.Model.self)")
                }
                candidate = bound
            }
            for (di, d) in depths.enumerated() where di == 0 || recipe.options.map({ $0.quantize && options.cycleBits.contains($0.bits) }) ?? true {
                let run = try evaluate(candidate, task, depth: d, keep: keep, reference: references[di])
                if references[di] == nil { references[di] = run }
                if !owned.contains(i) { continue }  // the original, run as another shard's reference
                let reference = references[di]!
                // "Full depth" is always the original model at its trained depth and every stage.
                let full = references[0]!.outcomes[task.stages(depths[0]) - 1].map(\.success)
                for s in 0..<task.stages(d) {
                    let outcomes = run.outcomes[s]
                    let acc = (exact: Statistics.wilson(successes: outcomes.filter(\.success).count, trials: outcomes.count),
                               cell: Statistics.bootstrapMean(outcomes.map(\.score), seed: options.seed))
                    let success = outcomes.map(\.success)
                    let vs = Paired.successes(reference.outcomes[s].map(\.success), success, seed: options.seed &+ 5)
                    let vsFull = Paired.successes(full, success, seed: options.seed &+ 5)
                    let o = recipe.options
                    rows.append(Row(measured: .init(
                        recipe: recipe.name, bits: o.flatMap { $0.quantize ? $0.bits : nil }, method: o.map { $0.quantize ? $0.methodName : "none" } ?? "none",
                        granularity: o.map { $0.quantize ? "\($0.granularity)" : "dense" } ?? "fp32",
                        prune: o?.prune?.method.rawValue, sparsity: o?.prune?.sparsity.description, lowRank: o?.lowRank?.description,
                        weightBytes: bytes,
                        flopsPerPuzzle: task.flopsPerUnit(model, depth: d, stages: s + 1),
                        exact: acc.exact, cell: acc.cell,
                        fidelity: run.fidelity[s],
                        exactVersusFP32: vs.difference,
                        cellVersusFP32: Statistics.bootstrapMean(zip(outcomes, reference.outcomes[s]).map { $0.score - $1.score }, seed: options.seed &+ 9),
                        mcNemarP: vs.p,
                        label: Comparison.label(exactDifference: vs.difference, p: vs.p, puzzles: count, split: task.split, margin: 0.02),
                        exactVersusFP32FullDepth: vsFull.difference, mcNemarPFullDepth: vsFull.p,
                        labelVersusFullDepth: Comparison.label(exactDifference: vsFull.difference, p: vsFull.p, puzzles: count, split: task.split, margin: 0.02)),
                        depth: d.stopped(after: s + 1)))
                }
            }
        }
        progress?.finish()
        let trained = depths[0]
        return (Report(summary: .init(model: model.location, architecture: family.variant, data: task.dataPath, puzzles: count, rows: rows,
                                      fidelityExactSpearman: options.shard == nil ? spearman(of: rows, trained: trained, seed: options.seed) : nil,
                                      seconds: Date().timeIntervalSince(t0)),
                       trainedDepth: trained),
                recipes.map(\.name))
    }

    /// The grid's recipes in order, the original first: bits × methods × granularities (groups that do not divide
    /// every row skipped, calibrated methods only with calibration), each crossed with the ranks, then, with a
    /// pruning axis, every pruning choice crossed with those recipes (or alone, without bits).
    static func grid(_ base: any TensorSource, options: Options, calibrated: Bool) -> [Recipe] {
        var quantized: [Recipe] = []
        for bits in options.bits {
            for method in options.methods where !method.needsCalibration || calibrated {
                for granularity in options.granularities {
                    var o = QuantizeOptions()
                    o.bits = bits; o.granularity = granularity; o.symmetric = options.symmetric
                    o.quantizeEmbeddings = options.quantizeEmbeddings
                    o.method = method
                    guard (try? QuantizeJob.plan(base, options: o)) != nil else { continue }  // group must divide every row
                    for rank in options.ranks {
                        var r = o
                        if rank > 0 {
                            r.lowRank = .init(rank: rank, method: options.lowRankMethod)
                            if r.lowRank!.needsCalibration && !calibrated { continue }
                        }
                        quantized.append(Recipe(name: "int\(bits) \(granularity) \(o.methodName)" + (r.lowRank.map { " + \($0.description)" } ?? ""), options: r))
                    }
                }
            }
        }
        guard !options.prunings.isEmpty else { return [Recipe(name: "fp32", options: nil)] + quantized }
        var recipes = [Recipe(name: "fp32", options: nil)]
        var sparseOnly = QuantizeOptions()
        sparseOnly.quantize = false
        sparseOnly.quantizeEmbeddings = options.quantizeEmbeddings
        for p in options.prunings where !p.method.needsCalibration || calibrated {
            for q in options.bits.isEmpty ? [Recipe(name: "dense", options: sparseOnly)] : quantized {
                var o = q.options!
                o.prune = p
                guard (try? QuantizeJob.plan(base, options: o)) != nil else { continue }  // N:M must divide every row
                recipes.append(Recipe(name: "prune \(p.method.rawValue) \(p.sparsity)" + (options.bits.isEmpty ? "" : ", " + q.name), options: o))
            }
        }
        return recipes
    }

    /// A model's outcomes at every stage, its states of the first `keep` units (kept only for the reference),
    /// and its mean state cosine to `reference` per stage.
    struct Run<Outcome: TaskOutcome> {
        var outcomes: [[Outcome]]
        var states: [[Float]]
        var fidelity: [Double]
    }

    static func evaluate<Task: EvaluationTask>(_ m: Task.Model, _ task: Task, depth: Task.Depth, keep: Int,
                                               reference: Run<Task.Outcome>?) throws -> Run<Task.Outcome> {
        let stages = task.stages(depth)
        let width = task.stateParts(m).reduce(0) { $0 + $1.width }
        var outcomes = [[Task.Outcome]](repeating: [], count: stages)
        var states = [[Float]](repeating: [], count: stages)
        var cosines = [[Double]](repeating: [], count: stages)
        try task.forEachBatch { units in
            let r = try task.run(m, units: units, depth: depth, trace: units.lowerBound < keep, linearInputs: nil)
            for s in 0..<stages {
                outcomes[s] += r.outcomes[s]
                if let st = r.states?[s] {
                    let kept = Array(st[0..<(min(units.count, keep - units.lowerBound) * width)])
                    if let reference {
                        let offset = units.lowerBound * width
                        cosines[s] += StateCosine.perUnit(Array(reference.states[s][offset..<(offset + kept.count)]), kept, width: width)
                    } else {
                        states[s] += kept
                        cosines[s] += [Double](repeating: 1, count: kept.count / width)
                    }
                }
            }
        }
        return Run(outcomes: outcomes, states: reference == nil ? states : [], fidelity: cosines.map(StateCosine.mean))
    }

    /// Spearman's ρ (Pearson correlation of average ranks).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        func ranks(_ v: [Double]) -> [Double] {
            let order = v.indices.sorted { v[$0] < v[$1] }
            var r = [Double](repeating: 0, count: v.count)
            var i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
                for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
                i = j + 1
            }
            return r
        }
        let rx = ranks(x), ry = ranks(y)
        let mx = rx.reduce(0, +) / Double(rx.count), my = ry.reduce(0, +) / Double(ry.count)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(rx, ry) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }

    static func spearmanBootstrap(_ x: [Double], _ y: [Double], seed: UInt64, resamples: Int = 2000) -> Statistics.Interval {
        var rng = SeededGenerator(seed: seed &+ 7)
        var values: [Double] = []
        for _ in 0..<resamples {
            let idx = (0..<x.count).map { _ in rng.below(x.count) }
            values.append(spearman(idx.map { x[$0] }, idx.map { y[$0] }))
        }
        values.sort()
        return Statistics.Interval(estimate: spearman(x, y), lower: values[Int(0.025 * Double(resamples))],
                                   upper: values[Int(0.975 * Double(resamples)) - 1], level: 0.95)
    }
}

extension Sweep {
    /// A reasoner's sweep on a puzzle set: the trained depth, then the same steps and L_cycles at each of
    /// `extraHCycles` outer-cycle counts (the trained count is not repeated).
    public static func run(model: RecursiveReasoner, data: PuzzleDataset, limit: Int? = nil, extraHCycles: [Int] = [], options: Options,
                           calibration: [String: LayerStatistics]? = nil, progress: (any ProgressSink)? = nil) throws -> Report<RecursionDepth> {
        let trained = model.fullDepth
        let depths = [trained] + extraHCycles.filter { $0 != trained.hCycles && $0 >= 1 }
            .map { RecursionDepth(steps: trained.steps, hCycles: $0, lCycles: trained.lCycles) }
        return try run(model: model, task: PuzzleTask(data, limit: limit), depths: depths, options: options, calibration: calibration, progress: progress)
    }
}

/// A run depth a sweep varies and records in its rows.
public protocol SweepDepth: Codable, Sendable, Equatable {
    /// This depth stopped after `stages` stages: the run a sweep row at that stage measured.
    func stopped(after stages: Int) -> Self
    /// Writes what a sweep report says about its trained depth into the report's keys.
    func encodeTrained(to encoder: Encoder) throws
    /// Reads it back; `rows` are the depths of the report's rows.
    static func trained(from decoder: Decoder, rows: [Self]) throws -> Self
}

/// A reasoner's sweep rows hold steps, h_cycles and l_cycles; its report says trained_h_cycles (the rows at the
/// trained depth are those at that H_cycles, and the trained steps are the most any row has).
extension RecursionDepth: SweepDepth {
    public func stopped(after stages: Int) -> RecursionDepth { RecursionDepth(steps: stages, hCycles: hCycles, lCycles: lCycles) }

    enum TrainedKeys: String, CodingKey { case trainedHCycles }

    public func encodeTrained(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: TrainedKeys.self)
        try c.encode(hCycles, forKey: .trainedHCycles)
    }

    public static func trained(from decoder: Decoder, rows: [RecursionDepth]) throws -> RecursionDepth {
        let h = try decoder.container(keyedBy: TrainedKeys.self).decode(Int.self, forKey: .trainedHCycles)
        let atH = rows.filter { $0.hCycles == h }
        return RecursionDepth(steps: atH.map(\.steps).max() ?? 1, hCycles: h, lCycles: atH.first?.lCycles ?? 1)
    }
}

extension Sweep.Row where Depth == RecursionDepth {
    public var steps: Int { depth.steps }
    public var hCycles: Int { depth.hCycles }
    public var lCycles: Int { depth.lCycles }
}

extension Sweep.Report where Depth == RecursionDepth {
    public var trainedHCycles: Int { trainedDepth.hCycles }
}
