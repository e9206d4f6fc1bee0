import Foundation
import ShrinkFormats
import ShrinkTensor

/// What `shrink quantize` was asked to do.
public struct QuantizeOptions: Sendable {
    public var bits: Int = 4
    public var granularity: Granularity = .channel
    public var symmetric = true
    /// The grid of every quantized tensor; `.ggmlMinimum` (ggml's Q4_1/Q5_1) makes the scheme
    /// asymmetric with F16 d and m, and only a GGUF export can store it.
    public var grid: QuantScheme.Grid = .integer
    /// nil: the weight's own dtype when it is F16/BF16, else F32.
    public var scaleDType: DType?
    /// Only tensors whose name matches (search) are quantized.
    public var include: String?
    /// Tensors whose name matches are kept as they are.
    public var keep: String?
    /// Quantize embedding tables too (names containing "embed").
    public var quantizeEmbeddings = false
    /// Tensors kept as stored whatever else applies, with the reason shrink.json records.
    public var keepTensors: [String: String] = [:]
    /// The method of every quantized tensor (a recipe names one per tensor instead).
    public var method: Method = .rtn
    public var parameters = MethodParameters()
    /// A per-tensor recipe (from `shrink plan`): exactly these tensors are
    /// quantized, each with its own bits, granularity and clipping; the global
    /// bits, granularity, clipping and patterns do not apply.
    public var perTensor: [String: TensorChoice]?
    /// Pruning of every compressed tensor (a recipe names it per tensor instead).
    public var prune: PruneChoice?
    /// Low-rank compensation of every quantized weight's error (`LowRankCompensation`).
    public var lowRank: LowRankCompensation.Option?
    /// false: prune only, and store the pruned weights sparse in their own dtype (needs `prune`).
    public var quantize = true

    /// The pruning of tensor `name` (a recipe's own, else the global one).
    public func pruneChoice(for name: String) -> PruneChoice? {
        perTensor != nil ? perTensor?[name]?.prune : prune
    }

    /// The low-rank compensation of tensor `name` (a recipe's own, else the global one).
    public func lowRank(for name: String) -> LowRankCompensation.Option? {
        perTensor != nil ? perTensor?[name]?.lowRank : lowRank
    }

    /// The recipe's name for the method.
    public var methodName: String { perTensor != nil ? "recipe" : method.rawValue }

    /// The compressor of tensor `name` (a recipe's own method, else the global one).
    public func compressor(for name: String) -> any WeightCompressor {
        (perTensor?[name]?.method ?? method).compressor(parameters)
    }

    /// Whether any tensor's method runs the model on calibration data.
    public var needsCalibration: Bool {
        perTensor.map { $0.values.contains(where: \.needsCalibration) }
            ?? ((quantize && method.needsCalibration) || prune?.method.needsCalibration == true)
            || lowRank?.needsCalibration == true
    }

    public init() {}

    /// Checks the flags that do not depend on the checkpoint.
    public func validate() throws {
        try validatePruning()
        guard QuantScheme.supportedBits.contains(bits) else { throw QuantizationError.unsupportedBits(flag: "--bits", bits: bits) }
        if case let .group(g) = granularity, g <= 0 {
            throw QuantizationError.badGroup(flag: "--group", group: g, tensor: "", columns: 0)
        }
        let p = parameters.percentile
        if method == .percentile, !(p > 0.5 && p <= 1) { throw QuantizationError.badPercentile(flag: "--percentile", value: p) }
        if grid == .ggmlMinimum, let s = scaleDType, s != .f16 {
            throw QuantizationError.unsupportedDType(flag: "--scale-dtype", dtype: s.flagName, allowed: "f16 with --grid ggml (Q4_1/Q5_1 store d and m in F16)")
        }
        if let s = scaleDType, ![.f32, .f16, .bf16].contains(s) {
            throw QuantizationError.unsupportedDType(flag: "--scale-dtype", dtype: s.flagName, allowed: "f32, f16 or bf16")
        }
        for (flag, pattern) in [("--include", include), ("--keep", keep)] {
            if let pattern { _ = try Self.compile(pattern, flag: flag) }
        }
    }

