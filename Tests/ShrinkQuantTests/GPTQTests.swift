import ShrinkFormats
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// Inputs with correlated, unevenly scaled channels, and their Hessian.
func correlatedInputs(rows: Int, columns: Int, seed: UInt64) -> (x: [Float], h: [Double]) {
    var rng = TestRandom(seed: seed)
    let base = rng.normals(rows * 4)
    var x = rng.normals(rows * columns, scale: 0.3)
    for r in 0..<rows {
        for j in 0..<columns { x[r * columns + j] += base[r * 4 + j % 4] * Float(1 + j % 7) }
    }
    let stats = LayerStatistics(columns: columns)
    x.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: rows) }
    return (x, stats.hessian)
}

@Suite struct GPTQTests {
    @Test func withAnIdentityHessianGPTQIsRoundToNearest() throws {
        var rng = TestRandom(seed: 4)
        let w = rng.normals(16 * 64, scale: 0.1)
        var h = [Double](repeating: 0, count: 64 * 64)
        for i in 0..<64 { h[i * 64 + i] = 1 }
        for granularity in [Granularity.channel, .group(32), .tensor] {
            let scheme = QuantScheme(bits: 4, granularity: granularity, symmetric: false)
            let g = try GPTQ.quantize(w, rows: 16, columns: 64, hessian: h, scheme: scheme, name: "w")
            let r = try RoundToNearest.quantize(w, rows: 16, columns: 64, scheme: scheme, name: "w")
            #expect(g.codes() == r.codes(), "\(granularity)")
            #expect(g.scales == r.scales)
        }
    }

    @Test(arguments: [(4, Granularity.group(32), true), (3, Granularity.channel, false), (4, Granularity.channel, true)])
    func gptqLowersTheLayerOutputErrorBelowRoundToNearest(bits: Int, granularity: Granularity, actOrder: Bool) throws {
        let (_, h) = correlatedInputs(rows: 512, columns: 128, seed: 11)
        var rng = TestRandom(seed: 12)
        let w = rng.normals(48 * 128, scale: 0.05)
        let scheme = QuantScheme(bits: bits, granularity: granularity, symmetric: true)
        let g = try GPTQ.quantize(w, rows: 48, columns: 128, hessian: h, scheme: scheme, options: .init(actOrder: actOrder), name: "w")
        let r = try RoundToNearest.quantize(w, rows: 48, columns: 128, scheme: scheme, name: "w")
        let eg = relativeOutputError(w, g.dequantized(), rows: 48, columns: 128, hessian: h)
        let er = relativeOutputError(w, r.dequantized(), rows: 48, columns: 128, hessian: h)
        #expect(eg < 0.8 * er, "GPTQ \(eg) vs RTN \(er)")
    }

    @Test func hessianAccumulationMatchesADirectSum() {
        var rng = TestRandom(seed: 2)
        let x = rng.normals(37 * 5)
        let s = LayerStatistics(columns: 5)
        x.withUnsafeBufferPointer { s.add($0.baseAddress!, rows: 20); s.add($0.baseAddress! + 20 * 5, rows: 17) }
        let h = s.hessian
        for i in 0..<5 {
            for j in 0..<5 {
                var d = 0.0
                for r in 0..<37 { d += Double(x[r * 5 + i]) * Double(x[r * 5 + j]) }
                #expect(abs(h[i * 5 + j] - 2 * d / 37) < 1e-5 * max(1, abs(d)))
            }
        }
    }
}


/// The PyTorch reference GPTQ (tools/reference/gptq.py) on a fixed layer
/// (Tests/Fixtures/calib, made by tools/reference/make_calib_goldens.py).
@Suite struct GPTQReferenceTests {
    static let cases: [(String, Int, Granularity, Bool, Bool, Int)] = [
        ("gptq_w4_g32_sym", 4, .group(32), true, false, 64),
        ("gptq_w3_channel_asym", 3, .channel, false, false, 128),
        ("gptq_w4_channel_sym_actorder", 4, .channel, true, true, 32),
        ("gptq_w4_g32_sym_actorder", 4, .group(32), true, true, 128),
    ]

    @Test(arguments: cases.map(\.0))
    func matchesThePyTorchReferenceWithinOnePercentOfItsOutputError(_ name: String) throws {
        let c = Self.cases.first { $0.0 == name }!
        let layer = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/calib/layer.safetensors"))
        let golden = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/calib/\(name).safetensors"))
        let w = try layer.floats("W")
        let hRaw = try layer.rawBytes("H")
        let h = (0..<(128 * 128)).map { hRaw.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) }
        let q = try GPTQ.quantize(w, rows: 48, columns: 128, hessian: h, scheme: QuantScheme(bits: c.1, granularity: c.2, symmetric: c.3),
                                  options: .init(blockSize: c.5, dampening: 0.01, actOrder: c.4), name: name)
        let ours = relativeOutputError(w, q.dequantized(), rows: 48, columns: 128, hessian: h)
        let theirs = relativeOutputError(w, try golden.floats("dequantized"), rows: 48, columns: 128, hessian: h)
        #expect(abs(ours - theirs) <= 0.01 * theirs, "Shrink \(ours) vs reference \(theirs)")
        let goldenCodes = try golden.integers("codes")
        let same = zip(q.codes(), goldenCodes).filter { Int64($0) == $1 }.count
        #expect(Double(same) / Double(goldenCodes.count) > 0.99, "\(same) of \(goldenCodes.count) codes equal")
        // Scales of groups ranged from updated weights may differ in the last bits: the
        // reference sums the lazy block update in a BLAS matmul, Shrink row by row.
        let scales = try golden.floats("scale")
        #expect(zip(q.scales, scales).allSatisfy { abs($0 - $1) <= 1e-5 * abs($1) })
    }
}

@Suite struct AWQReferenceTests {
    @Test func awqPicksTheReferenceExponentAndMatchesItsError() throws {
        let layer = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/calib/layer.safetensors"))
        let golden = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/calib/awq_w4_g32_sym.safetensors"))
        let w = try layer.floats("W"), x = try layer.floats("X")
        let stats = LayerStatistics(columns: 128)
        x.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: 512) }
        let r = try AWQ.search(w, rows: 48, columns: 128, statistics: stats, scheme: QuantScheme(bits: 4, granularity: .group(32)), name: "W")
        #expect(abs(r.alpha - Double(try golden.floats("alpha")[0])) < 1e-6)
        #expect(r.quantized[0].codes().map(Int64.init) == (try golden.integers("codes")))
        let theirs = try golden.floats("error")[0]
        #expect(abs(r.outputError - Double(theirs)) <= 0.01 * Double(theirs))
        let rtn = try RoundToNearest.quantize(w, rows: 48, columns: 128, scheme: QuantScheme(bits: 4, granularity: .group(32)), name: "W")
        #expect(r.outputError < relativeOutputError(w, rtn.dequantized(), rows: 48, columns: 128, hessian: stats.hessian))
    }
}
