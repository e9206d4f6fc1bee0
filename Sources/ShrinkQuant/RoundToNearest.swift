import CShrinkKernels
import ShrinkTensor

/// A weight matrix quantized with one scheme, held in its packed file form.
public struct QuantizedTensor: Sendable {
    public var layout: PackedLayout
    /// rows × wordsPerRow words: each row one dense bit stream (compressed-tensors' pack_to_int32).
    public var packed: [UInt32]
    /// Stored scales as Float (already rounded to the scheme's scale dtype), rows × groupsPerRow
    /// (1 for per-tensor).
    public var scales: [Float]
    /// Zero points, same layout as `scales`; empty when symmetric.
    public var zeroPoints: [Int8]
    /// Reconstruction error of the whole tensor.
    public var error: ErrorStatistics

    public var scheme: QuantScheme { layout.scheme }
    public var rows: Int { layout.rows }
    public var columns: Int { layout.columns }
}

public enum QuantizationError: UserFacingError, Equatable, Sendable {
    case nonFinite(tensor: String, count: Int)
    case unsupportedBits(flag: String, bits: Int)
    case badGroup(flag: String, group: Int, tensor: String, columns: Int)
    case notAMatrix(tensor: String, shape: Shape)
    case badPattern(flag: String, pattern: String, reason: String)
    case malformedPacked(tensor: String, detail: String)

    public var description: String {
        switch self {
        case let .nonFinite(t, n): "tensor '\(t)': \(n) NaN or infinite value\(n == 1 ? "" : "s"); fix the checkpoint or exclude it with --keep '\(t)'"
        case let .unsupportedBits(f, b): "\(f) \(b) is out of range; use 2 to 8"
        case let .badGroup(f, g, t, c): g <= 0
            ? "\(f) \(g) is invalid; use a positive group size that divides the rows (e.g. 32, 64, 128)"
            : "\(f) \(g) does not divide the \(c) columns of '\(t)'; choose a divisor of \(c) or exclude it with --keep"
        case let .notAMatrix(t, s): "tensor '\(t)' has shape \(s); only 2-D weights can be quantized"
        case let .badPattern(f, p, r): "\(f) '\(p)' is not a valid regular expression: \(r)"
        case let .malformedPacked(t, d): "tensor '\(t)': \(d)"
        }
    }
}

