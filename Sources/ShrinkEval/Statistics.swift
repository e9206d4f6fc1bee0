import Foundation

/// Interval estimates and tests for accuracies measured on a finite test set.
public enum Statistics {
    /// A two-sided confidence interval.
    public struct Interval: Codable, Sendable, Equatable {
        public var estimate: Double
        public var lower: Double
        public var upper: Double
        public var level: Double

        public init(estimate: Double, lower: Double, upper: Double, level: Double) {
            self.estimate = estimate; self.lower = lower; self.upper = upper; self.level = level
        }
    }

    /// z for a two-sided 95% interval.
    public static let z95 = 1.959963984540054

    /// Wilson score interval for a binomial proportion (E. B. Wilson, JASA 22,
    /// 1927): well-behaved near 0 and 1, unlike the normal approximation.
    public static func wilson(successes: Int, trials: Int, z: Double = z95) -> Interval {
        guard trials > 0 else { return Interval(estimate: 0, lower: 0, upper: 1, level: 0.95) }
        let n = Double(trials), p = Double(successes) / n, z2 = z * z
        let center = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        return Interval(estimate: p, lower: max(0, center - half), upper: min(1, center + half), level: 0.95)
    }

    /// Percentile bootstrap interval of the mean of `values` (one value per
    /// independent unit, e.g. a puzzle's fraction of correct cells), with a
    /// seeded generator so reruns agree.
    public static func bootstrapMean(_ values: [Double], resamples: Int = 2000, seed: UInt64 = 0, level: Double = 0.95) -> Interval {
        let n = values.count
        guard n > 0 else { return Interval(estimate: 0, lower: 0, upper: 0, level: level) }
        // A NaN or infinite unit makes the mean what it is, not a number: say so instead of resampling around it.
        guard values.allSatisfy(\.isFinite) else { return Interval(estimate: .nan, lower: .nan, upper: .nan, level: level) }
        let mean = values.reduce(0, +) / Double(n)
        var rng = SeededGenerator(seed: seed)
        var means = [Double](repeating: 0, count: resamples)
        for b in 0..<resamples {
            var s = 0.0
            for _ in 0..<n { s += values[rng.below(n)] }
            means[b] = s / Double(n)
        }
        means.sort()
        let alpha = (1 - level) / 2
        let lo = means[min(resamples - 1, Int((alpha * Double(resamples)).rounded(.down)))]
        let hi = means[min(resamples - 1, Int(((1 - alpha) * Double(resamples)).rounded(.up)) - 1)]
        return Interval(estimate: mean, lower: lo, upper: hi, level: level)
    }
}

extension Statistics {
    /// Exact McNemar test (two-sided) on paired binary outcomes: only the discordant
    /// pairs matter; under H0 each is equally likely either way, so the p-value is
    /// the two-sided binomial tail of min(b, c) in Binomial(b + c, ½)
    /// (McNemar, Psychometrika 12, 1947; exact form as in Agresti, Categorical Data Analysis, §10.1).
    public static func mcNemarExact(onlyFirstCorrect b: Int, onlySecondCorrect c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        let k = min(b, c)
        var tail = 0.0
        for i in 0...k { tail += exp(logChoose(n, i) - Double(n) * log(2.0)) }
        return min(1, 2 * tail)
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    }

    /// Paired bootstrap of the mean difference second − first over units (puzzles):
    /// the percentile interval and a two-sided p-value (twice the smaller share of
    /// resampled differences on either side of 0).
    public static func pairedBootstrap(_ first: [Double], _ second: [Double], resamples: Int = 2000, seed: UInt64 = 0,
                                       level: Double = 0.95) -> (difference: Interval, pValue: Double) {
        precondition(first.count == second.count)
        let d = zip(first, second).map { $1 - $0 }
        let interval = bootstrapMean(d, resamples: resamples, seed: seed, level: level)
        let n = d.count
        guard n > 0 else { return (interval, 1) }
        guard interval.estimate.isFinite else { return (interval, .nan) }
        var rng = SeededGenerator(seed: seed)
        var below = 0, above = 0
        for _ in 0..<resamples {
            var s = 0.0
            for _ in 0..<n { s += d[rng.below(n)] }
            if s <= 0 { below += 1 }
            if s >= 0 { above += 1 }
        }
        return (interval, min(1, 2 * Double(min(below, above)) / Double(resamples)))
    }
}
