import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// A heterogeneous deployment stack (`shrink plan --stack STACK.json`): several models of different families that
/// live on one device at once, each with its own recipe. A component with weights is compressed by the quantize
/// pipeline (`QuantizePipeline.run`, what `shrink quantize` runs) and measured against its original by the family's
/// comparison (`ImageComparison` for a VAE, `LanguageComparison` for a decoder); a component given by its
/// `config.json` alone is accounted (`ConfigAccount`), not measured. Memory per component: the weight bytes (the
/// tensor bytes of the written file, or the accounting's for a config), the KV cache of a decoder at its stated
/// context (layers × 2 × kv_heads × head_dim × context × the cache dtype's bytes), and the batch-1 activations of
/// the family's arena (`ActivationArena`, F32). Every component is resident and may run at the same time, so the
/// totals are sums.
///
/// Manifest (paths relative to the working directory; unknown fields are refused):
/// ```
/// {"name": "…", "budget": "1GB", "device": "jetson-orin-nano-8gb",
///  "components": [
///   {"name": "tiny-vae", "model": "Fixtures/models/vae_tiny64",
///    "recipe": {"bits": 8, "granularity": "channel", "method": "gptq"},
///    "calibration": {"data": "…/train-images-idx3-ubyte", "count": 256},
///    "evaluation": {"data": "…/t10k-images-idx3-ubyte", "limit": 1000}},
///   {"name": "llm", "model": "…gguf", "context": 2048, "kv_cache_dtype": "f16",
///    "recipe": {"bits": 4, "group": 32, "method": "gptq", "grid": "ggml-sym", "scale_dtype": "f16",
///               "tensors": {"model.embed_tokens.weight": {"bits": 8, "strategy": "group", "group_size": 32, "method": "rtn"}}},
///    "calibration": {"data": "data/text/calibration.txt", "count": 8},
///    "evaluation": {"data": "data/text/evaluation.txt", "limit": 8, "split": "test"}},
///   {"name": "qwen", "config": "…/config.json", "context": 2048, "recipe": {"bits": 4, "group": 32}}]}
/// ```
/// A recipe is either `shrink quantize`'s flags as fields (`bits`, `granularity`, `group`, `method`, `grid`,
/// `scale_dtype`, `embeddings`, `act_order`, and `tensors`: per-tensor choices that replace the uniform one), or
/// `{"file": PLAN.json}` (a plan or recipe that `shrink quantize --recipe` reads). No recipe: kept as stored.
public struct StackManifest: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// Weights to compress and measure (a directory, weights file or GGUF).
        case model(String)
        /// A `config.json` only: accounted, not measured.
        case config(String)
        public var path: String { switch self { case let .model(p), let .config(p): p } }
    }

    public struct Recipe: Sendable, Equatable {
        public var bits: Int = 4
        public var granularity: Granularity = .channel
        public var method: Method = .rtn
        public var grid: QuantScheme.Grid = .integer
        public var scaleDType: DType?
        public var embeddings = false
        public var actOrder = false
        /// Per-tensor choices replacing the uniform one on these tensors.
        public var tensors: [String: TensorChoice] = [:]
        /// A plan or recipe file instead of the fields above.
        public var file: String?

        public var uniformChoice: TensorChoice { TensorChoice(bits: bits, granularity: granularity, method: method, grid: grid) }

        public var description: String {
            if let file { return "recipe file \(file)" }
            var s = uniformChoice.description
            if let d = scaleDType { s += ", \(d.flagName) scales" }
            if embeddings { s += ", embeddings too" }
            if actOrder { s += ", act-order" }
            for (name, c) in tensors.sorted(by: { $0.key < $1.key }) { s += "; \(name): \(c)" }
            return s
        }
    }

    public struct DataSet: Sendable, Equatable {
        /// IDX images (VAE) or a text (decoder).
        public var path: String
        /// Images or text chunks (nil: all).
        public var count: Int?
        /// Tokens per text chunk.
        public var context = 512
        /// "test" when the text never calibrated or trained the model.
        public var split: String?
    }

    public struct Component: Sendable, Equatable {
        public var name: String
        public var source: Source
        public var recipe: Recipe?
        public var calibration: DataSet?
        public var evaluation: DataSet?
        /// Tokens of context the KV cache holds (decoders).
        public var context: Int?
        public var kvCacheDType: DType = .f16
    }

    public var file: String
    public var name: String
    public var budgetBytes: Int?
    public var device: String?
    public var components: [Component]

    /// Reads and checks a manifest: every failure names the file and the field.
    public static func load(_ path: String) throws -> StackManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlanError.badStack(file: path, field: "(file)", reason: "cannot be read; give the stack manifest's path")
        }
        return try parse(data, file: path)
    }

    public static func parse(_ data: Data, file: String) throws -> StackManifest {
        let root: JSONValue
        do { root = try StrictJSONParser.parse([UInt8](data)) } catch {
            throw PlanError.badStack(file: file, field: "(document)", reason: "is not valid JSON: \(error)")
        }
        let top = try Fields(root, path: "", file: file, known: ["name", "budget", "device", "components"])
        let list = try top.required("components").array(min: 1)
        var components: [Component] = []
        for value in list {
            let c = try Fields(value, known: ["name", "model", "config", "recipe", "calibration", "evaluation", "context", "kv_cache_dtype"])
            let name = try c.required("name").string()
            if components.contains(where: { $0.name == name }) { throw c.error("name", "'\(name)' names two components; give each its own") }
            let source: Source
            let model: String? = try c.optional("model")?.string(), config: String? = try c.optional("config")?.string()
            switch (model, config) {
            case let (m?, nil): source = .model(m)
            case let (nil, cfg?): source = .config(cfg)
            case (nil, nil): throw c.error("model", "is missing: give \"model\" (weights to compress and measure) or \"config\" (a config.json to account)")
            case (_?, _?): throw c.error("config", "and \"model\" are both given; give one")
            }
            var component = Component(name: name, source: source)
            if let r = c.optional("recipe") { component.recipe = try recipe(r) }
            component.calibration = try c.optional("calibration").map { try dataSet($0) }
            component.evaluation = try c.optional("evaluation").map { try dataSet($0) }
            if let v = c.optional("context") {
                let n = try v.int()
                guard n >= 1 else { throw v.error("must be at least 1 token, is \(n)") }
                component.context = n
            }
            if let v = c.optional("kv_cache_dtype") {
                let s = try v.string()
                guard let d = DType(flag: s), [DType.f32, .f16, .bf16].contains(d) else { throw v.error("'\(s)' is not a cache dtype; use f32, f16 or bf16") }
                component.kvCacheDType = d
            }
            if case .config = source, component.calibration != nil || component.evaluation != nil {
                throw c.error(component.calibration != nil ? "calibration" : "evaluation", "is given for a config-only component, which is accounted, not measured; give \"model\" to measure it")
            }
            if case .config = source, let r = component.recipe, r.file != nil || r.method.needsCalibration || r.tensors.values.contains(where: \.needsCalibration) {
                throw c.error("recipe", "of a config-only component must be bits/granularity/group (round to nearest): it is accounted, not applied")
            }
            components.append(component)
        }
        var m = StackManifest(file: file, name: try top.optional("name")?.string() ?? FileSystem.lastComponent(file),
                              budgetBytes: nil, device: try top.optional("device")?.string(), components: components)
        if let b = top.optional("budget") {
            switch b.value {
            case let .string(s):
                guard let n = parseBytes(s) else { throw b.error("'\(s)' is not a size; use e.g. \"1GB\", \"512MiB\" or a byte count") }
                m.budgetBytes = n
            default:
                let n = try b.int()
                guard n > 0 else { throw b.error("must be a positive byte count, is \(n)") }
                m.budgetBytes = n
            }
        }
        return m
    }

    /// "1GB" (10^9), "1GiB" (2^30), "512MB", "4096" (bytes): nil when it is not a positive size.
    public static func parseBytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        for (suffix, factor) in [("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("B", 1), ("", 1)]
        where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v > 0, v.isFinite,
                  v * Double(factor) < 9e18 else { return nil }
            return Int(v * Double(factor))
        }
        return nil
    }

    static func recipe(_ v: Value) throws -> Recipe {
        let f = try Fields(v, known: ["bits", "granularity", "group", "method", "grid", "scale_dtype", "embeddings", "act_order", "tensors", "file"])
        var r = Recipe()
        if let file = f.optional("file") {
            if let other = f.members.first(where: { $0.key != "file" }) { throw f.error(other.key, "cannot be combined with \"file\" (the file names every tensor's choice)") }
            r.file = try file.string()
            return r
        }
        guard let bits = f.optional("bits") else { throw f.error("bits", "is missing: give bits (2–8), or {\"file\": PLAN.json}, or no recipe to keep the weights as stored") }
        r.bits = try bits.int()
        guard QuantScheme.supportedBits.contains(r.bits) else { throw bits.error("\(r.bits) is out of range; use 2 to 8") }
        let group = try f.optional("group").map { g -> Int in
            let n = try g.int()
            guard n >= 1 else { throw g.error("must be a positive group size, is \(n)") }
            return n
        }
        switch (try f.optional("granularity")?.string(), group) {
        case (nil, nil), ("channel", nil): r.granularity = .channel
        case ("tensor", nil): r.granularity = .tensor
        case (nil, let g?), ("group", let g?): r.granularity = .group(g)
        case ("group", nil): throw f.error("group", "is missing: granularity group needs a group size")
        case (let s?, _): throw f.error("granularity", group != nil && ["tensor", "channel"].contains(s) ? "'\(s)' cannot take a group" : "'\(s)' is unknown; use tensor, channel or group")
        }
        if let m = f.optional("method") {
            let s = try m.string()
            guard let method = Method(rawValue: s) else { throw m.error("'\(s)' is unknown; use " + Method.allCases.map(\.rawValue).joined(separator: ", ")) }
            r.method = method
        }
        if let g = f.optional("grid") {
            let s = try g.string()
            guard let grid = QuantScheme.Grid(rawValue: s) else { throw g.error("'\(s)' is unknown; use " + QuantScheme.Grid.allCases.map(\.rawValue).joined(separator: ", ")) }
            r.grid = grid
        }
        if let d = f.optional("scale_dtype") {
            let s = try d.string()
            guard let dtype = DType(flag: s), [DType.f32, .f16, .bf16].contains(dtype) else { throw d.error("'\(s)' is not a scale dtype; use f32, f16 or bf16") }
            r.scaleDType = dtype
        }
        r.embeddings = try f.optional("embeddings")?.bool() ?? false
        r.actOrder = try f.optional("act_order")?.bool() ?? false
        if let t = f.optional("tensors") {
            let members = try Fields(t, known: nil).members
            for (name, choice) in members {
                do { r.tensors[name] = try JSONDecoder().decode(TensorChoice.self, from: Data(choice.serialized().utf8)) } catch {
                    let why = (error as? DecodingError).map(Self.reason) ?? "\(error)"
                    throw PlanError.badStack(file: v.file, field: t.path + "." + name, reason: "is not a tensor choice {bits, strategy, group_size, method}: \(why)")
                }
            }
        }
        return r
    }

    static func reason(_ e: DecodingError) -> String {
        switch e {
        case let .keyNotFound(k, _): "'\(k.stringValue)' is missing"
        case let .typeMismatch(_, c), let .valueNotFound(_, c): "'\(c.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case let .dataCorrupted(c): c.debugDescription
        @unknown default: "\(e)"
        }
    }

    static func dataSet(_ v: Value) throws -> DataSet {
        let f = try Fields(v, known: ["data", "limit", "count", "context", "split"])
        var d = DataSet(path: try f.required("data").string())
        for key in ["limit", "count"] {
            if let c = f.optional(key) {
                let n = try c.int()
                guard n >= 1 else { throw c.error("must be at least 1, is \(n)") }
                d.count = n
            }
        }
        if let c = f.optional("context") {
            let n = try c.int()
            guard n >= 8, n % 2 == 0 else { throw c.error("must be an even number of tokens, at least 8, is \(n)") }
            d.context = n
        }
        d.split = try f.optional("split")?.string()
        return d
    }

    /// A JSON value and where it sits in the manifest, for errors that name the field.
    struct Value {
        var value: JSONValue
        var path: String
        var file: String
        func error(_ reason: String) -> PlanError { .badStack(file: file, field: path, reason: reason) }
        func string() throws -> String {
            guard case let .string(s) = value else { throw error("must be a string, is \(value.kindName)") }
            guard !s.isEmpty else { throw error("must not be empty") }
            return s
        }
        func int() throws -> Int {
            guard let n = value.intValue else { throw error("must be an integer, is \(value.kindName == "a number" ? "not one" : value.kindName)") }
            return n
        }
        func bool() throws -> Bool {
            guard case let .bool(b) = value else { throw error("must be true or false, is \(value.kindName)") }
            return b
        }
        func array(min: Int) throws -> [Value] {
            guard let a = value.arrayValue else { throw error("must be an array, is \(value.kindName)") }
            guard a.count >= min else { throw error("lists no component; give at least one") }
            return a.enumerated().map { Value(value: $1, path: "\(path)[\($0)]", file: file) }
        }
    }

    /// An object's members; `known` (when given) are the only keys allowed.
    struct Fields {
        var members: [(key: String, value: JSONValue)]
        var path: String
        var file: String
        init(_ v: JSONValue, path: String, file: String, known: [String]?) throws {
            self.path = path; self.file = file
            guard let m = v.objectMembers else {
                throw PlanError.badStack(file: file, field: path.isEmpty ? "(document)" : path, reason: "must be an object, is \(v.kindName)")
            }
            members = m
            if let known, let unknown = m.first(where: { !known.contains($0.key) }) {
                throw PlanError.badStack(file: file, field: key(unknown.key), reason: "is not a field of this object; use " + known.joined(separator: ", "))
            }
        }
        init(_ v: Value, known: [String]?) throws { try self.init(v.value, path: v.path, file: v.file, known: known) }
        func key(_ k: String) -> String { path.isEmpty ? k : path + "." + k }
        func optional(_ k: String) -> Value? { members.first { $0.key == k }.map { Value(value: $0.value, path: key(k), file: file) } }
        func required(_ k: String) throws -> Value {
            guard let v = optional(k) else { throw error(k, "is missing") }
            return v
        }
        func error(_ k: String, _ reason: String) -> PlanError { .badStack(file: file, field: key(k), reason: reason) }
    }
}

