import ShrinkQuant

/// Accumulates the input statistics of every linear layer a forward pass shows it, across all calls (a TRM's
/// L_level sees both its z_L and its z_H updates), streaming: memory is one [in, in] matrix per layer, not the
/// activations. Calibration runs a task's training data through a model with this as its `LinearInputObserver`.
///
/// Every input is checked before it is accumulated: the first NaN or ±Inf activation is kept with the layer
/// and the calibration unit it came from, nothing is accumulated after it, and `check()` throws it, so a
/// calibration stops at the batch that produced it instead of solving GPTQ on a NaN Hessian.
public final class LayerStatisticsCollector: LinearInputObserver {
    public private(set) var layers: [String: LayerStatistics] = [:]
    /// The first non-finite activation seen.
    public private(set) var nonFinite: NonFiniteActivation?
    /// What the calibration units are ("puzzle", "chunk") and where they come from, for the error message.
    public let unitName: String, source: String
    private var units: Range<Int>?

    public init(unitName: String = "unit", source: String = "the calibration data") {
        self.unitName = unitName; self.source = source
    }

    public func beginUnits(_ units: Range<Int>) { self.units = units }

    public func observe(layer: String, inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
        guard accept(layer, inputs, rows: rows, columns: columns) else { return }
        accumulate(layer, inputs, rows: rows, columns: columns)
    }

    private func accumulate(_ layer: String, _ inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
        let s = layers[layer] ?? LayerStatistics(columns: columns)
        layers[layer] = s
        s.add(inputs, rows: rows)
    }

    /// Weights that read the same input share one `LayerStatistics` (the same object under each name), so
    /// q/k/v and gate/up cost one accumulation and one matrix. Names seen apart before keep their own.
    public func observe(layers names: [String], inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
        guard !names.isEmpty, accept(names.joined(separator: ", "), inputs, rows: rows, columns: columns) else { return }
        let existing = names.map { layers[$0] }
        if existing.allSatisfy({ $0 == nil }) || existing.allSatisfy({ $0 != nil && $0 === existing[0] }) {
            let s = existing[0] ?? LayerStatistics(columns: columns)
            for n in names { layers[n] = s }
            s.add(inputs, rows: rows)
            return
        }
        for n in names { accumulate(n, inputs, rows: rows, columns: columns) }
    }

    /// Throws the first non-finite activation seen, if any.
    public func check() throws {
        if let nonFinite { throw ModelError.nonFiniteActivation(nonFinite) }
    }

    /// Whether the input is finite (and no earlier one was not); records the first that is not.
    private func accept(_ layer: String, _ inputs: UnsafePointer<Float>, rows: Int, columns: Int) -> Bool {
        guard nonFinite == nil else { return false }
        guard let i = NonFiniteActivation.firstNonFinite(inputs, count: rows * columns) else { return true }
        let row = i / columns
        var unit: Int?, position = row
        if let units, !units.isEmpty, rows % units.count == 0 {
            let perUnit = rows / units.count
            unit = units.lowerBound + row / perUnit
            position = row % perUnit
        }
        nonFinite = NonFiniteActivation(layer: layer, value: inputs[i], unitName: unitName, unit: unit, units: units,
                                        source: source, row: position, column: i % columns)
        return false
    }
}

/// A NaN or ±Inf in a linear layer's input during calibration: which layer, which value, which unit of which data.
public struct NonFiniteActivation: Sendable, Equatable, CustomStringConvertible {
    /// The weight (or weights sharing the input) about to read it.
    public var layer: String
    public var value: Float
    public var unitName: String
    /// The unit, when the batch's rows split evenly into units; otherwise `units` is the batch.
    public var unit: Int?
    public var units: Range<Int>?
    public var source: String
    /// Row within the unit (a token or cell position) and input channel.
    public var row: Int, column: Int

    public var description: String {
        let from: String
        if let unit { from = "\(unitName) \(unit) of \(source) (position \(row), channel \(column))" }
        else if let units { from = "\(unitName)s \(units.lowerBound)..<\(units.upperBound) of \(source) (row \(row), channel \(column))" }
        else { from = "\(source) (row \(row), channel \(column))" }
        return "calibration stopped: the input of layer '\(layer)' is \(value) on \(from); "
            + "the weights before it overflow or hold NaN on this input — check them, or calibrate on other data"
    }

    /// Index of the first NaN or ±Inf among `count` floats.
    public static func firstNonFinite(_ p: UnsafePointer<Float>, count: Int) -> Int? {
        // Blocks of 64 with a branch-free check vectorize; only a block that fails is searched.
        var start = 0
        while start < count {
            let end = Swift.min(start + 64, count)
            var bad = false
            for i in start..<end { bad = bad || !p[i].isFinite }
            if bad { return (start..<end).first { !p[$0].isFinite } }
            start = end
        }
        return nil
    }
}
