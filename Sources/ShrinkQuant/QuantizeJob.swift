import Foundation
import ShrinkFormats
import ShrinkTensor

/// What `shrink quantize` was asked to do.
public struct QuantizeOptions: Sendable {
    public var bits: Int = 4
    public var granularity: Granularity = .channel
    public var symmetric = true
    /// nil: the weight's own dtype when it is F16/BF16, else F32.
    public var scaleDType: DType?
    /// Only tensors whose name matches (search) are quantized.
    public var include: String?
    /// Tensors whose name matches are kept as they are.
    public var keep: String?
    /// Quantize embedding tables too (names containing "embed").
    public var quantizeEmbeddings = false
    /// How each group's range is chosen (min-max is plain round-to-nearest).
    public var clipping: RangeClipping = .minMax
    /// Quantize with GPTQ error feedback (needs layer statistics for every weight).
    public var gptq: GPTQ.Options?
    /// Activation-aware scaling where the model can fold the scales (set up by the caller).
    public var awq = false
    /// A per-tensor recipe (from `shrink plan`): exactly these tensors are
    /// quantized, each with its own bits, granularity and clipping; the global
    /// bits, granularity, clipping and patterns do not apply.
    public var perTensor: [String: TensorChoice]?

    /// The recipe's name for the method.
    public var methodName: String {
        if perTensor != nil { return "recipe" }
        if gptq != nil { return "gptq" }
        if awq { return "awq" }
        switch clipping {
        case .minMax: return "rtn"
        case .percentile: return "percentile"
        case .mse: return "mse"
        }
    }

    public init() {}

    /// Checks the flags that do not depend on the checkpoint.
    public func validate() throws {
        guard QuantScheme.supportedBits.contains(bits) else { throw QuantizationError.unsupportedBits(flag: "--bits", bits: bits) }
        if case let .group(g) = granularity, g <= 0 {
            throw QuantizationError.badGroup(flag: "--group", group: g, tensor: "", columns: 0)
        }
        if case let .percentile(p) = clipping, !(p > 0.5 && p <= 1) {
            throw QuantizationError.badPattern(flag: "--percentile", pattern: String(p), reason: "use a quantile in (0.5, 1], e.g. 0.999")
        }
        if let s = scaleDType, ![.f32, .f16, .bf16].contains(s) {
            throw QuantizationError.badPattern(flag: "--scale-dtype", pattern: s.flagName, reason: "use f32, f16 or bf16")
        }
        for (flag, pattern) in [("--include", include), ("--keep", keep)] {
            if let pattern { _ = try Self.compile(pattern, flag: flag) }
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
            if info.shape.rank != 2 { kept(info.shape.rank == 1 ? "1-D tensor (norm, bias or scale)" : "rank-\(info.shape.rank) tensor; only 2-D weights are quantized"); continue }
            if !name.hasSuffix("weight") { kept("2-D tensor not named *weight"); continue }
            if let keep, name.firstMatch(of: keep) != nil { kept("matches --keep"); continue }
            if let include, name.firstMatch(of: include) == nil { kept("not matched by --include"); continue }
            if !options.quantizeEmbeddings && name.lowercased().contains("embed") {
                kept("embedding table (pass --embeddings to quantize it)"); continue
            }
            let columns = info.shape.dims[1]
            if case let .group(g) = options.granularity, columns % g != 0 {
                throw QuantizationError.badGroup(flag: "--group", group: g, tensor: name, columns: columns)
            }
            let scaleDType = options.scaleDType ?? ([.f16, .bf16].contains(info.dtype) ? info.dtype : .f32)
            let scheme = QuantScheme(bits: options.bits, granularity: options.granularity, symmetric: options.symmetric, scaleDType: scaleDType)
            decisions.append(TensorDecision(info: info, scheme: scheme, reason: "2-D weight"))
        }
        return decisions
    }

