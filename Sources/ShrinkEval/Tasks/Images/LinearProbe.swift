import Foundation
import ShrinkModels

/// A linear probe: multinomial logistic regression on fixed features (a VAE's μ), how much class information a
/// representation keeps (Alain & Bengio 2016, arXiv:1610.01644). Features are standardised with the training
/// set's mean and standard deviation; the objective is the mean cross-entropy plus (λ/2)‖W‖² (bias not
/// penalised), strictly convex, minimised by L-BFGS (Nocedal & Wright 2006, Algorithm 7.4, memory 10) with an
/// Armijo backtracking line search, from W = 0, so the fit is deterministic.
public struct LinearProbe: Sendable {
    public let dimension: Int
    public let classes: Int
    public let lambda: Double
    /// [classes, dimension] and [classes], on standardised features.
    public let weight: [Double]
    public let bias: [Double]
    public let mean: [Double]
    public let scale: [Double]
    /// The objective at the fit, and the L-BFGS iterations taken.
    public let loss: Double
    public let iterations: Int

    public struct Options: Sendable {
        public var lambda = 1e-4
        public var maxIterations = 500
        /// Stop when ‖∇‖∞ falls below this.
        public var gradientTolerance = 1e-7
        public init() {}
    }

    /// Fits on `count` rows of `features` ([count, dimension]) with `labels` in 0..<classes.
    public static func fit(features: [Float], labels: [Int], dimension d: Int, classes k: Int, options: Options = Options()) throws -> LinearProbe {
        let n = labels.count
        guard n >= 1, d >= 1, k >= 2, features.count == n * d else {
            throw ModelError.badRequest(flag: "probe", reason: "needs ≥ 1 row of \(d) features per label and ≥ 2 classes; got \(features.count) values for \(n) labels")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= k }) {
            throw ModelError.badRequest(flag: "probe", reason: "label \(bad) is outside 0..<\(k)")
        }
        var mean = [Double](repeating: 0, count: d), scale = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(features[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        for i in 0..<n { for j in 0..<d { let v = Double(features[i * d + j]) - mean[j]; scale[j] += v * v } }
        // A constant feature keeps scale 1 (it carries nothing; dividing by 0 would).
        for j in 0..<d { let s = (scale[j] / Double(n)).squareRoot(); scale[j] = s > 1e-12 ? s : 1 }
        var x = [Double](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { x[i * d + j] = (Double(features[i * d + j]) - mean[j]) / scale[j] } }
        let objective = Objective(x: x, labels: labels, n: n, d: d, k: k, lambda: options.lambda)
        let (theta, loss, iterations) = LBFGS.minimize(objective.evaluate, start: [Double](repeating: 0, count: k * (d + 1)),
                                                      maxIterations: options.maxIterations, tolerance: options.gradientTolerance)
        return LinearProbe(dimension: d, classes: k, lambda: options.lambda, weight: Array(theta[0..<(k * d)]),
                           bias: Array(theta[(k * d)...]), mean: mean, scale: scale, loss: loss, iterations: iterations)
    }

    /// The predicted class of each row of `features` ([rows, dimension]; first maximum on ties).
    public func predict(_ features: [Float]) -> [Int] {
        let rows = features.count / dimension
        return (0..<rows).map { i in
            var best = 0, bestValue = -Double.infinity
            for c in 0..<classes {
                var s = bias[c]
                for j in 0..<dimension { s += weight[c * dimension + j] * (Double(features[i * dimension + j]) - mean[j]) / scale[j] }
                if s > bestValue { best = c; bestValue = s }
            }
            return best
        }
    }

    /// Per row, whether the prediction equals the label.
    public func correct(_ features: [Float], labels: [Int]) -> [Bool] { zip(predict(features), labels).map { $0 == $1 } }

    /// Mean cross-entropy + (λ/2)‖W‖² and its gradient, θ = (W [k, d], b [k]).
    struct Objective {
        let x: [Double], labels: [Int], n: Int, d: Int, k: Int, lambda: Double

        func evaluate(_ theta: [Double]) -> (Double, [Double]) {
            var grad = [Double](repeating: 0, count: theta.count)
            var loss = 0.0
            var z = [Double](repeating: 0, count: k)
            for i in 0..<n {
                let xi = i * d
                var m = -Double.infinity
                for c in 0..<k {
                    var s = theta[k * d + c]
                    for j in 0..<d { s += theta[c * d + j] * x[xi + j] }
                    z[c] = s; m = max(m, s)
                }
                var sum = 0.0
                for c in 0..<k { z[c] = exp(z[c] - m); sum += z[c] }
                loss += log(sum) + m - (log(z[labels[i]]) + m)
                for c in 0..<k {
                    let r = z[c] / sum - (c == labels[i] ? 1 : 0)
                    grad[k * d + c] += r
                    for j in 0..<d { grad[c * d + j] += r * x[xi + j] }
                }
            }
            let inv = 1 / Double(n)
            for t in grad.indices { grad[t] *= inv }
            loss *= inv
            for t in 0..<(k * d) { loss += 0.5 * lambda * theta[t] * theta[t]; grad[t] += lambda * theta[t] }
            return (loss, grad)
        }
    }
}

/// Limited-memory BFGS (Nocedal & Wright 2006, Algorithms 7.4 and 7.5) with Armijo backtracking (c = 1e-4).
enum LBFGS {
    static func minimize(_ f: ([Double]) -> (Double, [Double]), start: [Double], maxIterations: Int, tolerance: Double,
                         memory: Int = 10) -> (x: [Double], value: Double, iterations: Int) {
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        var x = start
        var (fx, g) = f(x)
        var s: [[Double]] = [], y: [[Double]] = []
        var iteration = 0
        while iteration < maxIterations, (g.map { abs($0) }.max() ?? 0) > tolerance {
            // Two-loop recursion: direction = −H·g.
            var q = g
            var alphas = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                let a = dot(s[i], q) / dot(y[i], s[i])
                alphas[i] = a
                for t in q.indices { q[t] -= a * y[i][t] }
            }
            if let ls = s.last, let ly = y.last {
                let gamma = dot(ls, ly) / dot(ly, ly)
                for t in q.indices { q[t] *= gamma }
            }
            for i in 0..<s.count {
                let b = dot(y[i], q) / dot(y[i], s[i])
                for t in q.indices { q[t] += s[i][t] * (alphas[i] - b) }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 { direction = g.map { -$0 }; slope = -dot(g, g); s = []; y = [] }
            var step = 1.0
            var next = x, fn = fx, gn = g
            while true {
                for t in x.indices { next[t] = x[t] + step * direction[t] }
                (fn, gn) = f(next)
                if fn <= fx + 1e-4 * step * slope || step < 1e-12 { break }
                step *= 0.5
            }
            let sk = zip(next, x).map { $0 - $1 }, yk = zip(gn, g).map { $0 - $1 }
            if dot(sk, yk) > 1e-12 {
                s.append(sk); y.append(yk)
                if s.count > memory { s.removeFirst(); y.removeFirst() }
            }
            let improved = fn < fx
            x = next; fx = fn; g = gn
            iteration += 1
            if !improved { break }
        }
        return (x, fx, iteration)
    }
}
