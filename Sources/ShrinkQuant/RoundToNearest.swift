import CShrinkKernels
import ShrinkTensor

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
        let ggml = scheme.grid == .ggmlMinimum
        var zeros = [Int8](repeating: ggml ? 0 : Int8(tensorParams.zeroPoint), count: scheme.symmetric || ggml ? 0 : scaleCount)
        var minima = [Float](repeating: tensorParams.zeroPoint, count: ggml ? scaleCount : 0)
        let grid = scheme.kernelGrid
        let qmin = Float(scheme.qmin), qmax = Float(scheme.qmax)
        let perTensor = scheme.granularity == .tensor

        // Per-row error sums, merged in row order: the figures do not depend on how
        // rows were split over cores.
        var rowErrors = [ErrorStatistics](repeating: ErrorStatistics(), count: rows)
        let nonFiniteCounts: [Int] = packed.withUnsafeMutableBufferPointer { packedBuf in
            scales.withUnsafeMutableBufferPointer { scaleBuf in
                zeros.withUnsafeMutableBufferPointer { zeroBuf in
                  minima.withUnsafeMutableBufferPointer { minBuf in
                    rowErrors.withUnsafeMutableBufferPointer { errorBuf in
                        let p = UnsafeSendable((packedBuf, scaleBuf, zeroBuf, errorBuf, minBuf))
                        return ParallelReduce.map(count: rows, minChunk: chunkRows) { range -> Int in
                            let (packedOut, scaleOut, zeroOut, errorOut, minOut) = p.pointer
                            let codes = UnsafeMutablePointer<Int8>.allocate(capacity: columns)
                            let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, clipping.scratchBytes(groupLength)), alignment: 16)
                            let approx = UnsafeMutablePointer<Float>.allocate(capacity: ggml ? groupLength : 1)
                            defer { codes.deallocate(); scratch.deallocate(); approx.deallocate() }
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
                                        if ggml { minOut[r * groups + g] = params.zeroPoint } else if !scheme.symmetric { zeroOut[r * groups + g] = Int8(params.zeroPoint) }
                                    }
                                    if ggml {
                                        sk_quantize_affine_f32(row + start, groupLength, params.scale, params.zeroPoint, grid.high, grid.codeOffset, codes + start, approx)
                                        sk_error_accumulate(row + start, approx, groupLength, &acc)
                                        continue
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
        }
        let nonFinite = nonFiniteCounts.reduce(0, +)
        if nonFinite > 0 { throw QuantizationError.nonFinite(tensor: name, count: nonFinite) }
        var total = ErrorStatistics()
        for e in rowErrors { total.merge(e) }
        return QuantizedTensor(layout: layout, packed: packed, scales: scales, zeroPoints: zeros, error: total, minima: minima)
    }

    public static func quantize(_ weights: [Float], rows: Int, columns: Int, scheme: QuantScheme,
                                clipping: RangeClipping = .minMax, name: String) throws -> QuantizedTensor {
        try weights.withUnsafeBufferPointer { try quantize($0, rows: rows, columns: columns, scheme: scheme, clipping: clipping, name: name) }
    }
}
