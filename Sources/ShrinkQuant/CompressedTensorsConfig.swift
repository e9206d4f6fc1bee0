import ShrinkFormats
import ShrinkTensor

/// The `quantization_config` that compressed-tensors (v0.20.0) writes into a
/// model's config.json and that vLLM / transformers read to load pack-quantized
/// weights. One config group per distinct weight scheme; targets are module
/// names (the weight's name without ".weight").
public struct CompressedTensorsConfig: Sendable {
    public static let formatVersion = "0.20.0"
    /// The format of a group on ggml's Q4_1/Q5_1 grid (x = c·d + m with a float m, `<p>.weight_minimum`): not one
    /// of compressed-tensors' formats, so compressed-tensors refuses the directory ("not a valid CompressionFormat")
    /// instead of reading codes without their minima. Shrink reads it, and `shrink export gguf` writes it as
    /// Q4_1/Q5_1 blocks value for value.
    public static let ggmlMinimumFormat = "shrink-ggml-minimum"

    public struct Group: Sendable {
        public var targets: [String]
        public var scheme: QuantScheme
        public var observer: String
    }

    public var groups: [Group]
    public var ignore: [String]
    /// The `sparsity_config` block, when weights were pruned.
    public var sparsity: SparsityConfig?

    public init(groups: [Group], ignore: [String], sparsity: SparsityConfig? = nil) {
        self.groups = groups; self.ignore = ignore; self.sparsity = sparsity
    }

    /// compressed-tensors' `SparsityCompressionConfig` (config/base.py): the storage format (`sparse-bitmask`,
    /// `sparse-24-bitmask`, or `dense` for pruned weights stored dense, here quantized with pack-quantized), the
    /// pruned modules, the sparsity of the whole model and its structure ("unstructured", "2:4", "4:8").
    public struct SparsityConfig: Sendable, Equatable {
        public var format: SparseFormat
        public var targets: [String]
        public var globalSparsity: Double
        public var structure: String
        public init(format: SparseFormat, targets: [String], globalSparsity: Double, structure: String) {
            self.format = format; self.targets = targets; self.globalSparsity = globalSparsity; self.structure = structure
        }

        public var json: JSONValue {
            .object([
                ("format", .string(format.rawValue)),
                ("global_sparsity", .number(String(globalSparsity))),
                ("ignore", .array([])),
                ("sparsity_structure", .string(structure)),
                ("targets", .array(targets.map { .string($0) })),
            ])
        }

        init?(json: JSONValue?, file: String) throws {
            guard let json, json.objectMembers?.isEmpty == false else { return nil }
            guard let name = json["format"]?.stringValue, let f = SparseFormat(rawValue: name) else {
                throw QuantizationError.badQuantizationConfig(file: file, detail: "quantization_config.sparsity_config: format '\(json["format"]?.stringValue ?? "none")' is not supported (sparse-bitmask, sparse-24-bitmask, dense)")
            }
            format = f
            targets = (json["targets"]?.arrayValue ?? []).compactMap(\.stringValue)
            if case let .number(t)? = json["global_sparsity"], let g = Double(t) { globalSparsity = g } else { globalSparsity = 0 }
            structure = json["sparsity_structure"]?.stringValue ?? "unstructured"
        }
    }

    /// The quantization_config of a checkpoint whose only compression is sparsity: what compressed-tensors 0.14's
    /// `ModelCompressor.parse_quantization_config` reads as "no quantization" (nothing besides quant_method,
    /// version, sparsity_config and transform_config).
    public static func sparseOnlyJSON(_ sparsity: SparsityConfig) -> JSONValue {
        .object([
            ("quant_method", .string("compressed-tensors")),
            ("sparsity_config", sparsity.json),
            ("transform_config", .object([])),
            ("version", .string(formatVersion)),
        ])
    }

    public static func moduleName(ofWeight name: String) -> String {
        name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : name
    }

