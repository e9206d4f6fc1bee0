import ShrinkFormats
import ShrinkTensor

/// Takes named tensors out of a checkpoint with the shapes a config implies;
/// afterwards, anything the model did not take is an error too.
public final class WeightBinder {
    public let source: any TensorSource
    public let file: String
    private var taken = Set<String>()

    public init(source: any TensorSource, file: String? = nil) {
        self.source = source
        self.file = file ?? source.location
    }

    public func tensor(_ name: String, shape dims: [Int]) throws -> [Float] {
        guard let info = source.info(name) else { throw ModelError.missingTensor(file: file, tensor: name) }
        guard info.shape == Shape(dims) else { throw ModelError.wrongShape(file: file, tensor: name, expected: Shape(dims), actual: info.shape) }
        let values = try source.floats(name)
        guard values.allSatisfy({ $0.isFinite }) else { throw ModelError.nonFinite(file: file, tensor: name) }
        taken.insert(name)
        source.release(name)
        return values
    }

    /// A lookup table left in the source and read a row at a time (not scanned
    /// for NaN: that would read the whole table).
    public func rows(_ name: String, shape dims: [Int]) throws -> StreamedRows {
        guard let info = source.info(name) else { throw ModelError.missingTensor(file: file, tensor: name) }
        guard info.shape == Shape(dims) else { throw ModelError.wrongShape(file: file, tensor: name, expected: Shape(dims), actual: info.shape) }
        taken.insert(name)
        return try StreamedRows(source: source, name: name)
    }

    public func linear(_ name: String, out: Int, in inFeatures: Int, bias: String? = nil) throws -> PackedLinear {
        let w = try tensor(name, shape: [out, inFeatures])
        let b = try bias.map { try tensor($0, shape: [out]) }
        return PackedLinear(weight: w, outFeatures: out, inFeatures: inFeatures, bias: b, name: name)
    }

    /// Throws for the first (sorted) tensor the model did not use.
    public func finish() throws {
        if let extra = source.tensorNames.first(where: { !taken.contains($0) }) {
            throw ModelError.unexpectedTensor(file: file, tensor: extra)
        }
    }
}
