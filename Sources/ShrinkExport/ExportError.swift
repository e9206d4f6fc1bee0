import ShrinkTensor

/// What can stop an export. Each case names the file, tensor or flag and the fix.
public enum ExportError: UserFacingError, Equatable, Sendable {
    case badFlag(flag: String, value: String, reason: String)
    /// The chosen ONNX style has no encoding for this tensor's quantization.
    case styleCannotExpress(tensor: String, reason: String)
    case nonFinite(file: String, tensor: String, index: Int)
    /// The target format cannot hold something the model has.
    case unsupported(file: String, detail: String)
    /// A tensor on ggml's Q4_1/Q5_1 grid (float minima), which only a GGUF export can hold.
    case ggmlMinimumGrid(file: String, tensor: String, format: String)

    public var description: String {
        switch self {
        case let .badFlag(flag, v, r): "\(flag) \(v): \(r)"
        case let .styleCannotExpress(t, r): "tensor '\(t)' \(r); export it with --style qdq, or re-quantize it so it fits"
        case let .nonFinite(f, t, i): "\(f): tensor '\(t)' holds NaN or infinity at element \(i); export needs finite weights"
        case let .unsupported(f, d): "\(f): \(d)"
        case let .ggmlMinimumGrid(f, t, format):
            "\(f): tensor '\(t)' is on ggml's Q4_1/Q5_1 grid (float minima), which \(format) integer zero points cannot hold; export it with `shrink export gguf`, or quantize without --grid ggml"
        }
    }
}
