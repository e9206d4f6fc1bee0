import FuzzSupport
import ShrinkFormats


/// libFuzzer target: the ggml block dequantizers on arbitrary bytes. The first byte picks the type (of
/// `GGMLType.allCases`); the rest is decoded as whole blocks by the dispatched (AVX2 when present) path and by
/// the scalar reference, which must agree bit for bit (NaN payloads included).
func fuzzGGMLBlocks(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size >= 1, let data else { return 0 }
    let all = GGMLType.allCases
    let type = all[Int(data.pointee) % all.count]
    let blocks = UnsafeRawBufferPointer(start: UnsafeRawPointer(data + 1), count: size - 1)
    let fast = type.dequantize(blocks)
    let reference = type.dequantize(blocks, reference: true)
    if fast.count != reference.count || fast.count != (size - 1) / type.bytesPerBlock * type.blockSize {
        fatalError("\(type.name): \(fast.count) vs \(reference.count) values from \(size - 1) bytes")
    }
    for i in fast.indices where fast[i].bitPattern != reference[i].bitPattern && !(fast[i].isNaN && reference[i].isNaN) {
        fatalError("\(type.name): value \(i) is \(fast[i]) on the fast path, \(reference[i]) in the reference")
    }
    return 0
}

fuzzMain(fuzzGGMLBlocks)