/// `shrink plan --stack`: every component compressed, measured and accounted, and the totals against the device.
public enum StackPlanner {
    public struct KVCache: Codable, Sendable, Equatable {
        public var layers: Int
        public var kvHeads: Int
        public var headDim: Int
        public var context: Int
        public var dtype: String
        /// layers × 2 (K and V) × kv_heads × head_dim × context × bytes of `dtype`.
        public var bytes: Int
        public init(layers: Int, kvHeads: Int, headDim: Int, context: Int, dtype: String, bytes: Int) {
            self.layers = layers; self.kvHeads = kvHeads; self.headDim = headDim; self.context = context; self.dtype = dtype; self.bytes = bytes
        }
    }

    public struct ImageQuality: Codable, Sendable {
        public var data: String
        public var images: Int
        public var originalNegativeELBO: Statistics.Interval
        public var originalPSNR: Statistics.Interval
        /// Compressed − original, paired over images (bootstrap 95%).
        public var negativeELBODifference: Statistics.Interval
        public var psnrDifference: Statistics.Interval
        public var ssimDifference: Statistics.Interval
        public var latentCosine: Statistics.Interval
    }

    public struct LanguageQuality: Codable, Sendable {
        public var text: String
        public var chunks: Int
        public var context: Int
        public var perplexity: LanguageComparison.Estimate
        public var originalPerplexity: LanguageComparison.Estimate
        public var kld: LanguageComparison.Estimate
        public var kldP99: Double
        public var sameTop: LanguageComparison.Estimate
    }

