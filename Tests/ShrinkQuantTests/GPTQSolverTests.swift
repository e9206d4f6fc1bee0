import Foundation
import ShrinkFormats
@testable import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// The C solver (shrink_gptq.h, GPTQ.quantize) against the scalar Swift reference
/// (GPTQ.referenceQuantize), the lean statistics against a direct sum, and the ggml grid.
@Suite struct GPTQSolverTests {
    /// Codes may differ where a value sits within rounding of a level: the two paths sum
    /// the lazy update in different orders (a GEMM with FMA against row by row) and reach
    /// U by different factorizations (both double). Named tolerances:
    static let minimumEqualCodes = 0.995
    static let outputErrorTolerance = 0.01

    struct Case: CustomStringConvertible, Sendable {
        var bits: Int, granularity: Granularity, symmetric: Bool, actOrder: Bool, grid: QuantScheme.Grid, block: Int
        var description: String { "w\(bits) \(granularity) \(symmetric ? "sym" : "asym") \(actOrder ? "act" : "") \(grid) b\(block)" }
    }

    static let cases: [Case] = [
        Case(bits: 4, granularity: .group(32), symmetric: true, actOrder: false, grid: .integer, block: 128),
        Case(bits: 3, granularity: .channel, symmetric: false, actOrder: false, grid: .integer, block: 64),
        Case(bits: 4, granularity: .channel, symmetric: true, actOrder: true, grid: .integer, block: 128),
        Case(bits: 4, granularity: .group(64), symmetric: true, actOrder: true, grid: .integer, block: 32),
        Case(bits: 8, granularity: .tensor, symmetric: false, actOrder: false, grid: .integer, block: 128),
        Case(bits: 4, granularity: .group(32), symmetric: false, actOrder: false, grid: .ggmlMinimum, block: 128),
        Case(bits: 5, granularity: .group(32), symmetric: false, actOrder: true, grid: .ggmlMinimum, block: 48),
        // A group longer than a block: its range is taken from columns the lazy update has not reached.
        Case(bits: 2, granularity: .group(160), symmetric: false, actOrder: false, grid: .integer, block: 32),
    ]

    @Test(arguments: cases)
    func theCSolverAgreesWithTheScalarReference(_ c: Case) throws {
        let n = 320, rows = 37
        let (_, h) = correlatedInputs(rows: 700, columns: n, seed: 21)
        var rng = TestRandom(seed: 22)
        let w = rng.normals(rows * n, scale: 0.05)
        let scheme = QuantScheme(bits: c.bits, granularity: c.granularity, symmetric: c.symmetric, grid: c.grid)
        let options = GPTQ.Options(blockSize: c.block, dampening: 0.01, actOrder: c.actOrder)
        let fast = try GPTQ.quantize(w, rows: rows, columns: n, hessian: h, scheme: scheme, options: options, name: "w")
        let ref = try GPTQ.referenceQuantize(w, rows: rows, columns: n, hessian: h, scheme: scheme, options: options, name: "w")
        let same = zip(fast.codes(), ref.codes()).filter { $0 == $1 }.count
        #expect(Double(same) >= Self.minimumEqualCodes * Double(rows * n), "\(same) of \(rows * n) codes equal")
        let ef = relativeOutputError(w, fast.dequantized(), rows: rows, columns: n, hessian: h)
        let er = relativeOutputError(w, ref.dequantized(), rows: rows, columns: n, hessian: h)
        #expect(abs(ef - er) <= Self.outputErrorTolerance * er, "fast \(ef) vs reference \(er)")
        #expect(fast.scales.count == ref.scales.count && fast.minima.count == ref.minima.count && fast.zeroPoints.count == ref.zeroPoints.count)
        if c.actOrder || c.granularity.groupSize == nil {
            // Static ranges come from the original weights: identical.
            #expect(fast.scales == ref.scales)
            #expect(fast.minima == ref.minima)
            #expect(fast.zeroPoints == ref.zeroPoints)
        }
    }

