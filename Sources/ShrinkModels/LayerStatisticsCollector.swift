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

    /// Weights that read the same input share one `LayerStatistics` (the same object under each name), so
    /// q/k/v and gate/up cost one accumulation and one matrix. Names seen apart before keep their own.
    public func observe(layers names: [String], inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
        guard !names.isEmpty else { return }
        let existing = names.map { layers[$0] }
        if existing.allSatisfy({ $0 == nil }) || existing.allSatisfy({ $0 != nil && $0 === existing[0] }) {
            let s = existing[0] ?? LayerStatistics(columns: columns)
            for n in names { layers[n] = s }
            s.add(inputs, rows: rows)
            return
        }
        for n in names { observe(layer: n, inputs: inputs, rows: rows, columns: columns) }
    }
}