    public struct Quality: Codable, Sendable {
        /// One line: the measured change, or why nothing was measured.
        public var summary: String
        public var label: Comparison.Label?
        public var image: ImageQuality?
        public var language: LanguageQuality?
    }

    public enum Kind: String, Codable, Sendable { case vae, decoder, other }

    public struct ComponentPlan: Codable, Sendable {
        public var name: String
        public var kind: Kind
        public var family: String
        /// "model" (compressed and measured) or "config" (accounted).
        public var source: String
        public var path: String
        public var parameters: Int
        public var recipe: String
        public var measured: Bool
        /// Bytes the original's tensors hold as stored (a config: in its torch_dtype).
        public var originalWeightBytes: Int
        public var weightBytes: Int
        /// "written" (the compressed file's tensor bytes), "as stored", or "accounted" (from the config).
        public var weightBytesFrom: String
        public var kvCache: KVCache?
        /// Batch-1 activations of the family's arena (F32), the KV cache not included.
        public var activationBytes: Int
        /// KV cache + activations.
        public var workingMemoryBytes: Int
        public var totalBytes: Int
        public var quality: Quality
    }

    public struct Totals: Codable, Sendable, Equatable {
        public var weightBytes: Int
        public var kvCacheBytes: Int
        public var activationBytes: Int
        public var totalBytes: Int
        /// What the device's RAM holds: working memory, plus the weights where they live in RAM.
        public var ramBytes: Int
        /// Weights executed in place from flash (microcontrollers); 0 where weights load into RAM.
        public var flashBytes: Int
    }

