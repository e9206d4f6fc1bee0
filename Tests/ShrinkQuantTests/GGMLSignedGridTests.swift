import Foundation
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// ggml's Q4_0/Q5_0 scale rule on Shrink's symmetric levels (`QuantScheme.Grid.ggmlSigned`), against a scalar
/// reference written from ggml-quants.c's quantize_row_q4_0_ref: d = v/−8 for the value v of largest magnitude.
@Suite struct GGMLSignedGridTests {
    /// ggml's d (through f16) and codes q = clamp(round(x/d), −8, 7) (Shrink rounds half-way cases to even; ggml up).
    static func reference(_ x: [Float], bits: Int) -> (d: Float, q: [Int]) {
        var amax: Float = 0, v: Float = 0
        for e in x where abs(e) > amax { amax = abs(e); v = e }
        let half = Float(1 << (bits - 1))
        let d = Float(Float16(v / -half))
        return (d, x.map { e in Int(max(-half, min(half - 1, (e / d).rounded(.toNearestOrEven)))) })
    }

    @Test(arguments: [4, 5, 8])
    func roundToNearestTakesGGMLsScaleAndPutsTheExtremeOnTheLowestLevel(bits: Int) throws {
        var g = TestRandom(seed: UInt64(bits))
        let rows = 6, columns = 64
        var w = g.normals(rows * columns, scale: 0.05)
        w[3] = 0.4   // a positive outlier: d < 0 in that group
        w[70] = -0.5 // a negative one: d > 0
        let scheme = QuantScheme(bits: bits, granularity: .group(32), scaleDType: .f16, grid: .ggmlSigned)
        #expect(scheme.symmetric)
        let q = try RoundToNearest.quantize(w, rows: rows, columns: columns, scheme: scheme, name: "w")
        let codes = q.codes(), values = q.dequantized()
        var negative = 0
        for r in 0..<rows {
            for k in 0..<2 {
                let start = r * columns + k * 32
                let group = Array(w[start..<(start + 32)])
                let (d, expected) = Self.reference(group, bits: bits)
                #expect(q.scales[r * 2 + k] == d)
                if d < 0 { negative += 1 }
                for j in 0..<32 {
                    #expect(Int(codes[start + j]) == expected[j])
                    #expect(values[start + j] == Float(codes[start + j]) * d)
                }
                // The extreme value sits on level −2^(b−1) exactly.
                let extreme = group.max { abs($0) < abs($1) }!
                let e = group.firstIndex(of: extreme)!
                #expect(Int(codes[start + e]) == -(1 << (bits - 1)))
            }
        }
        #expect(negative >= 1)
        // Finer than compressed-tensors' max|x|/((2^b − 1)/2) and no worse in error on Gaussian weights.
        let integer = try RoundToNearest.quantize(w, rows: rows, columns: columns,
                                                  scheme: QuantScheme(bits: bits, granularity: .group(32), scaleDType: .f16), name: "w")
        #expect(q.error.summary.relativeError <= integer.error.summary.relativeError * 1.02)
    }

    @Test func recipesCarryTheirGrid() throws {
        let choice = TensorChoice(bits: 4, granularity: .group(32), method: .gptq, grid: .ggmlSigned)
        let data = try JSONEncoder().encode(choice)
        #expect(String(decoding: data, as: UTF8.self).contains("\"grid\":\"ggml-sym\""))
        let back = try JSONDecoder().decode(TensorChoice.self, from: data)
        #expect(back == choice && back.scheme(scaleDType: .f16).grid == .ggmlSigned)
        let plain = try JSONEncoder().encode(TensorChoice(bits: 4, granularity: .group(32), method: .rtn))
        #expect(!String(decoding: plain, as: UTF8.self).contains("grid"))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TensorChoice.self, from: Data(#"{"bits":4,"strategy":"group","group_size":32,"method":"rtn","grid":"q9"}"#.utf8))
        }
    }
}
