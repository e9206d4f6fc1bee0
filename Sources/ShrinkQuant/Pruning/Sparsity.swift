import ShrinkTensor

/// How much of a weight matrix pruning removes, and in what pattern.
public enum Sparsity: Hashable, Sendable, CustomStringConvertible {
    /// A fraction in [0, 1) of the weights removed, wherever the method puts them.
    case unstructured(Double)
    /// `keep` of every `of` consecutive weights of a row (along the input dimension) kept: NVIDIA's 2:4
    /// semi-structured sparsity (Mishra et al., "Accelerating Sparse Deep Neural Networks", arXiv 2104.08378 §3)
    /// and its 4:8 relative.
    case semiStructured(keep: Int, of: Int)

    /// The N:M patterns `--sparsity` takes.
    public static let patterns: [(keep: Int, of: Int)] = [(2, 4), (4, 8)]

    /// Parses `0.5` (a fraction) or `2:4` / `4:8`.
    public init(parsing text: String, flag: String) throws(PruningError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) {
            guard Self.patterns.contains(where: { $0 == (n, m) }) else { throw .badSparsity(flag: flag, value: text) }
            self = .semiStructured(keep: n, of: m)
            return
        }
        guard parts.count == 1, let f = Double(text), f >= 0, f < 1 else { throw .badSparsity(flag: flag, value: text) }
        self = .unstructured(f)
    }

    /// The fraction of weights removed.
    public var fraction: Double {
        switch self {
        case let .unstructured(f): f
        case let .semiStructured(n, m): Double(m - n) / Double(m)
        }
    }

    /// compressed-tensors' `sparsity_structure` ("unstructured", "2:4", "4:8").
    public var structure: String {
        switch self {
        case .unstructured: "unstructured"
        case let .semiStructured(n, m): "\(n):\(m)"
        }
    }

    /// What flags and recipes write: the fraction, or "n:m".
    public var description: String {
        switch self {
        case let .unstructured(f): "\(f)"
        case let .semiStructured(n, m): "\(n):\(m)"
        }
    }

    /// Weights removed from a selection unit of `count` weights: ⌊fraction·count⌋ (the floor Wanda's and
    /// SparseGPT's reference code take, `int(numel · sparsity)`; a tiny epsilon absorbs 0.29·100 = 28.999…).
    public static func prunedCount(_ fraction: Double, of count: Int) -> Int {
        min(count, Int((fraction * Double(count) + 1e-9).rounded(.down)))
    }

    /// Checks that a matrix with `columns` columns can hold this pattern.
    func check(columns: Int, tensor: String) throws(PruningError) {
        if case let .semiStructured(_, m) = self, columns % m != 0 {
            throw .patternDoesNotDivide(tensor: tensor, pattern: structure, columns: columns)
        }
    }
}

/// Where an unstructured ratio applies: each tensor on its own, or one |w| threshold over every pruned tensor.
public enum SparsityScope: String, Codable, Sendable, CaseIterable {
    case layer, global
}

/// How weights to remove are chosen. Raw values are what flags and recipes write.
public enum PruneMethod: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// Smallest |w| (Han et al., "Learning both Weights and Connections", NeurIPS 2015).
    case magnitude
    /// Smallest |w|·‖x‖₂ within each output row (Sun et al. 2023); needs calibration.
    case wanda
    /// OBS mask selection with the inverse-Hessian weight update (Frantar & Alistarh 2023); needs calibration.
    case sparsegpt

    public var needsCalibration: Bool { self != .magnitude }
    public var description: String { rawValue }

    /// The pruner of one weight.
    public func pruner(options: SparseGPT.Options = SparseGPT.Options()) -> any Pruner {
        switch self {
        case .magnitude: MagnitudePruner()
        case .wanda: WandaPruner()
        case .sparsegpt: SparseGPTPruner(options: options)
        }
    }
}

/// One tensor's pruning, as recipes record it: `{"method": "wanda", "sparsity": "0.5"}` (plus `"scope": "global"`
/// for a global magnitude threshold).
public struct PruneChoice: Codable, Hashable, Sendable, CustomStringConvertible {
    public var method: PruneMethod
    public var sparsity: Sparsity
    public var scope: SparsityScope

    public init(method: PruneMethod, sparsity: Sparsity, scope: SparsityScope = .layer) {
        self.method = method; self.sparsity = sparsity; self.scope = scope
    }

