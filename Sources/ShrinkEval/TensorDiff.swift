import ShrinkFormats
import ShrinkTensor

/// Per-tensor comparison of two checkpoints (`shrink diff`): the reference is
/// the first, the approximation the second.
public struct DiffReport: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var name: String
        public var shape: Shape
        public var referenceDtype: DType
        public var otherDtype: DType
        public var error: ErrorSummary
    }

    public struct ShapeMismatch: Codable, Sendable {
        public var name: String
        public var referenceShape: Shape
        public var otherShape: Shape
    }

    public var reference: String
    public var other: String
    public var tensors: [Entry]
    public var overall: ErrorSummary?
    public var shapeMismatches: [ShapeMismatch]
    public var onlyInReference: [String]
    public var onlyInOther: [String]

    /// True when both hold the same names and shapes.
    public var sameStructure: Bool { shapeMismatches.isEmpty && onlyInReference.isEmpty && onlyInOther.isEmpty }
}

public enum TensorDiff {
    public static func compare(reference a: any TensorSource, other b: any TensorSource,
                               progress: (any ProgressSink)? = nil) throws -> DiffReport {
        let namesB = Set(b.tensorNames)
        var entries: [DiffReport.Entry] = []
        var mismatches: [DiffReport.ShapeMismatch] = []
        var overall = ErrorStatistics()
        let common = a.tensorNames.filter { namesB.contains($0) }
        for (i, name) in common.enumerated() {
            progress?.update(done: i, total: common.count, item: name)
            let ia = try a.requireInfo(name), ib = try b.requireInfo(name)
            guard ia.shape == ib.shape else {
                mismatches.append(.init(name: name, referenceShape: ia.shape, otherShape: ib.shape))
                continue
            }
            var stats = ErrorStatistics()
            if ia.dtype == ib.dtype, let ra = try? a.rawBytes(name), let rb = try? b.rawBytes(name), ra.elementsEqual(rb) {
                // Bit-identical (±Inf and NaN included): exact by definition, whatever
                // float arithmetic would say about inf − inf.
                stats = ErrorStatistics.identical(try a.floats(name))
            } else {
                stats.add(reference: try a.floats(name), output: try b.floats(name))
            }
            overall.merge(stats)
            entries.append(.init(name: name, shape: ia.shape, referenceDtype: ia.dtype, otherDtype: ib.dtype, error: stats.summary))
            a.release(name)
            b.release(name)
        }
        progress?.finish()
        let namesA = Set(a.tensorNames)
        return DiffReport(
            reference: a.location, other: b.location, tensors: entries,
            overall: entries.isEmpty ? nil : overall.summary, shapeMismatches: mismatches,
            onlyInReference: a.tensorNames.filter { !namesB.contains($0) },
            onlyInOther: b.tensorNames.filter { !namesA.contains($0) })
    }
}
