import ShrinkFormats
import ShrinkTensor

/// How a pruned weight is stored: compressed-tensors' sparsity compressors, whose layout is taken from
/// compressed-tensors 0.14.0 (`compressors/sparse_compressors/sparse_bitmask.py` and `sparse_24_bitmask.py`,
/// the last release that ships them; 0.20.0 keeps only their config classes, `config/sparse_bitmask.py`). For
/// module `<m>` (the weight `<m>.weight`):
///  - `sparse-bitmask`: `<m>.compressed` the kept values in row-major order, 1-D, in the weight's dtype;
///    `<m>.bitmask` uint8 [rows, ⌈columns/8⌉], numpy `packbits(axis=-1, bitorder="little")` of the mask (bit k
///    of byte b of row r is column 8b + k); `<m>.row_offsets` int64 [rows], the index in `compressed` where each
///    row starts; `<m>.shape` int64 [2].
///  - `sparse-24-bitmask` (2:4 only): `<m>.compressed` [rows, columns/2], `<m>.bitmask` as above, `<m>.shape`
///    int64 [2, 1]; no row offsets.
/// compressed-tensors decompresses both as `dense[unpack(bitmask)] = compressed.flatten()`. Its own compressor
/// takes the mask as `value != 0`; Shrink stores the pruning mask itself, so a kept weight that happens to be 0
/// is stored explicitly (the same dense tensor either way) and the stored sizes are known before pruning.
public enum SparseFormat: String, Codable, Sendable, CaseIterable {
    case bitmask = "sparse-bitmask"
    case twoFour = "sparse-24-bitmask"
    /// Pruned, but stored dense (quantized with pack-quantized: the mask is the zero codes).
    case dense

    /// The format a dense (unquantized) pruned weight is written in.
    public static func forStoring(_ sparsity: Sparsity) -> SparseFormat {
        if case .semiStructured(2, 4) = sparsity { return .twoFour }
        return .bitmask
    }

    /// The companions of module `<m>`, as the compressor names them.
    static let suffixes = [".compressed", ".bitmask", ".row_offsets", ".shape"]
}

/// Shapes and sizes of one sparse weight's stored tensors.
public struct SparseLayout: Hashable, Sendable {
    public var format: SparseFormat
    public var rows: Int
    public var columns: Int
    public var dtype: DType
    /// Weights kept (values stored).
    public var kept: Int

    public init(format: SparseFormat, rows: Int, columns: Int, dtype: DType, kept: Int) {
        precondition(format != .dense)
        self.format = format; self.rows = rows; self.columns = columns; self.dtype = dtype; self.kept = kept
    }

    public var bytesPerRow: Int { (columns + 7) / 8 }

    /// The stored tensors of weight `name`.
    public func storedTensors(for name: String) -> [TensorInfo] {
        let m = CompressedTensorsConfig.moduleName(ofWeight: name)
        var t = [
            TensorInfo(name: m + ".compressed", dtype: dtype, shape: format == .twoFour ? Shape([rows, columns / 2]) : Shape([kept])),
            TensorInfo(name: m + ".bitmask", dtype: .u8, shape: Shape([rows, bytesPerRow])),
        ]
        if format == .bitmask { t.append(TensorInfo(name: m + ".row_offsets", dtype: .i64, shape: Shape([rows]))) }
        t.append(TensorInfo(name: m + ".shape", dtype: .i64, shape: format == .twoFour ? Shape([2, 1]) : Shape([2])))
        return t
    }

    public var storedBytes: Int { storedTensors(for: "w").reduce(0) { $0 + $1.byteCount } }
}

/// The encoder and decoder of the bitmask formats (scalar: the reference and the implementation).
public enum SparseBitmask {
    public struct Encoded: Sendable, Equatable {
        /// Kept values in row-major order.
        public var compressed: [Float]
        /// rows × ⌈columns/8⌉, little bit order.
        public var bitmask: [UInt8]
        /// Start of each row in `compressed`.
        public var rowOffsets: [Int64]
    }

    public static func encode(values: [Float], kept: [Bool], rows: Int, columns: Int) -> Encoded {
        precondition(values.count == rows * columns && kept.count == values.count)
        let bpr = (columns + 7) / 8
        var bitmask = [UInt8](repeating: 0, count: rows * bpr)
        var compressed: [Float] = [], offsets: [Int64] = []
        compressed.reserveCapacity(kept.count)
        for r in 0..<rows {
            offsets.append(Int64(compressed.count))
            for c in 0..<columns where kept[r * columns + c] {
                bitmask[r * bpr + c / 8] |= UInt8(1) << UInt8(c % 8)
                compressed.append(values[r * columns + c])
            }
        }
        return Encoded(compressed: compressed, bitmask: bitmask, rowOffsets: offsets)
    }

    /// Kept flags of a stored bitmask.
    public static func mask(_ bitmask: UnsafeRawBufferPointer, rows: Int, columns: Int) -> [Bool] {
        let bpr = (columns + 7) / 8
        var out = [Bool](repeating: false, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns { out[r * columns + c] = (bitmask[r * bpr + c / 8] >> UInt8(c % 8)) & 1 == 1 }
        }
        return out
    }