    public struct Plan: Codable, Sendable {
        public var name: String
        public var manifest: String
        public var device: DeviceProfile
        public var budgetBytes: Int?
        public var components: [ComponentPlan]
        public var totals: Totals
        public var fitsDevice: Bool
        public var fitsBudget: Bool?
        public var verdict: String
        public var assumptions: [String]
    }

    /// Checks every component before anything runs (paths, families, the data a measurement needs), then plans them in order.
    public static func run(_ manifest: StackManifest, device: DeviceProfile, budgetBytes: Int? = nil, progress: (any ProgressSink)? = nil) throws -> Plan {
        let budget = budgetBytes ?? manifest.budgetBytes
        let families = try manifest.components.enumerated().map { try check($1, index: $0, file: manifest.file) }
        var components: [ComponentPlan] = []
        for (i, c) in manifest.components.enumerated() {
            components.append(try plan(c, family: families[i], progress: progress))
        }
        let totals = total(components, device: device)
        let fitsDevice = totals.ramBytes <= device.ramBytes && totals.flashBytes <= device.flashBytes
        let fitsBudget = budget.map { totals.totalBytes <= $0 }
        var verdict = "\(fitsDevice ? "fits" : "does not fit") \(device.name): \(totals.ramBytes) of \(device.ramBytes) RAM bytes"
        if totals.flashBytes > 0 { verdict += ", \(totals.flashBytes) of \(device.flashBytes) flash bytes" }
        if let budget, let ok = fitsBudget {
            verdict += "; \(ok ? "within" : "over") the \(budget)-byte budget: \(totals.totalBytes) bytes (\(String(format: "%.1f", 100 * Double(totals.totalBytes) / Double(budget)))%)"
        }
        return Plan(name: manifest.name, manifest: manifest.file, device: device, budgetBytes: budget, components: components, totals: totals,
                    fitsDevice: fitsDevice, fitsBudget: fitsBudget, verdict: verdict, assumptions: assumptions(device))
    }

