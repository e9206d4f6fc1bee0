import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Evaluate a grid of bits × method × granularity × supervision steps against the FP32 model.")

    @Argument(help: "Model directory.")
    var model: String

    @Option(help: "Held-out puzzle set.")
    var data: String?

    @Option(help: "Language model: the held-out text (never the calibration text).")
    var text: String?

    @Option(help: "Language model: chunks of --text (default: all).")
    var chunks: Int?

    @Option(help: "Language model: tokens per chunk.")
    var ctx = 512

    @Flag(help: "Language model: zero-point (asymmetric) recipes too.")
    var asym = false

    @Option(help: "Language model: grids, comma-separated: integer, ggml-sym (Q4_0/Q5_0's scale rule).")
    var grids = "integer"

    @Option(help: "Language model: scale dtype (f16 maps to GGUF's legacy blocks).")
    var scaleDtype = "f16"

    @Option(help: "Bit widths, comma-separated (default 8,6,4,3,2; with --prune, none: the pruned weights alone, stored sparse).")
    var bits: String?

    @Option(help: "Pruning methods, comma-separated: magnitude, wanda, sparsegpt (the last two need --calib); each crosses the grid at every --sparsity.")
    var prune: String?

    @Option(help: "With --prune: sparsities, comma-separated: fractions (0.1 … 0.9) and N:M patterns (2:4, 4:8).")
    var sparsity = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,2:4"

    @Option(help: "Low-rank compensation ranks, comma-separated (0: none), e.g. 0,4,8,16,32; each crosses every quantized recipe.")
    var ranks = "0"

    @Option(help: "With --ranks: svd or eora (needs --calib).")
    var lowRankMethod = "eora"

    @Option(help: "Methods, comma-separated: rtn, mse, percentile, awq, gptq (the last two need --calib).")
    var methods = "rtn,mse"

    @Option(help: "Calibration puzzles (training split) for awq and gptq.")
    var calib: String?

    @Option(help: "Calibration puzzles to run.")
    var calibCount = 256

    @Option(help: "Granularities, comma-separated: tensor, channel, g32, g64, g128 …")
    var granularities = "tensor,channel,g32,g64,g128"

    @Option(help: "Puzzles per configuration.")
    var limit: Int?

    @Option(help: "Puzzles whose carries are compared for fidelity.")
    var fidelityPuzzles = 500

    @Option(help: "Outer recursion cycles (H_cycles) to evaluate besides the trained count, comma-separated, e.g. 1.")
    var hCycles: String?

    @Option(help: "Bit widths also evaluated at --h-cycles (FP32 always is), comma-separated.")
    var cycleBits = "8"

    @Option(name: [.short, .long], help: "Write the table as Markdown to this file (and JSON next to it); with --shard, the partial result as JSON.")
    var output: String?

    @Option(help: "Compute only shard I of N of the grid (I from 0; recipes I, I+N, …) and write it to -o as a partial result for `shrink merge`.")
    var shard: String?

    @OptionGroup var out: OutputOptions

    func run() throws {
        if let text { return try runLanguage(text: text) }
        guard let data else { throw ValidationError("--data PUZZLES is required (or --text TEXT for a language model)") }
        var o = Sweep.Options()
        let bitsText = bits ?? (prune == nil ? "8,6,4,3,2" : "none")
        if bitsText == "none" && prune == nil { throw ValidationError("--bits none needs --prune (a sweep of pruned weights kept at full precision)") }
        o.bits = bitsText == "none" ? [] : try bitWidths(bitsText)
        o.methods = try commaList(methods, flag: "--methods") { Method(rawValue: $0) }
        if o.methods.contains(where: \.needsCalibration) && calib == nil && !o.bits.isEmpty {
            throw ValidationError("--methods awq and gptq need --calib PUZZLES (a training split)")
        }
        if let prune {
            let methods = try commaList(prune, flag: "--prune") { PruneMethod(rawValue: $0) }
            if let m = methods.first(where: \.needsCalibration), calib == nil { throw ValidationError("--prune \(m) needs --calib PUZZLES (a training split)") }
            let sparsities = try sparsity.split(separator: ",").map { try Sparsity(parsing: String($0).trimmingCharacters(in: .whitespaces), flag: "--sparsity") }
            o.prunings = methods.flatMap { m in sparsities.map { PruneChoice(method: m, sparsity: $0) } }
        }
        o.ranks = try commaList(ranks, flag: "--ranks") { Int($0).flatMap { $0 >= 0 ? $0 : nil } }
        guard let lm = LowRankCompensation.Method(rawValue: lowRankMethod) else {
            throw ValidationError("--low-rank-method '\(lowRankMethod)' is unknown; use svd or eora")
        }
        o.lowRankMethod = lm
        if o.ranks.contains(where: { $0 > 0 }) && lm == .eora && calib == nil { throw ValidationError("--ranks with --low-rank-method eora needs --calib PUZZLES") }
        if o.ranks.contains(where: { $0 > 0 }) && o.bits.isEmpty { throw ValidationError("--ranks compensates quantization: give --bits") }
        o.granularities = try granularityList(granularities)
        o.fidelityPuzzles = fidelityPuzzles
        let extraHCycles = try hCycles.map { try commaList($0, flag: "--h-cycles") { Int($0).flatMap { $0 >= 1 ? $0 : nil } } } ?? []
        o.cycleBits = try bitWidths(cycleBits, flag: "--cycle-bits")
        o.shard = try shard.map(Shard.init(parsing:))
        if o.shard != nil && (output == nil || text != nil) {
            throw ValidationError(text != nil ? "--shard splits puzzle sweeps (--data)" : "--shard needs -o PART.json for the partial result")
        }
        let m = try RecursiveReasoner.load(directory: model)
        var stats: [String: LayerStatistics]?
        if let calib {
            stats = try PuzzleTask.calibrationStatistics(m, calibration: calib, count: calibCount).0
        }
        let dataset = try PuzzleDataset(path: data)
        if let shard = o.shard, let output {
            let task = try PuzzleTask(dataset, limit: limit)
            let trained = m.fullDepth
            let depths = [trained] + extraHCycles.filter { $0 != trained.hCycles && $0 >= 1 }
                .map { RecursionDepth(steps: trained.steps, hCycles: $0, lCycles: trained.lCycles) }
            let part = try Sweep.part(model: m, task: task, depths: depths, options: o, fingerprint: try fingerprint(o, shards: shard.count),
                                      calibration: stats, progress: out.progress)
            try AtomicFile.write(String(decoding: try Self.encoder.encode(part), as: UTF8.self) + "\n", to: output)
            return try out.emit(part) { "wrote \(output): shard \(shard) of the sweep, \(part.report.rows.count) rows of \(part.recipes.count) recipes' grid" }
        }
        let report = try Sweep.run(model: m, data: dataset, limit: limit, extraHCycles: extraHCycles, options: o,
                                   calibration: stats, progress: out.progress)
        try Self.write(report, to: output)
        try out.emit(report) { Format.sweep(report) }
    }

    /// The grid's inputs and its shape (every flag that changes a row), as every shard of one grid computes it.
    func fingerprint(_ o: Sweep.Options, shards: Int) throws -> String {
        var f = GridFingerprint()
        try f.add(file: model)
        if let data { try f.add(file: data) }
        if let calib { try f.add(file: calib); f.add(text: "calib-count=\(calibCount)") }
        f.add(text: "bits=\(o.bits) methods=\(o.methods.map(\.rawValue)) granularities=\(o.granularities.map(\.description))")
        if !o.prunings.isEmpty { f.add(text: "prunings=\(o.prunings.map(\.description))") }
        if o.ranks != [0] { f.add(text: "ranks=\(o.ranks) low-rank-method=\(o.lowRankMethod.rawValue)") }
        f.add(text: "limit=\(limit.map(String.init) ?? "all") fidelity=\(o.fidelityPuzzles) h-cycles=\(hCycles ?? "") cycle-bits=\(o.cycleBits)")
        f.add(text: "shards=\(shards)")
        return f.value
    }

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    /// The sweep as Markdown at `output` and JSON beside it (what `shrink merge` writes too).
    static func write(_ report: Sweep.Report<RecursionDepth>, to output: String?) throws {
        guard let output else { return }
        try AtomicFile.write(Format.sweep(report) + "\n", to: output)
        let jsonPath = output.hasSuffix(".md") ? String(output.dropLast(3)) + ".json" : output + ".json"
        try AtomicFile.write(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n", to: jsonPath)
    }
}