    /// The flags pruning does not combine with.
    func validatePruning() throws(PruningError) {
        let choices = perTensor.map { $0.values.compactMap(\.prune) } ?? (prune.map { [$0] } ?? [])
        if !quantize && prune == nil { throw .unsupported(flag: "--bits", reason: "a run without quantization needs --prune and --sparsity") }
        guard !choices.isEmpty else { return }
        for c in choices { try PruneChoice.validate(method: c.method, sparsity: c.sparsity, scope: c.scope) }
        guard quantize else { return }
        let methods = perTensor.map { p in Set(p.values.filter { $0.prune != nil }.map(\.method)) } ?? [method]
        if methods.contains(.awq) {
            throw .unsupported(flag: "--prune", reason: "AWQ folds its scales into the layers before quantizing; prune with --method rtn, mse, percentile or gptq")
        }
        if grid == .ggmlMinimum || perTensor?.values.contains(where: { $0.prune != nil && $0.grid == .ggmlMinimum }) == true {
            throw .unsupported(flag: "--grid", reason: "ggml's minimum grid (x = c·d + m) cannot hold a pruned weight's exact 0; use --grid integer or ggml-sym")
        }
        if methods.contains(.gptq) && parameters.gptq.actOrder {
            throw .unsupported(flag: "--act-order", reason: "pruning with GPTQ quantizes the columns in order (SparseGPT's joint mode); drop --act-order")
        }
    }

    static func compile(_ pattern: String, flag: String) throws -> Regex<AnyRegexOutput> {
        do { return try Regex(pattern) } catch {
            throw QuantizationError.badPattern(flag: flag, pattern: pattern, reason: String(describing: error))
        }
    }
}

/// One tensor's fate in a quantization run.
public struct TensorDecision: Sendable {
    public var info: TensorInfo
    public var scheme: QuantScheme?
    public var reason: String
    /// Pruning before (or jointly with) the quantization; with no scheme, the weight is pruned and stored sparse.
    public var prune: PruneChoice? = nil
}

/// Quantizes a checkpoint into a compressed-tensors pack-quantized directory.
public enum QuantizeJob {
    /// Decides, before anything is written, what happens to every tensor; flag
    /// errors that depend on shapes (a group that does not divide a row) surface here.
    public static func plan(_ source: any TensorSource, options: QuantizeOptions) throws -> [TensorDecision] {
        try options.validate()
        let include = try options.include.map { try QuantizeOptions.compile($0, flag: "--include") }
        let keep = try options.keep.map { try QuantizeOptions.compile($0, flag: "--keep") }
        if let per = options.perTensor { return try plan(source, recipe: per, scaleDType: options.scaleDType) }
        var decisions: [TensorDecision] = []
        for info in source.infos {
            let name = info.name
            func kept(_ why: String) { decisions.append(TensorDecision(info: info, scheme: nil, reason: why)) }
            if !info.dtype.isFloatingPoint || info.dtype == .f8e4m3 || info.dtype == .f8e5m2 {
                kept("\(info.dtype.rawValue) tensor, not a floating-point weight"); continue
            }
            if info.shape.rank != 2 && info.shape.rank != 4 {
                kept(info.shape.rank == 1 ? "1-D tensor (norm, bias or scale)" : "rank-\(info.shape.rank) tensor; only 2-D weights and 4-D convolution kernels are quantized"); continue
            }
            if !name.hasSuffix("weight") { kept("2-D tensor not named *weight"); continue }
            if let keep, name.firstMatch(of: keep) != nil { kept("matches --keep"); continue }
            if let why = options.keepTensors[name] { kept(why); continue }
            if let include, name.firstMatch(of: include) == nil { kept("not matched by --include"); continue }
            if !options.quantizeEmbeddings && name.lowercased().contains("embed") {
                kept("embedding table (pass --embeddings to quantize it)"); continue
            }
            let columns = info.shape.matrixColumns
            if case let .group(g) = options.granularity, columns % g != 0 {
                throw QuantizationError.badGroup(flag: "--group", group: g, tensor: name, columns: columns)
            }
            let scaleDType = options.scaleDType ?? ([.f16, .bf16].contains(info.dtype) ? info.dtype : .f32)
            let scheme = QuantScheme(bits: options.bits, granularity: options.granularity, symmetric: options.symmetric, scaleDType: scaleDType,
                                     grid: options.grid)
            try options.prune?.sparsity.check(columns: columns, tensor: name)
            decisions.append(TensorDecision(info: info, scheme: options.quantize ? scheme : nil,
                                            reason: (info.shape.rank == 4 ? "convolution kernel, as [out, in·kh·kw]" : "2-D weight") + (options.quantize ? "" : ", pruned"),
                                            prune: options.prune))
        }
        return decisions
    }