    static func assumptions(_ device: DeviceProfile) -> [String] {
        ["every component is resident and may run at once: weights, KV caches and activations add up",
         "activations: batch 1, the family's F32 arena (ActivationArena) with buffer reuse inside a model",
         "KV cache: layers x 2 x kv_heads x head_dim x context x bytes of the component's kv_cache_dtype",
         device.weightMemory == .ram ? "weights load into \(device.name)'s RAM (unified memory: CPU and GPU share it)" : "weights execute in place from \(device.name)'s flash",
         "not counted: the runtime, the OS and framework buffers (CUDA context, tokenizer, I/O)"]
    }

    /// Sums of the components, split between RAM and flash as the device keeps weights.
    public static func total(_ components: [ComponentPlan], device: DeviceProfile) -> Totals {
        let weights = components.reduce(0) { $0 + $1.weightBytes }
        let kv = components.reduce(0) { $0 + ($1.kvCache?.bytes ?? 0) }
        let activations = components.reduce(0) { $0 + $1.activationBytes }
        let inRAM = device.weightMemory == .ram
        return Totals(weightBytes: weights, kvCacheBytes: kv, activationBytes: activations, totalBytes: weights + kv + activations,
                      ramBytes: (inRAM ? weights : 0) + kv + activations, flashBytes: inRAM ? 0 : weights)
    }

