import ShrinkFormats
import ShrinkTensor

/// Where a model's files are, from whatever the user named: a weights file (`DIR/model.safetensors`), a shard
/// index, the directory holding them, a compressed directory written by `shrink quantize`, or a GGUF file. The
/// config is the `config.json` beside the weights (a GGUF file carries its own, in its metadata).
public struct ModelLocation: Sendable, Equatable {
    /// The path as given (a file or a directory).
    public let path: String
    /// The directory holding `config.json` and the weights.
    public let directory: String
    /// A compressed-tensors pack-quantized directory (its weights are dequantized on read).
    public let isCompressed: Bool
    /// A GGUF file (its block-quantized weights are dequantized on read).
    public let isGGUF: Bool

    public init(_ path: String) {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.path = trimmed
        directory = FileSystem.isDirectory(trimmed) ? trimmed : FileSystem.directoryOf(trimmed)
        isGGUF = !FileSystem.isDirectory(trimmed) && GGUFReader.looksLikeGGUF(trimmed)
        isCompressed = !isGGUF && CompressedCheckpoint.isCompressed(directory)
    }

    public var configPath: String { directory + "/config.json" }

    /// The weights as floats: a compressed directory dequantizes on read.
    public func openWeights() throws -> any TensorSource {
        isCompressed ? try CompressedCheckpoint(directory: directory) : try Checkpoint.open(path)
    }

    /// The tensors as stored (a compressed directory's packed codes, scales and zero points).
    public func openStored() throws -> any TensorSource {
        isCompressed ? try CompressedCheckpoint(directory: directory).stored : try Checkpoint.open(path)
    }
}