extension SweepCommand {
    func runLanguage(text: String) throws {
        let m = try ModelRegistry.load(model)
        guard let decoder = m as? any CausalLanguageModel else {
            throw ValidationError("--text sweeps a language model; \(model) is a \(type(of: m.familyDescription).familyName) (use --data)")
        }
        var o = LanguageSweep.Options()
        if ranks != "0" { throw ValidationError("--ranks sweeps puzzle models (--data); a language sweep has no low-rank axis") }
        let bitsText = bits ?? (prune == nil ? "8,6,4,3,2" : "none")
        if bitsText == "none" && prune == nil { throw ValidationError("--bits none needs --prune (a sweep of pruned weights kept at full precision)") }
        o.bits = bitsText == "none" ? [] : try bitWidths(bitsText)
        if let prune {
            let methods = try commaList(prune, flag: "--prune") { PruneMethod(rawValue: $0) }
            if let m = methods.first(where: \.needsCalibration), calib == nil { throw ValidationError("--prune \(m) needs --calib TEXT (a calibration text)") }
            let sparsities = try sparsity.split(separator: ",").map { try Sparsity(parsing: String($0).trimmingCharacters(in: .whitespaces), flag: "--sparsity") }
            o.prunings = methods.flatMap { m in sparsities.map { PruneChoice(method: m, sparsity: $0) } }
        }
        o.methods = try commaList(methods, flag: "--methods") { Method(rawValue: $0) }
        o.granularities = try granularityList(granularities)
        o.asymmetric = asym
        o.grids = try commaList(grids, flag: "--grids") { QuantScheme.Grid(rawValue: $0) }
        o.scaleDType = try scaleDType(scaleDtype)
        o.calibrationChunks = calibCount == 256 ? 32 : calibCount
        func sweep<M: CausalLanguageModel>(_ model: M) throws -> LanguageSweep.Report {
            try LanguageSweep.run(model: model, path: self.model, text: TextOptions(path: text, context: ctx, chunks: chunks, split: "test"),
                                  calibration: calib, options: o, progress: out.progress)
        }
        let report = try sweep(decoder)
        let markdown = Format.languageSweep(report)
        if let output {
            try AtomicFile.write(markdown + "\n", to: output)
            let jsonPath = output.hasSuffix(".md") ? String(output.dropLast(3)) + ".json" : output + ".json"
            try AtomicFile.write(String(decoding: try Recipe.encoder().encode(report), as: UTF8.self) + "\n", to: jsonPath)
        }
        try out.emit(report) { markdown }
    }
}

