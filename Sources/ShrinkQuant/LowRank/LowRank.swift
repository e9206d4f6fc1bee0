import CShrinkKernels
import Foundation
import ShrinkTensor

/// Low-rank compensation of a compression error: W ≈ Ŵ + A·B with A [rows, r] and B [r, columns], chosen from
/// the residual E = W − Ŵ (Ŵ the quantized, or pruned, weight).
///
/// - `plain`: the truncated SVD of E, the best rank-r approximation in Frobenius norm (Eckart–Young). The baseline
///   of LQER (Zhang et al., ICML 2024, "LQER: Low-Rank Quantization Error Reconstruction for LLMs", §3.1).
/// - `whitened`: the best rank-r approximation of E under the layer's inputs, minimising ‖(E − A·B)·Xᵀ‖_F, i.e.
///   tr((E − AB) H (E − AB)ᵀ) with H = XᵀX. EoRA (Liu et al., 2024, "EoRA: Training-free Compensation for
///   Compressed LLM with Eigenspace Low-Rank Approximation", eq. 4–6) projects E into the eigenspace of H,
///   E' = E·Q·Λ^½, truncates its SVD and maps back, B = B'·Λ^−½·Qᵀ. Any S with S·Sᵀ = H gives the same
///   minimiser (‖(E − AB)·S‖_F is the same objective), so this takes S = L from H's Cholesky factor, H = L·Lᵀ,
///   as SVD-LLM's whitening does (Wang et al., 2024, §3.1): E' = E·L, A·B' = SVD_r(E'), B = B'·L⁻¹. H is damped as
///   GPTQ damps it (a fraction of its mean diagonal), which also makes it positive definite.
///
/// The truncated SVD is randomised subspace iteration (Halko, Martinsson & Tropp, SIAM Review 53, 2011,
/// Algorithm 4.4) with a fixed seed, oversampling p and q power iterations, in double precision: deterministic,
/// and O(rows·columns·(r + p)·q) instead of a full SVD.
public enum LowRank {
    /// A·B, both row-major.
    public struct Factors: Sendable, Equatable {
        public var rank: Int
        public var rows: Int, columns: Int
        /// [rows, rank].
        public var a: [Float]
        /// [rank, columns].
        public var b: [Float]

        /// A·B, [rows, columns].
        public func product() -> [Float] {
            var out = [Float](repeating: 0, count: rows * columns)
            for i in 0..<rows {
                for k in 0..<rank {
                    let aik = a[i * rank + k]
                    if aik == 0 { continue }
                    for j in 0..<columns { out[i * columns + j] += aik * b[k * columns + j] }
                }
            }
            return out
        }

        /// Bytes stored at `dtype` (F16 or F32).
        public func bytes(_ dtype: DType) -> Int { (a.count + b.count) * dtype.byteSize }

        /// The factors rounded through `dtype` (F16, BF16 or F32), as they are stored.
        public func rounded(_ dtype: DType) -> Factors {
            var f = self
            f.a = a.map { ElementCodec.roundTrip($0, through: dtype) }
            f.b = b.map { ElementCodec.roundTrip($0, through: dtype) }
            return f
        }
    }

    public struct Options: Sendable, Equatable {
        public var oversampling = 8
        public var powerIterations = 4
        public var seed: UInt64 = 0
        /// Damping of H in `whitened`, a fraction of its mean diagonal.
        public var dampening = 0.01
        public init() {}
    }

    public enum Failure: UserFacingError, Equatable {
        case badRank(tensor: String, rank: Int, rows: Int, columns: Int)
        case notPositiveDefinite(tensor: String)
        public var description: String {
            switch self {
            case let .badRank(t, r, rows, columns):
                "tensor '\(t)': rank \(r) must be between 1 and min(rows, columns) = \(min(rows, columns)) of its [\(rows), \(columns)]"
            case let .notPositiveDefinite(t):
                "tensor '\(t)': its input statistics are not positive definite even damped; calibrate on more data or use the plain SVD"
            }
        }
    }

    /// The best rank-`rank` approximation of `residual` [rows, columns] in Frobenius norm.
    public static func plain(_ residual: [Float], rows: Int, columns: Int, rank: Int, options: Options = Options(), name: String = "w") throws -> Factors {
        try check(rank, rows, columns, name)
        let e = residual.map(Double.init)
        let (u, s, vt) = truncatedSVD(e, rows: rows, columns: columns, rank: rank, options: options)
        return factors(u, s, vt, rows: rows, columns: columns, rank: rank)
    }

