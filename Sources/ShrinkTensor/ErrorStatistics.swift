import CShrinkKernels

/// How far an approximation is from its reference: the figures Shrink reports for
/// every compressed tensor and layer output.
public struct ErrorStatistics: Codable, Sendable, Equatable {
    public var count: Int = 0
    public var sumReferenceSquares: Double = 0
    public var sumOutputSquares: Double = 0
    public var sumErrorSquares: Double = 0
    public var sumDot: Double = 0
    public var maxAbsError: Double = 0

    public init() {}

    /// Accumulates `reference` vs `output` (same length).
    public mutating func add(reference: UnsafeBufferPointer<Float>, output: UnsafeBufferPointer<Float>) {
        precondition(reference.count == output.count)
        guard reference.count > 0 else { return }
        var acc = sk_error_acc(sum_ref_sq: 0, sum_out_sq: 0, sum_err_sq: 0, sum_dot: 0, max_abs_err: maxAbsError, count: 0)
        sk_error_accumulate(reference.baseAddress!, output.baseAddress!, reference.count, &acc)
        merge(ErrorStatistics(acc))
    }

    /// The figures of a tensor compared with an exact copy of itself: no error,
    /// cosine 1, non-finite values counted but not summed.
    public static func identical(_ values: [Float]) -> ErrorStatistics {
        var s = ErrorStatistics()
        s.count = values.count
        s.sumReferenceSquares = values.reduce(0.0) { $1.isFinite ? $0 + Double($1) * Double($1) : $0 }
        s.sumOutputSquares = s.sumReferenceSquares
        s.sumDot = s.sumReferenceSquares
        return s
    }

    public mutating func add(reference: [Float], output: [Float]) {
        reference.withUnsafeBufferPointer { r in output.withUnsafeBufferPointer { o in add(reference: r, output: o) } }
    }

    /// The sums a C kernel accumulated.
    public init(_ acc: sk_error_acc) {
        count = Int(acc.count)
        sumReferenceSquares = acc.sum_ref_sq
        sumOutputSquares = acc.sum_out_sq
        sumErrorSquares = acc.sum_err_sq
        sumDot = acc.sum_dot
        maxAbsError = acc.max_abs_err
    }

    public mutating func merge(_ other: ErrorStatistics) {
        count += other.count
        sumReferenceSquares += other.sumReferenceSquares
        sumOutputSquares += other.sumOutputSquares
        sumErrorSquares += other.sumErrorSquares
        sumDot += other.sumDot
        maxAbsError = max(maxAbsError, other.maxAbsError)
    }

    /// Signal-to-quantization-noise ratio, 10·log10(Σx² / Σ(x−x̂)²); +∞ when exact.
    public var sqnrDB: Double {
        if sumErrorSquares == 0 { return .infinity }
        if sumReferenceSquares == 0 { return -.infinity }
        return 10 * (sumReferenceSquares / sumErrorSquares).log10
    }

    /// ‖x − x̂‖ / ‖x‖ (0 when both are zero).
    public var relativeError: Double {
        if sumErrorSquares == 0 { return 0 }
        if sumReferenceSquares == 0 { return .infinity }
        return (sumErrorSquares / sumReferenceSquares).squareRoot()
    }

    /// cos(x, x̂); 1 when both are zero, 0 when exactly one is.
    public var cosine: Double {
        let denominator = (sumReferenceSquares * sumOutputSquares).squareRoot()
        if denominator == 0 { return sumReferenceSquares == sumOutputSquares ? 1 : 0 }
        return min(1, max(-1, sumDot / denominator))
    }

    /// The derived figures, for reports.
    public var summary: ErrorSummary {
        ErrorSummary(sqnrDB: sqnrDB, relativeError: relativeError, cosine: cosine, maxAbsError: maxAbsError)
    }
}

/// The figures of an ErrorStatistics, ready to print or encode (±∞ encoded as strings).
public struct ErrorSummary: Codable, Sendable, Equatable {
    public var sqnrDB: Double
    public var relativeError: Double
    public var cosine: Double
    public var maxAbsError: Double

    // Spelled so that the snake-case key strategies Shrink's encoders use map
    // `sqnrDB` to "sqnr_db" and back.
    enum CodingKeys: String, CodingKey {
        case sqnrDB = "sqnrDb", relativeError, cosine, maxAbsError
    }

    public init(sqnrDB: Double, relativeError: Double, cosine: Double, maxAbsError: Double) {
        self.sqnrDB = sqnrDB; self.relativeError = relativeError; self.cosine = cosine; self.maxAbsError = maxAbsError
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(FiniteOrInfinite(sqnrDB), forKey: .sqnrDB)
        try c.encode(FiniteOrInfinite(relativeError), forKey: .relativeError)
        try c.encode(cosine, forKey: .cosine)
        try c.encode(maxAbsError, forKey: .maxAbsError)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sqnrDB = try c.decode(FiniteOrInfinite.self, forKey: .sqnrDB).value
        relativeError = try c.decode(FiniteOrInfinite.self, forKey: .relativeError).value
        cosine = try c.decode(Double.self, forKey: .cosine)
        maxAbsError = try c.decode(Double.self, forKey: .maxAbsError)
    }
}

/// JSON has no infinity: encode ±∞ as the strings "inf"/"-inf".
public struct FiniteOrInfinite: Codable, Sendable {
    public var value: Double
    public init(_ value: Double) { self.value = value }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if value.isInfinite { try c.encode(value > 0 ? "inf" : "-inf") } else { try c.encode(value) }
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { value = s == "-inf" ? -.infinity : .infinity } else { value = try c.decode(Double.self) }
    }
}

extension Double {
    var log10: Double { Foundation_log10(self) }
}

@inline(__always) private func Foundation_log10(_ x: Double) -> Double {
    #if canImport(Glibc)
    return Glibc.log10(x)
    #else
    return Darwin.log10(x)
    #endif
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
