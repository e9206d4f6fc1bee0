import CShrinkKernels
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkTensor
import ShrinkTestSupport
import Testing
@testable import ShrinkQuant

/// Low-rank compensation (`LowRank`): Eckart–Young on a matrix of known singular values, the whitened objective's
/// optimum on correlated inputs, and the compensation of a real quantization residual.
@Suite struct LowRankTests {
    /// Q [n, k] with orthonormal columns, from seeded normals.
    static func orthonormal(_ n: Int, _ k: Int, seed: UInt64) -> [Double] {
        var rng = TestRandom(seed: seed)
        var q = rng.normals(n * k).map(Double.init)
        LowRank.orthonormalize(&q, rows: n, columns: k)
        return q
    }

    /// E = U·diag(σ)·Vᵀ [rows, columns] with the given σ.
    static func matrix(rows: Int, columns: Int, sigma: [Double], seed: UInt64) -> [Float] {
        let k = sigma.count
        let u = orthonormal(rows, k, seed: seed), v = orthonormal(columns, k, seed: seed + 1)
        var e = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<columns { var s = 0.0; for r in 0..<k { s += u[i * k + r] * sigma[r] * v[j * k + r] }; e[i * columns + j] = Float(s) } }
        return e
    }

    static func squaredError(_ e: [Float], _ f: LowRank.Factors) -> Double {
        zip(e, f.product()).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    }

    /// tr((E − AB)·H·(E − AB)ᵀ).
    static func weightedError(_ e: [Float], _ ab: [Float], rows: Int, columns n: Int, hessian h: [Double]) -> Double {
        var total = 0.0
        for i in 0..<rows {
            let d = (0..<n).map { Double(e[i * n + $0] - ab[i * n + $0]) }
            for a in 0..<n { var s = 0.0; for b in 0..<n { s += h[a * n + b] * d[b] }; total += d[a] * s }
        }
        return total
    }

    @Test func plainSVDReachesTheEckartYoungOptimum() throws {
        let sigma = [9.0, 5, 3, 2, 1, 0.5, 0.25, 0.1, 0.05, 0.02]
        let e = Self.matrix(rows: 40, columns: 24, sigma: sigma, seed: 3)
        for rank in [1, 2, 4, 7] {
            let f = try LowRank.plain(e, rows: 40, columns: 24, rank: rank)
            let optimum = sigma[rank...].reduce(0) { $0 + $1 * $1 }
            #expect(abs(Self.squaredError(e, f) - optimum) <= 1e-4 * sigma.reduce(0) { $0 + $1 * $1 }, "rank \(rank): \(Self.squaredError(e, f)) vs \(optimum)")
        }
        #expect(throws: LowRank.Failure.badRank(tensor: "w", rank: 25, rows: 40, columns: 24)) { try LowRank.plain(e, rows: 40, columns: 24, rank: 25) }
        // Deterministic: the same seed gives the same factors.
        #expect(try LowRank.plain(e, rows: 40, columns: 24, rank: 3) == LowRank.plain(e, rows: 40, columns: 24, rank: 3))
    }

    @Test func whitenedFactorsMinimiseTheOutputErrorUnderCorrelatedInputs() throws {
        let (rows, n, rank) = (32, 16, 3)
        var rng = TestRandom(seed: 11)
        let e = rng.normals(rows * n, scale: 0.1)
        // Inputs whose channels have very different scales and correlations: X = Z·M.
        let z = rng.normals(400 * n), m = rng.normals(n * n).enumerated().map { $0.offset % (n + 1) == 0 ? $0.element + 3 : $0.element * Float(1 + $0.offset % 5) }
        var h = [Double](repeating: 0, count: n * n)
        for t in 0..<400 {
            let x = (0..<n).map { j in (0..<n).reduce(0.0) { $0 + Double(z[t * n + $1]) * Double(m[$1 * n + j]) } }
            for a in 0..<n { for b in 0..<n { h[a * n + b] += x[a] * x[b] } }
        }
        var o = LowRank.Options()
        o.dampening = 0
        let w = try LowRank.whitened(e, rows: rows, columns: n, rank: rank, hessian: h, options: o)
        let p = try LowRank.plain(e, rows: rows, columns: n, rank: rank)
        let ew = Self.weightedError(e, w.product(), rows: rows, columns: n, hessian: h)
        let ep = Self.weightedError(e, p.product(), rows: rows, columns: n, hessian: h)
        let none = Self.weightedError(e, [Float](repeating: 0, count: rows * n), rows: rows, columns: n, hessian: h)
        #expect(ew < 0.9 * ep && ep < none, "whitened \(ew), plain \(ep), uncompensated \(none)")
        // The optimum: with H = L·Lᵀ the objective is ‖(E − AB)·L‖², whose least value at rank r is the energy of E·L
        // beyond its r largest singular values (the eigenvalues of (E·L)ᵀ(E·L)), computed here independently.
        var l = h
        _ = l.withUnsafeMutableBufferPointer { CShrinkKernelsShim.potrf($0.baseAddress!, n) }
        for i in 0..<n { for j in (i + 1)..<n { l[i * n + j] = 0 } }
        var el = [Double](repeating: 0, count: rows * n)
        for i in 0..<rows { for j in 0..<n { var s = 0.0; for k in 0..<n { s += Double(e[i * n + k]) * l[k * n + j] }; el[i * n + j] = s } }
        var g = [Double](repeating: 0, count: n * n)
        for a in 0..<n { for b in 0..<n { var s = 0.0; for i in 0..<rows { s += el[i * n + a] * el[i * n + b] }; g[a * n + b] = s } }
        let (values, _) = LowRank.symmetricEigen(g, n: n)
        let optimum = values[rank...].reduce(0, +)
        #expect(abs(ew - optimum) <= 1e-3 * none, "whitened \(ew) vs optimum \(optimum)")
        // Locally optimal: perturbing the factors never helps.
        var rng2 = TestRandom(seed: 12)
        for _ in 0..<5 {
            var q = w
            q.a = zip(q.a, rng2.normals(q.a.count, scale: 1e-3)).map { $0 + $1 }
            #expect(Self.weightedError(e, q.product(), rows: rows, columns: n, hessian: h) >= ew * (1 - 1e-6))
        }
    }

    /// The INT3 round-to-nearest residual of a trained reasoner's weight, compensated at growing ranks.
    @Test func compensatingARealQuantizationResidualShrinksItWithRank() throws {
        let source = try Checkpoint.open(Fixtures.path("Fixtures/models/trm_mlp_sudoku6"))
        let name = try #require(source.tensorNames.first { $0.hasSuffix("mlp.down_proj.weight") })
        let info = try source.requireInfo(name)
        let (rows, columns) = (info.shape.dims[0], info.shape.dims[1])
        let w = try source.floats(name)
        let q = try RoundToNearest.quantize(w, rows: rows, columns: columns, scheme: QuantScheme(bits: 3, granularity: .channel), name: name)
        let e = zip(w, q.dequantized()).map { $0 - $1 }
        let norm = e.reduce(0.0) { $0 + Double($1) * Double($1) }
        var last = norm
        for rank in [4, 8, 16, 32] {
            let f = try LowRank.plain(e, rows: rows, columns: columns, rank: rank).rounded(.f16)
            let err = Self.squaredError(e, f)
            #expect(err < last, "rank \(rank): \(err) not below \(last)")
            last = err
            #expect(f.bytes(.f16) == 2 * rank * (rows + columns))
        }
        #expect(last < 0.9 * norm, "rank 32 removes at least a tenth of the residual energy: \(last / norm)")
    }
}