    /// The component's family, and the files and fields its plan needs, checked before anything is measured.
    static func check(_ c: StackManifest.Component, index i: Int, file: String) throws -> any ModelFamily {
        let field = "components[\(i)]"
        func fail(_ f: String, _ reason: String) -> PlanError { .badStack(file: file, field: "\(field).\(f)", reason: reason) }
        let sourceField: String
        switch c.source { case .model: sourceField = "model"; case .config: sourceField = "config" }
        guard FileSystem.exists(c.source.path) else { throw fail(sourceField, "'\(c.source.path)' does not exist") }
        let family: any ModelFamily
        do { family = try ModelRegistry.family(config: c.source.path) } catch {
            throw fail(sourceField, "'\(c.source.path)' is not a model Shrink reads: \(error)")
        }
        let isDecoder = family is LlamaFamily, isVAE = family is VAEFamily
        if case .model = c.source, !isDecoder && !isVAE {
            throw fail(sourceField, "is a \(type(of: family).familyName) model; a stack measures VAEs (shrink-vae) and decoders (llama, qwen2, mistral); give its config to account it")
        }
        if isDecoder {
            guard let context = c.context else { throw fail("context", "is missing: a decoder's KV cache needs the tokens of context it holds") }
            if let llama = family as? LlamaFamily, context > llama.config.maxPositions {
                throw fail("context", "\(context) exceeds the model's max_position_embeddings \(llama.config.maxPositions)")
            }
        } else if c.context != nil {
            throw fail("context", "is given for a \(type(of: family).familyName), which has no KV cache")
        }
        guard case .model = c.source, let recipe = c.recipe else { return family }
        var needsCalibration = recipe.method.needsCalibration || recipe.tensors.values.contains(where: \.needsCalibration)
        if let path = recipe.file {
            do { needsCalibration = try RecipeFile.load(path: path, model: FileSystem.lastComponent(ModelLocation(c.source.path).directory)).needsCalibration } catch {
                throw fail("recipe.file", "cannot be applied: \(error)")
            }
        }
        if needsCalibration && c.calibration == nil { throw fail("calibration", "is missing: the recipe's gptq/awq needs calibration data (train images, or a calibration text)") }
        guard let evaluation = c.evaluation else {
            throw fail("evaluation", "is missing: a compressed model is measured against its original (" + (isVAE ? "IDX test images" : "a held-out text") + ")")
        }
        for (name, d) in [("evaluation", evaluation), ("calibration", c.calibration)] {
            guard let d else { continue }
            if d.path.hasPrefix("random:") && name == "calibration" { continue }
            guard FileSystem.exists(d.path) else { throw fail("\(name).data", "'\(d.path)' does not exist" + (d.path.hasPrefix("data/") ? "; run tools/fetch_real.sh" : "")) }
        }
        if let cal = c.calibration, evaluation.path == cal.path {
            throw fail("evaluation.data", "is the calibration data; measure on held-out data")
        }
        return family
    }

