import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// Channels a structured pruner removes together. A channel is `unit` consecutive rows of each of the `stacks`
/// row blocks of `producer` and the same `unit` consecutive columns of `consumer`:
/// - a SwiGLU channel (unit 1): row j of gate and of up in gate_up_proj (gate's `width` rows, then up's), column j
///   of down_proj;
/// - an attention head (unit head_dim): its rows of q, k and v in qkv_proj and its columns of o_proj.
///
/// Removing a channel removes exactly what it computes, so the smaller model is the original with that channel's
/// consumer columns zeroed. `configField` is the config.json key that states the width (channels, or heads);
/// `fixedFields` are keys written with their current value because the width no longer implies them (head_dim).
public struct ChannelGroup: Sendable, Equatable {
    public var target: StructuredPruning.Target
    public var producer: String
    public var stacks: Int
    public var consumer: String
    public var width: Int
    public var unit: Int
    public var configField: String
    public var fixedFields: [String: Int]
    public init(_ target: StructuredPruning.Target, producer: String, stacks: Int, consumer: String, width: Int, unit: Int = 1,
                configField: String, fixedFields: [String: Int] = [:]) {
        self.target = target; self.producer = producer; self.stacks = stacks; self.consumer = consumer; self.width = width
        self.unit = unit; self.configField = configField; self.fixedFields = fixedFields
    }
    /// The consumer's columns (and each stack's producer rows): width · unit.
    public var columns: Int { width * unit }
}

/// A family whose MLP channels or attention heads can be removed with the shapes shrunk to match (`StructuredPruning`).
public protocol StructurallyPrunable: ModelFamily {
    /// Every group of coupled channels; groups with the same `configField` share one width.
    var channelGroups: [ChannelGroup] { get }
}

/// `shrink prune --structured`: removes the same fraction of every selected channel group's channels, ranked by
/// their score, and writes the smaller checkpoint and its config (the widths in their config fields), all or nothing.
///
/// Scores of channel c, from the consumer's columns J(c) (what the channel contributes to the block's output;
/// J(c) = {c} for an MLP channel, the head's head_dim columns of o_proj for a head):
/// - magnitude: Σ_{j∈J(c)} Σ_i |W_ij|, the L1 norm of the columns (Li et al., "Pruning Filters for Efficient
///   ConvNets", arXiv 1608.08710, §3.1, which ranks filters by the same norm);
/// - wanda: Σ_{j∈J(c)} ‖X_j‖₂ · Σ_i |W_ij|, Wanda's |W|·‖X‖ score (arXiv 2306.11695, Eq. 1) summed over the
///   columns — the structured variant "Wanda-sp" (An et al., FLAP, arXiv 2312.11983, §4.1, which scores heads the
///   same way); ‖X_j‖₂ from the consumer's calibration statistics.
public enum StructuredPruning {
    public enum Method: String, Codable, Sendable, CaseIterable {
        case magnitude, wanda
        public var needsCalibration: Bool { self == .wanda }
    }

    /// What `--structured` removes: the MLPs' channels (SwiGLU and TRM's token MLP) or the attention heads.
    public enum Target: String, Codable, Sendable, CaseIterable {
        case mlp, heads
    }

    public struct GroupRecord: Codable, Sendable {
        public var target: Target
        public var consumer: String
        public var widthBefore: Int
        public var widthAfter: Int
        /// Consumer columns per channel: 1, or head_dim for a head.
        public var unit: Int
        /// The kept channels, ascending (their order in the original).
        public var kept: [Int]
    }

    public struct Report: Codable, Sendable {
        public var source: String
        public var target: Target
        public var method: Method
        public var fraction: Double
        public var parametersBefore: Int
        public var parametersAfter: Int
        public var bytesBefore: Int
        public var bytesAfter: Int
        public var groups: [GroupRecord]
    }

    /// Channels kept of `width` when `fraction` are removed: ⌊fraction·width⌋ removed, at least one kept.
    public static func keptCount(width: Int, fraction: Double) -> Int {
        max(1, width - Int((fraction * Double(width) + 1e-9).rounded(.down)))
    }

    /// The score of each channel of a consumer (row-major [rows, columns]) whose channels are `unit` consecutive
    /// columns each.
    public static func scores(_ w: [Float], rows: Int, columns: Int, unit: Int = 1, method: Method, statistics: LayerStatistics?,
                              name: String) throws -> [Double] {
        var s = [Double](repeating: 0, count: columns)
        for r in 0..<rows {
            for j in 0..<columns { s[j] += Double(w[r * columns + j].magnitude) }
        }
        if method == .wanda {
            guard let statistics, statistics.columns == columns else { throw PruningError.notCalibrated(tensor: name, method: .wanda) }
            let norms = statistics.hessianDiagonal
            for j in 0..<columns { s[j] *= norms[j].squareRoot() }
        }
        guard unit > 1 else { return s }
        return (0..<(columns / unit)).map { c in (0..<unit).reduce(0) { $0 + s[c * unit + $1] } }
    }

    /// The smallest fraction (to 4 decimals, rounded up) that removes one of `width` channels.
    public static func smallestFraction(width: Int) -> Double { (10_000 / Double(width)).rounded(.up) / 10_000 }

    /// The `count` highest-scoring channels, ascending; ties keep the lower index.
    public static func kept(_ scores: [Double], count: Int) -> [Int] {
        Array(scores.indices.sorted { (scores[$0], -$0) > (scores[$1], -$1) }.prefix(count)).sorted()
    }

