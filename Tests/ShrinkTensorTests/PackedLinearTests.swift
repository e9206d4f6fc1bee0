import ShrinkTensor
import ShrinkTestSupport
import Testing

@Suite struct PackedLinearTests {
    @Test(arguments: [(1, 1, 1), (5, 7, 3), (13, 64, 192), (100, 33, 17), (37, 128, 16)])
    func matchesADoublePrecisionProduct(rows: Int, inFeatures: Int, outFeatures: Int) {
        var rng = TestRandom(seed: UInt64(rows * 1000 + inFeatures))
        let x = rng.normals(rows * inFeatures), w = rng.normals(outFeatures * inFeatures), b = rng.normals(outFeatures)
        let layer = PackedLinear(weight: w, outFeatures: outFeatures, inFeatures: inFeatures, bias: b)
        let y = layer.apply(x, rows: rows)
        var worst = 0.0
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var s = Double(b[o])
                for k in 0..<inFeatures { s += Double(x[r * inFeatures + k]) * Double(w[o * inFeatures + k]) }
                worst = max(worst, abs(s - Double(y[r * outFeatures + o])) / max(1, abs(s)))
            }
        }
        #expect(worst < 1e-5)
    }

    @Test func accumulateAddsToTheOutput() {
        let layer = PackedLinear(weight: [1, 2, 3, 4], outFeatures: 2, inFeatures: 2)
        var y: [Float] = [10, 20]
        let x: [Float] = [1, 1]
        x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { layer.apply(xs.baseAddress!, rows: 1, into: $0.baseAddress!, accumulate: true) } }
        #expect(y == [13, 27])
    }
}