    @Test func deadInputsAreZeroedAndTheStatisticsPathEqualsTheHessianPath() throws {
        let n = 96, rows = 20
        var (x, _) = correlatedInputs(rows: 300, columns: n, seed: 5)
        for r in 0..<300 { x[r * n + 7] = 0; x[r * n + 50] = 0 }   // two inputs never fire
        let stats = LayerStatistics(columns: n)
        x.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: 300) }
        var rng = TestRandom(seed: 6)
        let w = rng.normals(rows * n, scale: 0.05)
        let scheme = QuantScheme(bits: 4, granularity: .group(32), symmetric: true)
        for act in [false, true] {
            let options = GPTQ.Options(actOrder: act)
            let a = try GPTQ.quantize(w, rows: rows, columns: n, statistics: stats, scheme: scheme, options: options, name: "w")
            let b = try GPTQ.quantize(w, rows: rows, columns: n, hessian: stats.hessian, scheme: scheme, options: options, name: "w")
            let ref = try GPTQ.referenceQuantize(w, rows: rows, columns: n, hessian: stats.hessian, scheme: scheme, options: options, name: "w")
            #expect(a.codes() == b.codes())
            #expect(a.scales == b.scales)
            let dq = a.dequantized()
            #expect((0..<rows).allSatisfy { dq[$0 * n + 7] == 0 && dq[$0 * n + 50] == 0 })
            let same = zip(a.codes(), ref.codes()).filter { $0 == $1 }.count
            #expect(Double(same) >= Self.minimumEqualCodes * Double(rows * n))
        }
    }

    @Test func aHessianThatIsNotPositiveDefiniteIsATypedError() {
        let n = 16
        var h = [Double](repeating: 0, count: n * n)
        for i in 0..<n { h[i * n + i] = 1 }
        h[3 * n + 3] = -50   // damping (1% of the mean diagonal) cannot lift it
        #expect(throws: GPTQ.Failure.notPositiveDefinite(tensor: "w")) {
            try GPTQ.quantize([Float](repeating: 0.5, count: 4 * n), rows: 4, columns: n, hessian: h,
                              scheme: QuantScheme(bits: 4, granularity: .channel), name: "w")
        }
    }

    /// Σxxᵀ over several chunks (more rows than one chunk, columns not a multiple of a strip)
    /// against a double sum.
    @Test func leanStatisticsMatchADirectSum() {
        let n = 150, rows = 613
        var rng = TestRandom(seed: 8)
        let x = rng.normals(rows * n)
        let s = LayerStatistics(columns: n)
        x.withUnsafeBufferPointer { s.add($0.baseAddress!, rows: 300); s.add($0.baseAddress! + 300 * n, rows: 313) }
        let h = s.hessian, diag = s.hessianDiagonal
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<n {
                var d = 0.0
                for r in 0..<rows { d += Double(x[r * n + i]) * Double(x[r * n + j]) }
                worst = max(worst, abs(h[i * n + j] - 2 * d / Double(rows)) / max(1, abs(2 * d / Double(rows))))
            }
            #expect(diag[i] == h[i * n + i])
        }
        #expect(worst < 1e-5, "largest relative difference \(worst)")
        // The upper triangle holds about half the square (plus the strips' diagonal blocks).
        #expect(s.byteCount < (n * n / 2 + 64 * n) * 8 + 2 * 256 * n * 4 + 2 * n * 8 + 64 * 1024)
        var filled = [Double](repeating: .nan, count: n * n)
        let order = (0..<n).reversed().map { $0 }
        filled.withUnsafeMutableBufferPointer { s.fillHessian(into: $0.baseAddress!, order: order) }
        #expect((0..<n).allSatisfy { a in (0...a).allSatisfy { b in filled[a * n + b] == h[order[a] * n + order[b]] } })
    }
}

/// ggml's Q4_1/Q5_1 grid (ggml-quants.c quantize_row_q4_1_ref: d = (max − min)/(2^b − 1),
/// m = min, both stored as F16), by a scalar reference written here.
@Suite struct GGMLGridTests {
    @Test(arguments: [4, 5])
    func roundToNearestOnTheGGMLGridMatchesAScalarReference(bits: Int) throws {
        let rows = 6, n = 128, g = 32
        var rng = TestRandom(seed: UInt64(bits))
        var w = rng.normals(rows * n, scale: 0.2)
        for k in 0..<32 { w[n + k] = 0.25 }   // a constant block: d = 0, every value is m
        let scheme = QuantScheme(bits: bits, granularity: .group(g), grid: .ggmlMinimum)
        #expect(!scheme.symmetric && scheme.scaleDType == .f16)
        let q = try RoundToNearest.quantize(w, rows: rows, columns: n, scheme: scheme, name: "w")
        let blocks = try #require(q.ggmlMinimumBlocks())
        #expect(blocks.d.count == rows * n / g && blocks.m.count == rows * n / g && blocks.codes.count == rows * n)
        let top = Float((1 << bits) - 1)
        let dq = q.dequantized()
        for b in 0..<(rows * n / g) {
            let seg = w[(b * g)..<((b + 1) * g)]
            let lo = seg.min()!, hi = seg.max()!
            let d = Float(Float16((hi - lo) / top)), m = Float(Float16(lo))
            #expect(blocks.d[b] == d && blocks.m[b] == m, "block \(b)")
            for k in 0..<g {
                let i = b * g + k
                let c = d > 0 ? min(max((w[i] - m) / d, 0), top).rounded(.toNearestOrEven) : 0
                #expect(blocks.codes[i] == UInt8(c), "value \(i)")
                let p = c * d
                #expect(dq[i] == p + m)
            }
        }
        #expect(blocks.d[4] == 0 && (0..<g).allSatisfy { dq[n + $0] == Float(Float16(0.25)) })
        // Stored size: the codes plus an F16 d and m per block (Q4_1: 20 bytes per 32 weights).
        #expect(q.layout.storedBytes == rows * n * bits / 8 + rows * n / g * 4)
    }