    public static func run(model directory: String, family: any StructurallyPrunable, target: Target = .mlp, fraction: Double, method: Method,
                           statistics: [String: LayerStatistics] = [:], outputDirectory: String, overwrite: Bool = false) throws -> Report {
        guard fraction > 0 && fraction < 1 else {
            throw PruningError.unsupported(flag: "--sparsity", reason: "structured pruning removes a fraction of the channels in (0, 1), not \(fraction)")
        }
        let source = try Checkpoint.open(directory)
        let groups = family.channelGroups.filter { $0.target == target }
        guard !groups.isEmpty else {
            let what = target == .mlp ? "MLP channels" : "attention heads"
            throw PruningError.unsupported(flag: "--structured", reason: "\(directory) has no \(what) to remove")
        }
        var keptBy: [String: [Int]] = [:], records: [GroupRecord] = [], newWidth: [String: Int] = [:], fixed: [String: Int] = [:]
        for g in groups {
            let consumer = try source.requireInfo(g.consumer), producer = try source.requireInfo(g.producer)
            guard consumer.shape.rank == 2, consumer.shape.dims[1] == g.columns, producer.shape.rank == 2,
                  producer.shape.dims[0] == g.stacks * g.columns, producer.shape.dims[1] >= 1 else {
                let bad = consumer.shape.rank == 2 && consumer.shape.dims[1] == g.columns ? producer : consumer
                let expected = bad.name == g.producer ? Shape([g.stacks * g.columns, producer.shape.dims.last ?? 0]) : Shape([consumer.shape.dims.first ?? 0, g.columns])
                throw ModelError.wrongShape(file: source.location, tensor: bad.name, expected: expected, actual: bad.shape)
            }
            let w = try source.floats(g.consumer)
            let s = try scores(w, rows: consumer.shape.dims[0], columns: g.columns, unit: g.unit, method: method,
                               statistics: statistics[g.consumer], name: g.consumer)
            let count = keptCount(width: g.width, fraction: fraction)
            guard count < g.width else {
                let what = target == .mlp ? "channels" : "heads"
                throw PruningError.unsupported(flag: "--sparsity", reason: "\(fraction) removes none of \(g.consumer)'s \(g.width) \(what); "
                    + "remove at least one with --sparsity \(Self.smallestFraction(width: g.width)) or more")
            }
            let keep = kept(s, count: count)
            keptBy[g.consumer] = keep
            newWidth[g.configField] = keep.count
            fixed.merge(g.fixedFields) { a, _ in a }
            records.append(GroupRecord(target: target, consumer: g.consumer, widthBefore: g.width, widthAfter: keep.count, unit: g.unit, kept: keep))
        }
        // Shrunk shapes: producer rows (each stack's kept channels' rows), consumer columns.
        var rowsOf: [String: [Int]] = [:], columnsOf: [String: [Int]] = [:]
        for g in groups {
            let keep = keptBy[g.consumer]!
            let columns = keep.flatMap { c in (0..<g.unit).map { c * g.unit + $0 } }
            rowsOf[g.producer] = (0..<g.stacks).flatMap { s in columns.map { s * g.columns + $0 } }
            columnsOf[g.consumer] = columns
        }
        let declared = source.infos.map { info -> TensorInfo in
            var d = info.shape.dims
            if let r = rowsOf[info.name] { d[0] = r.count }
            if let c = columnsOf[info.name] { d[1] = c.count }
            return TensorInfo(name: info.name, dtype: info.dtype, shape: Shape(d))
        }
        let staging = try OutputDirectory(path: outputDirectory, overwrite: overwrite)
        var metadata = source.metadata
        metadata["format"] = metadata["format"] ?? "pt"
        let writer = try SafetensorsWriter(path: staging.path + "/model.safetensors", tensors: declared, metadata: metadata)
        for (info, out) in zip(source.infos, declared) {
            let raw = try source.rawBytes(info.name)
            guard rowsOf[info.name] != nil || columnsOf[info.name] != nil else {
                try writer.write(info.name, bytes: raw)
                continue
            }
            let size = info.dtype.byteSize, columns = info.shape.dims[1]
            let rows = rowsOf[info.name] ?? Array(0..<info.shape.dims[0]), cols = columnsOf[info.name] ?? Array(0..<columns)
            var bytes = [UInt8](repeating: 0, count: out.byteCount)
            var k = 0
            for r in rows {
                for c in cols {
                    let from = (r * columns + c) * size
                    for b in 0..<size { bytes[k + b] = raw[from + b] }
                    k += size
                }
            }
            try writer.write(info.name, values: bytes)
            source.release(info.name)
        }
        try writer.commit()
        // The config with the new widths, everything else as it was.
        let configPath = (FileSystem.isDirectory(directory) ? directory : FileSystem.directoryOf(directory)) + "/config.json"
        let m = try MappedFile(path: configPath)
        var config = try StrictJSONParser.parse(m.bytes(0..<m.byteCount))
        for (field, width) in newWidth.merging(fixed, uniquingKeysWith: { a, _ in a }).sorted(by: { $0.key < $1.key }) {
            config = config.setting(field, to: .number(String(width)))
        }
        try AtomicFile.write(config.serialized() + "\n", to: staging.path + "/config.json")
        let report = Report(source: directory, target: target, method: method, fraction: fraction,
                            parametersBefore: source.parameterCount, parametersAfter: declared.reduce(0) { $0 + $1.shape.elementCount },
                            bytesBefore: source.infos.reduce(0) { $0 + $1.byteCount }, bytesAfter: declared.reduce(0) { $0 + $1.byteCount },
                            groups: records)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(String(decoding: try e.encode(report), as: UTF8.self) + "\n", to: staging.path + "/pruning.json")
        try staging.commit()
        return report
    }
}
