import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing

@Suite struct LayerStatisticsCollectorTests {
    /// q/k/v (and gate/up) read one input: one shared accumulation, equal to separate ones.
    @Test func weightsReadingOneInputShareOneStatistics() {
        var rng = TestRandom(seed: 3)
        let x = rng.normals(40 * 24)
        let shared = LayerStatisticsCollector(), apart = LayerStatisticsCollector()
        x.withUnsafeBufferPointer { p in
            for half in 0..<2 {
                shared.observe(layers: ["q", "k", "v"], inputs: p.baseAddress! + half * 20 * 24, rows: 20, columns: 24)
                for n in ["q", "k", "v"] { apart.observe(layer: n, inputs: p.baseAddress! + half * 20 * 24, rows: 20, columns: 24) }
            }
        }
        #expect(shared.layers.count == 3 && apart.layers.count == 3)
        #expect(shared.layers["q"] === shared.layers["k"] && shared.layers["k"] === shared.layers["v"])
        #expect(shared.layers["q"]?.rows == 40)
        #expect(shared.layers["v"]?.hessian == apart.layers["v"]?.hessian)
        #expect(apart.layers["q"] !== apart.layers["k"])
    }
}
