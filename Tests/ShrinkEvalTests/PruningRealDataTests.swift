import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// Pruning on real activations: each layer's output error ‖(W − Ŵ)X‖²/‖WX‖² (through H = 2XᵀX/n of the
/// calibration capture) for magnitude, Wanda and SparseGPT, at 50% and 2:4. Wanda and SparseGPT use the
/// activations and must beat magnitude in total; SparseGPT, which also updates the kept weights, must beat Wanda.
@Suite struct PruningRealDataTests {
    struct Totals { var magnitude = 0.0, wanda = 0.0, sparsegpt = 0.0, layers = 0, wandaWins = 0, sparseGPTWins = 0 }

    static func measure(weights: any TensorSource, layers: [String: LayerStatistics], only: (String) -> Bool, sparsity: Sparsity) throws -> Totals {
        var t = Totals()
        for (name, stats) in layers.sorted(by: { $0.key < $1.key }) where only(name) {
            guard let info = weights.info(name), info.shape.rank == 2, stats.rows > 0 else { continue }
            let rows = info.shape.dims[0], columns = info.shape.dims[1]
            let w = try weights.floats(name), h = stats.hessian
            let scale = quadratic(w.map(Double.init), rows: rows, columns: columns, h)
            let errors = try [PruneMethod.magnitude, .wanda, .sparsegpt].map { m in
                let p = try w.withUnsafeBufferPointer { try m.pruner().prune($0, rows: rows, columns: columns, sparsity: sparsity, statistics: stats, name: name) }
                return quadratic(zip(w, p.values).map { Double($0) - Double($1) }, rows: rows, columns: columns, h) / scale
            }
            t.magnitude += errors[0]; t.wanda += errors[1]; t.sparsegpt += errors[2]; t.layers += 1
            if errors[1] < errors[0] { t.wandaWins += 1 }
            if errors[2] < errors[1] { t.sparseGPTWins += 1 }
        }
        return t
    }

    /// Σ_r e_r H e_rᵀ over the rows of E (row-major).
    static func quadratic(_ e: [Double], rows: Int, columns n: Int, _ h: [Double]) -> Double {
        e.withUnsafeBufferPointer { e in
            h.withUnsafeBufferPointer { h in
                var total = 0.0
                for r in 0..<rows {
                    let row = e.baseAddress! + r * n
                    for i in 0..<n where row[i] != 0 {
                        var s = 0.0
                        let hi = h.baseAddress! + i * n
                        for j in 0..<n { s += hi[j] * row[j] }
                        total += row[i] * s
                    }
                }
                return total
            }
        }
    }

    static func check(_ t: Totals, _ label: String) {
        print("\(label): \(t.layers) layers, mean relative output error magnitude \(t.magnitude / Double(t.layers)), "
              + "wanda \(t.wanda / Double(t.layers)), sparsegpt \(t.sparsegpt / Double(t.layers)); "
              + "wanda < magnitude in \(t.wandaWins), sparsegpt < wanda in \(t.sparseGPTWins)")
        #expect(t.wanda < t.magnitude, "\(label)")
        #expect(t.sparsegpt < t.wanda, "\(label)")
        #expect(t.sparseGPTWins * 4 >= t.layers * 3, "\(label): SparseGPT beats Wanda in \(t.sparseGPTWins) of \(t.layers) layers")
    }

    /// A trained reasoner fixture on its training puzzles: every linear layer.
    @Test func onAReasonerWandaAndSparseGPTBeatMagnitude() throws {
        let path = Fixtures.path("Fixtures/models/trm_mlp_sudoku6")
        let model = try ModelRegistry.load(path)
        let (layers, _) = try TaskRegistry.calibrationStatistics(model, calibration: Fixtures.path("Fixtures/data/sudoku6-train.safetensors"), count: 32)
        for sparsity in [Sparsity.unstructured(0.5), .semiStructured(keep: 2, of: 4)] {
            let t = try Self.measure(weights: try Checkpoint.open(path), layers: layers, only: { _ in true }, sparsity: sparsity)
            #expect(t.layers == 10, "layers with statistics: \(t.layers)")
            Self.check(t, "trm_mlp_sudoku6 \(sparsity)")
        }
    }

    /// all-MiniLM-L6-v2 on Austen calibration sentences: the attention projections of the first layer.
    @Test func onMiniLMWandaAndSparseGPTBeatMagnitude() throws {
        let path = Fixtures.path("models/minilm")
        let text = Fixtures.path("data/text/calibration.txt")
        for p in [path + "/model.safetensors", text] where !FileManager.default.fileExists(atPath: p) {
            throw ModelError.badRequest(flag: p, reason: "is missing: run tools/fetch_real.sh")
        }
        let model = try ModelRegistry.load(path)
        let (layers, _) = try TaskRegistry.calibrationStatistics(model, calibration: text, count: 16)
        let pattern = /layer\.0\.attention\.(self\.(query|key|value)|output\.dense)\.weight$/
        let t = try Self.measure(weights: try Checkpoint.open(path + "/model.safetensors"), layers: layers,
                                 only: { $0.firstMatch(of: pattern) != nil }, sparsity: .unstructured(0.5))
        #expect(t.layers == 4, "layers matched: \(t.layers)")
        Self.check(t, "MiniLM 0.5")
    }
}