    static func plan(_ source: any TensorSource, recipe: [String: TensorChoice], scaleDType: DType?) throws -> [TensorDecision] {
        if let unknown = recipe.keys.sorted().first(where: { source.info($0) == nil }) {
            throw FormatError.missingTensor(source: source.location, tensor: unknown)
        }
        return try source.infos.map { info in
            guard let choice = recipe[info.name] else { return TensorDecision(info: info, scheme: nil, reason: "not in the recipe") }
            guard info.shape.rank == 2 || info.shape.rank == 4, info.dtype.isFloatingPoint else { throw QuantizationError.notAMatrix(tensor: info.name, shape: info.shape) }
            let scheme = choice.scheme(scaleDType: scaleDType ?? ([.f16, .bf16].contains(info.dtype) ? info.dtype : .f32))
            if case let .group(g) = scheme.granularity, info.shape.matrixColumns % g != 0 {
                throw QuantizationError.badGroup(flag: "--recipe", group: g, tensor: info.name, columns: info.shape.matrixColumns)
            }
            try choice.prune?.sparsity.check(columns: info.shape.dims[1], tensor: info.name)
            return TensorDecision(info: info, scheme: scheme, reason: "recipe: \(choice)", prune: choice.prune)
        }
    }

    /// Writes `model.safetensors`, `config.json` and `shrink.json` into
    /// `outputDirectory`, all or nothing: the files are built in a hidden sibling
    /// directory that replaces the destination only when complete.
    @discardableResult
    public static func run(_ source: any TensorSource, options: QuantizeOptions, outputDirectory: String,
                           overwrite: Bool = false, calibration: [String: LayerStatistics] = [:],
                           calibrationSummary: Recipe.Calibration? = nil, tensorMethods: [String: String] = [:],
                           progress: (any ProgressSink)? = nil) throws -> Recipe {
        try run(source, options: options, outputDirectory: outputDirectory, overwrite: overwrite,
                calibrationSource: calibration.isEmpty ? nil : StaticCalibration(weights: source, layers: calibration, methods: tensorMethods),
                calibrationSummary: calibrationSummary, progress: progress)
    }

