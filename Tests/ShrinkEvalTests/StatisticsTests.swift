import ShrinkEval
import Testing

@Suite struct StatisticsTests {
    @Test func wilsonIntervalMatchesPublishedValues() {
        // Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 → 0.2553–0.3662.
        let w = Statistics.wilson(successes: 81, trials: 263)
        #expect(abs(w.lower - 0.2553) < 5e-5 && abs(w.upper - 0.3662) < 5e-5)
        // 15/148 → 0.0624–0.1605 (same table).
        let v = Statistics.wilson(successes: 15, trials: 148)
        #expect(abs(v.lower - 0.0624) < 5e-5 && abs(v.upper - 0.1605) < 5e-5)
        // 0/20 → 0–0.1611.
        let z = Statistics.wilson(successes: 0, trials: 20)
        #expect(z.lower == 0 && abs(z.upper - 0.1611) < 5e-5)
    }

    @Test func bootstrapIntervalIsSeededAndBracketsTheMean() {
        let values = (0..<400).map { Double($0 % 10) / 10 }
        let a = Statistics.bootstrapMean(values, seed: 3), b = Statistics.bootstrapMean(values, seed: 3)
        #expect(a == b)
        #expect(a.lower < a.estimate && a.estimate < a.upper)
        // Standard error of the mean is 0.2872/sqrt(400) ≈ 0.01436; the 95% half-width ≈ 0.028.
        #expect(abs((a.upper - a.lower) / 2 - 0.028) < 0.004)
    }
}
