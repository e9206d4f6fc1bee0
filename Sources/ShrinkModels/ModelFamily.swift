import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// What a tensor is to its model: decides what compression may do with it and how a device stores it.
public enum TensorRole: String, Codable, Sendable {
    /// A weight applied as x·Wᵀ ([out, in]): what quantizers compress.
    case linear
    /// A table read a row per token or puzzle.
    case embedding
    case norm
    case conv
    case bias
    /// A learned vector used as is (initial carries).
    case parameter
}

/// One tensor of a family's layout: its upstream name, shape and role.
public struct TensorSpec: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var role: TensorRole
    /// Read one row at a time (a lookup table): can stay in flash and be streamed.
    public var rowRead: Bool
    public init(_ name: String, _ shape: [Int], _ role: TensorRole, rowRead: Bool = false) {
        self.name = name; self.shape = shape; self.role = role; self.rowRead = rowRead
    }
    public var parameters: Int { shape.reduce(1, *) }
}

/// What a family's forward pass costs, counted from its config.
public struct ForwardCost: Sendable {
    /// Batch-1 working memory with buffer reuse.
    public var arena: ActivationArena
    public var flops: Int
    /// What one `flops` is for ("per puzzle at 8 steps").
    public var flopsUnit: String
    public init(arena: ActivationArena, flops: Int, flopsUnit: String) {
        self.arena = arena; self.flops = flops; self.flopsUnit = flopsUnit
    }
}

/// How deep or long a cost is counted: supervision steps for a reasoner, context tokens for a decoder.
public struct CostQuery: Sendable {
    public var steps: Int?
    public var context: Int
    public init(steps: Int? = nil, context: Int = 2048) { self.steps = steps; self.context = context }
}

/// The top-level fields that decide which family reads a config.
public struct ConfigSummary: Sendable {
    public var file: String
    public var modelType: String?
    public var architectures: [String]
    public var keys: Set<String>
    /// `arch` (TRM/HRM configs).
    public var arch: String?

    /// The top level of any config.json: every key, and the three that name an architecture when they are strings.
    struct Fields: Decodable {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        var keys: Set<String>, modelType: String?, architectures: [String], arch: String?
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            keys = Set(c.allKeys.map(\.stringValue))
            modelType = try? c.decodeIfPresent(String.self, forKey: Key(stringValue: "model_type"))
            architectures = (try? c.decodeIfPresent([String].self, forKey: Key(stringValue: "architectures"))) ?? []
            arch = try? c.decodeIfPresent(String.self, forKey: Key(stringValue: "arch"))
        }
        func summary(file: String) -> ConfigSummary {
            ConfigSummary(file: file, modelType: modelType, architectures: architectures, keys: keys, arch: arch)
        }
    }
}

/// A model architecture, configured: everything about it lives in its own folder, and everything above
/// `ShrinkModels` reads its tensors, fold pairs and costs from here. A new family is one folder with a
/// conforming type plus one line in `ModelRegistry.families`.
public protocol ModelFamily: Sendable {
    /// The family's name in the registry and in error messages.
    static var familyName: String { get }
    /// How a config announces the family (listed when no family claims a config).
    static var claimedBy: String { get }
    static func claims(_ config: ConfigSummary) -> Bool
    /// Decodes and validates `config.json` (upstream field names).
    init(config data: Data, file: String) throws

    /// The variant reports name ("trm-mlp", "hrm", "decoder(llama)").
    var variant: String { get }
    /// Every tensor the model binds: the one place its names are written.
    var tensorLayout: [TensorSpec] { get }
    /// Where AWQ's input-channel scales fold without changing the function.
    var scaleFolds: [ScaleFold] { get }
    func cost(_ query: CostQuery) -> ForwardCost
    /// The dtype its checkpoints store parameters in (what accounting from a bare config assumes).
    var parameterDType: DType { get }
    /// `weights` under the names and layout of `tensorLayout` (a Llama GGUF's llama.cpp names and Q/K row
    /// order become transformers'); the identity for checkpoints already named so.
    func presenting(_ weights: any TensorSource) -> any TensorSource
    /// The upstream config.json of a model read from elsewhere (a GGUF's metadata), for a compressed copy; nil
    /// when the checkpoint's own config.json is the config.
    func upstreamConfig() -> JSONValue?
}

extension ModelFamily {
    public var parameterDType: DType { .f32 }
    public func upstreamConfig() -> JSONValue? { nil }
    public func presenting(_ weights: any TensorSource) -> any TensorSource { weights }
}

