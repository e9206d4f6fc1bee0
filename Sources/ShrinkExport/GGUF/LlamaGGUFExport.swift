import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink export gguf` for a Llama-architecture decoder: a GGUF file that llama.cpp loads, with llama.cpp's tensor
/// names (llama.cpp src/llama-arch.cpp, LLM_ARCH_LLAMA), its Q/K row order (convert_hf_to_gguf.py
/// LlamaModel.permute), its metadata keys (LLM_KV_*), and the source GGUF's tokenizer.
///
/// Sources:
/// - a GGUF file: requantized tensor by tensor, as `llama-quantize --allow-requantize` does (dequantize with
///   ggml's `to_float`, quantize with `quantize_row_*_ref`); a tensor already stored in the target type is copied,
///   and one on a narrower grid of the same kind (Q4_0 → Q5_0/Q8_0, Q5_0 → Q8_0, Q4_1 → Q5_1) is re-packed
///   exactly. Every metadata key is copied verbatim except `general.file_type`, which names the new type.
/// - a compressed directory (`shrink quantize`) whose shrink.json `source.path` names the GGUF it came from:
///   metadata and tokenizer come from there; a symmetric group-32 f16-scale tensor is written as Q4_0/Q5_0/Q8_0
///   from its codes and scales (no requantization); everything else is dequantized and quantized.
///
/// The file streams (`GGUFStreamWriter`): peak memory is about one tensor in f32 plus its blocks.
public enum LlamaGGUFExport {
    /// ggml types by tensor: `typeFor` (first matching pattern wins) over `type`; nil type means "auto": a
    /// tensor's own grid when it has one (its stored type for a GGUF source), else Q8_0.
    public struct Options: Sendable {
        public var type: GGMLType?
        public var typeFor: [(pattern: String, type: GGMLType)]
        /// Per-column importance by llama.cpp tensor name (`GGUFImportance.load`, an imatrix): re-quantized tensors
        /// that have an entry use ggml's importance-weighted quantizers, as `llama-quantize --imatrix` does.
        public var importance: [String: [Float]]
        /// Where to write the low-rank factors of a compressed directory (`shrink quantize --low-rank`) as a
        /// llama.cpp LoRA adapter (`llama-cli -m OUT --lora ADAPTER`): the model then holds each such weight's Ŵ,
        /// not Ŵ + A·B re-quantized. nil: the factors are folded in and re-quantized.
        public var loraAdapter: String?
        public init(type: GGMLType?, typeFor: [(pattern: String, type: GGMLType)] = [], importance: [String: [Float]] = [:],
                    loraAdapter: String? = nil) {
            self.type = type; self.typeFor = typeFor; self.importance = importance; self.loraAdapter = loraAdapter
        }
    }

    public enum Placement: String, Codable, Sendable {
        /// The values llama.cpp decodes are the source's, bit for bit (copied, re-packed, or written from codes).
        case exact
        /// Dequantized and quantized again by ggml's reference quantizer.
        case requantized
    }

    public struct TensorReport: Codable, Sendable {
        /// llama.cpp's name.
        public var name: String
        /// The name in the source.
        public var source: String
        /// PyTorch order ([out, in] for a linear weight).
        public var shape: [Int]
        /// How the source stores it: a ggml type, or "int<b> <granularity> <sym|asym> <scale dtype>".
        public var sourceFormat: String
        public var requested: String
        public var type: String
        public var placement: Placement
        /// ‖dequantized GGUF − source‖ / ‖source‖ that re-blocking added (0 when exact).
        public var relativeError: Double
        public var bytes: Int
        /// Why the type differs from the request (llama.cpp's per-tensor k-quant fallback).
        public var note: String?
        /// Re-quantized with importance weights (an imatrix).
        public var weighted: Bool
    }

    public struct Summary: Codable, Sendable {
        public var output: String
        public var source: String
        /// "gguf" or "compressed".
        public var sourceKind: String
        /// Where metadata and tokenizer came from.
        public var metadataSource: String
        public var requestedType: String
        public var fileType: Int
        public var tensors: [TensorReport]
        public var typeCounts: [String: Int]
        public var exact: Int
        public var requantized: Int
        public var fallbacks: Int
        public var metadataKeys: Int
        public var bytes: Int
        public var parameters: Int
        public var bitsPerWeight: Double
        /// The LoRA adapter written beside the model (`Options.loraAdapter`).
        public var loraAdapter: Adapter?
    }

    public struct Adapter: Codable, Sendable {
        public var path: String
        public var weights: Int
        public var bytes: Int
    }

    /// Whether `path` is a source this export handles: a GGUF file, or a compressed directory made from a GGUF
    /// (shrink.json `source.path` ends in .gguf, present or not) or holding a Llama-family config.json.
    public static func handles(_ path: String) -> Bool {
        let loc = ModelLocation(path)
        if loc.isGGUF { return true }
        guard loc.isCompressed, FileSystem.isDirectory(loc.path) else { return false }
        if let m = try? MappedFile(path: loc.directory + "/shrink.json"), m.byteCount > 0,
           let recipe = try? Recipe.decoder().decode(Recipe.self, from: Data(m.bytes(0..<m.byteCount))),
           recipe.source.path.lowercased().hasSuffix(".gguf") {
            return true
        }
        if let m = try? MappedFile(path: loc.configPath), m.byteCount > 0, let j = try? StrictJSONParser.parse(m.bytes(0..<m.byteCount)),
           let t = j["model_type"]?.stringValue {
            return LlamaFamily.supportedTypes.contains(t)
        }
        return false
    }

    // MARK: - Run

    public static func run(source path: String, output: String, options: Options, progress: (any ProgressSink)? = nil) throws -> Summary {
        let loc = ModelLocation(path)
        let plan: Plan
        if loc.isGGUF {
            plan = try ggufPlan(GGUFReader(path: loc.path), options: options)
        } else if loc.isCompressed {
            plan = try compressedPlan(directory: loc.directory, options: options)
        } else {
            throw ExportError.unsupported(file: path, detail: "is neither a GGUF file nor a compressed directory from `shrink quantize`; give one of those")
        }
        for t in plan.tensors where t.placement == .requantized && t.type.isQuantized {
            if let w = options.importance[t.name], w.count != t.shape.last! {
                throw ExportError.unsupported(file: path, detail: "the importance matrix has \(w.count) columns for '\(t.name)', whose rows are \(t.shape.last!) long; use an imatrix computed for this model")
            }
        }
        for t in plan.tensors where t.name.utf8.count >= 64 {
            throw ExportError.unsupported(file: path, detail: "tensor name '\(t.name)' is \(t.name.utf8.count) bytes; ggml allows 63")
        }
        let fileType = Self.fileType(options.type, tensors: plan.tensors)
        var metadata = plan.metadata
        metadata.append(("general.quantization_version", .uint32(2)))
        metadata.append(("general.file_type", .uint32(UInt32(fileType))))

        if options.loraAdapter != nil && plan.adapter.isEmpty {
            throw ExportError.unsupported(file: path, detail: "has no low-rank factors for --lora-adapter to write; quantize with --low-rank R, or drop --lora-adapter")
        }
        let infos = plan.tensors.map { GGUFHeader.TensorInfo(name: $0.name, dims: $0.shape.reversed(), type: $0.type, byteCount: $0.type.rowBytes($0.shape.last!) * $0.rows) }
        let adapterWriter = try options.loraAdapter.map { adapterPath in
            let architecture = plan.metadata.first { $0.key == "general.architecture" }?.value ?? .string("llama")
            let tensors = plan.adapter.flatMap { t in
                [GGUFHeader.TensorInfo(name: t.name + ".lora_a", dims: [t.columns, t.rank], type: .f16, byteCount: 2 * t.rank * t.columns),
                 GGUFHeader.TensorInfo(name: t.name + ".lora_b", dims: [t.rank, t.rows], type: .f16, byteCount: 2 * t.rows * t.rank)]
            }
            return try GGUFStreamWriter(path: adapterPath, metadata: [("general.architecture", architecture), ("general.type", .string("adapter")),
                                                                      ("adapter.type", .string("lora")), ("adapter.lora.alpha", .float32(0))],
                                        tensors: tensors)
        }
        let writer = try GGUFStreamWriter(path: output, metadata: metadata, tensors: infos)
        var reports: [TensorReport] = []
        for (i, t) in plan.tensors.enumerated() {
            progress?.update(done: i, total: plan.tensors.count, item: t.name)
            let (bytes, error) = try t.produce()
            try writer.write(t.name, bytes: bytes)
            reports.append(TensorReport(name: t.name, source: t.sourceName, shape: t.shape, sourceFormat: t.sourceFormat,
                                        requested: t.requested?.name ?? "auto", type: t.type.name, placement: t.placement,
                                        relativeError: error, bytes: bytes.count, note: t.note,
                                        weighted: t.placement == .requantized && t.type.isQuantized && options.importance[t.name] != nil))
        }
        if let adapterWriter {
            for t in plan.adapter {
                let (a, b) = try t.produce()
                try adapterWriter.write(t.name + ".lora_a", bytes: a)
                try adapterWriter.write(t.name + ".lora_b", bytes: b)
            }
            try adapterWriter.commit()
        }
        try writer.commit()
        progress?.finish()
        var counts: [String: Int] = [:]
        for r in reports { counts[r.type, default: 0] += 1 }
        let parameters = plan.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
        return Summary(output: output, source: path, sourceKind: loc.isGGUF ? "gguf" : "compressed", metadataSource: plan.metadataSource,
                       requestedType: options.type?.name ?? "auto", fileType: fileType, tensors: reports, typeCounts: counts,
                       exact: reports.filter { $0.placement == .exact }.count,
                       requantized: reports.filter { $0.placement == .requantized }.count,
                       fallbacks: reports.filter { $0.note != nil }.count, metadataKeys: metadata.count,
                       bytes: writer.bytesWritten, parameters: parameters,
                       bitsPerWeight: Double(reports.reduce(0) { $0 + $1.bytes } * 8) / Double(max(1, parameters)),
                       loraAdapter: adapterWriter.map { Adapter(path: $0.path, weights: plan.adapter.count, bytes: $0.bytesWritten) })
    }

    // MARK: - Planning

    /// One tensor to write: its type is fixed before any data is read, so the header streams first.
    struct PlannedTensor {
        var name: String
        var sourceName: String
        /// PyTorch order.
        var shape: [Int]
        var rows: Int { shape.count == 1 ? 1 : shape.dropLast().reduce(1, *) }
        var sourceFormat: String
        var requested: GGMLType?
        var type: GGMLType
        var placement: Placement
        var note: String?
        /// The tensor's bytes and the relative error re-blocking added.
        var produce: () throws -> ([UInt8], Double)
    }

    struct Plan {
        var metadata: [(key: String, value: GGUFValue)]
        var metadataSource: String
        var tensors: [PlannedTensor]
        /// With `Options.loraAdapter`: the LoRA tensors, in the model's tensor order.
        var adapter: [AdapterTensor] = []
    }

    /// One weight's low-rank factors as llama.cpp's LoRA pair (src/llama-adapter.cpp): `<name>.lora_a` with ggml
    /// shape [in, r] (Shrink's B, [r, columns]) and `<name>.lora_b` [r, out] (Shrink's A, [rows, r], rows in
    /// llama.cpp's Q/K order), both F16; llama.cpp adds scale·B·(A·x) with scale 1 (adapter.lora.alpha 0).
    struct AdapterTensor {
        var name: String
        var rank: Int, rows: Int, columns: Int
        var produce: () throws -> (a: [UInt8], b: [UInt8])
    }

    /// llama.cpp's llama_tensor_quantize rule (src/llama-quant.cpp): only names ending in "weight", never a
    /// "_norm.weight", only matrices.
    static func quantizable(_ gguf: String, dims: Int) -> Bool {
        dims >= 2 && gguf.hasSuffix("weight") && !gguf.contains("_norm.weight")
    }

    /// The request for a tensor: the first `--type-for` pattern that matches its llama.cpp name, else `--type`.
    static func requested(_ gguf: String, _ options: Options) throws -> GGMLType? {
        for (pattern, type) in options.typeFor {
            let regex: NSRegularExpression
            do { regex = try NSRegularExpression(pattern: pattern) } catch {
                throw ExportError.badFlag(flag: "--type-for", value: pattern, reason: "is not a regular expression")
            }
            if regex.firstMatch(in: gguf, range: NSRange(gguf.startIndex..., in: gguf)) != nil { return type }
        }
        return options.type
    }

    /// llama.cpp's per-tensor fallback for rows a k-quant's 256-element super-block does not divide
    /// (src/llama-quant.cpp tensor_type_fallback): Q2_K/Q3_K → Q4_0, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, and
    /// F16 when even that block does not divide the row. Nil when the type fits. Throws for a 32-block type that
    /// does not fit (llama.cpp defines no fallback for those).
    static func fallback(_ type: GGMLType, rowLength: Int, tensor: String, file: String) throws -> (GGMLType, String)? {
        guard rowLength % type.blockSize != 0 else { return nil }
        let next: GGMLType
        switch type {
        case .q2_K, .q3_K: next = .q4_0
        case .q4_K: next = .q5_0
        case .q5_K: next = .q5_1
        case .q6_K: next = .q8_0
        default:
            throw ExportError.unsupported(file: file, detail: "tensor '\(tensor)' has rows of \(rowLength), not a multiple of \(type.name)'s block of \(type.blockSize), and llama.cpp defines no fallback for it; pass --type-for '\(NSRegularExpression.escapedPattern(for: tensor))=f16'")
        }
        if rowLength % next.blockSize != 0 {
            return (.f16, "rows of \(rowLength) are not a multiple of \(type.blockSize) (\(type.name)) or \(next.blockSize) (\(next.name)): F16, as llama.cpp falls back")
        }
        return (next, "rows of \(rowLength) are not a multiple of \(type.blockSize): \(type.name) falls back to \(next.name), as in llama.cpp")
    }

    /// Chooses a tensor's type. `grid` is the source's exact grid (nil when it has none), `stored` its ggml type for
    /// a GGUF source.
    static func choose(gguf: String, shape: [Int], grid: GGMLGrid?, stored: GGMLType?, options: Options, file: String) throws
        -> (requested: GGMLType?, type: GGMLType, note: String?) {
        guard quantizable(gguf, dims: shape.count) else { return (nil, .f32, nil) }
        let want = try requested(gguf, options)
        let rowLength = shape.last!
        let base = want ?? stored.flatMap { GGMLType.exportable.contains($0) ? $0 : nil } ?? grid?.nativeType ?? .q8_0
        if let (t, note) = try fallback(base, rowLength: rowLength, tensor: gguf, file: file) { return (want, t, note) }
        return (want, base, nil)
    }

    /// `general.file_type` (llama.h enum llama_ftype) for the request, or for auto the most common block type.
    static func fileType(_ requested: GGMLType?, tensors: [PlannedTensor]) -> Int {
        var t = requested
        if t == nil {
            var counts: [GGMLType: Int] = [:]
            for p in tensors where p.type.isQuantized { counts[p.type, default: 0] += p.shape.reduce(1, *) }
            t = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }?.key
        }
        switch t ?? .f32 {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .q5_0: return 8
        case .q5_1: return 9
        case .q2_K: return 10
        case .q3_K: return 11  // Q3_K_S: every tensor Q3_K
        case .q4_K: return 14  // Q4_K_S
        case .q5_K: return 16  // Q5_K_S
        case .q6_K: return 18
        case .bf16: return 32
        }
    }

    /// The llama.* hyper-parameters llama.cpp reads (src/llama-model.cpp llm_load_hparams), for keys `existing` lacks.
    static func llamaKeys(_ c: LlamaConfig, existing: Set<String>) -> [(key: String, value: GGUFValue)] {
        let keys: [(String, GGUFValue)] = [
            ("llama.context_length", .uint32(UInt32(c.maxPositions))),
            ("llama.embedding_length", .uint32(UInt32(c.hiddenSize))),
            ("llama.block_count", .uint32(UInt32(c.layers))),
            ("llama.feed_forward_length", .uint32(UInt32(c.intermediateSize))),
            ("llama.attention.head_count", .uint32(UInt32(c.heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(c.kvHeads))),
            ("llama.rope.freq_base", .float32(Float(c.ropeTheta))),
            ("llama.attention.layer_norm_rms_epsilon", .float32(Float(c.rmsNormEps))),
            ("llama.vocab_size", .uint32(UInt32(c.vocabularySize))),
            ("llama.rope.dimension_count", .uint32(UInt32(c.headDim))),
        ]
        return keys.filter { !existing.contains($0.0) }.map { (key: $0.0, value: $0.1) }
    }

    /// The source GGUF's metadata minus what the export rewrites (file type, quantization version, alignment).
    static func copiedMetadata(_ r: GGUFReader) -> [(key: String, value: GGUFValue)] {
        let rewritten: Set<String> = ["general.file_type", "general.quantization_version", "general.alignment"]
        return r.metadataKeys.filter { !rewritten.contains($0) }.compactMap { k in r.value(k).map { (key: k, value: $0) } }
    }

    static func checkFinite(_ v: [Float], tensor: String, file: String) throws {
        if let bad = v.firstIndex(where: { !$0.isFinite }) { throw ExportError.nonFinite(file: file, tensor: tensor, index: bad) }
    }

    /// Quantizes `values` ([rows, rowLength]) as `type`, rows in parallel, and measures what it lost (each row decoded
    /// again as it is written, so no second copy of the tensor). With `importance` (rowLength weights), ggml's
    /// importance-weighted quantizer (`sk_ggml_quantize_weighted`).
    static func quantize(_ values: [Float], rowLength: Int, type: GGMLType, importance: [Float]? = nil) -> ([UInt8], Double) {
        let rows = values.count / rowLength, rowBytes = type.rowBytes(rowLength)
        var out = [UInt8](repeating: 0, count: rows * rowBytes)
        let weights = type.isQuantized ? importance : nil
        let stats: [ErrorStatistics] = values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBytes { o in
                (weights ?? []).withUnsafeBufferPointer { w in
                    let shared = UnsafeSendable((v, o, w))
                    return ParallelReduce.map(count: rows, minChunk: max(1, 8192 / rowLength)) { range in
                        let (v, o, w) = shared.pointer
                        if weights != nil {
                            let rc = sk_ggml_quantize_weighted(type.rawValue, v.baseAddress! + range.lowerBound * rowLength,
                                                               o.baseAddress! + range.lowerBound * rowBytes, Int64(range.count), Int64(rowLength), w.baseAddress!)
                            precondition(rc == 0, "ggml_quant.c has no weighted quantizer for \(type.name)")
                        } else {
                            for r in range {
                                type.encode(UnsafeBufferPointer(rebasing: v[(r * rowLength)..<((r + 1) * rowLength)]),
                                            into: UnsafeMutableRawBufferPointer(rebasing: o[(r * rowBytes)..<((r + 1) * rowBytes)]))
                            }
                        }
                        var e = ErrorStatistics()
                        var row = [Float](repeating: 0, count: rowLength)
                        row.withUnsafeMutableBufferPointer { d in
                            for r in range {
                                type.dequantize(o.baseAddress! + r * rowBytes, elements: rowLength, into: d.baseAddress!)
                                e.add(reference: UnsafeBufferPointer(rebasing: v[(r * rowLength)..<((r + 1) * rowLength)]), output: UnsafeBufferPointer(d))
                            }
                        }
                        return e
                    }
                }
            }
        }
        var total = ErrorStatistics()
        for e in stats { total.merge(e) }
        return (out, relativeError(total))
    }

    static func relativeError(_ e: ErrorStatistics) -> Double {
        e.sumReferenceSquares > 0 ? (e.sumErrorSquares / e.sumReferenceSquares).squareRoot() : e.sumErrorSquares.squareRoot()
    }

    /// Rows reordered: output row i is input row `from[i]`.
    static func permuteRows(_ bytes: [UInt8], rowBytes: Int, from: [Int]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes.count)
        bytes.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { o in
                for (i, r) in from.enumerated() {
                    (o.baseAddress! + i * rowBytes).copyMemory(from: s.baseAddress! + r * rowBytes, byteCount: rowBytes)
                }
            }
        }
        return out
    }

    // MARK: - GGUF source

    static func ggufPlan(_ r: GGUFReader, options: Options) throws -> Plan {
        let config = try LlamaConfig(gguf: r)
        guard config.modelType == "llama" else {
            throw ExportError.unsupported(file: r.location, detail: "general.architecture is '\(config.modelType ?? "?")'; the whole-model GGUF export writes llama")
        }
        var metadata = copiedMetadata(r)
        metadata += llamaKeys(config, existing: Set(metadata.map(\.key)))
        var tensors: [PlannedTensor] = []
        for name in r.tensorOrder {
            guard let t = r.tensor(name) else { continue }
            guard LlamaGGUFNames.hfName(name) != nil else {
                throw ExportError.unsupported(file: r.location, detail: "tensor '\(name)' is not one of llama.cpp's llama tensors (token_embd, output_norm, output, blk.N.attn_*/ffn_*)")
            }
            let shape = t.shape.dims
            let grid = GGMLGrid(stored: t.type)
            let (want, type, note) = try choose(gguf: name, shape: shape, grid: grid, stored: t.type, options: options, file: r.location)
            let exact = type == t.type || (grid?.fits(in: type) ?? false) || (type == .f32 && !t.type.isQuantized && t.type != .bf16 && t.type == .f32)
            let location = r.location
            tensors.append(PlannedTensor(
                name: name, sourceName: name, shape: shape, sourceFormat: t.type.name, requested: want, type: type,
                placement: exact ? .exact : .requantized, note: note,
                produce: {
                    defer { r.release(name) }
                    let stored = try r.blockBytes(name)
                    if type == t.type { return (Array(stored), 0) }
                    if let grid, grid.fits(in: type) {
                        let n = type.rowBytes(t.rowLength) * t.rowCount
                        var out = [UInt8](repeating: 0, count: n)
                        out.withUnsafeMutableBytes { GGMLGridCopy.widen(stored, from: t.type, to: type, into: $0) }
                        return (out, 0)
                    }
                    let values = try r.floats(name)
                    try checkFinite(values, tensor: name, file: location)
                    return quantize(values, rowLength: t.rowLength, type: type, importance: options.importance[name])
                }))
        }
        return Plan(metadata: metadata, metadataSource: r.location, tensors: tensors)
    }

    // MARK: - Compressed source

    /// The GGUF a compressed directory was made from (shrink.json `source.path`), resolved against the working
    /// directory and then the compressed directory; throws a one-line error when it is not there.
    public static func metadataGGUF(forCompressed dir: String) throws -> String {
        if let found = Recipe.sourceGGUF(ofCompressed: dir) { return found }
        // Not found: say which part is missing.
        let recipePath = dir + "/shrink.json"
        guard let m = try? MappedFile(path: recipePath), m.byteCount > 0,
              let recipe = try? Recipe.decoder().decode(Recipe.self, from: Data(m.bytes(0..<m.byteCount))) else {
            throw ExportError.unsupported(file: recipePath, detail: "is missing or unreadable; a GGUF export of a compressed directory takes its tokenizer and metadata from the GGUF named by shrink.json source.path")
        }
        let p = recipe.source.path
        let candidates = p.hasPrefix("/") ? [p] : [p, dir + "/" + p]
        guard let found = candidates.first(where: { FileSystem.exists($0) && !FileSystem.isDirectory($0) }) else {
            throw ExportError.unsupported(file: recipePath, detail: "source.path '\(p)' (the GGUF whose tokenizer and metadata the export copies) is gone; restore it, or run tools/fetch_real.sh for SmolLM2")
        }
        guard GGUFReader.looksLikeGGUF(found) else {
            throw ExportError.unsupported(file: recipePath, detail: "source.path '\(p)' is not a GGUF file; the GGUF export copies its tokenizer from the GGUF a model was compressed from")
        }
        return found
    }

    static func compressedPlan(directory dir: String, options: Options) throws -> Plan {
        let ggufPath = try metadataGGUF(forCompressed: dir)
        let meta = try GGUFReader(path: ggufPath)
        let config = try LlamaConfig(gguf: meta)
        let ckpt = try CompressedCheckpoint(directory: dir)
        var metadata = copiedMetadata(meta)
        metadata += llamaKeys(config, existing: Set(metadata.map(\.key)))

        // (llama.cpp name, source name, transformers-ordered rows?)
        var names: [(gguf: String, source: String, hfOrder: Bool)] = []
        for name in ckpt.tensorNames {
            if let g = LlamaGGUFNames.ggufName(hf: name) {
                names.append((g, name, true))
            } else if LlamaGGUFNames.hfName(name) != nil {
                names.append((name, name, false))
            } else {
                throw ExportError.unsupported(file: dir, detail: "tensor '\(name)' has no llama.cpp name (expected transformers Llama names such as model.layers.0.self_attn.q_proj.weight)")
            }
        }
        if config.tiedEmbeddings, let i = names.firstIndex(where: { $0.gguf == "output.weight" }) {
            names.remove(at: i)  // llama.cpp reads token_embd for a tied head
        }
        names.sort { order($0.gguf) < order($1.gguf) }
        // A tensor the recipe kept holds the source's dequantized values: it keeps the source's blocks (the
        // planner counts it at its stored size), copied when its values are still the source's.
        let original = LlamaGGUFSource(meta, config: config)
        var tensors: [PlannedTensor] = [], adapter: [AdapterTensor] = []
        for (gguf, source, hfOrder) in names {
            guard let info = ckpt.info(source) else { continue }
            let shape = info.shape.dims
            let packed = ckpt.packedWeights[source]
            // Low-rank factors change the values: such a weight is re-quantized from Ŵ + A·B, not copied as codes —
            // unless they go to a LoRA adapter, and the model holds Ŵ alone. Only a block's linear weights go there:
            // llama.cpp applies token_embd's pair with flipped roles, and a tied head reads the same tensor as a
            // linear, so the embedding's factors are folded in.
            let factored = ckpt.lowRankWeights.contains(source)
            let toAdapter = factored && options.loraAdapter != nil && gguf.hasPrefix("blk.")
            let grid = factored && !toAdapter ? nil : packed.flatMap { GGMLGrid(scheme: $0.layout.scheme) }
            var sourceType = packed == nil && hfOrder ? meta.tensor(gguf).flatMap { $0.shape.dims == shape ? $0.type : nil } : nil
            if sourceType != nil, original.info(source) != nil {
                if try ckpt.floats(source) != original.floats(source) { sourceType = nil }
                ckpt.release(source); original.release(source)
            } else {
                sourceType = nil
            }
            let (want, type, note) = try choose(gguf: gguf, shape: shape, grid: grid, stored: sourceType, options: options, file: dir)
            let exact = (grid?.fits(in: type) ?? false) || (packed == nil && type == .f32) || (sourceType != nil && sourceType == type)
            let heads = hfOrder ? LlamaGGUFNames.permutedHeads(gguf: gguf, config: config) : nil
            var from: [Int]?
            if let heads {
                guard let p = LlamaGGUFNames.permutation(rows: shape[0], heads: heads) else {
                    throw ExportError.unsupported(file: dir, detail: "tensor '\(source)' has \(shape[0]) rows, not \(heads) heads of even size (config from \(ggufPath))")
                }
                from = p
            }
            let format: String
            if let s = packed?.layout.scheme {
                format = "int\(s.bits) \(s.granularity) \(s.symmetric ? "sym" : "asym") \(s.scaleDType.rawValue) scales"
            } else {
                format = info.dtype.rawValue
            }
            let rowLength = shape.last!, rows = shape.count == 1 ? 1 : shape.dropLast().reduce(1, *)
            let importance = options.importance[gguf]
            tensors.append(PlannedTensor(
                name: gguf, sourceName: source, shape: shape, sourceFormat: format, requested: want, type: type,
                placement: exact ? .exact : .requantized, note: note,
                produce: {
                    defer { ckpt.release(source) }
                    var bytes: [UInt8]
                    var error = 0.0
                    if let sourceType, type == sourceType {
                        defer { meta.release(gguf) }
                        return (Array(try meta.blockBytes(gguf)), 0)
                    }
                    if let packed, let grid, grid.fits(in: type) {
                        let q = try ckpt.quantized(packed)
                        try checkFinite(q.scales, tensor: source + "_scale", file: dir)
                        try checkFinite(q.minima, tensor: source + "_" + PackedLayout.minimumSuffix, file: dir)
                        bytes = [UInt8](repeating: 0, count: type.rowBytes(rowLength) * rows)
                        if let blocks = q.ggmlMinimumBlocks() {
                            bytes.withUnsafeMutableBytes { GGMLGridCopy.fromMinimumBlocks(blocks, to: type, into: $0) }
                        } else {
                            let codes = q.codes()
                            bytes.withUnsafeMutableBytes { GGMLGridCopy.fromCodes(codes, scales: q.scales, to: type, into: $0) }
                        }
                    } else {
                        let values = toAdapter ? try ckpt.quantized(packed!).dequantized() : try ckpt.floats(source)
                        try checkFinite(values, tensor: source, file: dir)
                        (bytes, error) = quantize(values, rowLength: rowLength, type: type, importance: importance)
                    }
                    if let from { bytes = permuteRows(bytes, rowBytes: type.rowBytes(rowLength), from: from) }
                    return (bytes, error)
                }))
            if toAdapter, let packed {
                let rows = packed.layout.rows, columns = packed.layout.columns
                let rank = try LowRankCompensation.check(source, rows: rows, columns: columns, in: ckpt.stored).a.shape.dims[1]
                adapter.append(AdapterTensor(name: gguf, rank: rank, rows: rows, columns: columns, produce: {
                    let f = try LowRankCompensation.read(source, rows: rows, columns: columns, from: ckpt.stored)
                    var b = ElementCodec.encoded(f.a, as: .f16)
                    if let from { b = permuteRows(b, rowBytes: 2 * rank, from: from) }
                    return (ElementCodec.encoded(f.b, as: .f16), b)
                }))
            }
        }
        return Plan(metadata: metadata, metadataSource: ggufPath, tensors: tensors, adapter: adapter)
    }

    /// convert_hf_to_gguf.py's order: token_embd, then each block's tensors, then output_norm and output.
    static func order(_ gguf: String) -> (Int, String) {
        if gguf.hasPrefix("token_embd") { return (-1, gguf) }
        let parts = gguf.split(separator: ".")
        if parts.count >= 3, parts[0] == "blk", let i = Int(parts[1]) { return (i, gguf) }
        return (Int.max, gguf)
    }
}

/// llama.cpp's importance matrix (`llama-imatrix -o FILE.gguf`, tools/imatrix/imatrix.cpp): per tensor
/// `<name>.in_sum2` (Σ x² over the calibration tokens, per input column and expert) and `<name>.counts` (tokens
/// per expert). The importance llama-quantize uses is in_sum2 / count, 1 where a count is 0
/// (tools/quantize/quantize.cpp load_imatrix) — Shrink's own calibration statistics are the same quantity, diag(XᵀX)/n.
public enum GGUFImportance {
    public static func load(_ path: String) throws -> [String: [Float]] {
        guard GGUFReader.looksLikeGGUF(path) else {
            throw ExportError.unsupported(file: path, detail: "is not a GGUF imatrix; write one with llama-imatrix -o FILE.gguf (the legacy .dat format is not read)")
        }
        let r = try GGUFReader(path: path)
        var out: [String: [Float]] = [:]
        for name in r.tensorNames where name.hasSuffix(".in_sum2") {
            let base = String(name.dropLast(".in_sum2".count))
            guard let countsInfo = r.tensor(base + ".counts"), let sumsInfo = r.tensor(name) else {
                throw ExportError.unsupported(file: path, detail: "'\(name)' has no '\(base).counts' beside it; not an imatrix from llama-imatrix")
            }
            let sums = try r.floats(name), counts = try r.floats(base + ".counts")
            guard counts.count >= 1, sums.count % counts.count == 0, sumsInfo.rowLength * counts.count == sums.count, countsInfo.elementCount == counts.count else {
                throw ExportError.unsupported(file: path, detail: "'\(name)' holds \(sums.count) sums for \(counts.count) counts; not an imatrix from llama-imatrix")
            }
            let n = sums.count / counts.count
            var e = [Float](repeating: 1, count: sums.count)
            for j in 0..<counts.count where counts[j] > 0 {
                for i in 0..<n { e[j * n + i] = sums[j * n + i] / counts[j] }
            }
            out[base] = e
        }
        guard !out.isEmpty else {
            throw ExportError.unsupported(file: path, detail: "holds no '<tensor>.in_sum2' entries; not an imatrix from llama-imatrix")
        }
        return out
    }
}