    /// The best rank-`rank` approximation of `residual` under input statistics `hessian` ([columns, columns], H = XᵀX
    /// up to a factor): minimises tr((E − AB) H (E − AB)ᵀ).
    public static func whitened(_ residual: [Float], rows: Int, columns n: Int, rank: Int, hessian: [Double], options: Options = Options(),
                                name: String = "w") throws -> Factors {
        try check(rank, rows, n, name)
        precondition(hessian.count == n * n)
        // L, lower, with H + damping = L·Lᵀ.
        var l = hessian
        let damp = options.dampening * (0..<n).reduce(0.0) { $0 + hessian[$1 * n + $1] } / Double(n)
        for i in 0..<n { l[i * n + i] += damp > 0 ? damp : 1e-12 }
        let ok = l.withUnsafeMutableBufferPointer { sk_dpotrf_lower($0.baseAddress!, n, n) == 0 }
        guard ok else { throw Failure.notPositiveDefinite(tensor: name) }
        for i in 0..<n { for j in (i + 1)..<n where j < n { l[i * n + j] = 0 } }
        // E' = E·L.
        var ew = [Double](repeating: 0, count: rows * n)
        for i in 0..<rows {
            for k in 0..<n {
                let eik = Double(residual[i * n + k])
                if eik == 0 { continue }
                // Row k of L is nonzero in columns 0...k.
                for j in 0...k { ew[i * n + j] += eik * l[k * n + j] }
            }
        }
        var (u, s, vt) = truncatedSVD(ew, rows: rows, columns: n, rank: rank, options: options)
        // B = B'·L⁻¹: each row x of B' solves y·L = x (back substitution from the last column).
        for r in 0..<rank {
            for j in stride(from: n - 1, through: 0, by: -1) {
                var v = vt[r * n + j]
                for k in (j + 1)..<max(j + 1, n) { v -= vt[r * n + k] * l[k * n + j] }
                vt[r * n + j] = v / l[j * n + j]
            }
        }
        return factors(u, s, vt, rows: rows, columns: n, rank: rank)
    }

    static func check(_ rank: Int, _ rows: Int, _ columns: Int, _ name: String) throws {
        guard rank >= 1, rank <= min(rows, columns) else { throw Failure.badRank(tensor: name, rank: rank, rows: rows, columns: columns) }
    }

    /// A = U·Σ, B = Vᵀ, as floats.
    static func factors(_ u: [Double], _ s: [Double], _ vt: [Double], rows: Int, columns: Int, rank: Int) -> Factors {
        var a = [Float](repeating: 0, count: rows * rank)
        for i in 0..<rows { for k in 0..<rank { a[i * rank + k] = Float(u[i * rank + k] * s[k]) } }
        return Factors(rank: rank, rows: rows, columns: columns, a: a, b: vt.map(Float.init))
    }

