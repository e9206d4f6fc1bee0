import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

struct Shrink: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shrink",
        abstract: "Compress trained neural networks for edge devices and measure what survived.",
        version: ShrinkVersion.current,
        subcommands: [Inspect.self, Quantize.self, Dequantize.self, Diff.self, Eval.self, Compare.self, SweepCommand.self, MergeCommand.self, StudyCommand.self, ReportCommand.self, PlanCommand.self, PruneCommand.self, AccountCommand.self, Bench.self, DataCommand.self, ExportCommand.self]
    )
}

/// A comma-separated flag value, each item checked by `parse` (nil: not understood).
func commaList<T>(_ list: String, flag: String, _ parse: (String) -> T?) throws -> [T] {
    try list.split(separator: ",").map { item in
        guard let v = parse(String(item).trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("\(flag): '\(item)' is not understood")
        }
        return v
    }
}

/// Bit widths in a comma-separated flag value: 2 to 8 each.
func bitWidths(_ list: String, flag: String = "--bits") throws -> [Int] {
    try commaList(list, flag: flag) { Int($0).flatMap { QuantScheme.supportedBits.contains($0) ? $0 : nil } }
}

/// Granularities in a comma-separated flag value: tensor, channel, g32, g64 …
func granularityList(_ list: String, flag: String = "--granularities") throws -> [Granularity] {
    try commaList(list, flag: flag) { g -> Granularity? in
        if g == "tensor" { return .tensor }
        if g == "channel" { return .channel }
        if g.hasPrefix("g"), let n = Int(g.dropFirst()), n > 0 { return .group(n) }
        return nil
    }
}

/// A scale dtype flag value: f32, f16 or bf16.
func scaleDType(_ text: String, flag: String = "--scale-dtype") throws -> DType {
    guard let d = DType(flag: text), [.f32, .f16, .bf16].contains(d) else {
        throw QuantizationError.unsupportedDType(flag: flag, dtype: text, allowed: "f32, f16 or bf16")
    }
    return d
}

