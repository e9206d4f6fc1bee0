import Foundation
import ShrinkFormats
import ShrinkTensor

/// A pack-quantized checkpoint (a directory with model.safetensors and
/// config.json) seen as ordinary tensors: each `<p>.weight_packed` group appears
/// as `<p>.weight`, dequantized on demand; so does each sparse `<p>.compressed` group (`SparseBitmask`,
/// compressed-tensors' sparse-bitmask and sparse-24-bitmask); other tensors pass through.
public final class CompressedCheckpoint: TensorSource {
    public let location: String
    public let tensorNames: [String]
    public var metadata: [String: String] { stored.metadata }
    public let stored: any TensorSource
    public let config: CompressedTensorsConfig
    /// Quantized weights by their restored name.
    public let packedWeights: [String: PackedWeight]
    /// Sparse weights by their restored name (`<module>.weight`).
    public let sparseWeights: [String: SparseLayout]
    /// Packed weights that carry low-rank factors (`LowRankCompensation`): they read as Ŵ + A·B.
    public let lowRankWeights: Set<String>
    /// The recipe, when `shrink.json` is present.
    public let recipe: Recipe?

    public struct PackedWeight: Sendable {
        public var name: String
        public var layout: PackedLayout
        public var originalDType: DType?
        /// The weight's own shape ([rows, columns], or a convolution kernel's four dimensions).
        public var shape: Shape
    }

    /// Whether `path` looks like a compressed checkpoint directory.
    public static func isCompressed(_ path: String) -> Bool {
        FileSystem.isDirectory(path) && FileSystem.exists(path + "/config.json") && FileSystem.exists(path + "/shrink.json")
            || hasQuantizationConfig(path)
    }

    static func hasQuantizationConfig(_ path: String) -> Bool {
        guard FileSystem.isDirectory(path), let m = try? MappedFile(path: path + "/config.json"), m.byteCount > 0,
              let j = try? StrictJSONParser.parse(m.bytes(0..<m.byteCount)) else { return false }
        let q = j["quantization_config"]
        return ["pack-quantized", "mixed-precision", CompressedTensorsConfig.ggmlMinimumFormat].contains(q?["format"]?.stringValue)
            || [SparseFormat.bitmask.rawValue, SparseFormat.twoFour.rawValue].contains(q?["sparsity_config"]?["format"]?.stringValue ?? "")
    }

    public init(directory: String) throws {
        let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        location = dir
        stored = try Checkpoint.open(dir)
        let configPath = dir + "/config.json"
        let configFile: MappedFile
        do { configFile = try MappedFile(path: configPath) } catch {
            throw FormatError.cannotOpen(file: configPath, reason: "a compressed checkpoint needs its config.json with quantization_config")
        }
        let json: JSONValue
        do { json = try StrictJSONParser.parse(configFile.bytes(0..<configFile.byteCount)) } catch {
            throw FormatError.headerNotJSON(file: configPath, detail: error.description)
        }
        guard let q = json["quantization_config"] else {
            throw QuantizationError.badQuantizationConfig(file: configPath, detail: "has no quantization_config: not a compressed-tensors checkpoint")
        }
        config = try CompressedTensorsConfig(json: q, file: configPath)

        var recipe: Recipe?
        if let r = try? MappedFile(path: dir + "/shrink.json"), r.byteCount > 0 {
            recipe = try? Recipe.decoder().decode(Recipe.self, from: Data(r.bytes(0..<r.byteCount)))
        }
        self.recipe = recipe
        let originalDTypes = Dictionary((recipe?.tensors ?? []).map { ($0.name, $0.dtype) }, uniquingKeysWith: { a, _ in a })

        var weights: [String: PackedWeight] = [:]
        var names: [String] = []
        let storedNames = Set(stored.tensorNames)
        for name in stored.tensorNames where name.hasSuffix("_packed") {
            let base = String(name.dropLast("_packed".count))
            let module = CompressedTensorsConfig.moduleName(ofWeight: base)
            guard let group = config.group(forModule: module) else {
                throw QuantizationError.malformedPacked(tensor: name, detail: "no config group in \(configPath) targets module '\(module)'")
            }
            guard storedNames.contains(base + "_scale"), storedNames.contains(base + "_shape") else {
                throw QuantizationError.malformedPacked(tensor: name, detail: "missing '\(base)_scale' or '\(base)_shape'")
            }
            let shape = try stored.integers(base + "_shape")
            // [rows, columns], or a convolution kernel's [out, in, kh, kw] packed as [out, in·kh·kw].
            guard shape.count == 2 || shape.count == 4, shape.allSatisfy({ $0 > 0 && $0 < Int64(Int32.max) }),
                  let elements = Shape(shape.map(Int.init)).checkedElementCount, elements < Int(Int32.max) * 64 else {
                throw QuantizationError.malformedPacked(tensor: base + "_shape", detail: "must hold two (or a kernel's four) positive dimensions, found \(shape)")
            }
            let dims = shape.map(Int.init)
            let layout = PackedLayout(scheme: group.scheme, rows: dims[0], columns: dims.dropFirst().reduce(1, *))
            var scheme = group.scheme
            scheme.scaleDType = try stored.requireInfo(base + "_scale").dtype
            let checked = PackedLayout(scheme: scheme, rows: layout.rows, columns: layout.columns)
            try Self.check(checked, base: base, in: stored)
            weights[base] = PackedWeight(name: base, layout: checked, originalDType: originalDTypes[base], shape: Shape(dims))
            names.append(base)
        }
        var sparse: [String: SparseLayout] = [:]
        for name in stored.tensorNames where name.hasSuffix(".compressed") && storedNames.contains(String(name.dropLast(".compressed".count)) + ".bitmask") {
            let module = String(name.dropLast(".compressed".count))
            let layout = try SparseBitmask.layout(module: module, in: stored)
            if let declared = config.sparsity?.format, declared != .dense, declared != layout.format {
                throw QuantizationError.malformedPacked(tensor: name, detail: "is stored as \(layout.format.rawValue), but \(configPath) declares \(declared.rawValue)")
            }
            sparse[module + ".weight"] = layout
            names.append(module + ".weight")
        }
        sparseWeights = sparse
        let lowRank = Set(weights.keys.filter { storedNames.contains($0 + LowRankCompensation.suffixA) || storedNames.contains($0 + LowRankCompensation.suffixB) })
        // Shapes checked at open (headers only); values when the weight is read.
        for base in lowRank.sorted() {
            try LowRankCompensation.check(base, rows: weights[base]!.layout.rows, columns: weights[base]!.layout.columns, in: stored)
        }
        lowRankWeights = lowRank
        let companions = Set(weights.keys.flatMap { b in (PackedLayout.companionSuffixes + [LowRankCompensation.suffixA, LowRankCompensation.suffixB]).map { b + $0 } })
            .union(sparse.keys.flatMap { w in SparseFormat.suffixes.map { CompressedTensorsConfig.moduleName(ofWeight: w) + $0 } })
        names += stored.tensorNames.filter { !companions.contains($0) }
        packedWeights = weights
        tensorNames = names.sorted()
    }