    static func plan(_ c: StackManifest.Component, family: any ModelFamily, progress: (any ProgressSink)?) throws -> ComponentPlan {
        let kind: Kind = family is VAEFamily ? .vae : family is LlamaFamily ? .decoder : .other
        let context = c.context ?? 2048
        let arena = family.cost(CostQuery(context: context)).arena
        var kv: KVCache?
        var activations = arena.totalBytes
        if let llama = family as? LlamaFamily {
            let cfg = llama.config
            kv = KVCache(layers: cfg.layers, kvHeads: cfg.kvHeads, headDim: cfg.headDim, context: context, dtype: c.kvCacheDType.flagName,
                         bytes: cfg.layers * 2 * cfg.kvHeads * cfg.headDim * context * c.kvCacheDType.byteSize)
            activations -= arena.buffer("kv_cache")?.bytes ?? 0
        }
        var p = ComponentPlan(name: c.name, kind: kind, family: family.variant, source: "model", path: c.source.path, parameters: 0,
                              recipe: c.recipe?.description ?? "kept as stored", measured: false, originalWeightBytes: 0, weightBytes: 0,
                              weightBytesFrom: "as stored", kvCache: kv, activationBytes: activations, workingMemoryBytes: activations + (kv?.bytes ?? 0),
                              totalBytes: 0, quality: Quality(summary: ""))
        switch c.source {
        case .config:
            // ConfigAccount's rule (every quantizable weight; row-read tables only with embeddings), then the overrides.
            let account = ModelAccount(family, dtype: family.parameterDType, query: CostQuery(context: context))
            var recipe: [String: TensorChoice] = [:]
            if let r = c.recipe {
                for t in account.tensors where t.quantizable && (r.embeddings || !t.rowRead) {
                    if case let .group(size) = r.granularity, t.shape.count == 2, t.shape[1] % size != 0 { continue }
                    recipe[t.name] = r.uniformChoice
                }
                if let unknown = r.tensors.keys.sorted().first(where: { name in !account.tensors.contains { $0.name == name } }) {
                    throw PlanError.badRequest(flag: "component \(c.name)", reason: "recipe.tensors names '\(unknown)', which \(c.source.path) does not have")
                }
                for (name, choice) in r.tensors { recipe[name] = choice }
                p.recipe = recipe.isEmpty ? "kept as stored (\(r.description) applies to no tensor)" : "\(recipe.count) tensors: \(r.description)"
            }
            p.source = "config"; p.parameters = account.parameters; p.originalWeightBytes = account.weightBytes([:])
            p.weightBytes = account.weightBytes(recipe)
            p.weightBytesFrom = "accounted"
            p.quality = Quality(summary: "accounted from config, not measured")
        case let .model(path):
            let stored = try ModelLocation(path).openWeights()
            let weights = family.presenting(stored)
            p.parameters = weights.parameterCount
            p.originalWeightBytes = stored.totalStoredBytes
            if let recipe = c.recipe {
                try measure(c, recipe: recipe, family: family, path: path, weights: weights, into: &p, progress: progress)
            } else {
                p.weightBytes = p.originalWeightBytes
                p.quality = Quality(summary: "kept as stored: nothing compressed, nothing to measure")
            }
        }
        p.totalBytes = p.weightBytes + p.workingMemoryBytes
        return p
    }

