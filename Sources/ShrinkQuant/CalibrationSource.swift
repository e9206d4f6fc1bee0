import ShrinkFormats

/// Where a quantization job gets each tensor's input statistics (GPTQ's Hessian, AWQ's activation scale) and
/// the weights it quantizes. A static source holds every layer's statistics, captured before the job; a
/// sequential one captures a block at a time from the already-compressed blocks before it (`SequentialFamily`).
public protocol CalibrationSource: AnyObject {
    /// The weights the job reads (AWQ's folds applied).
    var weights: any TensorSource { get }
    /// The order tensors are processed and written in (a sequential source needs each block's tensors together,
    /// in block order); `names` is the checkpoint's order.
    func order(_ names: [String]) -> [String]
    /// Called before tensor `name` is read: a sequential source captures the statistics of `name`'s block here.
    func prepare(_ name: String) throws
    func statistics(_ name: String) -> LayerStatistics?
    /// What the method of tensor `name` became (AWQ: the α and where it was folded), when the source changed it.
    func method(_ name: String) -> String?
    /// Whether statistics are captured as the job goes (a sequential source), not all before it.
    var needsCompressedWeights: Bool { get }
    /// Whether `finished` needs tensor `name`'s compressed form (a sequential source runs later blocks on the
    /// blocks' compressed weights; tensors outside every block, such as the embedding table, are never run again).
    func needsCompressedValues(_ name: String) -> Bool
    /// Tensor `name` as the compressed model holds it, or nil when it is kept as stored.
    func finished(_ name: String, compressed: CompressedForm?) throws
}

/// A finished tensor as the compressed model holds it: quantized (packed, dequantized when read), or its values
/// (a pruned tensor stored sparse).
public enum CompressedForm: Sendable {
    case quantized(QuantizedTensor)
    case values([Float])
}

/// Statistics captured once for the whole model (`EvaluationTask.calibrationStatistics`).
public final class StaticCalibration: CalibrationSource {
    public let weights: any TensorSource
    public let layers: [String: LayerStatistics]
    public let methods: [String: String]
    public init(weights: any TensorSource, layers: [String: LayerStatistics], methods: [String: String] = [:]) {
        self.weights = weights; self.layers = layers; self.methods = methods
    }
    public func order(_ names: [String]) -> [String] { names }
    public func prepare(_ name: String) throws {}
    public func statistics(_ name: String) -> LayerStatistics? { layers[name] }
    public func method(_ name: String) -> String? { methods[name] }
    public var needsCompressedWeights: Bool { false }
    public func needsCompressedValues(_ name: String) -> Bool { false }
    public func finished(_ name: String, compressed: CompressedForm?) throws {}
}
