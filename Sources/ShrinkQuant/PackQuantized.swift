import CShrinkKernels
import ShrinkFormats
import ShrinkTensor

// compressed-tensors `pack-quantized` (v0.20.0), the stored format `shrink quantize` writes: one file for its
// layout (which tensors, their shapes), its bit packing (with a scalar reference), its zero-point packing, and
// reading and writing it. See README "Output format".

/// Shapes and sizes of the compressed-tensors `pack-quantized` tensors for one weight.
public struct PackedLayout: Hashable, Sendable {
    public var scheme: QuantScheme
    public var rows: Int
    public var columns: Int

    public init(scheme: QuantScheme, rows: Int, columns: Int) {
        self.scheme = scheme; self.rows = rows; self.columns = columns
    }

    public var wordsPerRow: Int { (columns * scheme.bits + 31) / 32 }
    public var groupsPerRow: Int { scheme.groupsPerRow(columns: columns) }

    public var packedShape: Shape { Shape([rows, wordsPerRow]) }

    public var scaleShape: Shape {
        switch scheme.granularity {
        case .tensor: Shape([1])
        case .channel: Shape([rows, 1])
        case .group: Shape([rows, groupsPerRow])
        }
    }

    /// Zero points: per-tensor ones are stored as one int8; per-channel and
    /// per-group ones are packed along dim 0 into int32, as the compressor does.
    public var zeroPointInfo: (dtype: DType, shape: Shape)? {
        guard !scheme.symmetric, scheme.grid != .ggmlMinimum else { return nil }
        switch scheme.granularity {
        case .tensor: return (.i8, Shape([1]))
        case .channel, .group: return (.i32, Shape([(rows * scheme.bits + 31) / 32, groupsPerRow]))
        }
    }

    /// The tensors stored for weight `name` (its packed form replaces it), in write order.
    /// `shapeRank`: the weight's own rank (4 for a convolution kernel), the length of `<name>_shape`.
    public func storedTensors(for name: String, shapeRank: Int = 2) -> [TensorInfo] {
        var t = [
            TensorInfo(name: name + "_packed", dtype: .i32, shape: packedShape),
            TensorInfo(name: name + "_scale", dtype: scheme.scaleDType, shape: scaleShape),
            TensorInfo(name: name + "_shape", dtype: .i64, shape: Shape([shapeRank])),
        ]
        if let z = zeroPointInfo { t.append(TensorInfo(name: name + "_zero_point", dtype: z.dtype, shape: z.shape)) }
        if scheme.grid == .ggmlMinimum { t.append(TensorInfo(name: name + "_" + Self.minimumSuffix, dtype: .f16, shape: scaleShape)) }
        return t
    }

    /// Shrink's companion tensor for the ggml minimum grid's m (`<p>.weight_minimum`, F16, the scales' shape): an
    /// extension compressed-tensors does not read, so such a directory declares its own format
    /// (`CompressedTensorsConfig.ggmlMinimumFormat`) and compressed-tensors refuses it instead of misreading it.
    public static let minimumSuffix = "minimum"

    /// Every companion suffix a packed weight may have.
    public static let companionSuffixes = ["_packed", "_scale", "_shape", "_zero_point", "_" + minimumSuffix]

    /// Bytes of the stored form. On the ggml minimum grid: the codes plus an F16 d and an
    /// F16 m per group (what a Q4_1/Q5_1 block holds; its header bytes when written as GGUF).
    public var storedBytes: Int {
        if scheme.grid == .ggmlMinimum { return rows * wordsPerRow * 4 + rows * groupsPerRow * 4 }
        return storedTensors(for: "w").reduce(0) { $0 + $1.byteCount }
    }
}

/// A weight matrix quantized with one scheme, held in its packed file form.
public struct QuantizedTensor: Sendable {
    public var layout: PackedLayout
    /// rows × wordsPerRow words: each row one dense bit stream (compressed-tensors' pack_to_int32).
    public var packed: [UInt32]
    /// Stored scales as Float (already rounded to the scheme's scale dtype), rows × groupsPerRow
    /// (1 for per-tensor).
    public var scales: [Float]
    /// Zero points, same layout as `scales`; empty when symmetric or on the ggml grid.
    public var zeroPoints: [Int8]
    /// Reconstruction error of the whole tensor.
    public var error: ErrorStatistics
    /// The ggml grid's minima m (F16 values), same layout as `scales`; empty on the integer grid.
    public var minima: [Float] = []

    public var scheme: QuantScheme { layout.scheme }
    public var rows: Int { layout.rows }
    public var columns: Int { layout.columns }
}


