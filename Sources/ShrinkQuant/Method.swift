import ShrinkTensor

/// How a weight is quantized: the one spelling of a method, used by `shrink quantize --method`, recipes and
/// plan files, sweeps and the planner. Raw values are what files and flags write.
public enum Method: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// Round to nearest over the min-max range (compressed-tensors' "minmax" observer).
    case rtn
    /// Round to nearest over a percentile of |w| (outliers clipped).
    case percentile
    /// Round to nearest over an MSE-searched clip of the range.
    case mse
    /// Activation-aware scaling folded into the producing layer, then round to nearest (needs calibration).
    case awq
    /// Error feedback through the layer's input Hessian (needs calibration).
    case gptq

    public var needsCalibration: Bool { self == .awq || self == .gptq }
    public var description: String { rawValue }

    /// The compressor that quantizes one weight this way. AWQ's weight step is min-max round to nearest on
    /// weights whose input channels were already scaled (`AWQ.fold`).
    public func compressor(_ parameters: MethodParameters = MethodParameters()) -> any WeightCompressor {
        switch self {
        case .rtn, .awq: RoundToNearestCompressor(method: self, clipping: .minMax)
        case .percentile: RoundToNearestCompressor(method: self, clipping: .percentile(parameters.percentile))
        case .mse: RoundToNearestCompressor(method: self, clipping: parameters.mse)
        case .gptq: GPTQCompressor(options: parameters.gptq)
        }
    }
}

/// The tunable parameters of the methods (the defaults are what sweeps, plans and recipes use).
public struct MethodParameters: Hashable, Sendable {
    /// Quantile of |w| kept by `percentile`.
    public var percentile = 0.999
    /// The clip search of `mse`.
    public var mse = RangeClipping.defaultMSE
    public var gptq = GPTQ.Options()
    /// SparseGPT's block and dampening (also GPTQ's when it quantizes pruned weights).
    public var sparseGPT = SparseGPT.Options()
    public init() {}
}
