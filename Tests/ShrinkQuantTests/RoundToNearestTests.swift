import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// A deliberately plain restatement of min-max round-to-nearest, element by
/// element, that the vectorized, threaded quantizer must match exactly.
struct ScalarReference {
    let scheme: QuantScheme

    func quantize(_ x: [Float], rows: Int, columns: Int) -> (codes: [Int8], scales: [Float], zeros: [Float]) {
        let g = scheme.granularity.groupLength(columns: columns)
        let range = Float((1 << scheme.bits) - 1)
        let qmin = Float(-(1 << (scheme.bits - 1))), qmax = Float((1 << (scheme.bits - 1)) - 1)
        func params(_ values: ArraySlice<Float>) -> (Float, Float) {
            let lo = min(values.min()!, 0), hi = max(values.max()!, 0)
            var s: Float, z: Float = 0
            if scheme.symmetric { s = max(-lo, hi) / (range / 2) } else {
                s = (hi - lo) / range
                if s > 0 { z = min(max(qmin - lo / s, qmin), qmax).rounded(.toNearestOrEven) }
            }
            if s == 0 { s = Float.ulpOfOne }
            return (s, z)
        }
        var codes = [Int8](repeating: 0, count: x.count), scales: [Float] = [], zeros: [Float] = []
        let whole = params(x[...])
        for r in 0..<rows {
            for start in stride(from: 0, to: columns, by: g) {
                let lo = r * columns + start
                let (s, z) = scheme.granularity == .tensor ? whole : params(x[lo..<(lo + g)])
                if scheme.granularity != .tensor { scales.append(s); zeros.append(z) }
                for i in lo..<(lo + g) {
                    codes[i] = Int8(min(max((x[i] / s + z).rounded(.toNearestOrEven), qmin), qmax))
                }
            }
        }
        if scheme.granularity == .tensor { scales = [whole.0]; zeros = [whole.1] }
        return (codes, scales, zeros)
    }
}

/// A weight with the cases that break quantizers: a zero row, a constant row,
/// an outlier, one-signed rows.
func awkwardWeight(rows: Int = 12, columns: Int = 192, seed: UInt64 = 7) -> [Float] {
    var rng = TestRandom(seed: seed)
    var w = rng.normals(rows * columns, scale: 0.05)
    for c in 0..<columns {
        w[1 * columns + c] = 0
        w[2 * columns + c] = 0.3
        w[4 * columns + c] = abs(w[4 * columns + c])
        w[5 * columns + c] = -abs(w[5 * columns + c])
    }
    w[3 * columns + 17] = 9
    return w
}

let allGranularities: [Granularity] = [.tensor, .channel, .group(32), .group(64), .group(48)]