/// Round-to-nearest quantization with min-max ranges (the compressed-tensors
/// "minmax" observer), at any granularity, over both cores.
public enum RoundToNearest {
    /// Quantizes a row-major [rows, columns] matrix.
    /// - Throws: `QuantizationError.nonFinite` naming `name` if any value is NaN or ±Inf.
    public static func quantize(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int,
                                scheme: QuantScheme, clipping: RangeClipping = .minMax, name: String) throws -> QuantizedTensor {
        precondition(weights.count == rows * columns)
        let input = UnsafeSendable(weights)
        let layout = PackedLayout(scheme: scheme, rows: rows, columns: columns)
        let groupLength = scheme.granularity.groupLength(columns: columns)
        let groups = layout.groupsPerRow
        let words = layout.wordsPerRow

        let chunkRows = max(1, 16384 / max(1, columns))
        // Per-tensor scales need the global range first; that pass also finds NaN/Inf.
        // Otherwise each group's range pass checks its own values.
        var tensorParams = (scale: Float(1), zeroPoint: Float(0))
        if scheme.granularity == .tensor {
            let parts = ParallelReduce.map(count: rows, minChunk: chunkRows) { range -> (Float, Float, Int) in
                var mn: Float = 0, mx: Float = 0
                let bad = sk_minmax_f32(input.pointer.baseAddress! + range.lowerBound * columns, range.count * columns, &mn, &mx)
                return (mn, mx, bad)
            }
            let nonFinite = parts.reduce(0) { $0 + $1.2 }
            if nonFinite > 0 { throw QuantizationError.nonFinite(tensor: name, count: nonFinite) }
            var (lo, hi) = (parts.map(\.0).min() ?? 0, parts.map(\.1).max() ?? 0)
            if clipping != .minMax {
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, clipping.scratchBytes(rows * columns)), alignment: 16)
                defer { scratch.deallocate() }
                (lo, hi) = clipping.range(weights.baseAddress!, count: rows * columns, lo: lo, hi: hi, scheme: scheme, scratch: scratch)
            }
            tensorParams = scheme.parameters(minimum: lo, maximum: hi)
        }

        let wholeTensor = tensorParams
        let scaleCount = scheme.granularity == .tensor ? 1 : rows * groups
        var packed = [UInt32](repeating: 0, count: rows * words)
        var scales = [Float](repeating: tensorParams.scale, count: scaleCount)
        var zeros = [Int8](repeating: Int8(tensorParams.zeroPoint), count: scheme.symmetric ? 0 : scaleCount)
        let qmin = Float(scheme.qmin), qmax = Float(scheme.qmax)
        let perTensor = scheme.granularity == .tensor

        // Per-row error sums, merged in row order: the figures do not depend on how
        // rows were split over cores.
        var rowErrors = [ErrorStatistics](repeating: ErrorStatistics(), count: rows)
        let nonFiniteCounts: [Int] = packed.withUnsafeMutableBufferPointer { packedBuf in
            scales.withUnsafeMutableBufferPointer { scaleBuf in
                zeros.withUnsafeMutableBufferPointer { zeroBuf in
                    rowErrors.withUnsafeMutableBufferPointer { errorBuf in
                        let p = UnsafeSendable((packedBuf, scaleBuf, zeroBuf, errorBuf))
                        return ParallelReduce.map(count: rows, minChunk: chunkRows) { range -> Int in
                            let (packedOut, scaleOut, zeroOut, errorOut) = p.pointer
                            let codes = UnsafeMutablePointer<Int8>.allocate(capacity: columns)
                            let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, clipping.scratchBytes(groupLength)), alignment: 16)
                            defer { codes.deallocate(); scratch.deallocate() }
                            var nonFinite = 0
                            for r in range {
                                let row = input.pointer.baseAddress! + r * columns
                                var acc = sk_error_acc()
                                for g in 0..<groups {
                                    let start = g * groupLength
                                    var params = wholeTensor
                                    if !perTensor {
                                        var mn: Float = 0, mx: Float = 0
                                        let bad = sk_minmax_f32(row + start, groupLength, &mn, &mx)
                                        if bad > 0 { nonFinite += bad; continue }
                                        if clipping != .minMax {
                                            (mn, mx) = clipping.range(row + start, count: groupLength, lo: mn, hi: mx, scheme: scheme, scratch: scratch)
                                        }
                                        params = scheme.parameters(minimum: mn, maximum: mx)
                                        scaleOut[r * groups + g] = params.scale
                                        if !scheme.symmetric { zeroOut[r * groups + g] = Int8(params.zeroPoint) }
                                    }
                                    sk_quantize_error_f32(row + start, groupLength, params.scale, params.zeroPoint, qmin, qmax, codes + start, &acc)
                                }
                                sk_pack_bits(codes, columns, Int32(scheme.bits), packedOut.baseAddress! + r * words)
                                errorOut[r] = ErrorStatistics(acc)
                            }
                            return nonFinite
                        }
                    }
                }
            }
        }
        let nonFinite = nonFiniteCounts.reduce(0, +)
        if nonFinite > 0 { throw QuantizationError.nonFinite(tensor: name, count: nonFinite) }
        var total = ErrorStatistics()
        for e in rowErrors { total.merge(e) }
        return QuantizedTensor(layout: layout, packed: packed, scales: scales, zeroPoints: zeros, error: total)
    }

    public static func quantize(_ weights: [Float], rows: Int, columns: Int, scheme: QuantScheme,
                                clipping: RangeClipping = .minMax, name: String) throws -> QuantizedTensor {
        try weights.withUnsafeBufferPointer { try quantize($0, rows: rows, columns: columns, scheme: scheme, clipping: clipping, name: name) }
    }
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

    /// x̂ = (q − z)·s for the whole matrix, row-major, over both cores.
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        out.withUnsafeMutableBufferPointer { o in
            let dst = UnsafeSendable(o)
            Dequantizer.dequantize(layout: layout, packed: packed, scales: scales, zeroPoints: zeroPoints, into: dst.pointer)
        }
        return out
    }
}

/// Dequantization of packed weights, shared by `QuantizedTensor` and the file reader.
public enum Dequantizer {
    public static func dequantize(layout: PackedLayout, packed: [UInt32], scales: [Float], zeroPoints: [Int8],
                                  into out: UnsafeMutableBufferPointer<Float>) {
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
