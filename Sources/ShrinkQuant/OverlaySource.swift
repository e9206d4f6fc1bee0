import ShrinkFormats
import ShrinkTensor

/// A checkpoint with some tensors replaced in memory (F32), e.g. by their
/// quantize-dequantize round trip: lets a sweep evaluate many recipes without
/// writing files.
public final class OverlaySource: TensorSource, @unchecked Sendable {
    public let base: any TensorSource
    public var location: String { base.location }
    public var tensorNames: [String] { base.tensorNames }
    public var metadata: [String: String] { base.metadata }
    private var replaced: [String: UnsafeMutableRawBufferPointer] = [:]
    /// Replacements held quantized, and the f32 values of those being read (until `release`).
    private var quantized: [String: QuantizedTensor] = [:]
    private var materialized: [String: UnsafeMutableRawBufferPointer] = [:]

    public init(base: any TensorSource) { self.base = base }

    deinit { for (_, b) in replaced { b.deallocate() }; for (_, b) in materialized { b.deallocate() } }

    /// Replaces `name` by `values` (same element count), stored as F32.
    public func replace(_ name: String, with values: [Float]) throws {
        let info = try base.requireInfo(name)
        precondition(values.count == info.elementCount, "replacement for \(name) has the wrong size")
        replaced[name]?.deallocate()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: values.count * 4, alignment: 16)
        values.withUnsafeBytes { buffer.copyMemory(from: $0) }
        replaced[name] = buffer
    }

    /// Replaces `name` by the round trip of `q`, held quantized: it reads as F32 (`dequantized()`), materialized
    /// only while read (`rawBytes` until `release`).
    public func replace(_ name: String, with q: QuantizedTensor) throws {
        let info = try base.requireInfo(name)
        precondition(q.rows * q.columns == info.elementCount, "replacement for \(name) has the wrong size")
        restore(name)
        quantized[name] = q
    }

    /// Forgets the replacement of `name` (its memory is freed; the base's tensor shows again).
    public func restore(_ name: String) {
        replaced.removeValue(forKey: name)?.deallocate()
        materialized.removeValue(forKey: name)?.deallocate()
        quantized[name] = nil
    }

    /// Whether `name` is replaced in memory.
    public func isReplaced(_ name: String) -> Bool { replaced[name] != nil || quantized[name] != nil }

    public func info(_ name: String) -> TensorInfo? {
        guard var i = base.info(name) else { return nil }
        if isReplaced(name) { i.dtype = .f32 }
        return i
    }

    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        if let b = replaced[name] ?? materialized[name] { return UnsafeRawBufferPointer(b) }
        if let q = quantized[name] {
            let values = q.dequantized()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: values.count * 4, alignment: 16)
            values.withUnsafeBytes { buffer.copyMemory(from: $0) }
            materialized[name] = buffer
            return UnsafeRawBufferPointer(buffer)
        }
        return try base.rawBytes(name)
    }

    public func release(_ name: String) {
        if let b = materialized.removeValue(forKey: name) { b.deallocate(); return }
        if !isReplaced(name) { base.release(name) }
    }

    public func floats(_ name: String) throws -> [Float] {
        if let b = replaced[name] ?? materialized[name] { return Array(b.bindMemory(to: Float.self)) }
        if let q = quantized[name] { return q.dequantized() }
        return try base.floats(name)
    }
}