/// A family that a GGUF file announces by its `general.architecture` (read from the metadata when no
/// config.json is beside the file).
public protocol GGUFFamily: ModelFamily {
    /// The `general.architecture` values it reads.
    static var ggufArchitectures: [String] { get }
    init(gguf: GGUFReader) throws
}

/// A family Shrink can run (bind weights, forward pass with observers).
public protocol RunnableFamily: ModelFamily {
    /// - Parameter streamEmbeddings: leave row-read tables in the mapped file and read rows on demand.
    func bind(_ weights: any TensorSource, location: String, streamEmbeddings: Bool) throws -> any CompressibleModel
}

/// A model with its weights bound, ready to run on a task.
public protocol CompressibleModel: AnyObject, Sendable {
    var familyDescription: any ModelFamily { get }
    /// The directory it was loaded from (with a recipe label for in-memory variants).
    var location: String { get }
    var parameterCount: Int { get }
    /// Same family and the same inputs, states and outputs (a compressed or structurally pruned copy): two such
    /// models can be compared unit by unit.
    func hasSameArchitecture(as other: any CompressibleModel) -> Bool
}

/// Maps a checkpoint's config to its family.
public enum ModelRegistry {
    /// Every family Shrink knows, in the order they are asked.
    public static let families: [any ModelFamily.Type] = [ReasonerFamily.self, LlamaFamily.self, BertFamily.self, VAEFamily.self]

    /// The family of the config at `path` (a `config.json`, or a directory or weights file beside one).
    public static func family(config path: String) throws -> any ModelFamily {
        if let gguf = try ggufFile(path) { return try family(gguf: gguf) }
        let file = path.hasSuffix(".json") && !FileSystem.isDirectory(path) ? path : ModelLocation(path).configPath
        guard let data = FileManager.default.contents(atPath: file) else {
            throw FormatError.cannotOpen(file: file, reason: "a model directory needs config.json next to its weights")
        }
        return try family(config: data, file: file)
    }

    public static func family(config data: Data, file: String) throws -> any ModelFamily {
        let summary: ConfigSummary
        do { summary = try JSONDecoder().decode(ConfigSummary.Fields.self, from: data).summary(file: file) } catch {
            throw ModelError.badConfig(file: file, field: "(file)", reason: "is not a JSON object: \(error)")
        }
        guard let family = families.first(where: { $0.claims(summary) }) else {
            throw ModelError.unknownFamily(file: file, modelType: summary.modelType, architectures: summary.architectures,
                                           known: families.map { "\($0.familyName) (\($0.claimedBy))" })
        }
        return try family.init(config: data, file: file)
    }

    /// Loads the model at `path` (weights file, its directory, or a compressed directory) with its family.
    public static func load(_ path: String, streamEmbeddings: Bool = false) throws -> any CompressibleModel {
        if let gguf = try ggufFile(path) {
            let family = try family(gguf: gguf)
            guard let runnable = family as? any RunnableFamily else {
                throw ModelError.notRunnable(file: gguf.location, family: type(of: family).familyName)
            }
            return try runnable.bind(gguf, location: gguf.location, streamEmbeddings: streamEmbeddings)
        }
        let where_ = ModelLocation(path)
        let family = try self.family(config: where_.configPath)
        guard let runnable = family as? any RunnableFamily else {
            throw ModelError.notRunnable(file: where_.configPath, family: type(of: family).familyName)
        }
        return try runnable.bind(try where_.openWeights(), location: where_.directory, streamEmbeddings: streamEmbeddings)
    }

    /// The family a GGUF file's `general.architecture` names.
    public static func family(gguf: GGUFReader) throws -> any ModelFamily {
        let arch = try gguf.requireString("general.architecture")
        let readers = families.compactMap { $0 as? any GGUFFamily.Type }
        guard let family = readers.first(where: { $0.ggufArchitectures.contains(arch) }) else {
            throw ModelError.unknownFamily(file: gguf.location, modelType: arch, architectures: [],
                                           known: readers.map { "\($0.familyName) (GGUF general.architecture \($0.ggufArchitectures.joined(separator: ", ")))" })
        }
        return try family.init(gguf: gguf)
    }