/// Flags every command shares.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the result as JSON on stdout (no progress, no tables).")
    var json = false

    @Flag(name: [.short, .long], help: "No progress output.")
    var quiet = false

    var progress: (any ProgressSink)? { json || quiet ? nil : TerminalProgress.ifTerminal() }

    func emit<T: Encodable>(_ value: T, text: () -> String) throws {
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            e.keyEncodingStrategy = .convertToSnakeCase
            e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try e.encode(value), as: UTF8.self))
        } else {
            print(text())
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List tensors: dtype, shape, parameters, bytes.")

    @Argument(help: "A .safetensors file, a shard index, a .gguf file, or a directory (compressed output too).")
    var checkpoint: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let report = try InspectReport(path: checkpoint)
        try output.emit(report) { Format.inspect(report) }
    }
}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize 2-D weights (round to nearest, min-max) into a compressed-tensors pack-quantized directory.")

    @Argument(help: "The checkpoint to quantize.")
    var checkpoint: String

    @Option(name: [.short, .long], help: "Output directory (model.safetensors, config.json, shrink.json).")
    var output: String

    @Option(help: "Bits per weight, 2 to 8 (default 4; with --prune and no --bits, the pruned weights are stored sparse, unquantized).")
    var bits: Int?

    @Option(help: "Group size along the input dimension (implies --granularity group).")
    var group: Int?

    @Option(help: "tensor, channel or group.")
    var granularity: String?

    @Flag(help: "Asymmetric (zero point) instead of symmetric.")
    var asym = false

    @Option(help: "Grid: integer (zero point; compressed-tensors), ggml (x = c·d + m, F16 d and m: Q4_1/Q5_1, GGUF export only) or ggml-sym (symmetric levels with Q4_0/Q5_0's finer scale, the largest value on the −2^(b−1) level).")
    var grid: String = "integer"

    @Option(help: "Regular expression: quantize only matching tensors.")
    var include: String?

    @Option(help: "Regular expression: keep matching tensors unquantized (e.g. 'norm|bias').")
    var keep: String?

    @Flag(help: "Quantize embedding tables too.")
    var embeddings = false

    @Option(help: "Scale dtype: f32, f16 or bf16 (default: the weight's own half type, else f32).")
    var scaleDtype: String?

    @Option(help: "rtn (min-max), percentile, mse (searched clip ratio), awq or gptq (both need --calib).")
    var method = "rtn"

    @Option(help: "Quantile of |w| kept by --method percentile.")
    var percentile = 0.999

    @Option(help: "Calibration data for --method gptq or awq, or a --recipe with gptq tensors: puzzles (a training split) for a reasoner, a text for a language model or an encoder (never the evaluation text), or random:SEED for seeded random tokens.")
    var calib: String?

    @Option(help: "Calibration units to run: puzzles, sentences or text chunks (default 256 puzzles or sentences, 128 chunks, or what a --recipe's plan calibrated on).")
    var calibCount: Int?

    @Option(help: "Tokens per calibration chunk of a language model.")
    var calibCtx = 512

    @Flag(help: "GPTQ: quantize columns in order of decreasing input energy.")
    var actOrder = false

    @Flag(help: "Replace an existing, non-empty output directory.")
    var force = false

    @Option(help: "A plan from `shrink plan`: quantize exactly its tensors with its per-tensor bits, granularity and method.")
    var recipe: String?

    @Option(help: "Prune the quantized weights first: magnitude, wanda or sparsegpt (both need --calib). With --method gptq the quantization error is fed back onto the kept weights (SparseGPT's joint mode).")
    var prune: String?

    @Option(help: "With --prune: the fraction of weights removed (e.g. 0.5), or 2:4 / 4:8 (N of every M inputs kept).")
    var sparsity: String?

    @Option(help: "With --prune magnitude and a ratio: layer (each tensor on its own) or global (one |w| threshold over all pruned tensors).")
    var sparsityScope = "layer"

    @Option(help: "Compensate each quantized weight's error with rank-R factors, W ≈ Q(W) + A·B, stored F16 as <p>.weight_lora_a/_b.")
    var lowRank: Int?

    @Option(help: "With --low-rank: svd (the residual's truncated SVD) or eora (its SVD in the eigenspace of the layer's inputs; needs --calib).")
    var lowRankMethod = "svd"

    @OptionGroup var out: OutputOptions

    func options() throws -> (QuantizeOptions, calibrationCount: Int?) {
        var o = QuantizeOptions()
        guard let m = Method(rawValue: method == "minmax" ? "rtn" : method) else {
            throw ValidationError("--method '\(method)' is unknown; use rtn, percentile, mse, awq or gptq")
        }
        if m.needsCalibration && calib == nil && (prune == nil || bits != nil) {
            throw ValidationError("--method \(m) needs --calib DATA (training puzzles, or a calibration text)")
        }
        o.method = m
        o.parameters.percentile = percentile
        o.parameters.gptq.actOrder = actOrder
        o.bits = bits ?? 4
        o.symmetric = !asym
        if let prune {
            guard let p = PruneMethod(rawValue: prune) else {
                throw ValidationError("--prune '\(prune)' is unknown; use " + PruneMethod.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard let sparsity else { throw ValidationError("--prune \(prune) needs --sparsity (a fraction such as 0.5, or 2:4 or 4:8)") }
            guard let scope = SparsityScope(rawValue: sparsityScope) else {
                throw ValidationError("--sparsity-scope '\(sparsityScope)' is unknown; use layer or global")
            }
            o.prune = PruneChoice(method: p, sparsity: try Sparsity(parsing: sparsity, flag: "--sparsity"), scope: scope)
            if p.needsCalibration && calib == nil { throw ValidationError("--prune \(p) needs --calib DATA (training puzzles, or a calibration text)") }
            if recipe != nil { throw ValidationError("--prune cannot be combined with --recipe (a recipe names each tensor's pruning)") }
            o.quantize = bits != nil
        } else {
            if sparsity != nil { throw ValidationError("--sparsity needs --prune magnitude, wanda or sparsegpt") }
            if sparsityScope != "layer" { throw ValidationError("--sparsity-scope needs --prune magnitude") }
        }
        if let lowRank {
            guard lowRank >= 1 else { throw ValidationError("--low-rank \(lowRank) must be at least 1") }
            guard let lm = LowRankCompensation.Method(rawValue: lowRankMethod) else {
                throw ValidationError("--low-rank-method '\(lowRankMethod)' is unknown; use svd or eora")
            }
            if lm == .eora && calib == nil { throw ValidationError("--low-rank-method eora needs --calib DATA (its input statistics)") }
            if bits == nil && prune != nil { throw ValidationError("--low-rank compensates quantization: give --bits") }
            o.lowRank = .init(rank: lowRank, method: lm)
        } else if lowRankMethod != "svd" {
            throw ValidationError("--low-rank-method needs --low-rank R")
        }
        guard let g = QuantScheme.Grid(rawValue: grid) else { throw ValidationError("--grid '\(grid)' is unknown; use integer, ggml (Q4_1/Q5_1) or ggml-sym (Q4_0/Q5_0's scale)") }
        o.grid = g
        if g == .ggmlMinimum { o.symmetric = false }
        o.include = include
        o.keep = keep
        o.quantizeEmbeddings = embeddings
        switch (granularity, group) {
        case (nil, nil): o.granularity = .channel
        case (nil, let g?), ("group", let g?): o.granularity = .group(g)
        case ("group", nil): throw ValidationError("--granularity group needs --group N")
        case ("channel", nil): o.granularity = .channel
        case ("tensor", nil): o.granularity = .tensor
        case (let s?, _):
            throw ValidationError(group != nil ? "--group cannot be combined with --granularity \(s)" : "--granularity '\(s)' is unknown; use tensor, channel or group")
        }
        if let s = scaleDtype { o.scaleDType = try scaleDType(s) }
        try o.validate()
        var count = calibCount
        if let recipe {
            let file = try RecipeFile.load(path: recipe, model: FileSystem.lastComponent(ModelLocation(checkpoint).directory))
            o.perTensor = file.choices
            if file.needsCalibration {
                let gptq = file.choices.filter { $0.value.needsCalibration }.count
                guard calib != nil else {
                    throw ValidationError("--recipe \(recipe) quantizes \(gptq) tensors with gptq: pass --calib PUZZLES (the training split the plan calibrated on)")
                }
                count = calibCount ?? file.calibrationPuzzles
            }
        }
        if let c = calibCount, c < 1 { throw ValidationError("--calib-count \(c) must be at least 1") }
        if calibCtx < 8 || calibCtx % 2 != 0 { throw ValidationError("--calib-ctx \(calibCtx) must be an even number of tokens, at least 8") }
        return (o, count)
    }

    func run() throws {
        let (opts, count) = try options()
        let recipe = try QuantizePipeline.run(checkpoint: checkpoint, options: opts, calibration: calib.map { .init(data: $0, count: count, context: calibCtx) },
                                              outputDirectory: output, overwrite: force, progress: out.progress)
        try out.emit(recipe) { Format.recipe(recipe, output: output) }
    }
}

struct Dequantize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a compressed directory, or decode a GGUF file, to a plain safetensors file.")

    @Argument(help: "A directory written by `shrink quantize` (or any compressed-tensors pack-quantized checkpoint), or a .gguf file.")
    var compressed: String

    @Option(name: [.short, .long], help: "Output .safetensors file.")
    var output: String

    @Option(help: "dtype of the restored weights: f32, f16 or bf16 (default: their original dtype).")
    var dtype: String?

    @OptionGroup var out: OutputOptions

    func run() throws {
        var d: DType?
        if let s = dtype {
            guard let t = DType(flag: s), [.f32, .f16, .bf16].contains(t) else {
                throw QuantizationError.unsupportedDType(flag: "--dtype", dtype: s, allowed: "f32, f16 or bf16")
            }
            d = t
        }
        let summary = ModelLocation(compressed).isGGUF
            ? try DequantizeJob.run(gguf: GGUFReader(path: compressed), outputPath: output, dtype: d, progress: out.progress)
            : try DequantizeJob.run(CompressedCheckpoint(directory: compressed), outputPath: output, dtype: d, progress: out.progress)
        try out.emit(summary) {
            "wrote \(summary.output): \(summary.dequantizedTensors) dequantized, \(summary.copiedTensors) copied, \(Format.bytes(summary.bytes))"
        }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two checkpoints tensor by tensor: SQNR, relative error, cosine, max abs error.")

    @Argument(help: "The reference checkpoint.")
    var reference: String

    @Argument(help: "The checkpoint to compare (a compressed directory is dequantized on the fly).")
    var other: String

    @OptionGroup var out: OutputOptions

    func run() throws {
        let report = try TensorDiff.compare(reference: ModelLocation(reference).openWeights(), other: ModelLocation(other).openWeights(), progress: out.progress)
        try out.emit(report) { Format.diff(report) }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure quantizer throughput and this machine's memory bandwidth (see BENCHMARKS.md).")

    @Argument(help: "A checkpoint to quantize (a .gguf file: time its dequantization instead).")
    var checkpoint: String

    @Option(help: "Bits per weight.")
    var bits = 4

    @Option(help: "Group size (omit for per-channel).")
    var group: Int?

    @Option(help: "Repetitions; the best is reported.")
    var repeats = 3

    @Option(help: "Scratch directory for end-to-end runs.")
    var scratch: String = "bench-scratch"

    @Option(help: "Instead: time GPTQ on a model directory with these calibration puzzles.")
    var gptqCalib: String?

    @Option(help: "Calibration puzzles for --gptq-calib.")
    var calibCount = 256

    @Option(help: "Instead: time GPTQ's capture and solve on decoder layer N of a Llama checkpoint with synthetic inputs (--calib-rows).")
    var gptqLayer: Int?

    @Option(help: "Synthetic input rows for --gptq-layer (e.g. 16 × 512).")
    var calibRows = 8192

    @OptionGroup var out: OutputOptions

    struct Result: Codable {
        var quantize: Benchmarks.QuantizeResult
        var memoryOneThread: Benchmarks.BandwidthResult
        var memoryAllThreads: Benchmarks.BandwidthResult
    }

    func run() throws {
        var o = QuantizeOptions()
        o.bits = bits
        o.granularity = group.map { .group($0) } ?? .channel
        try o.validate()
        if let gptqLayer {
            let scheme = QuantScheme(bits: bits, granularity: o.granularity)
            let r = try GPTQLayerBenchmark.run(checkpoint: checkpoint, layer: gptqLayer, calibrationRows: calibRows, scheme: scheme,
                                               options: GPTQ.Options(), progress: out.quiet || out.json ? nil : { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
            try out.emit(r) { "layer \(r.layer): \(Format.fixed(r.totalSeconds, 1)) s, peak RSS \(Format.bytes(r.peakRSSBytes)) on \(r.threads) threads" }
            return
        }
        if let gptqCalib {
            let r = try Benchmarks.gptq(modelDirectory: checkpoint, calibration: gptqCalib, count: calibCount,
                                        scheme: QuantScheme(bits: bits, granularity: o.granularity), options: GPTQ.Options())
            try out.emit(r) {
                "GPTQ of \(r.layers.count) layers: capture \(Format.fixed(r.captureSeconds, 2)) s, quantize \(Format.fixed(r.gptqSeconds, 3)) s on \(r.threads) threads\n"
                    + r.layers.map { "  \($0.name)  error \(String(format: "%.3e", $0.error)) (rtn \(String(format: "%.3e", $0.rtnError)))" }.joined(separator: "\n")
            }
            return
        }
        if ModelLocation(checkpoint).isGGUF {
            let g = try Benchmarks.ggufDequantize(path: checkpoint, repeats: repeats)
            try out.emit(g) {
                "GGUF dequantization of \(g.file) (decoded F32 GB/s; \(g.fastPath ? "AVX2" : "scalar") path, reference = scalar C)\n"
                    + Format.table(["type", "tensors", "elements", "stored", "1 thread", "\(g.threads) threads", "reference"],
                                   g.types.map { [$0.type, String($0.tensors), Format.count($0.elements), Format.bytes($0.storedBytes),
                                                  Format.fixed($0.oneThreadGBPerSecond, 2), Format.fixed($0.allThreadsGBPerSecond, 2),
                                                  Format.fixed($0.referenceGBPerSecond, 2)] },
                                   rightAligned: [1, 2, 3, 4, 5, 6])
            }
            return
        }
        let q = try Benchmarks.quantize(checkpoint: checkpoint, options: o, repeats: repeats, scratch: scratch)
        let result = Result(quantize: q, memoryOneThread: Benchmarks.memoryBandwidth(threads: 1),
                            memoryAllThreads: Benchmarks.memoryBandwidth(threads: Parallel.workerCount))
        try out.emit(result) {
            """
            \(q.scheme) on \(Format.bytes(q.inputBytes)) of weights, \(q.threads) threads, \(q.isa)
              kernel      \(Format.fixed(q.kernelGBPerSecond, 2)) GB/s  (\(Format.fixed(q.kernelSeconds, 3)) s)
              end to end  \(Format.fixed(q.endToEndGBPerSecond, 2)) GB/s  (\(Format.fixed(q.endToEndSeconds, 3)) s)
              memory      read \(Format.fixed(result.memoryOneThread.readGBPerSecond, 1)) GB/s on 1 thread, \(Format.fixed(result.memoryAllThreads.readGBPerSecond, 1)) GB/s on \(result.memoryAllThreads.threads)
            """
        }
    }
}