    /// `run` with statistics from `calibrationSource` (static, or captured block by block), and `baseConfig` as
    /// the config.json the output's quantization_config is added to (default: the config.json beside the source).
    @discardableResult
    public static func run(_ source: any TensorSource, options: QuantizeOptions, outputDirectory: String,
                           overwrite: Bool = false, calibrationSource: (any CalibrationSource)?,
                           calibrationSummary: Recipe.Calibration? = nil, baseConfig: JSONValue? = nil,
                           progress: (any ProgressSink)? = nil) throws -> Recipe {
        var decisions = try plan(source, options: options)
        let sequential = calibrationSource?.needsCompressedWeights == true
        for d in decisions where d.prune?.method.needsCalibration == true {
            guard let calibrationSource else { throw PruningError.notCalibrated(tensor: d.info.name, method: d.prune!.method) }
            if !sequential && calibrationSource.statistics(d.info.name) == nil { throw PruningError.notCalibrated(tensor: d.info.name, method: d.prune!.method) }
        }
        for d in decisions where d.scheme != nil {
            let method = options.perTensor?[d.info.name]?.method ?? options.method
            guard method.needsCalibration else { continue }
            guard let calibrationSource else { throw QuantizationError.needsCalibration(tensor: d.info.name, method: method) }
            // AWQ's statistics were spent on folding its scales before this job (`AWQ.fold`); GPTQ needs them here.
            // A sequential source captures them block by block, checked when each tensor's turn comes.
            if method == .gptq && !sequential && calibrationSource.statistics(d.info.name) == nil {
                throw QuantizationError.notCalibrated(tensor: d.info.name, method: method)
            }
        }
        if let order = calibrationSource?.order(decisions.map(\.info.name)) {
            let byName = Dictionary(uniqueKeysWithValues: decisions.map { ($0.info.name, $0) })
            decisions = order.compactMap { byName[$0] }
        }
        let weights = calibrationSource?.weights ?? source
        let pruners = try Pruning.pruners(decisions, weights: weights, options: options.parameters.sparseGPT)
        let sparseLayouts = Pruning.sparseLayouts(decisions, pruners: pruners)
        let staging = try OutputDirectory(path: outputDirectory, overwrite: overwrite)

        var declared: [TensorInfo] = []
        for d in decisions {
            if let s = d.scheme {
                let layout = PackedLayout(scheme: s, rows: d.info.shape.matrixRows, columns: d.info.shape.matrixColumns)
                declared += layout.storedTensors(for: d.info.name, shapeRank: d.info.shape.rank)
                if let lr = options.lowRank(for: d.info.name) {
                    declared += LowRankCompensation.storedTensors(for: d.info.name, rows: layout.rows, columns: layout.columns, option: lr)
                }
            } else if let layout = sparseLayouts[d.info.name] {
                declared += layout.storedTensors(for: d.info.name)
            } else {
                declared.append(d.info)
            }
        }
        var metadata = source.metadata
        metadata["format"] = metadata["format"] ?? "pt"
        let writer = try SafetensorsWriter(path: staging.path + "/model.safetensors", tensors: declared, metadata: metadata)

        var records: [Recipe.TensorRecord] = []
        let totalBytes = decisions.reduce(0) { $0 + $1.info.byteCount }
        var doneBytes = 0
        for d in decisions {
            progress?.update(done: doneBytes, total: totalBytes, item: d.info.name)
            let info = d.info
            try calibrationSource?.prepare(info.name)
            if let scheme = d.scheme {
                let compressor = options.compressor(for: info.name)
                let statistics = calibrationSource?.statistics(info.name)
                let method = options.perTensor?[info.name]?.method ?? options.method
                let lowRank = options.lowRank(for: info.name)
                if method == .gptq && statistics == nil { throw QuantizationError.notCalibrated(tensor: info.name, method: method) }
                if lowRank?.needsCalibration == true { statistics?.releasesAfterFill = false }  // EoRA reads them after GPTQ
                let rowwise = [.rtn, .percentile, .mse].contains(compressor.method) && scheme.granularity != .tensor
                var pruned: PrunedTensor?
                var factors: LowRank.Factors?, compensatedError: ErrorSummary?, compensated: [Float]?
                let keepsValues = calibrationSource?.needsCompressedValues(info.name) == true
                let q = d.prune == nil && lowRank == nil && rowwise && [.f16, .bf16].contains(info.dtype) && weights.info(info.name)?.dtype == info.dtype
                    ? try compressInRowChunks(weights, info, compressor: compressor, scheme: scheme)
                    : try withFloats(weights, info) { w in
                        let q: QuantizedTensor
                        if let choice = d.prune, let pruner = pruners[info.name] {
                            let r = try Pruning.pruneAndQuantize(w, info: info, choice: choice, pruner: pruner, compressor: compressor, method: method,
                                                                 scheme: scheme, statistics: statistics, options: options.parameters.sparseGPT)
                            pruned = r.pruned
                            q = r.quantized
                        } else {
                            q = try compressor.compress(w, rows: info.shape.matrixRows, columns: info.shape.matrixColumns, scheme: scheme,
                                                        statistics: statistics, name: info.name)
                        }
                        if let lr = lowRank {
                            let (values, f) = try LowRankCompensation.compensate(w, quantized: q, option: lr, statistics: statistics, name: info.name)
                            var e = ErrorStatistics()
                            values.withUnsafeBufferPointer { e.add(reference: w, output: $0) }
                            (factors, compensatedError) = (f, e.summary)
                            if keepsValues { compensated = values }  // Ŵ + A·B, what the next block runs on
                        }
                        return q
                    }
                try PackQuantized.write(q, name: info.name, shape: info.shape.dims, to: writer)
                if let factors, let lr = lowRank { try LowRankCompensation.write(factors, name: info.name, dtype: lr.dtype, to: writer) }
                try calibrationSource?.finished(info.name, compressed: keepsValues ? compensated.map { .values($0) } ?? .quantized(q) : nil)
                records.append(.init(
                    name: info.name, action: .quantized, dtype: info.dtype, shape: info.shape,
                    bytesBefore: info.byteCount, bytesAfter: q.layout.storedBytes + (factors.map { $0.bytes(lowRank!.dtype) } ?? 0), reason: nil,
                    bits: scheme.bits, strategy: scheme.granularity.strategy, groupSize: scheme.granularity.groupSize,
                    symmetric: scheme.symmetric, scaleDtype: scheme.scaleDType, method: calibrationSource?.method(info.name) ?? compressor.description,
                    bitsPerWeight: scheme.bitsPerWeight(rows: q.rows, columns: q.columns), error: compensatedError ?? q.error.summary,
                    prune: pruned.flatMap { _ in pruners[info.name]?.description }, sparsity: d.prune?.sparsity.description,
                    measuredSparsity: pruned?.sparsity, sparseFormat: pruned == nil ? nil : SparseFormat.dense.rawValue,
                    lowRank: factors.map { _ in lowRank!.description }))
            } else if let choice = d.prune, let pruner = pruners[info.name], let layout = sparseLayouts[info.name] {
                let statistics = calibrationSource?.statistics(info.name)
                if choice.method.needsCalibration && statistics == nil { throw PruningError.notCalibrated(tensor: info.name, method: choice.method) }
                var pruned = try withFloats(weights, info) { w in
                    try pruner.prune(w, rows: info.shape.dims[0], columns: info.shape.dims[1], sparsity: choice.sparsity, statistics: statistics, name: info.name)
                }
                if layout.dtype != .f32 { pruned.values = pruned.values.map { ElementCodec.roundTrip($0, through: layout.dtype) } }
                try SparseBitmask.write(pruned, name: info.name, layout: layout, to: writer)
                try calibrationSource?.finished(info.name, compressed: calibrationSource?.needsCompressedValues(info.name) == true ? .values(pruned.values) : nil)
                var error = ErrorStatistics()
                try withFloats(weights, info) { w in pruned.values.withUnsafeBufferPointer { error.add(reference: w, output: $0) } }
                records.append(.init(name: info.name, action: .pruned, dtype: info.dtype, shape: info.shape, bytesBefore: info.byteCount,
                                     bytesAfter: layout.storedBytes, reason: nil, error: error.summary, prune: pruner.description,
                                     sparsity: choice.sparsity.description, measuredSparsity: pruned.sparsity, sparseFormat: layout.format.rawValue))
            } else {
                if let now = weights.info(info.name), now.dtype != info.dtype, [.f32, .f16, .bf16].contains(info.dtype) {
                    // A norm AWQ folded a scale into, held in f32 by the overlay: stored in its declared dtype.
                    let values = try weights.floats(info.name)
                    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: info.byteCount, alignment: 16)
                    defer { bytes.deallocate() }
                    values.withUnsafeBufferPointer { ElementCodec.encode($0, as: info.dtype, into: bytes.baseAddress!) }
                    try writer.write(info.name, bytes: UnsafeRawBufferPointer(bytes))
                } else {
                    try writer.write(info.name, bytes: weights.rawBytes(info.name))
                }
                try calibrationSource?.finished(info.name, compressed: nil)
                records.append(.init(name: info.name, action: .kept, dtype: info.dtype, shape: info.shape,
                                     bytesBefore: info.byteCount, bytesAfter: info.byteCount, reason: d.reason))
            }
            weights.release(info.name)
            doneBytes += info.byteCount
        }
        try writer.commit()