extension QuantizedTensor {
    /// The integer codes of the whole matrix, unpacked (row-major).
    public func codes() -> [Int8] {
        var out = [Int8](repeating: 0, count: rows * columns)
        let words = layout.wordsPerRow
        packed.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows {
                    sk_unpack_bits(p.baseAddress! + r * words, columns, Int32(scheme.bits), o.baseAddress! + r * columns)
                }
            }
        }
        return out
    }

    /// x̂ = (q − z)·s (ggml grid: c·d + m) for the whole matrix, row-major, over both cores.
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        out.withUnsafeMutableBufferPointer { o in
            let dst = UnsafeSendable(o)
            Dequantizer.dequantize(layout: layout, packed: packed, scales: scales, zeroPoints: zeroPoints, minima: minima, into: dst.pointer)
        }
        return out
    }

    /// The tensor as ggml Q4_1/Q5_1 blocks (ggml-common.h block_q4_1 / block_q5_1: d, m, then
    /// the codes), when it was quantized on the ggml minimum grid; nil otherwise. Each group of
    /// `groupSize` consecutive values of a row is one block: value = codes[i]·d + m, exactly.
    public func ggmlMinimumBlocks() -> GGMLMinimumBlocks? {
        guard scheme.grid == .ggmlMinimum, case let .group(g) = scheme.granularity else { return nil }
        let half = 1 << (scheme.bits - 1)
        return GGMLMinimumBlocks(bits: scheme.bits, groupSize: g, rows: rows, columns: columns,
                                 codes: codes().map { UInt8(Int($0) + half) }, d: scales, m: minima)
    }
}

/// A tensor on ggml's Q4_1/Q5_1 grid, block by block (row-major; block b of row r is index
/// r·columns/groupSize + b in `d` and `m`): what a GGUF writer copies into block_q4_1 / block_q5_1.
public struct GGMLMinimumBlocks: Sendable, Equatable {
    public var bits: Int
    public var groupSize: Int
    public var rows: Int
    public var columns: Int
    /// c ∈ [0, 2^bits − 1], rows × columns.
    public var codes: [UInt8]
    /// Per block, each exactly an F16 value.
    public var d: [Float]
    public var m: [Float]
}

/// Dequantization of packed weights, shared by `QuantizedTensor` and the file reader.
public enum Dequantizer {
    /// `minima` (the ggml grid's m per group) is used when the layout's grid is ggml's.
    public static func dequantize(layout: PackedLayout, packed: [UInt32], scales: [Float], zeroPoints: [Int8],
                                  minima: [Float] = [], into out: UnsafeMutableBufferPointer<Float>) {
        let ggml = layout.scheme.grid == .ggmlMinimum
        let half = Float(1 << (layout.scheme.bits - 1))
        let rows = layout.rows, columns = layout.columns, words = layout.wordsPerRow
        let groups = layout.groupsPerRow
        let groupLength = layout.scheme.granularity.groupLength(columns: columns)
        let perTensor = layout.scheme.granularity == .tensor
        let bits = Int32(layout.scheme.bits)
        precondition(out.count == rows * columns)
        packed.withUnsafeBufferPointer { p in
            let shared = UnsafeSendable((p, out))
            Parallel.forEachChunk(count: rows, minChunk: max(1, 16384 / max(1, columns))) { range in
                let (src, dst) = shared.pointer
                var codes = [Int8](repeating: 0, count: columns)
                codes.withUnsafeMutableBufferPointer { c in
                    for r in range {
                        sk_unpack_bits(src.baseAddress! + r * words, columns, bits, c.baseAddress!)
                        for g in 0..<groups {
                            let k = perTensor ? 0 : r * groups + g
                            if ggml {
                                // x̂ = c·d + m, c = q + 2^(b−1), each product rounded before the sum.
                                let d = scales[k], m = minima[k]
                                for i in (g * groupLength)..<((g + 1) * groupLength) {
                                    let p = (Float(c[i]) + half) * d
                                    dst[r * columns + i] = p + m
                                }
                                continue
                            }
                            let z = zeroPoints.isEmpty ? 0 : Float(zeroPoints[k])
                            sk_dequantize_i8(c.baseAddress! + g * groupLength, groupLength, scales[k], z,
                                             dst.baseAddress! + r * columns + g * groupLength)
                        }
                    }
                }
            }
        }
    }
}

/// Packing helpers for Swift arrays (the kernels work on raw pointers).
public enum BitPacking {
    public static func pack(_ codes: [Int8], bits: Int, into words: inout [UInt32]) {
        precondition(words.count == (codes.count * bits + 31) / 32)
        codes.withUnsafeBufferPointer { c in
            words.withUnsafeMutableBufferPointer { sk_pack_bits(c.baseAddress!, c.count, Int32(bits), $0.baseAddress!) }
        }
    }

    /// Scalar reference of `pack` (what the C kernel is tested against): value i, offset by 2^(b−1) to
    /// unsigned, occupies bits [i·b, (i+1)·b) of one little-endian stream of 32-bit words.
    public static func referencePack(_ codes: [Int8], bits: Int) -> [UInt32] {
        var words = [UInt32](repeating: 0, count: (codes.count * bits + 31) / 32)
        for (i, q) in codes.enumerated() {
            let u = UInt32(Int(q) + (1 << (bits - 1)))
            for k in 0..<bits where (u >> UInt32(k)) & 1 == 1 {
                let bit = i * bits + k
                words[bit / 32] |= 1 << UInt32(bit % 32)
            }
        }
        return words
    }

