import ShrinkQuant

/// Accumulates the input statistics of every linear layer a forward pass shows it, across all calls (a TRM's
/// L_level sees both its z_L and its z_H updates), streaming: memory is one [in, in] matrix per layer, not the
/// activations. Calibration runs a task's training data through a model with this as its `LinearInputObserver`.
public final class LayerStatisticsCollector: LinearInputObserver {
    public private(set) var layers: [String: LayerStatistics] = [:]
    public init() {}
    public func observe(layer: String, inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
        let s = layers[layer] ?? LayerStatistics(columns: columns)
        layers[layer] = s
        s.add(inputs, rows: rows)
    }
}