/// The C Cholesky the planner and GPTQ use, for the reference above.
enum CShrinkKernelsShim {
    static func potrf(_ a: UnsafeMutablePointer<Double>, _ n: Int) -> Int32 { sk_dpotrf_lower(a, n, n) }
}

/// `shrink quantize --low-rank R`: the factors are stored beside each packed weight, read back as Ŵ + A·B, and
/// shrink the error of a real reasoner's INT3 weights; EoRA's shrink its output error under the layer's inputs more.
@Suite struct LowRankCompensationTests {
    /// A recipe names a tensor's rank: written as `low_rank: {rank, method}` (dtype only when not F16), read back
    /// equal; a rank below 1, an unknown method or a factor dtype that is not a float are one-line errors.
    @Test func aRecipeNamesEachTensorsRank() throws {
        let choice = TensorChoice(bits: 3, granularity: .channel, method: .gptq, lowRank: .init(rank: 16, method: .eora))
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        let text = String(decoding: try e.encode(choice), as: UTF8.self)
        #expect(text == #"{"bits":3,"low_rank":{"method":"eora","rank":16},"method":"gptq","strategy":"channel"}"#)
        #expect(try JSONDecoder().decode(TensorChoice.self, from: Data(text.utf8)) == choice)
        #expect(choice.needsCalibration && TensorChoice(bits: 3, granularity: .channel, method: .rtn, lowRank: .init(rank: 4, method: .eora)).needsCalibration)
        #expect(!TensorChoice(bits: 3, granularity: .channel, method: .rtn, lowRank: .init(rank: 4, method: .svd)).needsCalibration)
        let f32 = try JSONDecoder().decode(TensorChoice.self, from: Data(#"{"bits":3,"strategy":"channel","method":"rtn","low_rank":{"rank":2,"method":"svd","dtype":"f32"}}"#.utf8))
        #expect(f32.lowRank == .init(rank: 2, method: .svd, dtype: .f32))
        #expect(f32.lowRank?.storedBytes(rows: 10, columns: 3) == (10 * 2 + 2 * 3) * 4)
        #expect(f32.lowRank?.storedBytes(rows: 10, columns: 1) == (10 + 1) * 4, "the rank is capped at min(rows, columns)")
        for bad in [#""rank":0,"method":"svd""#, #""rank":2,"method":"pca""#, #""rank":2,"method":"svd","dtype":"i8""#] {
            let json = #"{"bits":3,"strategy":"channel","method":"rtn","low_rank":{"# + bad + "}}"
            #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(TensorChoice.self, from: Data(json.utf8)) }
        }
    }

    static let model = Fixtures.path("Fixtures/models/trm_mlp_sudoku6")

    static func quantize(_ lowRank: LowRankCompensation.Option?, statistics: [String: LayerStatistics] = [:], include: String? = nil,
                         into dir: String) throws -> (CompressedCheckpoint, Recipe) {
        var o = QuantizeOptions()
        o.bits = 3
        o.lowRank = lowRank
        o.include = include
        let recipe = try QuantizeJob.run(try Checkpoint.open(model), options: o, outputDirectory: dir, calibration: statistics)
        return (try CompressedCheckpoint(directory: dir), recipe)
    }

    @Test func factorsAreStoredReadBackAndShrinkTheError() throws {
        let tmp = TemporaryDirectory()
        let source = try Checkpoint.open(Self.model)
        let (plain, plainRecipe) = try Self.quantize(nil, into: tmp.file("plain"))
        let (compensated, recipe) = try Self.quantize(.init(rank: 8, method: .svd), into: tmp.file("svd"))
        #expect(compensated.lowRankWeights == Set(compensated.packedWeights.keys) && !compensated.lowRankWeights.isEmpty)
        #expect(plain.lowRankWeights.isEmpty && compensated.tensorNames == plain.tensorNames, "the factors are companions, not tensors")
        let stored = try SafetensorsFile(path: tmp.file("svd/model.safetensors"))
        var extraBytes = 0
        for name in compensated.packedWeights.keys.sorted() {
            let info = try source.requireInfo(name)
            let (rows, columns) = (info.shape.matrixRows, info.shape.matrixColumns)
            let a = try #require(stored.info(name + "_lora_a")), b = try #require(stored.info(name + "_lora_b"))
            #expect(a.dtype == .f16 && a.shape == Shape([rows, min(8, rows, columns)]) && b.shape == Shape([min(8, rows, columns), columns]))
            extraBytes += a.byteCount + b.byteCount
            let w = try source.floats(name)
            func err(_ v: [Float]) -> Double { zip(w, v).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } }
            #expect(err(try compensated.floats(name)) < err(try plain.floats(name)), "\(name): Ŵ + A·B is closer to W than Ŵ")
            // Exactly the packed codes plus the stored factors' product.
            var expected = try compensated.quantized(compensated.packedWeights[name]!).dequantized()
            LowRankCompensation.add(try LowRankCompensation.read(name, rows: rows, columns: columns, from: stored), to: &expected)
            #expect(try compensated.floats(name) == expected)
        }
        #expect(recipe.totals.bytesAfter == plainRecipe.totals.bytesAfter + extraBytes, "the factors' bytes are counted")
        #expect(recipe.tensors.filter { $0.action == .quantized }.allSatisfy { $0.lowRank == "rank 8 svd f16" })
    }

    @Test func eoraFactorsShrinkTheOutputErrorMoreThanThePlainSVD() throws {
        let tmp = TemporaryDirectory()
        let reasoner = try RecursiveReasoner.load(directory: Self.model)
        let (statistics, _) = try PuzzleTask.calibrationStatistics(reasoner, calibration: Fixtures.path("Fixtures/data/sudoku6-train.safetensors"), count: 32)
        // The MLPs' weights (the attention-free token and channel mixers), to keep the debug build's test short.
        let mlp = #"mlp(_t)?\.(gate_up|down)_proj"#
        let (svd, _) = try Self.quantize(.init(rank: 4, method: .svd), statistics: statistics, include: mlp, into: tmp.file("svd"))
        let (eora, _) = try Self.quantize(.init(rank: 4, method: .eora), statistics: statistics, include: mlp, into: tmp.file("eora"))
        let source = try Checkpoint.open(Self.model)
        var better = 0, total = 0
        for name in eora.packedWeights.keys.sorted() {
            guard let h = statistics[name]?.hessian else { continue }
            let info = try source.requireInfo(name)
            let w = try source.floats(name)
            let (rows, columns) = (info.shape.matrixRows, info.shape.matrixColumns)
            let es = relativeOutputError(w, try svd.floats(name), rows: rows, columns: columns, hessian: h)
            let ee = relativeOutputError(w, try eora.floats(name), rows: rows, columns: columns, hessian: h)
            total += 1
            if ee < es { better += 1 }
        }
        #expect(total >= 4 && better == total, "EoRA lowers the output error of \(better) of \(total) layers")
        let w: [Float] = [1, 2]
        #expect(throws: QuantizationError.lowRankNotCalibrated(tensor: "inner.H_init")) {
            _ = try w.withUnsafeBufferPointer {
                try LowRankCompensation.factors(weights: $0, quantized: [1, 2], rows: 1, columns: 2, option: .init(rank: 1, method: .eora),
                                                statistics: nil, name: "inner.H_init")
            }
        }
    }
}
