import ShrinkFormats
import ShrinkTensor

/// A [rows, width] lookup table the forward pass reads one row at a time
/// (puzzle embeddings): resident in memory, or streamed from the mapped file.
public protocol EmbeddingRows: AnyObject, Sendable {
    var rows: Int { get }
    var width: Int { get }
    /// Writes row `r` as Float into `destination` (`width` values).
    func copyRow(_ r: Int, into destination: UnsafeMutablePointer<Float>)
}

/// The whole table decoded once into memory.
public final class ResidentRows: EmbeddingRows, @unchecked Sendable {
    public let rows: Int, width: Int
    let values: [Float]
    public init(values: [Float], rows: Int, width: Int) { self.values = values; self.rows = rows; self.width = width }
    public func copyRow(_ r: Int, into destination: UnsafeMutablePointer<Float>) {
        values.withUnsafeBufferPointer { destination.update(from: $0.baseAddress! + r * width, count: width) }
    }
}

/// Rows decoded on demand from the tensor's bytes where the source maps them
/// (a safetensors file is mmapped): only the pages of rows that are read are ever
/// touched, so the table can stay in flash and never occupies RAM. Counts what it
/// reads, so tests and plans can check that.
public final class StreamedRows: EmbeddingRows, @unchecked Sendable {
    public let rows: Int, width: Int
    public let name: String
    let source: any TensorSource
    let bytes: UnsafeRawBufferPointer
    let dtype: DType
    private let counter = Counter()
    /// Rows and bytes read so far.
    public var rowsRead: Int { counter.rows }
    public var bytesRead: Int { counter.rows * width * dtype.byteSize }

    final class Counter: @unchecked Sendable { var rows = 0 }

    public init(source: any TensorSource, name: String) throws {
        let info = try source.requireInfo(name)
        guard info.shape.rank == 2, info.dtype.isFloatingPoint else {
            throw ModelError.wrongShape(file: source.location, tensor: name, expected: Shape([info.shape.dims.first ?? 0, -1]), actual: info.shape)
        }
        self.source = source; self.name = name
        rows = info.shape.dims[0]; width = info.shape.dims[1]; dtype = info.dtype
        bytes = try source.rawBytes(name)
    }

    public func copyRow(_ r: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows, "row \(r) outside 0..<\(rows) of \(name)")
        counter.rows += 1
        let rowBytes = width * dtype.byteSize
        ElementCodec.decode(bytes.baseAddress! + r * rowBytes, dtype: dtype, count: width, into: destination)
    }
}