@Suite struct RoundToNearestTests {
    @Test(arguments: [2, 3, 4, 5, 6, 7, 8], [true, false])
    func codesMatchTheScalarReferenceAtEveryGranularity(bits: Int, symmetric: Bool) throws {
        let (rows, columns) = (12, 192)
        let w = awkwardWeight(rows: rows, columns: columns)
        for granularity in allGranularities {
            let scheme = QuantScheme(bits: bits, granularity: granularity, symmetric: symmetric)
            let q = try RoundToNearest.quantize(w, rows: rows, columns: columns, scheme: scheme, name: "w")
            let ref = ScalarReference(scheme: scheme).quantize(w, rows: rows, columns: columns)
            #expect(q.codes() == ref.codes, "codes differ: \(bits)-bit \(granularity) sym=\(symmetric)")
            #expect(q.scales == ref.scales)
            if !symmetric { #expect(q.zeroPoints.map(Float.init) == ref.zeros) }

            // Inside the clip range [(qmin − z)s, (qmax − z)s] every value is within s/2.
            let x̂ = q.dequantized()
            let g = granularity.groupLength(columns: columns)
            for i in 0..<w.count {
                let k = granularity == .tensor ? 0 : (i / columns) * (columns / g) + (i % columns) / g
                let s = q.scales[k], z = symmetric ? 0 : Float(q.zeroPoints[k])
                let lo = (Float(scheme.qmin) - z) * s, hi = (Float(scheme.qmax) - z) * s
                if w[i] >= lo && w[i] <= hi {
                    // s/2, plus the float rounding of x/s and (q − z)·s (a few ulps of |x|).
                    #expect(abs(w[i] - x̂[i]) <= s / 2 + 4 * max(abs(w[i]), s).ulp, "value \(i) outside the s/2 bound")
                }
            }
        }
    }

    @Test func anAllZeroRowUsesTheSmallestScaleAndRestoresExactly() throws {
        let w = awkwardWeight()
        for symmetric in [true, false] {
            let q = try RoundToNearest.quantize(w, rows: 12, columns: 192, scheme: QuantScheme(bits: 4, granularity: .channel, symmetric: symmetric), name: "w")
            #expect(q.scales[1] == Float.ulpOfOne)
            let x̂ = q.dequantized()
            #expect(x̂[192..<384].allSatisfy { $0 == 0 })
            #expect(x̂.allSatisfy { $0.isFinite })
        }
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteWeightsAreAnErrorNamingTheTensor(_ bad: Float) {
        var w = awkwardWeight()
        w[500] = bad
        #expect(throws: QuantizationError.nonFinite(tensor: "layers.3.weight", count: 1)) {
            try RoundToNearest.quantize(w, rows: 12, columns: 192, scheme: QuantScheme(bits: 4, granularity: .group(32)), name: "layers.3.weight")
        }
    }

    @Test func halfPrecisionScalesAreUsedAsStored() throws {
        let w = awkwardWeight()
        let q = try RoundToNearest.quantize(w, rows: 12, columns: 192, scheme: QuantScheme(bits: 4, granularity: .group(64), scaleDType: .f16), name: "w")
        #expect(q.scales.allSatisfy { s in ElementCodec.roundTrip(s, through: .f16) == s })
        // Codes were computed with the stored (rounded) scale.
        let codes = q.codes()
        for i in 0..<w.count {
            let k = (i / 192) * 3 + (i % 192) / 64
            let expected = min(max((w[i] / q.scales[k]).rounded(.toNearestOrEven), -8), 7)
            #expect(Float(codes[i]) == expected)
        }
    }

    @Test func resultsDoNotDependOnTheNumberOfRows() throws {
        // Row-split threading must not change anything: quantizing rows one by one gives the same codes.
        let w = awkwardWeight(rows: 40, columns: 128, seed: 3)
        let scheme = QuantScheme(bits: 3, granularity: .group(32), symmetric: false)
        let whole = try RoundToNearest.quantize(w, rows: 40, columns: 128, scheme: scheme, name: "w").codes()
        var pieces: [Int8] = []
        for r in 0..<40 {
            pieces += try RoundToNearest.quantize(Array(w[(r * 128)..<((r + 1) * 128)]), rows: 1, columns: 128, scheme: scheme, name: "w").codes()
        }
        #expect(whole == pieces)
    }
}

@Suite struct PackingTests {
    @Test(arguments: 1...8)
    func unpackInvertsPackForAnyLength(bits: Int) {
        var rng = TestRandom(seed: UInt64(bits))
        for n in [1, 7, 31, 32, 33, 95, 1000] {
            let codes = (0..<n).map { _ in Int8(Int.random(in: -(1 << (bits - 1))...((1 << (bits - 1)) - 1), using: &rng)) }
            var words = [UInt32](repeating: 0xFFFF_FFFF, count: (n * bits + 31) / 32)
            BitPacking.pack(codes, bits: bits, into: &words)
            #expect(words.withUnsafeBufferPointer { BitPacking.unpack($0, count: n, bits: bits) } == codes)
            // Unused high bits of the last word are zero, so files are deterministic.
            let used = n * bits % 32
            if used != 0 { #expect(words.last! >> UInt32(used) == 0) }
        }
    }

    @Test func packingIsADenseLSBFirstBitStream() {
        // 3-bit codes 0..7 shifted by 4 → 4,5,6,7,0,1,2,3 written at bit offsets 0,3,6,…
        let codes: [Int8] = [0, 1, 2, 3, -4, -3, -2, -1, 0, 1, 2]
        var words = [UInt32](repeating: 0, count: 2)
        BitPacking.pack(codes, bits: 3, into: &words)
        var expected: UInt64 = 0
        for (i, c) in codes.enumerated() { expected |= UInt64(Int(c) + 4) << (3 * i) }
        #expect(words[0] == UInt32(truncatingIfNeeded: expected))
        #expect(words[1] == UInt32(truncatingIfNeeded: expected >> 32))
    }
}

/// Golden files written by compressed-tensors 0.20.0 itself (tools/make_pack_goldens.py).
@Suite struct CompressedTensorsGoldenTests {
    static let cases: [String] = [2, 3, 4, 5, 6, 8].flatMap { b in
        ["tensor", "channel", "g32"].flatMap { s in ["sym", "asym"].map { "b\(b)_\(s)_\($0)" } }
    }

