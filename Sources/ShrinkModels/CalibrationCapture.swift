import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// Runs a reasoner on calibration puzzles and accumulates the input statistics of
/// every linear layer, across all cycles and supervision steps (a TRM's L_level
/// sees both its z_L and its z_H updates), streaming: memory is one [in, in]
/// matrix per layer, not the activations.
public enum CalibrationCapture {
    final class Collector: LinearInputObserver {
        var layers: [String: LayerStatistics] = [:]
        func observe(layer: String, inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
            let s = layers[layer] ?? LayerStatistics(columns: columns)
            layers[layer] = s
            s.add(inputs, rows: rows)
        }
    }

    /// - Parameters:
    ///   - inputs: [count, seq_len] tokens of the calibration puzzles.
    public static func capture(_ model: RecursiveReasoner, inputs: [Int32], puzzleIdentifiers: [Int32], count: Int,
                               batchSize: Int = 128, progress: (any ProgressSink)? = nil) throws -> [String: LayerStatistics] {
        let L = model.config.seqLen
        let collector = Collector()
        var start = 0
        while start < count {
            progress?.update(done: start, total: count, item: "calibration puzzles")
            let n = min(batchSize, count - start)
            try model.run(inputs: Array(inputs[(start * L)..<((start + n) * L)]),
                          puzzleIdentifiers: Array(puzzleIdentifiers[start..<(start + n)]), batch: n,
                          linearInputs: collector) { _, _ in }
            start += n
        }
        progress?.finish()
        return collector.layers
    }
}
