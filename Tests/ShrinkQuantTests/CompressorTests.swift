import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

@Suite struct CompressorTests {
    /// The C packing kernel against the bit-by-bit scalar reference, every width and odd lengths.
    @Test(arguments: Array(2...8))
    func packingMatchesTheScalarReference(bits: Int) {
        for n in [1, 7, 31, 32, 33, 100] {
            // Every code of [−2^(b−1), 2^(b−1)), in a scrambled order.
            let levels = 1 << bits, half = 1 << (bits - 1)
            let codes: [Int8] = (0..<n).map { (i: Int) -> Int8 in Int8((i * 7919 + n) % levels - half) }
            var words = [UInt32](repeating: 0, count: (n * bits + 31) / 32)
            BitPacking.pack(codes, bits: bits, into: &words)
            #expect(words == BitPacking.referencePack(codes, bits: bits), "\(bits) bits, \(n) values")
            let unpacked: [Int8] = words.withUnsafeBufferPointer { BitPacking.unpack($0, count: n, bits: bits) }
            #expect(unpacked == codes)
        }
    }

    @Test func eachMethodHasOneCompressorAndCalibratedOnesNeedStatistics() throws {
        let w: [Float] = (0..<(8 * 32)).map { (i: Int) -> Float in Float((i * 37) % 23) / 23 - 0.5 }
        let scheme = QuantScheme(bits: 4, granularity: .group(16))
        for method in Method.allCases {
            let c = method.compressor()
            #expect(c.method == method)
            if method == .gptq {
                #expect(throws: QuantizationError.notCalibrated(tensor: "w", method: .gptq)) {
                    try c.compress(w, rows: 8, columns: 32, scheme: scheme, statistics: nil, name: "w")
                }
            } else {
                let q = try c.compress(w, rows: 8, columns: 32, scheme: scheme, statistics: nil, name: "w")
                let clipping: RangeClipping = method == .percentile ? .percentile(0.999) : method == .mse ? .defaultMSE : .minMax
                #expect(q.packed == (try RoundToNearest.quantize(w, rows: 8, columns: 32, scheme: scheme, clipping: clipping, name: "w")).packed)
            }
        }
    }
}