    @Test(arguments: cases)
    func quantizerReproducesCompressedTensorsBitForBit(_ name: String) throws {
        let f = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/pack/\(name).safetensors"))
        let parts = name.split(separator: "_")
        let bits = Int(parts[0].dropFirst())!
        let granularity: Granularity = parts[1] == "tensor" ? .tensor : parts[1] == "channel" ? .channel : .group(32)
        let scheme = QuantScheme(bits: bits, granularity: granularity, symmetric: parts[2] == "sym")
        let w = try f.floats("weight")
        let shape = try f.integers("weight_shape")
        let q = try RoundToNearest.quantize(w, rows: Int(shape[0]), columns: Int(shape[1]), scheme: scheme, name: "weight")

        #expect(q.codes().map(Int64.init) == (try f.integers("codes")))
        #expect(q.scales == (try f.floats("weight_scale")))
        let packed = try f.rawBytes("weight_packed")
        #expect(q.packed.withUnsafeBytes { Array($0) } == Array(packed))
        #expect(q.layout.packedShape == f.info("weight_packed")!.shape)
        #expect(q.layout.scaleShape == f.info("weight_scale")!.shape)
        if !scheme.symmetric {
            #expect(q.layout.zeroPointInfo!.shape == f.info("weight_zero_point")!.shape)
            #expect(q.layout.zeroPointInfo!.dtype == f.info("weight_zero_point")!.dtype)
        }
        #expect(q.dequantized() == (try f.floats("dequantized")))
    }
}

@Suite struct RoundingEdgeTests {
    @Test func valuesOnAndNextToHalfIntegersRoundExactlyAsTrueDivision() throws {
        // x = (k + 0.5)·s and its float neighbours: the fast reciprocal path must defer
        // to division there, so codes equal clamp(roundeven(x / s)).
        let s: Float = 0.0371
        var w: [Float] = []
        for k in -9...8 {
            let x = (Float(k) + 0.5) * s
            w += [x, x.nextUp, x.nextDown, x.nextUp.nextUp, x.nextDown.nextDown]
        }
        w += Array(repeating: 0, count: 128 - w.count - 1) + [7.5 * s]  // max|x| = 7.5 s → scale s for int4
        let q = try RoundToNearest.quantize(w, rows: 1, columns: 128, scheme: QuantScheme(bits: 4, granularity: .tensor), name: "w")
        let scale = q.scales[0]
        let codes = q.codes()
        for i in 0..<w.count {
            let expected = min(max((w[i] / scale).rounded(.toNearestOrEven), -8), 7)
            #expect(Float(codes[i]) == expected, "x = \(w[i])")
        }
    }
}

extension RoundingEdgeTests {
    @Test(arguments: [2, 3, 4, 8])
    func manyRowsOfVaryingMagnitudeMatchTheScalarReference(bits: Int) throws {
        var rng = TestRandom(seed: UInt64(100 + bits))
        let rows = 300, columns = 256
        var w = rng.normals(rows * columns)
        for r in 0..<rows {
            let magnitude = Float(pow(10.0, Double(r % 9) - 4))
            for c in 0..<columns { w[r * columns + c] *= magnitude }
        }
        for symmetric in [true, false] {
            let scheme = QuantScheme(bits: bits, granularity: .group(32), symmetric: symmetric)
            let q = try RoundToNearest.quantize(w, rows: rows, columns: columns, scheme: scheme, name: "w")
            #expect(q.codes() == ScalarReference(scheme: scheme).quantize(w, rows: rows, columns: columns).codes)
        }
    }
}
