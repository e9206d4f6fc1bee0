import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink sweep` for a language model: a grid of bits × method × granularity (× zero point), each recipe applied
/// to every quantizable weight by the quantize pipeline (GPTQ and AWQ calibrated block by block on the
/// calibration text), written, read back and compared with the original on the held-out text as
/// llama-perplexity's `--kl-divergence` compares two models.
///
/// GPTQ's sequential mode never captures the output head's input, so it keeps the head as stored (as GPTQ's
/// reference and llm-compressor do); a sweep keeps it in every row, so recipes of the same bits and groups have
/// the same bytes and differ only by method. The report lists what was kept.
public enum LanguageSweep {
    public struct Options: Sendable {
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
        public init() {}
    }

    public struct Row: Codable, Sendable {
        public var recipe: String
        public var bits: Int
        public var method: String
        public var granularity: String
        public var symmetric: Bool
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
        if options.methods.contains(where: \.needsCalibration) && calibration == nil {
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
        var rows: [Row] = []
        var originalPerplexity: LanguageComparison.Estimate?
        var originalBytes = 0
        for bits in options.bits {
            for g in options.granularities {
                for method in options.methods {
                    for grid in options.grids {
                    for symmetric in options.asymmetric && grid == .integer ? [true, false] : [true] {
                        let r0 = Date()
                        var q = QuantizeOptions()
                        q.bits = bits; q.granularity = g; q.method = method; q.symmetric = symmetric; q.grid = grid
                        q.scaleDType = options.scaleDType; q.quantizeEmbeddings = options.quantizeEmbeddings
                        for h in keptHead { q.keepTensors[h] = "outside the blocks: kept as stored in every row of the sweep, as GPTQ's sequential mode keeps it" }
                        let name = TensorChoice(bits: bits, granularity: g, method: method, symmetric: symmetric, grid: grid).description
                        progress?.update(done: rows.count, total: options.bits.count * options.granularities.count * options.methods.count
                                         * options.grids.count * (options.asymmetric ? 2 : 1), item: name)
                        let scratch = FileManager.default.temporaryDirectory
                            .appendingPathComponent("shrink-sweep-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
                        defer { try? FileManager.default.removeItem(atPath: scratch) }
                        try QuantizePipeline.run(checkpoint: path, options: q,
                                                 calibration: method.needsCalibration
                                                     ? .init(data: calibration!, count: options.calibrationChunks, context: options.calibrationContext) : nil,
                                                 outputDirectory: scratch, overwrite: false)
                        let compressed = try ModelRegistry.load(scratch, as: M.self, needed: "the compressed decoder")
                        var o = LanguageComparison.Options()
                        o.seed = options.seed
                        let c = try LanguageComparison.compare(original: original, compressed: compressed, on: task, options: o)
                        originalPerplexity = c.original.perplexity
                        originalBytes = c.original.weightBytes
                        rows.append(Row(recipe: name, bits: bits, method: method.rawValue, granularity: g.description, symmetric: symmetric,
                                        tensorBytes: c.compressed.weightBytes,
                                        bitsPerWeight: Double(c.compressed.weightBytes * 8) / Double(original.parameterCount),
                                        perplexity: c.compressed.perplexity, kld: c.kld, kldP99: c.kldDistribution.p99, sameTop: c.sameTop,
                                        chunkNLLDifference: c.chunkNLLDifference, label: c.label, seconds: Date().timeIntervalSince(r0)))
                    }
                    }
                }
            }
        }
        progress?.finish()
        var report = Report(model: path, family: original.familyDescription.variant, parameters: original.parameterCount, text: task.dataPath,
                            chunks: task.unitCount, context: task.context, calibration: calibration,
                            originalPerplexity: originalPerplexity ?? .init(value: 0, error: 0), originalBytes: originalBytes,
                            keptInEveryRow: keptHead.isEmpty ? nil : keptHead, rows: rows)
        report.seconds = Date().timeIntervalSince(t0)
        return report
    }
}