    enum CodingKeys: String, CodingKey { case method, sparsity, scope }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .method)
        guard let m = PruneMethod(rawValue: name) else {
            throw DecodingError.dataCorruptedError(forKey: .method, in: c, debugDescription: "prune method '\(name)' is unknown; use "
                + PruneMethod.allCases.map(\.rawValue).joined(separator: ", "))
        }
        method = m
        let text = try c.decode(String.self, forKey: .sparsity)
        do { sparsity = try Sparsity(parsing: text, flag: "sparsity") } catch {
            throw DecodingError.dataCorruptedError(forKey: .sparsity, in: c, debugDescription: error.description)
        }
        let scopeName = try c.decodeIfPresent(String.self, forKey: .scope) ?? SparsityScope.layer.rawValue
        guard let s = SparsityScope(rawValue: scopeName) else {
            throw DecodingError.dataCorruptedError(forKey: .scope, in: c, debugDescription: "scope '\(scopeName)' is unknown; use layer or global")
        }
        scope = s
        do { try Self.validate(method: m, sparsity: sparsity, scope: s) } catch {
            throw DecodingError.dataCorruptedError(forKey: .scope, in: c, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(sparsity.description, forKey: .sparsity)
        if scope != .layer { try c.encode(scope, forKey: .scope) }
    }

    /// A global threshold is magnitude pruning of an unstructured ratio; Wanda compares within rows and
    /// SparseGPT within blocks by definition.
    public static func validate(method: PruneMethod, sparsity: Sparsity, scope: SparsityScope) throws(PruningError) {
        guard scope == .global else { return }
        if method != .magnitude { throw .globalScope(flag: "--sparsity-scope", reason: "\(method) compares weights within a layer; use --prune magnitude") }
        if case .semiStructured = sparsity { throw .globalScope(flag: "--sparsity-scope", reason: "an N:M pattern is per group of inputs; use a ratio such as 0.5") }
    }

    public var description: String { "\(method) \(sparsity)\(scope == .global ? " global" : "")" }
}

/// One weight matrix after pruning.
public struct PrunedTensor: Sendable {
    public var rows: Int
    public var columns: Int
    /// The weights after pruning, row-major: exactly 0 where pruned (SparseGPT also updates the kept ones).
    public var values: [Float]
    /// Whether each weight is kept, row-major.
    public var kept: [Bool]

    public init(rows: Int, columns: Int, values: [Float], kept: [Bool]) {
        self.rows = rows; self.columns = columns; self.values = values; self.kept = kept
    }

    public var keptCount: Int { kept.reduce(0) { $0 + ($1 ? 1 : 0) } }
    /// The measured fraction removed.
    public var sparsity: Double { kept.isEmpty ? 0 : 1 - Double(keptCount) / Double(kept.count) }
}

/// Chooses and removes weights of one matrix. A new method is one conforming type and a case of `PruneMethod`.
public protocol Pruner: Sendable, CustomStringConvertible {
    var method: PruneMethod { get }
    /// Prunes row-major W [rows, columns] to `sparsity`.
    /// - Throws: `PruningError.notCalibrated` when the method needs `statistics` and has none.
    func prune(_ weight: UnsafeBufferPointer<Float>, rows: Int, columns: Int, sparsity: Sparsity,
               statistics: LayerStatistics?, name: String) throws -> PrunedTensor
    /// How many weights `prune` keeps (known before pruning: the stored sparse tensors are declared first).
    func keptCount(rows: Int, columns: Int, sparsity: Sparsity) -> Int
}

/// What can go wrong while pruning. Each case names the flag or tensor and the fix.
public enum PruningError: UserFacingError, Equatable, Sendable {
    case badSparsity(flag: String, value: String)
    case patternDoesNotDivide(tensor: String, pattern: String, columns: Int)
    case globalScope(flag: String, reason: String)
    case notCalibrated(tensor: String, method: PruneMethod)
    case unsupported(flag: String, reason: String)
    case nonFinite(tensor: String, count: Int)

    public var description: String {
        switch self {
        case let .badSparsity(f, v): "\(f) '\(v)' is not a sparsity; use a fraction in [0, 1) such as 0.5, or 2:4 or 4:8"
        case let .patternDoesNotDivide(t, p, c): "tensor '\(t)': \(p) sparsity needs the \(c) columns to be a multiple of \(p.split(separator: ":").last ?? ""); exclude it with --keep or use a ratio"
        case let .globalScope(f, r): "\(f) global: \(r)"
        case let .notCalibrated(t, m): "tensor '\(t)': --prune \(m.rawValue) needs its input statistics: pass --calib DATA, or exclude the tensor with --keep"
        case let .unsupported(f, r): "\(f): \(r)"
        case let .nonFinite(t, n): "tensor '\(t)': \(n) NaN or infinite value\(n == 1 ? "" : "s"); fix the checkpoint or exclude it with --keep '\(t)'"
        }
    }
}
