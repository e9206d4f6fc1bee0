import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink sweep` for a language model: a grid of bits × method × granularity (× zero point), optionally crossed
/// with pruning choices (or pruning alone, the pruned weights stored sparse), each recipe applied to every
/// quantizable weight by the quantize pipeline (GPTQ, AWQ, Wanda and SparseGPT calibrated block by block on the
/// calibration text), written, read back and compared with the original on the held-out text as
/// llama-perplexity's `--kl-divergence` compares two models.
///
/// GPTQ's sequential mode never captures the output head's input, so it keeps the head as stored (as GPTQ's
/// reference and llm-compressor do); a sweep keeps it in every row, so recipes of the same bits and groups have
/// the same bytes and differ only by method. The report lists what was kept.
public enum LanguageSweep {
    public struct Options: Sendable {
        /// Bit widths; empty with `prunings`: the pruned weights alone, unquantized.
        public var bits = [8, 5, 4, 3]
        public var methods: [Method] = [.rtn, .gptq]
        public var granularities: [Granularity] = [.group(32)]
        public var asymmetric = false
        public var grids: [QuantScheme.Grid] = [.integer]
        public var scaleDType: DType = .f16
        public var quantizeEmbeddings = false
        public var calibrationChunks = 32
        public var calibrationContext = 512
        public var seed: UInt64 = 0
        /// Each pruning choice crosses every quantized recipe (or stands alone when `bits` is empty).
        public var prunings: [PruneChoice] = []
        public init() {}
    }

    public struct Row: Codable, Sendable {
        public var recipe: String
        /// nil for pruned weights kept unquantized.
        public var bits: Int?
        public var method: String?
        public var granularity: String?
        public var symmetric: Bool?
        /// The pruning method and sparsity, when the row prunes.
        public var prune: String?
        public var sparsity: String?
        public var tensorBytes: Int
        public var bitsPerWeight: Double
        public var perplexity: LanguageComparison.Estimate
        public var kld: LanguageComparison.Estimate
        public var kldP99: Double
        public var sameTop: LanguageComparison.Estimate
        /// Paired over chunks: mean NLL difference (compressed − original) with its bootstrap interval.
        public var chunkNLLDifference: Statistics.Interval
        public var label: Comparison.Label
        public var seconds: Double
    }

    public struct Report: Codable, Sendable {
        public var model: String
        public var family: String
        public var parameters: Int
        public var text: String
        public var chunks: Int
        public var context: Int
        public var calibration: String?
        public var originalPerplexity: LanguageComparison.Estimate
        public var originalBytes: Int
        /// Linear weights kept as stored in every row (the output head, outside the sequential blocks).
        public var keptInEveryRow: [String]?
        public var rows: [Row]
        public var seconds: Double = 0
        enum CodingKeys: String, CodingKey {
            case model, family, parameters, text, chunks, context, calibration, originalPerplexity, originalBytes, keptInEveryRow, rows
        }
    }

    public static func run<M: CausalLanguageModel>(model original: M, path: String, text: TextOptions, calibration: String?,
                                                   options: Options, progress: (any ProgressSink)? = nil) throws -> Report {
        let t0 = Date()
        let task = try text.task(for: original)
        if !options.bits.isEmpty && options.methods.contains(where: \.needsCalibration) && calibration == nil {
            throw ModelError.badRequest(flag: "--calib", reason: "gptq and awq need a calibration text (never the evaluation one)")
        }
        if let calibration, calibration == text.path {
            throw ModelError.badRequest(flag: "--calib", reason: "\(calibration) is also the evaluation text; calibrate on other text")
        }
        // The linear weights outside the blocks (a head not tied to the embedding).
        var keptHead: [String] = []
        if let sequential = original.familyDescription as? any SequentialFamily {
            let inBlocks = Set(sequential.blocks.joined())
            keptHead = sequential.tensorLayout.filter { $0.role == .linear && !inBlocks.contains($0.name) }.map(\.name)
        }
        if options.prunings.contains(where: \.method.needsCalibration) && calibration == nil {
            throw ModelError.badRequest(flag: "--calib", reason: "wanda and sparsegpt need a calibration text (never the evaluation one)")
        }
        if options.bits.isEmpty && options.prunings.isEmpty {
            throw ModelError.badRequest(flag: "--bits", reason: "none needs --prune (a sweep of pruned weights kept at full precision)")
        }
        let recipes = Self.recipes(options, keptHead: keptHead)
        var rows: [Row] = []
        var originalPerplexity: LanguageComparison.Estimate?
        var originalBytes = 0
        for recipe in recipes {
            let r0 = Date(), q = recipe.options
            progress?.update(done: rows.count, total: recipes.count, item: recipe.name)
            let scratch = FileManager.default.temporaryDirectory
                .appendingPathComponent("shrink-sweep-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            try QuantizePipeline.run(checkpoint: path, options: q,
                                     calibration: q.needsCalibration
                                         ? .init(data: calibration!, count: options.calibrationChunks, context: options.calibrationContext) : nil,
                                     outputDirectory: scratch, overwrite: false)
            let compressed = try ModelRegistry.load(scratch, as: M.self, needed: "the compressed decoder")
            var o = LanguageComparison.Options()
            o.seed = options.seed
            let c = try LanguageComparison.compare(original: original, compressed: compressed, on: task, options: o)
            originalPerplexity = c.original.perplexity
            originalBytes = c.original.weightBytes
            rows.append(Row(recipe: recipe.name, bits: q.quantize ? q.bits : nil, method: q.quantize ? q.method.rawValue : nil,
                            granularity: q.quantize ? q.granularity.description : nil, symmetric: q.quantize ? q.symmetric : nil,
                            prune: q.prune?.method.rawValue, sparsity: q.prune?.sparsity.description,
                            tensorBytes: c.compressed.weightBytes,
                            bitsPerWeight: Double(c.compressed.weightBytes * 8) / Double(original.parameterCount),
                            perplexity: c.compressed.perplexity, kld: c.kld, kldP99: c.kldDistribution.p99, sameTop: c.sameTop,
                            chunkNLLDifference: c.chunkNLLDifference, label: c.label, seconds: Date().timeIntervalSince(r0)))
        }
        progress?.finish()
        var report = Report(model: path, family: original.familyDescription.variant, parameters: original.parameterCount, text: task.dataPath,
                            chunks: task.unitCount, context: task.context, calibration: calibration,
                            originalPerplexity: originalPerplexity ?? .init(value: 0, error: 0), originalBytes: originalBytes,
                            keptInEveryRow: keptHead.isEmpty ? nil : keptHead, rows: rows)
        report.seconds = Date().timeIntervalSince(t0)
        return report
    }

    /// The grid in row order: bits × granularity × method × grid (× zero point); with prunings, each pruning choice
    /// crossed with that grid, or alone (stored sparse) when `bits` is empty.
    static func recipes(_ options: Options, keptHead: [String]) -> [(name: String, options: QuantizeOptions)] {
        var quantized: [(name: String, options: QuantizeOptions)] = []
        for bits in options.bits {
            for g in options.granularities {
                for method in options.methods {
                    for grid in options.grids {
                        for symmetric in options.asymmetric && grid == .integer ? [true, false] : [true] {
                            var q = QuantizeOptions()
                            q.bits = bits; q.granularity = g; q.method = method; q.symmetric = symmetric; q.grid = grid
                            q.scaleDType = options.scaleDType; q.quantizeEmbeddings = options.quantizeEmbeddings
                            quantized.append((TensorChoice(bits: bits, granularity: g, method: method, symmetric: symmetric, grid: grid).description, q))
                        }
                    }
                }
            }
        }
        var recipes = quantized
        if !options.prunings.isEmpty {
            var sparseOnly = QuantizeOptions()
            sparseOnly.quantize = false
            sparseOnly.quantizeEmbeddings = options.quantizeEmbeddings
            let bases = options.bits.isEmpty ? [("", sparseOnly)] : quantized.map { (", " + $0.name, $0.options) }
            recipes = options.prunings.flatMap { p in
                bases.map { suffix, base in
                    var o = base
                    o.prune = p
                    return ("prune \(p.method.rawValue) \(p.sparsity)" + suffix, o)
                }
            }
        }
        let reason = "outside the blocks: kept as stored in every row of the sweep, as GPTQ's sequential mode keeps it"
        return recipes.map { name, o in
            var o = o
            for h in keptHead { o.keepTensors[h] = reason }
            return (name, o)
        }
    }
}
