import ShrinkTensor

/// What can go wrong while quantizing or reading quantized weights. Each case means one thing and names the
/// tensor, flag or file with the fix.
public enum QuantizationError: UserFacingError, Equatable, Sendable {
    case nonFinite(tensor: String, count: Int)
    case unsupportedBits(flag: String, bits: Int)
    case badGroup(flag: String, group: Int, tensor: String, columns: Int)
    case notAMatrix(tensor: String, shape: Shape)
    /// A `--include`/`--keep` value that is not a regular expression.
    case badPattern(flag: String, pattern: String, reason: String)
    case badPercentile(flag: String, value: Double)
    /// A dtype flag (`--scale-dtype`, `--dtype`) given a type it does not take.
    case unsupportedDType(flag: String, dtype: String, allowed: String)
    /// A calibrated method (GPTQ, AWQ) was asked for without calibration data.
    case needsCalibration(tensor: String, method: Method)
    /// Calibration ran, but the model never fed this layer (it has no input statistics).
    case notCalibrated(tensor: String, method: Method)
    /// A packed tensor of a compressed checkpoint does not match its declared layout.
    case malformedPacked(tensor: String, detail: String)
    /// Raw bytes were asked of a weight that is stored packed (read it dequantized instead).
    case storedPacked(tensor: String)
    /// `quantization_config` of a compressed checkpoint's config.json is missing or not understood.
    case badQuantizationConfig(file: String, detail: String)
    /// EoRA's low-rank factors need the layer's input statistics, which calibration did not give.
    case lowRankNotCalibrated(tensor: String)

    public var description: String {
        switch self {
        case let .nonFinite(t, n): "tensor '\(t)': \(n) NaN or infinite value\(n == 1 ? "" : "s"); fix the checkpoint or exclude it with --keep '\(t)'"
        case let .unsupportedBits(f, b): "\(f) \(b) is out of range; use 2 to 8"
        case let .badGroup(f, g, t, c): g <= 0
            ? "\(f) \(g) is invalid; use a positive group size that divides the rows (e.g. 32, 64, 128)"
            : "\(f) \(g) does not divide the \(c) columns of '\(t)'; choose a divisor of \(c) or exclude it with --keep"
        case let .notAMatrix(t, s): "tensor '\(t)' has shape \(s); only 2-D weights can be quantized"
        case let .badPattern(f, p, r): "\(f) '\(p)' is not a valid regular expression: \(r)"
        case let .badPercentile(f, v): "\(f) \(v) is not a quantile in (0.5, 1]; use e.g. 0.999"
        case let .unsupportedDType(f, d, allowed): "\(f) '\(d)' is not supported here; use \(allowed)"
        case let .needsCalibration(t, m): "tensor '\(t)': \(m.rawValue) needs calibration: pass --calib DATA (a training split)"
        case let .notCalibrated(t, m): "tensor '\(t)': \(m.rawValue) needs its input statistics, but calibration never saw this layer run; exclude it with --keep"
        case let .malformedPacked(t, d): "tensor '\(t)': \(d)"
        case let .storedPacked(t): "tensor '\(t)' is stored packed; read it dequantized (floats), not as raw bytes"
        case let .badQuantizationConfig(f, d): "\(f): \(d)"
        case let .lowRankNotCalibrated(t): "tensor '\(t)': --low-rank-method eora needs its input statistics: pass --calib DATA, or use --low-rank-method svd"
        }
    }
}