    @Test func gptqOnTheGGMLGridBeatsRoundToNearestOnIt() throws {
        let (_, h) = correlatedInputs(rows: 512, columns: 128, seed: 31)
        var rng = TestRandom(seed: 32)
        let w = rng.normals(48 * 128, scale: 0.05)
        let scheme = QuantScheme(bits: 4, granularity: .group(32), grid: .ggmlMinimum)
        let gq = try GPTQ.quantize(w, rows: 48, columns: 128, hessian: h, scheme: scheme, name: "w")
        let r = try RoundToNearest.quantize(w, rows: 48, columns: 128, scheme: scheme, name: "w")
        let eg = relativeOutputError(w, gq.dequantized(), rows: 48, columns: 128, hessian: h)
        let er = relativeOutputError(w, r.dequantized(), rows: 48, columns: 128, hessian: h)
        #expect(eg < 0.8 * er, "GPTQ \(eg) vs RTN \(er)")
        let blocks = try #require(gq.ggmlMinimumBlocks())
        #expect(blocks.d.allSatisfy { Float(Float16($0)) == $0 } && blocks.m.allSatisfy { Float(Float16($0)) == $0 })
        #expect(RoundToNearestCheck.integerGridHasNoBlocks())
    }

    @Test func theGGMLGridIsStoredWithItsMinimaAndReadsBackAsItsRoundTrip() throws {
        let dir = TemporaryDirectory()
        var o = QuantizeOptions()
        o.bits = 4
        o.granularity = .group(64)
        o.grid = .ggmlMinimum
        let source = try Checkpoint.open(Fixtures.defaultModel)
        let (overlay, _) = try QuantizeJob.roundTrip(source, options: o)
        try QuantizeJob.run(source, options: o, outputDirectory: dir.file("q"))
        let ckpt = try CompressedCheckpoint(directory: dir.file("q"))
        #expect(!ckpt.packedWeights.isEmpty)
        for name in ckpt.packedWeights.keys {
            #expect(try ckpt.floats(name).map(\.bitPattern) == overlay.floats(name).map(\.bitPattern), "\(name)")
            #expect(ckpt.stored.info(name + "_minimum")?.dtype == .f16 && ckpt.stored.info(name + "_zero_point") == nil)
        }
    }
}

enum RoundToNearestCheck {
    static func integerGridHasNoBlocks() -> Bool {
        let q = try? RoundToNearest.quantize([Float](repeating: 1, count: 64), rows: 1, columns: 64,
                                            scheme: QuantScheme(bits: 4, granularity: .group(32)), name: "w")
        return q != nil && q!.ggmlMinimumBlocks() == nil
    }
}

/// `shrink quantize`'s streaming of half-precision tensors (QuantizeJob.compressInRowChunks): the same
/// tensor as quantizing the whole decoded matrix at once.
@Suite struct RowChunkStreamingTests {
    @Test(arguments: [DType.f16, .bf16])
    func rowChunksGiveTheWholeTensorsResult(dtype: DType) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("w.safetensors")
        let rows = 301, columns = 64
        var rng = TestRandom(seed: 41)
        let values = rng.normals(rows * columns, scale: 0.1)
        var bytes = [UInt8](repeating: 0, count: rows * columns * dtype.byteSize)
        values.withUnsafeBufferPointer { v in bytes.withUnsafeMutableBytes { ElementCodec.encode(v, as: dtype, into: $0.baseAddress!) } }
        let writer = try SafetensorsWriter(path: path, tensors: [TensorInfo(name: "w", dtype: dtype, shape: Shape([rows, columns]))], metadata: [:])
        try writer.write("w", values: bytes)
        try writer.commit()
        let source = try Checkpoint.open(path)
        let info = try source.requireInfo("w")
        for (scheme, method) in [(QuantScheme(bits: 4, granularity: .group(32), symmetric: false, scaleDType: dtype), Method.rtn),
                                 (QuantScheme(bits: 3, granularity: .channel, scaleDType: dtype), .mse),
                                 (QuantScheme(bits: 4, granularity: .group(32), grid: .ggmlMinimum), .rtn)] {
            let compressor = method.compressor(MethodParameters())
            // 7 rows per chunk: 43 chunks, the last one short.
            let chunked = try QuantizeJob.compressInRowChunks(source, info, compressor: compressor, scheme: scheme, chunkBytes: 7 * columns * 4)
            let whole = try compressor.compress(try source.floats("w"), rows: rows, columns: columns, scheme: scheme, statistics: nil, name: "w")
            #expect(chunked.packed == whole.packed, "\(scheme.grid) \(method)")
            #expect(chunked.scales == whole.scales && chunked.zeroPoints == whole.zeroPoints && chunked.minima == whole.minima)
            #expect(chunked.error.count == whole.error.count)
            #expect(abs(chunked.error.sqnrDB - whole.error.sqnrDB) < 1e-9 * abs(whole.error.sqnrDB))
        }
    }
}
