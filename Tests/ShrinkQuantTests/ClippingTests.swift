import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// Squared error of quantizing `x` with the range [lo, hi], element by element.
func bruteForceError(_ x: [Float], lo: Float, hi: Float, scheme: QuantScheme) -> Double {
    let p = scheme.parameters(minimum: lo, maximum: hi)
    return x.reduce(0.0) { e, v in
        let q = min(max((v / p.scale + p.zeroPoint).rounded(.toNearestOrEven), Float(scheme.qmin)), Float(scheme.qmax))
        let d = Double(v - (q - p.zeroPoint) * p.scale)
        return e + d * d
    }
}

@Suite struct ClippingTests {
    @Test(arguments: [3, 4], [true, false])
    func mseClippingFindsTheBruteForceOptimumOfItsGrid(bits: Int, symmetric: Bool) throws {
        var rng = TestRandom(seed: UInt64(bits * 10 + (symmetric ? 1 : 0)))
        var w = rng.normals(8 * 128, scale: 0.02)
        for r in 0..<8 { w[r * 128 + 5] = 0.3 }  // an outlier per row makes clipping pay
        let scheme = QuantScheme(bits: bits, granularity: .channel, symmetric: symmetric)
        let clipped = try RoundToNearest.quantize(w, rows: 8, columns: 128, scheme: scheme, clipping: .mse(grid: 100, maxShrink: 0.8), name: "w")
        let plain = try RoundToNearest.quantize(w, rows: 8, columns: 128, scheme: scheme, name: "w")
        #expect(clipped.error.sumErrorSquares < plain.error.sumErrorSquares)
        for r in 0..<8 {
            let row = Array(w[(r * 128)..<((r + 1) * 128)])
            let lo = row.min()!, hi = row.max()!
            let best = (0...80).map { i -> Double in
                let s = Float(1 - Double(i) / 100)
                return bruteForceError(row, lo: lo * s, hi: hi * s, scheme: scheme)
            }.min()!
            var rowError = ErrorStatistics()
            let restored = clipped.dequantized()
            rowError.add(reference: row, output: Array(restored[(r * 128)..<((r + 1) * 128)]))
            #expect(abs(rowError.sumErrorSquares - best) <= 1e-6 * best + 1e-12, "row \(r)")
        }
    }

    @Test func percentileClippingUsesTheRequestedQuantileOfMagnitudes() throws {
        // 1000 values 1…1000 (·1e-3): the 0.99 quantile of |x| is 0.991 (index ⌈0.99·999⌉ = 990).
        let w = (1...1000).map { Float($0) * 1e-3 }
        let q = try RoundToNearest.quantize(w, rows: 1, columns: 1000, scheme: QuantScheme(bits: 8, granularity: .channel),
                                            clipping: .percentile(0.99), name: "w")
        #expect(q.scales[0] == w[990] / 127.5)
        #expect(q.dequantized().max()! <= 0.991 * (1 + 1e-6))
    }
}
