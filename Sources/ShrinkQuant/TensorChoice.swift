import ShrinkTensor

/// One tensor's quantization in a per-tensor recipe (what `shrink plan` writes and `shrink quantize --recipe`
/// applies). Stored as `{bits, strategy, group_size, method}` with compressed-tensors' strategy names, plus
/// `symmetric: false` for a zero point, and `prune: {method, sparsity}` for a weight pruned before (or, with
/// SparseGPT and GPTQ, jointly with) its quantization, and `low_rank: {rank, method}` for low-rank compensation of
/// its error; each written only when it differs from the default.
public struct TensorChoice: Codable, Hashable, Sendable, CustomStringConvertible {
    public var bits: Int
    public var granularity: Granularity
    public var method: Method
    public var symmetric: Bool
    public var grid: QuantScheme.Grid
    /// Pruning applied to the weight, nil for none.
    public var prune: PruneChoice?
    /// Low-rank compensation of the weight's quantization error, nil for none.
    public var lowRank: LowRankCompensation.Option?

    public init(bits: Int, granularity: Granularity, method: Method, symmetric: Bool = true, grid: QuantScheme.Grid = .integer,
                prune: PruneChoice? = nil, lowRank: LowRankCompensation.Option? = nil) {
        self.bits = bits; self.granularity = granularity; self.method = method; self.grid = grid; self.prune = prune; self.lowRank = lowRank
        self.symmetric = grid == .ggmlMinimum ? false : grid == .ggmlSigned ? true : symmetric
    }

    enum CodingKeys: String, CodingKey { case bits, strategy, groupSize = "group_size", method, symmetric, grid, prune, lowRank = "low_rank" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bits = try c.decode(Int.self, forKey: .bits)
        guard QuantScheme.supportedBits.contains(bits) else { throw DecodingError.dataCorruptedError(forKey: .bits, in: c, debugDescription: "bits \(bits) is out of range; use 2 to 8") }
        let strategy = try c.decode(String.self, forKey: .strategy)
        let group = try c.decodeIfPresent(Int.self, forKey: .groupSize)
        switch (strategy, group) {
        case ("tensor", nil): granularity = .tensor
        case ("channel", nil): granularity = .channel
        case let ("group", g?) where g > 0: granularity = .group(g)
        default:
            throw DecodingError.dataCorruptedError(forKey: .strategy, in: c, debugDescription: "strategy '\(strategy)' with group_size "
                + "\(group.map(String.init) ?? "none") is not valid (tensor, channel, or group with a positive group_size)")
        }
        let name = try c.decode(String.self, forKey: .method)
        guard let m = Method(rawValue: name) else {
            throw DecodingError.dataCorruptedError(forKey: .method, in: c, debugDescription: "method '\(name)' is unknown; use "
                + Method.allCases.map(\.rawValue).joined(separator: ", "))
        }
        method = m
        symmetric = try c.decodeIfPresent(Bool.self, forKey: .symmetric) ?? true
        let gridName = try c.decodeIfPresent(String.self, forKey: .grid) ?? QuantScheme.Grid.integer.rawValue
        guard let g = QuantScheme.Grid(rawValue: gridName) else {
            throw DecodingError.dataCorruptedError(forKey: .grid, in: c, debugDescription: "grid '\(gridName)' is unknown; use "
                + QuantScheme.Grid.allCases.map(\.rawValue).joined(separator: ", "))
        }
        grid = g
        if g == .ggmlMinimum { symmetric = false }
        if g == .ggmlSigned { symmetric = true }
        prune = try c.decodeIfPresent(PruneChoice.self, forKey: .prune)
        lowRank = try c.decodeIfPresent(LowRankCompensation.Option.self, forKey: .lowRank)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bits, forKey: .bits)
        try c.encode(granularity.strategy, forKey: .strategy)
        try c.encodeIfPresent(granularity.groupSize, forKey: .groupSize)
        try c.encode(method, forKey: .method)
        if !symmetric && grid == .integer { try c.encode(false, forKey: .symmetric) }
        if grid != .integer { try c.encode(grid.rawValue, forKey: .grid) }
        try c.encodeIfPresent(prune, forKey: .prune)
        try c.encodeIfPresent(lowRank, forKey: .lowRank)
    }

    public var needsCalibration: Bool {
        method.needsCalibration || prune?.method.needsCalibration == true || lowRank?.needsCalibration == true
    }

    /// The scale dtype follows the weight, or `--scale-dtype` (`QuantizeJob`).
    public func scheme(scaleDType: DType) -> QuantScheme {
        QuantScheme(bits: bits, granularity: granularity, symmetric: symmetric, scaleDType: grid == .ggmlMinimum ? .f16 : scaleDType, grid: grid)
    }

    public var description: String {
        "int\(bits)\(grid != .integer ? " " + grid.rawValue : symmetric ? "" : " asym") \(granularity) \(method.rawValue)\(prune.map { ", pruned \($0)" } ?? "")\(lowRank.map { " + \($0.description)" } ?? "")"
    }
}
