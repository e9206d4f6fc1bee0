import ShrinkFormats
import ShrinkTensor

/// Which values share one scale (and zero point).
public enum Granularity: Hashable, Sendable, CustomStringConvertible {
    /// One scale for the whole tensor.
    case tensor
    /// One scale per output channel (row of a [out, in] weight).
    case channel
    /// One scale per run of `size` consecutive input elements of a row.
    case group(Int)

    /// compressed-tensors' strategy name.
    public var strategy: String {
        switch self {
        case .tensor: "tensor"
        case .channel: "channel"
        case .group: "group"
        }
    }

    public var groupSize: Int? { if case let .group(g) = self { g } else { nil } }

    public var description: String {
        switch self {
        case .tensor: "per-tensor"
        case .channel: "per-channel"
        case let .group(g): "group-\(g)"
        }
    }

    /// Values per scale along a row of `columns` (the whole row for channel/tensor).
    public func groupLength(columns: Int) -> Int {
        if case let .group(g) = self { return g }
        return columns
    }
}

/// A uniform quantization scheme: b-bit codes in [−2^(b−1), 2^(b−1)−1],
/// x̂ = (q − z)·s, with z = 0 when symmetric (the integer grid), or, on the
/// ggml minimum grid, x̂ = c·d + m with c = q + 2^(b−1) ∈ [0, 2^b − 1].
public struct QuantScheme: Hashable, Sendable {
    public static let supportedBits = 2...8

    /// Where the levels of a group lie.
    public enum Grid: String, Hashable, Sendable, CaseIterable {
        /// x̂ = (q − z)·s with an integer zero point z (compressed-tensors, GGUF Q4_0/Q8_0 when symmetric).
        case integer
        /// x̂ = c·d + m, c ∈ [0, 2^b − 1], d = (max − min)/(2^b − 1) and m = min, both rounded
        /// through F16: ggml's Q4_1/Q5_1 grid (ggml-quants.c quantize_row_q4_1_ref). The minimum
        /// is a float, which compressed-tensors' pack-quantized format cannot store.
        case ggmlMinimum = "ggml"
        /// x̂ = q·d, q ∈ [−2^(b−1), 2^(b−1) − 1], with d = v/−2^(b−1) for v the group's value of largest
        /// magnitude (so v itself is the level −2^(b−1)·d exactly), rounded through the scale dtype: ggml's
        /// Q4_0/Q5_0 rule (ggml-quants.c quantize_row_q4_0_ref). The levels are the integer grid's; only the
        /// scale differs (finer than compressed-tensors' max|x|/((2^b − 1)/2)), and it may be negative.
        case ggmlSigned = "ggml-sym"
    }

    public var bits: Int
    public var granularity: Granularity
    public var symmetric: Bool
    /// Storage type of the scales (F32, F16 or BF16). Codes are computed with the
    /// stored (rounded) scale, so dequantizing the file gives exactly what was measured.
    public var scaleDType: DType
    public var grid: Grid

    /// On the ggml grid the scheme is asymmetric and d, m are F16, whatever is passed.
    public init(bits: Int, granularity: Granularity, symmetric: Bool = true, scaleDType: DType = .f32, grid: Grid = .integer) {
        self.bits = bits; self.granularity = granularity; self.grid = grid
        self.symmetric = grid == .ggmlMinimum ? false : grid == .ggmlSigned ? true : symmetric
        self.scaleDType = grid == .ggmlMinimum ? .f16 : scaleDType
    }

    /// The C kernels' view of the grid (shrink_gptq.h sk_gptq_block): grid id, code range
    /// before the offset, and the offset that makes the stored signed code.
    var kernelGrid: (id: Int32, low: Float, high: Float, codeOffset: Float) {
        switch grid {
        case .integer, .ggmlSigned: (0, Float(qmin), Float(qmax), 0)
        case .ggmlMinimum: (1, 0, Float((1 << bits) - 1), Float(qmin))
        }
    }

    public var qmin: Int { -(1 << (bits - 1)) }
    public var qmax: Int { (1 << (bits - 1)) - 1 }

    /// Smallest positive scale, as compressed-tensors substitutes for a zero one
    /// (torch.finfo(dtype).eps), so an all-zero group never divides by zero.
    public var minimumScale: Float {
        switch scaleDType {
        case .f16: 0.0009765625
        case .bf16: 0.0078125
        default: Float.ulpOfOne
        }
    }

    /// Number of scales per row for a row of `columns` values.
    public func groupsPerRow(columns: Int) -> Int {
        switch granularity {
        case .tensor: 1
        case .channel: 1
        case let .group(g): columns / g
        }
    }

    /// Scale and zero point for a group whose values span [minimum, maximum],
    /// as compressed-tensors' `calculate_qparams` (v0.20.0) computes them with a
    /// min-max observer: the range is widened to include 0; symmetric uses
    /// max|x| / ((2^b − 1)/2); asymmetric uses (max − min)/(2^b − 1) and
    /// z = round(clamp(qmin − min/s, qmin, qmax)).
    ///
    /// On the ggml grid: (d, m) with d = (max − min)/(2^b − 1) and m = min, each rounded
    /// through F16 as the block stores them (no widening to include 0).
    public func parameters(minimum: Float, maximum: Float) -> (scale: Float, zeroPoint: Float) {
        if grid == .ggmlMinimum {
            let d = ElementCodec.roundTrip((maximum - minimum) / Float((1 << bits) - 1), through: .f16)
            return (d, ElementCodec.roundTrip(minimum, through: .f16))
        }
        if grid == .ggmlSigned {
            let extreme = abs(minimum) > abs(maximum) ? minimum : maximum
            var d = ElementCodec.roundTrip(extreme / -Float(1 << (bits - 1)), through: scaleDType)
            if d == 0 { d = minimumScale }
            return (d, 0)
        }
        let lo = min(minimum, 0), hi = max(maximum, 0)
        let range = Float(qmax - qmin)
        var scale: Float
        var zero: Float = 0
        if symmetric {
            scale = max(abs(lo), abs(hi)) / (range / 2)
        } else {
            scale = (hi - lo) / range
            if scale > 0 {
                zero = min(max(Float(qmin) - lo / scale, Float(qmin)), Float(qmax))
                zero = zero.rounded(.toNearestOrEven)
            }
        }
        scale = ElementCodec.roundTrip(scale, through: scaleDType)
        if scale == 0 { scale = minimumScale }
        return (scale, zero)
    }

    /// Average storage bits per weight including scales and zero points, for a
    /// [rows, columns] tensor.
    public func bitsPerWeight(rows: Int, columns: Int) -> Double {
        let layout = PackedLayout(scheme: self, rows: rows, columns: columns)
        return Double(layout.storedBytes * 8) / Double(rows * columns)
    }
}