    public var json: JSONValue {
        var configGroups: [(key: String, value: JSONValue)] = []
        for (i, g) in groups.enumerated() {
            let s = g.scheme
            // Keys and their order as compressed-tensors 0.20.0 writes them (sorted;
            // unset optional fields such as observer and actorder omitted).
            let weights: JSONValue = .object([
                ("dynamic", .bool(false)),
                ("group_size", s.granularity.groupSize.map { .int($0) } ?? .null),
                ("num_bits", .int(s.bits)),
                ("strategy", .string(s.granularity.strategy)),
                ("symmetric", .bool(s.symmetric)),
                ("type", .string("int")),
            ])
            configGroups.append(("group_\(i)", .object([
                ("format", .string(s.grid == .ggmlMinimum ? Self.ggmlMinimumFormat : "pack-quantized")),
                ("input_activations", .null),
                ("output_activations", .null),
                ("targets", .array(g.targets.map { .string($0) })),
                ("weights", weights),
            ])))
        }
        let minimum = groups.filter { $0.scheme.grid == .ggmlMinimum }.count
        // compressed-tensors' top-level format: the groups' one, or mixed-precision when they differ.
        let format = minimum == 0 ? "pack-quantized" : minimum == groups.count ? Self.ggmlMinimumFormat : "mixed-precision"
        return .object([
            ("config_groups", .object(configGroups)),
            ("format", .string(format)),
            ("global_compression_ratio", .null),
            ("ignore", .array(ignore.map { .string($0) })),
            ("kv_cache_scheme", .null),
            ("moe_sparsity_config", .null),
            ("quant_method", .string("compressed-tensors")),
            ("quantization_status", .string("compressed")),
            ("sparsity_config", sparsity?.json ?? .object([])),
            ("transform_config", .object([])),
            ("version", .string(Self.formatVersion)),
        ])
    }

    /// Reads the groups back from a config.json's `quantization_config`.
    public init(json: JSONValue, file: String) throws {
        sparsity = try SparsityConfig(json: json["sparsity_config"], file: file)
        if json["config_groups"] == nil, let s = sparsity, s.format != .dense {
            groups = []
            ignore = []
            return
        }
        guard let groupsJSON = json["config_groups"]?.objectMembers else {
            throw QuantizationError.badQuantizationConfig(file: file, detail: "quantization_config has no config_groups object")
        }
        var groups: [Group] = []
        for (name, g) in groupsJSON {
            guard let w = g["weights"], let bits = w["num_bits"]?.intValue else {
                throw QuantizationError.badQuantizationConfig(file: file, detail: "quantization_config: config group '\(name)' has no weights.num_bits")
            }
            let symmetric: Bool = { if case let .bool(b)? = w["symmetric"] { b } else { true } }()
            let strategy = w["strategy"]?.stringValue ?? (w["group_size"]?.intValue != nil ? "group" : "tensor")
            let granularity: Granularity
            switch strategy {
            case "tensor": granularity = .tensor
            case "channel": granularity = .channel
            case "group":
                guard let gs = w["group_size"]?.intValue, gs > 0 else {
                    throw QuantizationError.badQuantizationConfig(file: file, detail: "quantization_config: config group '\(name)' uses strategy group without a positive group_size")
                }
                granularity = .group(gs)
            default:
                throw QuantizationError.badQuantizationConfig(file: file, detail: "quantization_config: config group '\(name)': strategy '\(strategy)' is not supported (tensor, channel, group)")
            }
            let targets = (g["targets"]?.arrayValue ?? []).compactMap(\.stringValue)
            let format = g["format"]?.stringValue ?? json["format"]?.stringValue ?? "pack-quantized"
            guard format == "pack-quantized" || format == Self.ggmlMinimumFormat else {
                throw QuantizationError.badQuantizationConfig(
                    file: file, detail: "quantization_config: config group '\(name)' has format '\(format)'; Shrink reads pack-quantized and \(Self.ggmlMinimumFormat)")
            }
            let grid: QuantScheme.Grid = format == Self.ggmlMinimumFormat ? .ggmlMinimum : .integer
            groups.append(Group(targets: targets, scheme: QuantScheme(bits: bits, granularity: granularity, symmetric: symmetric, grid: grid),
                                observer: w["observer"]?.stringValue ?? "minmax"))
        }
        self.groups = groups
        ignore = (json["ignore"]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    /// The group that applies to `module`: an exact name or "re:" pattern among its
    /// targets; failing that, the only group (targets such as "Linear" name module
    /// classes, which a checkpoint file cannot tell).
    public func group(forModule module: String) -> Group? {
        for g in groups {
            for t in g.targets {
                if t == module { return g }
                if t.hasPrefix("re:"), let r = try? Regex(String(t.dropFirst(3))), module.wholeMatch(of: r) != nil { return g }
            }
        }
        return groups.count == 1 ? groups[0] : nil
    }
}