        let quantized = records.filter { $0.action != .kept }
        let before = records.reduce(0) { $0 + $1.bytesBefore }, after = records.reduce(0) { $0 + $1.bytesAfter }
        var recipe = Recipe(
            source: .init(path: source.location, tensors: records.count, parameters: source.parameterCount, bytes: before),
            method: options.quantize ? options.methodName : options.prune.map { "prune \($0)" } ?? options.methodName,
            calibration: calibrationSummary, tensors: records,
            totals: .init(bytesBefore: before, bytesAfter: after, quantizedTensors: quantized.count,
                          quantizedParameters: quantized.reduce(0) { $0 + $1.shape.elementCount },
                          compressionRatio: after > 0 ? Double(before) / Double(after) : 0))

        let sparsity = Pruning.sparsityConfig(decisions, records: records, sparseLayouts: sparseLayouts, parameters: source.parameterCount)
        if let s = sparsity, s.format != .dense { recipe.format = "compressed-tensors/" + s.format.rawValue }
        try AtomicFile.write(configJSON(source: source, decisions: decisions, base: baseConfig, sparsity: sparsity).serialized() + "\n",
                             to: staging.path + "/config.json")
        let recipeText = String(decoding: try Recipe.encoder().encode(recipe), as: UTF8.self) + "\n"
        try AtomicFile.write(recipeText, to: staging.path + "/shrink.json")
        try staging.commit()
        progress?.finish()
        return recipe
    }

    /// The checkpoint with every tensor `options` compresses replaced by what `run` stores for it, read back — its
    /// quantize-dequantize round trip, pruned first (or jointly, SparseGPT with GPTQ) under `options.prune`, plus
    /// its low-rank factors under `options.lowRank(for:)` — in memory (what a sweep or a plan evaluates without writing
    /// files), and the tensor bytes `run` writes for it (packed weights, sparse layouts and factors counted exactly).
    public static func roundTrip(_ source: any TensorSource, options: QuantizeOptions,
                                 calibration: [String: LayerStatistics] = [:]) throws -> (weights: OverlaySource, storedBytes: Int) {
        let overlay = OverlaySource(base: source)
        let decisions = try plan(source, options: options)
        let pruners = try Pruning.pruners(decisions, weights: source, options: options.parameters.sparseGPT)
        let sparseLayouts = Pruning.sparseLayouts(decisions, pruners: pruners)
        var bytes = 0
        for d in decisions {
            let name = d.info.name, statistics = calibration[name]
            if let choice = d.prune, choice.method.needsCalibration && statistics == nil {
                throw PruningError.notCalibrated(tensor: name, method: choice.method)
            }
            guard let scheme = d.scheme else {
                guard let choice = d.prune, let pruner = pruners[name], let layout = sparseLayouts[name] else { bytes += d.info.byteCount; continue }
                var pruned = try withFloats(source, d.info) { w in
                    try pruner.prune(w, rows: d.info.shape.dims[0], columns: d.info.shape.dims[1], sparsity: choice.sparsity, statistics: statistics, name: name)
                }
                if layout.dtype != .f32 { pruned.values = pruned.values.map { ElementCodec.roundTrip($0, through: layout.dtype) } }
                try overlay.replace(name, with: pruned.values)
                bytes += layout.storedBytes
                continue
            }
            let compressor = options.compressor(for: name)
            let method = options.perTensor?[name]?.method ?? options.method
            let values = try withFloats(source, d.info) { w -> [Float] in
                let q: QuantizedTensor
                if let choice = d.prune, let pruner = pruners[name] {
                    q = try Pruning.pruneAndQuantize(w, info: d.info, choice: choice, pruner: pruner, compressor: compressor, method: method,
                                                     scheme: scheme, statistics: statistics, options: options.parameters.sparseGPT).quantized
                } else {
                    q = try compressor.compress(w, rows: d.info.shape.matrixRows, columns: d.info.shape.matrixColumns, scheme: scheme,
                                                statistics: statistics, name: name)
                }
                bytes += q.layout.storedBytes
                guard let lr = options.lowRank(for: name) else { return q.dequantized() }
                let (values, f) = try LowRankCompensation.compensate(w, quantized: q, option: lr, statistics: statistics, name: name)
                bytes += f.bytes(lr.dtype)
                return values
            }
            try overlay.replace(name, with: values)
        }
        return (overlay, bytes)
    }

    /// Row-independent compressors (RTN with any clipping, per channel or group) on a half-precision
    /// tensor: decode and quantize `chunkBytes` of f32 rows at a time, so memory holds the mapped
    /// tensor (released by the caller after), one f32 chunk and the packed result, never an f32 copy
    /// of the whole tensor (issue 14: peak RSS ≤ the largest tensor + 128 MB on a 7B checkpoint).
    static func compressInRowChunks(_ source: any TensorSource, _ info: TensorInfo, compressor: any WeightCompressor,
                                    scheme: QuantScheme, chunkBytes: Int = 8 << 20) throws -> QuantizedTensor {
        let rows = info.shape.matrixRows, columns = info.shape.matrixColumns, size = info.dtype.byteSize
        let raw = try source.rawBytes(info.name)
        let chunkRows = max(1, chunkBytes / max(1, 4 * columns))
        var buffer = [Float](repeating: 0, count: min(rows, chunkRows) * columns)
        let layout = PackedLayout(scheme: scheme, rows: rows, columns: columns)
        var packed: [UInt32] = [], scales: [Float] = [], zeros: [Int8] = [], minima: [Float] = []
        packed.reserveCapacity(rows * layout.wordsPerRow)
        var error = ErrorStatistics()
        for r0 in stride(from: 0, to: rows, by: chunkRows) {
            let n = min(chunkRows, rows - r0)
            let part = try buffer.withUnsafeMutableBufferPointer { b in
                ElementCodec.decode(raw.baseAddress! + r0 * columns * size, dtype: info.dtype, count: n * columns, into: b.baseAddress!)
                return try compressor.compress(UnsafeBufferPointer(rebasing: b[0..<(n * columns)]), rows: n, columns: columns,
                                               scheme: scheme, statistics: nil, name: info.name)
            }
            packed += part.packed; scales += part.scales; zeros += part.zeroPoints; minima += part.minima
            error.merge(part.error)
        }
        return QuantizedTensor(layout: layout, packed: packed, scales: scales, zeroPoints: zeros, error: error, minima: minima)
    }

    /// Runs `body` on the tensor as Float: in place when the file holds aligned
    /// F32, otherwise through one decoded copy (bounded by the largest tensor).
    static func withFloats<R>(_ source: any TensorSource, _ info: TensorInfo, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        let raw = try source.rawBytes(info.name)
        if info.dtype == .f32, let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
            return try body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: info.elementCount))
        }
        let decoded = try source.floats(info.name)
        return try decoded.withUnsafeBufferPointer(body)
    }

    static func configJSON(source: any TensorSource, decisions: [TensorDecision], base given: JSONValue? = nil,
                           sparsity: CompressedTensorsConfig.SparsityConfig? = nil) throws -> JSONValue {
        var base: JSONValue = given ?? .object([])
        let dir = FileSystem.isDirectory(source.location) ? source.location : FileSystem.directoryOf(source.location)
        let original = dir + "/config.json"
        if given == nil, FileSystem.exists(original), let m = try? MappedFile(path: original), m.byteCount > 0,
           let parsed = try? StrictJSONParser.parse(m.bytes(0..<m.byteCount)), parsed.objectMembers != nil {
            base = parsed
        }
        var groups: [CompressedTensorsConfig.Group] = []
        var ignore: [String] = []
        if let sparsity, !decisions.contains(where: { $0.scheme != nil }) {
            return base.setting("quantization_config", to: CompressedTensorsConfig.sparseOnlyJSON(sparsity))
        }
        for d in decisions {
            let module = CompressedTensorsConfig.moduleName(ofWeight: d.info.name)
            guard let s = d.scheme else {
                if d.info.shape.rank == 2 && d.info.dtype.isFloatingPoint { ignore.append(module) }
                continue
            }
            if let i = groups.firstIndex(where: { $0.scheme == s }) { groups[i].targets.append(module) } else {
                groups.append(.init(targets: [module], scheme: s, observer: "minmax"))
            }
        }
        return base.setting("quantization_config", to: CompressedTensorsConfig(groups: groups, ignore: ignore, sparsity: sparsity).json)
    }
}