    /// The quantize options a recipe stands for on `weights` (uniform, per-tensor overrides, or a recipe file).
    static func options(_ r: StackManifest.Recipe, family: any ModelFamily, weights: any TensorSource, model: String,
                        component: String) throws -> (QuantizeOptions, Int?) {
        var o = QuantizeOptions()
        if let file = r.file {
            let f = try RecipeFile.load(path: file, model: FileSystem.lastComponent(ModelLocation(model).directory))
            o.perTensor = f.choices
            return (o, f.calibrationPuzzles)
        }
        o.bits = r.bits; o.granularity = r.granularity; o.method = r.method; o.grid = r.grid
        o.symmetric = r.grid != .ggmlMinimum
        o.scaleDType = r.scaleDType
        o.quantizeEmbeddings = r.embeddings
        o.parameters.gptq.actOrder = r.actOrder
        guard !r.tensors.isEmpty else { return (o, nil) }
        if let unknown = r.tensors.keys.sorted().first(where: { weights.info($0) == nil }) {
            throw PlanError.badRequest(flag: "component \(component)", reason: "recipe.tensors names '\(unknown)', which \(model) does not have")
        }
        // As the pipeline does without a recipe: sequential GPTQ solves the blocks and keeps the weights outside them.
        let inBlocks = r.method.needsCalibration ? (family as? any SequentialFamily).map { Set($0.blocks.joined()) } : nil
        var perTensor: [String: TensorChoice] = [:]
        for d in try QuantizeJob.plan(weights, options: o) where d.scheme != nil && inBlocks.map({ $0.contains(d.info.name) }) != false {
            perTensor[d.info.name] = r.uniformChoice
        }
        for (name, choice) in r.tensors { perTensor[name] = choice }
        var per = o
        per.perTensor = perTensor
        return (per, nil)
    }

    static func measure(_ c: StackManifest.Component, recipe: StackManifest.Recipe, family: any ModelFamily, path: String, weights: any TensorSource,
                        into p: inout ComponentPlan, progress: (any ProgressSink)?) throws {
        let (q, recipeCount) = try options(recipe, family: family, weights: weights, model: path, component: c.name)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("shrink-stack-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let calibration = c.calibration.map { QuantizePipeline.Calibration(data: $0.path, count: $0.count ?? recipeCount, context: $0.context) }
        try QuantizePipeline.run(checkpoint: path, options: q, calibration: q.needsCalibration ? calibration : nil,
                                 outputDirectory: scratch, overwrite: false, progress: progress)
        let evaluation = c.evaluation!
        p.measured = true
        p.weightBytesFrom = "written"
        if p.kind == .vae {
            let task = try ImageTask(images: evaluation.path, limit: evaluation.count)
            let r = try ImageComparison.compare(original: try ConvVAE.load(path), compressed: try ConvVAE.load(scratch), on: task, progress: progress)
            p.weightBytes = r.compressed.weightBytes
            let d = r.negativeELBO.difference, psnr = r.psnr.difference
            p.quality = Quality(
                summary: String(format: "Δ −ELBO %+.3f [%+.3f, %+.3f] nats, Δ PSNR %+.3f [%+.3f, %+.3f] dB on %d images of %@",
                                d.estimate, d.lower, d.upper, psnr.estimate, psnr.lower, psnr.upper, r.images, FileSystem.lastComponent(evaluation.path)),
                label: r.label,
                image: ImageQuality(data: evaluation.path, images: r.images, originalNegativeELBO: r.original.metrics.negativeELBO,
                                    originalPSNR: r.original.metrics.psnr, negativeELBODifference: d, psnrDifference: psnr,
                                    ssimDifference: r.ssim.difference, latentCosine: r.latentCosine))
        } else {
            let text = TextOptions(path: evaluation.path, context: evaluation.context, chunks: evaluation.count, split: evaluation.split)
            let r = try LanguageComparison.compare(originalAt: path, compressedAt: scratch, text: text, progress: progress)
            p.weightBytes = r.compressed.weightBytes
            p.quality = Quality(
                summary: String(format: "KLD %.5f ± %.5f, PPL %.3f (original %.3f) on %d chunks of %d tokens of %@",
                                r.kld.value, r.kld.error, r.compressed.perplexity.value, r.original.perplexity.value, r.chunks, r.context,
                                FileSystem.lastComponent(evaluation.path)),
                label: r.label,
                language: LanguageQuality(text: evaluation.path, chunks: r.chunks, context: r.context, perplexity: r.compressed.perplexity,
                                          originalPerplexity: r.original.perplexity, kld: r.kld, kldP99: r.kldDistribution.p99, sameTop: r.sameTop))
        }
    }
}