    /// dense[mask] = compressed, row-major (compressed-tensors' `bitmask_decompress`).
    public static func decode(compressed: [Float], mask: [Bool]) -> [Float] {
        var out = [Float](repeating: 0, count: mask.count)
        var k = 0
        for i in 0..<mask.count where mask[i] { out[i] = compressed[k]; k += 1 }
        return out
    }

    /// Writes pruned weight `name` (values already in their final form) in `layout`'s format.
    /// - Throws: `QuantizationError.malformedPacked` when the mask does not fit the declared layout.
    public static func write(_ pruned: PrunedTensor, name: String, layout: SparseLayout, to writer: SafetensorsWriter) throws {
        let e = encode(values: pruned.values, kept: pruned.kept, rows: pruned.rows, columns: pruned.columns)
        let stored = layout.storedTensors(for: name)
        guard e.compressed.count == layout.kept else {
            throw QuantizationError.malformedPacked(tensor: stored[0].name, detail: "pruning kept \(e.compressed.count) weights, \(layout.kept) were declared")
        }
        if layout.format == .twoFour, let r = (0..<pruned.rows).first(where: { r in (0..<(pruned.columns / 4)).contains { g in
            (0..<4).filter { pruned.kept[r * pruned.columns + 4 * g + $0] }.count != 2 } }) {
            throw QuantizationError.malformedPacked(tensor: stored[0].name, detail: "row \(r) is not 2:4 sparse; sparse-24-bitmask needs exactly 2 kept of every 4")
        }
        var bytes = [UInt8](repeating: 0, count: stored[0].byteCount)
        e.compressed.withUnsafeBufferPointer { s in bytes.withUnsafeMutableBytes { ElementCodec.encode(s, as: layout.dtype, into: $0.baseAddress!) } }
        try writer.write(stored[0].name, values: bytes)
        try writer.write(stored[1].name, values: e.bitmask)
        if layout.format == .bitmask { try writer.write(stored[2].name, values: e.rowOffsets) }
        try writer.write(stored.last!.name, values: [Int64(pruned.rows), Int64(pruned.columns)])
    }

    /// Reads the sparse weight of module `module` back: its layout, checked against the stored tensors, and its
    /// dense values.
    public static func layout(module: String, in stored: any TensorSource) throws -> SparseLayout {
        let c = try stored.requireInfo(module + ".compressed")
        let twoFour = stored.info(module + ".row_offsets") == nil
        let shapeName = module + ".shape"
        let shape = try stored.integers(shapeName)
        guard shape.count == 2, shape[0] > 0, shape[1] > 0, shape[0] < Int64(Int32.max), shape[1] < Int64(Int32.max) else {
            throw QuantizationError.malformedPacked(tensor: shapeName, detail: "must hold two positive dimensions, found \(shape)")
        }
        let rows = Int(shape[0]), columns = Int(shape[1])
        guard c.dtype.isFloatingPoint, [.f32, .f16, .bf16].contains(c.dtype) else {
            throw QuantizationError.malformedPacked(tensor: c.name, detail: "is \(c.dtype.rawValue); expected f32, f16 or bf16 values")
        }
        if twoFour && columns % 4 != 0 {
            throw QuantizationError.malformedPacked(tensor: c.name, detail: "sparse-24-bitmask needs a multiple of 4 columns, the shape says \(columns)")
        }
        let layout = SparseLayout(format: twoFour ? .twoFour : .bitmask, rows: rows, columns: columns, dtype: c.dtype,
                                  kept: twoFour ? rows * columns / 2 : c.elementCount)
        for expected in layout.storedTensors(for: module + ".weight") {
            guard let actual = stored.info(expected.name), actual.dtype == expected.dtype,
                  actual.shape == expected.shape || (expected.name == shapeName && actual.elementCount == 2) else {
                let found = stored.info(expected.name).map { "\($0.dtype.rawValue) \($0.shape)" } ?? "missing"
                throw QuantizationError.malformedPacked(tensor: expected.name, detail: "is \(found), expected \(expected.dtype.rawValue) \(expected.shape) for \(layout.format.rawValue) of [\(rows), \(columns)]")
            }
        }
        return layout
    }

    /// The dense values of a stored sparse weight.
    /// - Throws: `QuantizationError.malformedPacked` when the bitmask's count or the row offsets disagree with
    ///   the stored values.
    public static func read(module: String, layout: SparseLayout, from stored: any TensorSource) throws -> [Float] {
        let mask = mask(try stored.rawBytes(module + ".bitmask"), rows: layout.rows, columns: layout.columns)
        let set = mask.reduce(0) { $0 + ($1 ? 1 : 0) }
        guard set == layout.kept else {
            throw QuantizationError.malformedPacked(tensor: module + ".bitmask", detail: "flags \(set) weights, but '\(module).compressed' holds \(layout.kept)")
        }
        if layout.format == .bitmask {
            let offsets = try stored.integers(module + ".row_offsets")
            var start = 0
            for r in 0..<layout.rows {
                guard offsets[r] == Int64(start) else {
                    throw QuantizationError.malformedPacked(tensor: module + ".row_offsets", detail: "row \(r) starts at \(offsets[r]), the bitmask says \(start)")
                }
                start += (0..<layout.columns).reduce(0) { $0 + (mask[r * layout.columns + $1] ? 1 : 0) }
            }
        }
        return decode(compressed: try stored.floats(module + ".compressed"), mask: mask)
    }
}