extension Format {
    static func languageSweep(_ r: LanguageSweep.Report) -> String {
        var s = "### \(r.model) (\(r.family), \(r.parameters) parameters) on \(r.chunks) × \(r.context) tokens of \(r.text)\n\n"
        s += "Original: PPL \(fixed(r.originalPerplexity.value, 3)) ± \(fixed(r.originalPerplexity.error, 3)), \(r.originalBytes) tensor bytes as stored."
        s += r.calibration.map { " Calibrated methods (GPTQ, AWQ, Wanda, SparseGPT) ran on \($0)." } ?? ""
        s += r.keptInEveryRow.map { " Kept as stored in every row (outside the blocks GPTQ solves): \($0.joined(separator: ", "))." } ?? ""
        s += "\n\n| recipe | tensor bytes | bits/weight | PPL | mean KLD | p99 KLD | same top | ΔNLL/token (95%) | label |\n"
        s += "|---|---|---|---|---|---|---|---|---|\n"
        for row in r.rows {
            s += "| \(row.recipe) | \(row.tensorBytes) | \(fixed(row.bitsPerWeight, 3)) | \(fixed(row.perplexity.value, 3)) | "
            s += "\(fixed(row.kld.value, 5)) ± \(fixed(row.kld.error, 5)) | \(fixed(row.kldP99, 4)) | \(fixed(100 * row.sameTop.value, 2))% | "
            let d = row.chunkNLLDifference  // nats per token, not a fraction
            s += "\(fixed(d.estimate, 4)) [\(fixed(d.lower, 4)), \(fixed(d.upper, 4))] | \(row.label.evidence.rawValue) |\n"
        }
        return s
    }

    static func sweep(_ r: Sweep.Report<RecursionDepth>) -> String {
        var s = "### \(r.model) (\(r.architecture)) on \(r.puzzles) puzzles of \(r.data)\n\n"
        s += "| recipe | steps | H_cycles | weight bytes | MFLOP/puzzle | exact (95%) | cell (95%) | fidelity | Δexact vs FP32 | label |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|\n"
        for row in r.rows {
            s += "| \(row.recipe) | \(row.steps) | \(row.hCycles) | \(row.weightBytes) | \(fixed(Double(row.flopsPerPuzzle) / 1e6, 1)) | \(interval(row.exact)) | "
            s += "\(interval(row.cell)) | \(fixed(row.fidelity, 4)) | \(fixed(100 * row.exactVersusFP32.estimate, 1)) "
            s += "[\(fixed(100 * row.exactVersusFP32.lower, 1)), \(fixed(100 * row.exactVersusFP32.upper, 1))] | \(row.label.evidence.rawValue) |\n"
        }
        s += "\nFidelity and Δexact are against FP32 at the same steps and H_cycles; H_cycles \(r.trainedHCycles) is the trained count.\n"
        if let rho = r.fidelityExactSpearman {
            s += "\nSpearman ρ(fidelity, exact) over quantized recipes at full depth: \(fixed(rho.estimate, 3)) [\(fixed(rho.lower, 3)), \(fixed(rho.upper, 3))]\n"
        }
        s += "\nwall time \(fixed(r.seconds, 1)) s"
        return s
    }
}