    /// The top `rank` singular triplets of M [rows, columns]: U [rows, rank] (orthonormal columns), σ descending,
    /// Vᵀ [rank, columns] (orthonormal rows).
    static func truncatedSVD(_ m: [Double], rows: Int, columns: Int, rank: Int, options: Options) -> ([Double], [Double], [Double]) {
        let k = min(rank + options.oversampling, min(rows, columns))
        // Y = M·Ω with Ω [columns, k] standard normal (seeded), then q rounds of Y = M·(Mᵀ·Y), orthonormalized each time.
        var rng = SplitMix(seed: options.seed)
        var omega = [Double](repeating: 0, count: columns * k)
        for i in omega.indices { omega[i] = rng.normal() }
        var y = multiply(m, rows, columns, omega, k)
        orthonormalize(&y, rows: rows, columns: k)
        for _ in 0..<options.powerIterations {
            var z = multiplyTransposed(m, rows, columns, y, k)  // Mᵀ·Y [columns, k]
            orthonormalize(&z, rows: columns, columns: k)
            y = multiply(m, rows, columns, z, k)
            orthonormalize(&y, rows: rows, columns: k)
        }
        // B = Qᵀ·M [k, columns]; its SVD from the eigenvectors of B·Bᵀ [k, k] (symmetric Jacobi).
        let bt = multiplyTransposed(m, rows, columns, y, k)  // Mᵀ·Q = Bᵀ [columns, k]
        var g = [Double](repeating: 0, count: k * k)
        for i in 0..<k { for j in 0..<k { var s = 0.0; for c in 0..<columns { s += bt[c * k + i] * bt[c * k + j] }; g[i * k + j] = s } }
        let (values, vectors) = symmetricEigen(g, n: k)  // descending, vectors as columns [k, k]
        var u = [Double](repeating: 0, count: rows * rank), sigma = [Double](repeating: 0, count: rank)
        var vt = [Double](repeating: 0, count: rank * columns)
        for r in 0..<rank {
            let s = max(values[r], 0).squareRoot()
            sigma[r] = s
            for i in 0..<rows { var v = 0.0; for j in 0..<k { v += y[i * k + j] * vectors[j * k + r] }; u[i * rank + r] = v }
            guard s > 0 else { continue }
            // v_r = Bᵀ·w_r / σ_r.
            for c in 0..<columns { var v = 0.0; for j in 0..<k { v += bt[c * k + j] * vectors[j * k + r] }; vt[r * columns + c] = v / s }
        }
        return (u, sigma, vt)
    }

    /// M [rows, columns] · X [columns, k].
    static func multiply(_ m: [Double], _ rows: Int, _ columns: Int, _ x: [Double], _ k: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * k)
        for i in 0..<rows {
            for c in 0..<columns {
                let v = m[i * columns + c]
                if v == 0 { continue }
                for j in 0..<k { out[i * k + j] += v * x[c * k + j] }
            }
        }
        return out
    }

    /// Mᵀ · Y with M [rows, columns], Y [rows, k]: [columns, k].
    static func multiplyTransposed(_ m: [Double], _ rows: Int, _ columns: Int, _ y: [Double], _ k: Int) -> [Double] {
        var out = [Double](repeating: 0, count: columns * k)
        for i in 0..<rows {
            for c in 0..<columns {
                let v = m[i * columns + c]
                if v == 0 { continue }
                for j in 0..<k { out[c * k + j] += v * y[i * k + j] }
            }
        }
        return out
    }

    /// Modified Gram–Schmidt, twice (numerically orthonormal), on the columns of X [rows, columns]; a column that
    /// vanishes stays zero.
    static func orthonormalize(_ x: inout [Double], rows: Int, columns: Int) {
        for _ in 0..<2 {
            for j in 0..<columns {
                for p in 0..<j {
                    var d = 0.0
                    for i in 0..<rows { d += x[i * columns + p] * x[i * columns + j] }
                    for i in 0..<rows { x[i * columns + j] -= d * x[i * columns + p] }
                }
                var norm = 0.0
                for i in 0..<rows { norm += x[i * columns + j] * x[i * columns + j] }
                norm = norm.squareRoot()
                for i in 0..<rows { x[i * columns + j] = norm > 1e-300 ? x[i * columns + j] / norm : 0 }
            }
        }
    }

    /// Eigenvalues (descending) and eigenvectors (columns) of a symmetric n×n matrix, cyclic Jacobi rotations
    /// (Golub & Van Loan, Matrix Computations, §8.5) until the off-diagonal mass is negligible.
    static func symmetricEigen(_ a: [Double], n: Int) -> ([Double], [Double]) {
        var a = a
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, total = 0.0
            for i in 0..<n { for j in 0..<n { total += a[i * n + j] * a[i * n + j]; if i != j { off += a[i * n + j] * a[i * n + j] } } }
            if off <= 1e-30 * max(total, 1e-300) { break }
            for p in 0..<n {
                for q in (p + 1)..<max(p + 1, n) {
                    let apq = a[p * n + q]
                    if apq == 0 { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { (a[$0 * n + $0], $1) > (a[$1 * n + $1], $0) }
        let values = order.map { a[$0 * n + $0] }
        var vectors = [Double](repeating: 0, count: n * n)
        for (newColumn, old) in order.enumerated() { for k in 0..<n { vectors[k * n + newColumn] = v[k * n + old] } }
        return (values, vectors)
    }
}

/// SplitMix64 with Box–Muller normals: the seeded Gaussian test matrix of the randomised SVD.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
    mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
}
