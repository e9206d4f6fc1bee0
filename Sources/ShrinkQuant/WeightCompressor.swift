import ShrinkTensor

/// Maps one weight matrix (plus, for calibrated methods, its layer's input statistics) to its stored quantized
/// form. A new method is one conforming type and a case of `Method`.
public protocol WeightCompressor: Sendable, CustomStringConvertible {
    var method: Method { get }
    /// Quantizes row-major W [rows, columns] under `scheme`.
    /// - Throws: `QuantizationError.notCalibrated` when the method needs `statistics` and has none.
    func compress(_ weight: UnsafeBufferPointer<Float>, rows: Int, columns: Int, scheme: QuantScheme,
                  statistics: LayerStatistics?, name: String) throws -> QuantizedTensor
}

extension WeightCompressor {
    public func compress(_ weight: [Float], rows: Int, columns: Int, scheme: QuantScheme, statistics: LayerStatistics?,
                         name: String) throws -> QuantizedTensor {
        try weight.withUnsafeBufferPointer { try compress($0, rows: rows, columns: columns, scheme: scheme, statistics: statistics, name: name) }
    }
}

/// Round to nearest with a chosen range per group (`RoundToNearest`).
public struct RoundToNearestCompressor: WeightCompressor {
    public var method: Method
    public var clipping: RangeClipping
    public init(method: Method = .rtn, clipping: RangeClipping = .minMax) { self.method = method; self.clipping = clipping }
    /// What shrink.json records: the range observer.
    public var description: String { clipping.description }

    public func compress(_ weight: UnsafeBufferPointer<Float>, rows: Int, columns: Int, scheme: QuantScheme,
                         statistics: LayerStatistics?, name: String) throws -> QuantizedTensor {
        try RoundToNearest.quantize(weight, rows: rows, columns: columns, scheme: scheme, clipping: clipping, name: name)
    }
}

/// GPTQ error feedback with the layer's input Hessian (`GPTQ`).
public struct GPTQCompressor: WeightCompressor {
    public var options: GPTQ.Options
    public init(options: GPTQ.Options = GPTQ.Options()) { self.options = options }
    public var method: Method { .gptq }
    public var description: String { options.description }

    public func compress(_ weight: UnsafeBufferPointer<Float>, rows: Int, columns: Int, scheme: QuantScheme,
                         statistics: LayerStatistics?, name: String) throws -> QuantizedTensor {
        guard let statistics else { throw QuantizationError.notCalibrated(tensor: name, method: .gptq) }
        return try GPTQ.quantize(weight, rows: rows, columns: columns, statistics: statistics, scheme: scheme,
                                 options: options, name: name)
    }
}