    /// Every stored companion must have exactly the shape the scheme implies.
    static func check(_ layout: PackedLayout, base: String, in stored: any TensorSource) throws {
        if case let .group(g) = layout.scheme.granularity, layout.columns % g != 0 {
            throw QuantizationError.malformedPacked(tensor: base + "_packed", detail: "group size \(g) does not divide \(layout.columns) columns")
        }
        for expected in layout.storedTensors(for: base) where expected.name != base + "_shape" {
            guard let actual = stored.info(expected.name) else {
                throw QuantizationError.malformedPacked(tensor: expected.name, detail: "missing (the config says \(layout.scheme.symmetric ? "symmetric" : "asymmetric"))")
            }
            guard actual.shape == expected.shape, actual.dtype == expected.dtype else {
                throw QuantizationError.malformedPacked(
                    tensor: expected.name,
                    detail: "is \(actual.dtype.rawValue) \(actual.shape), expected \(expected.dtype.rawValue) \(expected.shape) for \(layout.scheme.bits)-bit \(layout.scheme.granularity) of [\(layout.rows), \(layout.columns)]")
            }
        }
        if layout.scheme.symmetric, stored.info(base + "_zero_point") != nil {
            throw QuantizationError.malformedPacked(tensor: base + "_zero_point", detail: "present, but the config says symmetric")
        }
    }

    public func info(_ name: String) -> TensorInfo? {
        if let w = packedWeights[name] {
            return TensorInfo(name: name, dtype: w.originalDType ?? .f32, shape: w.shape)
        }
        if let s = sparseWeights[name] { return TensorInfo(name: name, dtype: s.dtype, shape: Shape([s.rows, s.columns])) }
        return stored.info(name)
    }

    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        if packedWeights[name] != nil || sparseWeights[name] != nil {
            throw QuantizationError.storedPacked(tensor: name)
        }
        return try stored.rawBytes(name)
    }

    public func release(_ name: String) {
        if packedWeights[name] != nil {
            for s in PackedLayout.companionSuffixes + [LowRankCompensation.suffixA, LowRankCompensation.suffixB] { stored.release(name + s) }
        } else if sparseWeights[name] != nil {
            for s in SparseFormat.suffixes { stored.release(CompressedTensorsConfig.moduleName(ofWeight: name) + s) }
        } else {
            stored.release(name)
        }
    }

    public func floats(_ name: String) throws -> [Float] {
        if let s = sparseWeights[name] { return try SparseBitmask.read(module: CompressedTensorsConfig.moduleName(ofWeight: name), layout: s, from: stored) }
        guard let w = packedWeights[name] else { return try stored.floats(name) }
        var values = try quantized(w).dequantized()
        if lowRankWeights.contains(name) {
            LowRankCompensation.add(try LowRankCompensation.read(name, rows: w.layout.rows, columns: w.layout.columns, from: stored), to: &values)
        }
        return values
    }

    /// The packed weight as a QuantizedTensor (codes, scales and zero points as stored).
    public func quantized(_ w: PackedWeight) throws -> QuantizedTensor {
        try PackQuantized.read(w.name, layout: w.layout, from: stored)
    }
}