    static func plan(_ source: any TensorSource, recipe: [String: TensorChoice], scaleDType: DType?) throws -> [TensorDecision] {
        if let unknown = recipe.keys.sorted().first(where: { source.info($0) == nil }) {
            throw FormatError.missingTensor(source: source.location, tensor: unknown)
        }
        return try source.infos.map { info in
            guard let choice = recipe[info.name] else { return TensorDecision(info: info, scheme: nil, reason: "not in the recipe") }
            guard info.shape.rank == 2, info.dtype.isFloatingPoint else { throw QuantizationError.notAMatrix(tensor: info.name, shape: info.shape) }
            let dtype = scaleDType ?? ([.f16, .bf16].contains(info.dtype) ? info.dtype : .f32)
            guard let scheme = choice.scheme(scaleDType: dtype) else {
                throw QuantizationError.badPattern(flag: "--recipe", pattern: info.name, reason: "strategy '\(choice.strategy)' is not tensor, channel or group")
            }
            if case let .group(g) = scheme.granularity, info.shape.dims[1] % g != 0 {
                throw QuantizationError.badGroup(flag: "--recipe", group: g, tensor: info.name, columns: info.shape.dims[1])
            }
            return TensorDecision(info: info, scheme: scheme, reason: "recipe: \(choice)")
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
        let decisions = try plan(source, options: options)
        func gptq(_ name: String) -> GPTQ.Options? {
            options.gptq ?? (options.perTensor?[name]?.method == .gptq ? GPTQ.Options() : nil)
        }
        if let missing = decisions.first(where: { $0.scheme != nil && gptq($0.info.name) != nil && calibration[$0.info.name] == nil }) {
            throw QuantizationError.malformedPacked(
                tensor: missing.info.name,
                detail: calibration.isEmpty ? "GPTQ needs calibration: pass --calib PUZZLES (a training split)"
                                            : "GPTQ needs its input statistics, but calibration never saw this layer run; exclude it with --keep")
        }
        let staging = try OutputDirectory(path: outputDirectory, overwrite: overwrite)

        var declared: [TensorInfo] = []
        for d in decisions {
            if let s = d.scheme {
                let layout = PackedLayout(scheme: s, rows: d.info.shape.dims[0], columns: d.info.shape.dims[1])
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
            if let scheme = d.scheme {
                let q: QuantizedTensor
                if let g = gptq(info.name), let stats = calibration[info.name] {
                    q = try GPTQ.quantize(try source.floats(info.name), rows: info.shape.dims[0], columns: info.shape.dims[1],
                                          hessian: stats.hessian, scheme: scheme, options: g, name: info.name)
                } else {
                    q = try withFloats(source, info) { w in
                        try RoundToNearest.quantize(w, rows: info.shape.dims[0], columns: info.shape.dims[1], scheme: scheme,
                                                    clipping: options.perTensor?[info.name]?.clipping ?? options.clipping, name: info.name)
                    }
                }
                try write(q, name: info.name, to: writer)
                records.append(.init(
                    name: info.name, action: .quantized, dtype: info.dtype, shape: info.shape,
                    bytesBefore: info.byteCount, bytesAfter: q.layout.storedBytes, reason: nil,
                    bits: scheme.bits, strategy: scheme.granularity.strategy, groupSize: scheme.granularity.groupSize,
                    symmetric: scheme.symmetric, scaleDtype: scheme.scaleDType, method: tensorMethods[info.name] ?? gptq(info.name)?.description ?? (options.perTensor?[info.name]?.clipping ?? options.clipping).description,
                    bitsPerWeight: scheme.bitsPerWeight(rows: q.rows, columns: q.columns), error: q.error.summary))
            } else {
                try writer.write(info.name, bytes: source.rawBytes(info.name))
                records.append(.init(name: info.name, action: .kept, dtype: info.dtype, shape: info.shape,
                                     bytesBefore: info.byteCount, bytesAfter: info.byteCount, reason: d.reason))
            }
            source.release(info.name)
            doneBytes += info.byteCount
        }
        try writer.commit()

        let quantized = records.filter { $0.action == .quantized }
        let before = records.reduce(0) { $0 + $1.bytesBefore }, after = records.reduce(0) { $0 + $1.bytesAfter }
        let recipe = Recipe(
            source: .init(path: source.location, tensors: records.count, parameters: source.parameterCount, bytes: before),
            method: options.methodName, calibration: calibrationSummary, tensors: records,
            totals: .init(bytesBefore: before, bytesAfter: after, quantizedTensors: quantized.count,
                          quantizedParameters: quantized.reduce(0) { $0 + $1.shape.elementCount },
                          compressionRatio: after > 0 ? Double(before) / Double(after) : 0))

        try AtomicFile.write(configJSON(source: source, decisions: decisions).serialized() + "\n", to: staging.path + "/config.json")
        let recipeText = String(decoding: try Recipe.encoder().encode(recipe), as: UTF8.self) + "\n"
        try AtomicFile.write(recipeText, to: staging.path + "/shrink.json")
        try staging.commit()
        progress?.finish()
        return recipe
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

    static func write(_ q: QuantizedTensor, name: String, to writer: SafetensorsWriter) throws {
        let stored = q.layout.storedTensors(for: name)
        try writer.write(stored[0].name, values: q.packed)
        var scaleBytes = [UInt8](repeating: 0, count: stored[1].byteCount)
        q.scales.withUnsafeBufferPointer { s in
            scaleBytes.withUnsafeMutableBytes { ElementCodec.encode(s, as: q.scheme.scaleDType, into: $0.baseAddress!) }
        }
        try writer.write(stored[1].name, values: scaleBytes)
        try writer.write(stored[2].name, values: [Int64(q.rows), Int64(q.columns)])
        if stored.count > 3 {
            try writer.write(stored[3].name, values: packedZeroPoints(q))
        }
    }

    /// Zero points as compressed-tensors stores them: per-tensor as int8; per
    /// channel/group packed along dim 0 (each column of the [rows, groups] matrix
    /// one bit stream) into [ceil(rows·b/32), groups] int32.
    static func packedZeroPoints(_ q: QuantizedTensor) -> [UInt8] {
        if q.scheme.granularity == .tensor { return q.zeroPoints.map { UInt8(bitPattern: $0) } }
        let groups = q.layout.groupsPerRow, rows = q.rows
        let words = (rows * q.scheme.bits + 31) / 32
        var packed = [UInt32](repeating: 0, count: words * groups)
        var column = [Int8](repeating: 0, count: rows)
        var stream = [UInt32](repeating: 0, count: words)
        for g in 0..<groups {
            for r in 0..<rows { column[r] = q.zeroPoints[r * groups + g] }
            BitPacking.pack(column, bits: q.scheme.bits, into: &stream)
            for w in 0..<words { packed[w * groups + g] = stream[w] }
        }
        return packed.withUnsafeBytes { Array($0) }
    }

    static func configJSON(source: any TensorSource, decisions: [TensorDecision]) throws -> JSONValue {
        var base: JSONValue = .object([])
        let dir = FileSystem.isDirectory(source.location) ? source.location : FileSystem.directoryOf(source.location)
        let original = dir + "/config.json"
        if FileSystem.exists(original), let m = try? MappedFile(path: original), m.byteCount > 0,
           let parsed = try? StrictJSONParser.parse(m.bytes(0..<m.byteCount)), parsed.objectMembers != nil {
            base = parsed
        }
        var groups: [CompressedTensorsConfig.Group] = []
        var ignore: [String] = []
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
        return base.setting("quantization_config", to: CompressedTensorsConfig(groups: groups, ignore: ignore).json)
    }
}

/// Packing helpers for Swift arrays (the kernels work on raw pointers).
public enum BitPacking {
    public static func pack(_ codes: [Int8], bits: Int, into words: inout [UInt32]) {
        precondition(words.count == (codes.count * bits + 31) / 32)
        codes.withUnsafeBufferPointer { c in
            words.withUnsafeMutableBufferPointer { sk_pack_bits(c.baseAddress!, c.count, Int32(bits), $0.baseAddress!) }
        }
    }

    public static func unpack(_ words: UnsafeBufferPointer<UInt32>, count: Int, bits: Int) -> [Int8] {
        var out = [Int8](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { sk_unpack_bits(words.baseAddress!, count, Int32(bits), $0.baseAddress!) }
        return out
    }
}

import CShrinkKernels