    public static func unpack(_ words: UnsafeBufferPointer<UInt32>, count: Int, bits: Int) -> [Int8] {
        var out = [Int8](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { sk_unpack_bits(words.baseAddress!, count, Int32(bits), $0.baseAddress!) }
        return out
    }
}


/// Writing and reading the stored tensors of one pack-quantized weight.
public enum PackQuantized {
    /// Writes the stored tensors of weight `name` (packed codes, scales, shape, zero points) in declaration order.
    /// On the ggml minimum grid the minima follow as `<name>_minimum` (F16) instead of zero points. `shape` is the
    /// weight's own shape (a convolution kernel's four dimensions; default [rows, columns]).
    public static func write(_ q: QuantizedTensor, name: String, shape: [Int]? = nil, to writer: SafetensorsWriter) throws {
        let dims = shape ?? [q.rows, q.columns]
        precondition(dims.first == q.rows && dims.dropFirst().reduce(1, *) == q.columns)
        let stored = q.layout.storedTensors(for: name, shapeRank: dims.count)
        try writer.write(stored[0].name, values: q.packed)
        func halfBytes(_ values: [Float], _ dtype: DType, _ info: TensorInfo) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: info.byteCount)
            values.withUnsafeBufferPointer { s in bytes.withUnsafeMutableBytes { ElementCodec.encode(s, as: dtype, into: $0.baseAddress!) } }
            return bytes
        }
        try writer.write(stored[1].name, values: halfBytes(q.scales, q.scheme.scaleDType, stored[1]))
        try writer.write(stored[2].name, values: dims.map(Int64.init))
        if q.scheme.grid == .ggmlMinimum {
            try writer.write(stored[3].name, values: halfBytes(q.minima, .f16, stored[3]))
        } else if stored.count > 3 {
            try writer.write(stored[3].name, values: packedZeroPoints(q))
        }
    }

    /// Zero points as compressed-tensors stores them: per-tensor as int8; per
    /// channel/group packed along dim 0 (each column of the [rows, groups] matrix
    /// one bit stream) into [ceil(rows·b/32), groups] int32.
    public static func packedZeroPoints(_ q: QuantizedTensor) -> [UInt8] {
        if q.scheme.granularity == .tensor { return q.zeroPoints.map { UInt8(bitPattern: $0) } }
        let groups = q.layout.groupsPerRow, rows = q.rows
        let words = (rows * q.scheme.bits + 31) / 32
        var packed = [UInt32](repeating: 0, count: words * groups)
        var column = [Int8](repeating: 0, count: rows)
        var stream = [UInt32](repeating: 0, count: words)
        for g in 0..<groups {
            for r in 0..<rows { column[r] = q.zeroPoints[r * groups + g] }
            BitPacking.pack(column, bits: q.scheme.bits, into: &stream)
            for w in 0..<words { packed[w * groups + g] = stream[w] }
        }
        return packed.withUnsafeBytes { Array($0) }
    }

    /// Reads weight `name` as stored under `layout` (codes, scales and zero points as stored).
    public static func read(_ name: String, layout: PackedLayout, from stored: any TensorSource) throws -> QuantizedTensor {
        let raw = try stored.rawBytes(name + "_packed")
        let packed = [UInt32](unsafeUninitializedCapacity: raw.count / 4) { buf, n in
            UnsafeMutableRawBufferPointer(buf).copyMemory(from: raw)
            n = raw.count / 4
        }
        let scales = try stored.floats(name + "_scale")
        if layout.scheme.grid == .ggmlMinimum {
            let minima = try stored.floats(name + "_" + PackedLayout.minimumSuffix)
            return QuantizedTensor(layout: layout, packed: packed, scales: scales, zeroPoints: [], error: ErrorStatistics(), minima: minima)
        }
        var zeros: [Int8] = []
        if !layout.scheme.symmetric {
            let zname = name + "_zero_point"
            let zraw = try stored.rawBytes(zname)
            if layout.scheme.granularity == .tensor {
                zeros = [Int8(bitPattern: zraw.load(as: UInt8.self))]
            } else {
                let groups = layout.groupsPerRow, rows = layout.rows
                let words = (rows * layout.scheme.bits + 31) / 32
                zeros = [Int8](repeating: 0, count: rows * groups)
                var stream = [UInt32](repeating: 0, count: words)
                for g in 0..<groups {
                    for k in 0..<words { stream[k] = zraw.loadUnaligned(fromByteOffset: 4 * (k * groups + g), as: UInt32.self) }
                    let column = stream.withUnsafeBufferPointer { BitPacking.unpack($0, count: rows, bits: layout.scheme.bits) }
                    for r in 0..<rows { zeros[r * groups + g] = column[r] }
                }
            }
        }
        return QuantizedTensor(layout: layout, packed: packed, scales: scales, zeroPoints: zeros, error: ErrorStatistics())
    }
}
