import Foundation
import ShrinkFormats
import ShrinkTensor

/// `shrink dequantize`: a compressed checkpoint back to a plain safetensors file.
public enum DequantizeJob {
    public struct Summary: Codable, Sendable {
        public var output: String
        public var dequantizedTensors: Int
        public var copiedTensors: Int
        public var bytes: Int
    }

    /// Writes every tensor of `compressed` to `outputPath`: quantized weights as
    /// `dtype` (default: their original dtype from shrink.json, else F32), the rest
    /// unchanged. Streaming and atomic.
    @discardableResult
    public static func run(_ compressed: CompressedCheckpoint, outputPath: String, dtype: DType?,
                           progress: (any ProgressSink)? = nil) throws -> Summary {
        if let dtype, ![.f32, .f16, .bf16].contains(dtype) {
            throw QuantizationError.unsupportedDType(flag: "--dtype", dtype: dtype.flagName, allowed: "f32, f16 or bf16")
        }
        var declared: [TensorInfo] = []
        for name in compressed.tensorNames {
            var info = compressed.info(name)!
            if let w = compressed.packedWeights[name] { info.dtype = dtype ?? w.originalDType.flatMap { [.f32, .f16, .bf16].contains($0) ? $0 : nil } ?? .f32 }
            if compressed.sparseWeights[name] != nil, let dtype { info.dtype = dtype }
            declared.append(info)
        }
        let writer = try SafetensorsWriter(path: outputPath, tensors: declared, metadata: compressed.stored.metadata)
        var bytes = 0
        for (i, info) in declared.enumerated() {
            progress?.update(done: i, total: declared.count, item: info.name)
            if compressed.packedWeights[info.name] != nil || compressed.sparseWeights[info.name] != nil {
                let values = try compressed.floats(info.name)
                var out = [UInt8](repeating: 0, count: info.byteCount)
                values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { ElementCodec.encode(v, as: info.dtype, into: $0.baseAddress!) } }
                try writer.write(info.name, values: out)
            } else {
                try writer.write(info.name, bytes: compressed.rawBytes(info.name))
            }
            compressed.release(info.name)
            bytes += info.byteCount
        }
        try writer.commit()
        progress?.finish()
        let q = compressed.packedWeights.count + compressed.sparseWeights.count
        return Summary(output: outputPath, dequantizedTensors: q, copiedTensors: declared.count - q, bytes: bytes)
    }

    /// Writes every tensor of a GGUF file to `outputPath` (streaming, atomic): block-quantized
    /// tensors decoded (bit-identical to gguf-py's `dequantize`) as `dtype` (default F32), F32/F16/BF16
    /// tensors copied as stored unless `dtype` asks for a conversion. Shapes are row-major, names as in the
    /// file; the scalar metadata becomes the safetensors `__metadata__`.
    @discardableResult
    public static func run(gguf: GGUFReader, outputPath: String, dtype: DType?, progress: (any ProgressSink)? = nil) throws -> Summary {
        if let dtype, ![.f32, .f16, .bf16].contains(dtype) {
            throw QuantizationError.unsupportedDType(flag: "--dtype", dtype: dtype.flagName, allowed: "f32, f16 or bf16")
        }
        var declared: [TensorInfo] = []
        for name in gguf.tensorOrder {
            var info = try gguf.requireInfo(name)
            if let dtype { info.dtype = dtype }
            declared.append(info)
        }
        var meta: [String: String] = [:]
        for (k, v) in gguf.values where v.type != .array { meta[k] = v.summary }
        let writer = try SafetensorsWriter(path: outputPath, tensors: declared, metadata: meta)
        var bytes = 0, decoded = 0
        for (i, info) in declared.enumerated() {
            progress?.update(done: i, total: declared.count, item: info.name)
            let stored = gguf.tensor(info.name)!.type
            if stored.plainDType == info.dtype {
                try writer.write(info.name, bytes: gguf.blockBytes(info.name))
            } else {
                let values = try gguf.floats(info.name)
                if info.dtype == .f32 {
                    try writer.write(info.name, values: values)
                } else {
                    var out = [UInt8](repeating: 0, count: info.byteCount)
                    values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { ElementCodec.encode(v, as: info.dtype, into: $0.baseAddress!) } }
                    try writer.write(info.name, values: out)
                }
                if stored.isQuantized { decoded += 1 }
            }
            gguf.release(info.name)
            bytes += info.byteCount
        }
        try writer.commit()
        progress?.finish()
        return Summary(output: outputPath, dequantizedTensors: decoded, copiedTensors: declared.count - decoded, bytes: bytes)
    }
}