    /// The GGUF file `path` names, or the only `.gguf` in a directory without config.json: its metadata is the config.
    static func ggufFile(_ path: String) throws -> GGUFReader? {
        if path.hasSuffix(".json") && !FileSystem.isDirectory(path) { return nil }
        let where_ = ModelLocation(path)
        if where_.isGGUF { return try GGUFReader(path: where_.path) }
        guard FileSystem.isDirectory(where_.path), !FileSystem.exists(where_.configPath) else { return nil }
        let ggufs = FileSystem.list(where_.path).filter { $0.lowercased().hasSuffix(".gguf") }
        return ggufs.count == 1 ? try GGUFReader(path: where_.path + "/" + ggufs[0]) : nil
    }

    /// Loads the model at `path` and requires it to be a `Model` (`needed` names it in the error otherwise).
    public static func load<Model: CompressibleModel>(_ path: String, as _: Model.Type, needed: String,
                                                      streamEmbeddings: Bool = false) throws -> Model {
        let model = try load(path, streamEmbeddings: streamEmbeddings)
        guard let typed = model as? Model else {
            throw ModelError.wrongFamily(file: ModelLocation(path).configPath, family: type(of: model.familyDescription).familyName,
                                         needed: needed)
        }
        return typed
    }

    /// The name of the field a decoding error is about, for `ModelError.badConfig`.
    public static func field(of error: Error) -> String {
        switch error as? DecodingError {
        case let .keyNotFound(k, _)?: k.stringValue
        case let .typeMismatch(_, ctx)?: ctx.codingPath.last?.stringValue ?? "?"
        case let .dataCorrupted(ctx)?: ctx.codingPath.last?.stringValue ?? "?"
        case let .valueNotFound(_, ctx)?: ctx.codingPath.last?.stringValue ?? "?"
        default: "?"
        }
    }
}

/// Bounds on the sizes a `config.json` may state, so that the tensor sizes, byte counts and FLOP counts Shrink
/// derives from a config (all in Int) cannot overflow: a hostile config is refused with the field named instead
/// of trapping. Found by the FuzzConfig target (FUZZING.md).
enum ConfigBounds {
    /// Largest width, vocabulary or sequence length: 2^24, beyond every published model.
    static let maxSize = 1 << 24
    /// Largest product of sizes a config implies (layers × widths² × positions × steps, an upper bound of its
    /// FLOPs and parameters): 2^62, below Int.max.
    static let maxWork = 0x1p62

    /// Largest number of layers, recursion cycles or supervision steps: 2^12 (published models have at most a
    /// few hundred layers). The tensor layout lists every layer's tensors, so a file claiming millions of layers
    /// would take gigabytes before any tensor is read (FuzzGGUFTokenizer: `llama.block_count` 3,145,729).
    static let maxLayers = 1 << 12

    /// Throws when one of `counts` (layers, cycles, steps) exceeds `maxLayers`.
    static func requireCounts(_ counts: [(field: String, value: Int)], file: String) throws {
        for (field, v) in counts where v > maxLayers {
            throw ModelError.badConfig(file: file, field: field, reason: "is \(v); at most \(maxLayers) is supported")
        }
    }

    /// Throws when one of `sizes` exceeds `maxSize`.
    static func requireSizes(_ sizes: [(field: String, value: Int)], file: String) throws {
        for (field, v) in sizes where v > maxSize {
            throw ModelError.badConfig(file: file, field: field, reason: "is \(v); at most \(maxSize) is supported")
        }
    }

    /// A decoder's forward FLOPs over its whole context, from above: 4 × context × (parameters + layers ×
    /// context × attention width), parameters ≈ 2·vocab·hidden + layers·(4·hidden·q + 3·hidden·intermediate).
    /// (Llama 3.1 405B at 128 K tokens: 3.5e17, a tenth of `maxWork`.)
    static func decoderWork(vocab: Int, hidden: Int, intermediate: Int, layers: Int, attention: Int, context: Int) -> Double {
        let (v, h, i, l, q, c) = (Double(vocab), Double(hidden), Double(intermediate), Double(layers), Double(attention), Double(Swift.max(context, 2048)))
        let parameters = 2 * v * h + l * (4 * h * Swift.max(h, q) + 3 * h * i)
        return 4 * c * (parameters + l * c * q)
    }

    /// Throws when `work` (computed in Double, so it cannot overflow) exceeds `maxWork`.
    static func requireWork(_ work: Double, fields: String, file: String) throws {
        guard work <= maxWork else {
            throw ModelError.badConfig(file: file, field: fields, reason: "together describe a model too large to account for (over 2^62 operations)")
        }
    }
}
