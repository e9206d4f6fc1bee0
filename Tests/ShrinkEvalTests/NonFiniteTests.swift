import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// Numbers that are not numbers in activations: a calibration batch that produces one stops with the layer and
/// the puzzle; an evaluation reports the units that produced them instead of averaging them away.
@Suite struct NonFiniteTests {
    static let dir = Fixtures.path("Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb")

    /// The tiny TRM with `tensor` (or one row of it) multiplied by `factor`: finite weights, so they load, whose
    /// activations overflow.
    static func overflowing(_ tensor: String, factor: Float, row: Int? = nil) throws -> RecursiveReasoner {
        let source = try Checkpoint.open(dir)
        let original = try RecursiveReasoner.load(directory: dir)
        var w = try source.floats(tensor)
        let width = try source.requireInfo(tensor).shape.dims.last!
        for i in w.indices where row == nil || i / width == row { w[i] *= factor }
        let overlay = OverlaySource(base: source)
        try overlay.replace(tensor, with: w)
        return try RecursiveReasoner(config: original.config, weights: overlay, location: dir)
    }

    @Test func calibrationStopsAtTheFirstNonFiniteActivationNamingLayerAndPuzzle() throws {
        // gate_up × 1e30: SiLU(gate)·up overflows to ±Inf, the input of down_proj.
        let model = try Self.overflowing("inner.L_level.layers.0.mlp.gate_up_proj.weight", factor: 1e30)
        let task = try PuzzleTask(calibrationData: Self.dir + "/data.safetensors", limit: 3, batchSize: 2)
        do {
            _ = try task.layerStatistics(of: model)
            Issue.record("calibration went on past a non-finite activation")
        } catch let ModelError.nonFiniteActivation(a) {
            #expect(a.layer == "inner.L_level.layers.0.mlp.down_proj.weight" && !a.value.isFinite)
            #expect(a.unitName == "puzzle" && a.unit.map { (0..<2).contains($0) } == true && a.source == task.dataPath)
            #expect(ModelError.nonFiniteActivation(a).description.hasPrefix("calibration stopped: the input of layer 'inner.L_level.layers.0.mlp.down_proj.weight' is "))
        }
        // The same model unmodified calibrates.
        #expect(try !task.layerStatistics(of: RecursiveReasoner.load(directory: Self.dir)).isEmpty)
    }

    @Test func anEvaluationCountsNonFinitePuzzlesAsWrongAndReportsThem() throws {
        let data = try PuzzleDataset(path: Self.dir + "/data.safetensors")
        // One puzzle's embedding row × 1e35: that puzzle's activations overflow, the others' do not.
        let poisonedRow = Int(data.puzzleIdentifiers[1])
        let model = try Self.overflowing("inner.puzzle_emb.weights", factor: 1e35, row: poisonedRow)
        let poisoned = (0..<data.count).filter { Int(data.puzzleIdentifiers[$0]) == poisonedRow }
        let r = try Evaluation.evaluate(model, on: PuzzleTask(data))
        #expect(r.accuracy.nonFinite == NonFiniteUnits(units: poisoned, of: data.count))
        #expect(poisoned.count < data.count, "the other puzzles must stay finite for the test to mean anything")

        let original = try RecursiveReasoner.load(directory: Self.dir)
        let c = try Comparison.compare(original: original, compressed: model, on: PuzzleTask(data))
        #expect(c.nonFinite?.units == poisoned)
        #expect(c.finalFidelity.carry.estimate.isNaN, "a NaN carry is not averaged into the fidelity")
        #expect(c.label.evidence == .exploratory && c.label.reason.contains("gave NaN or infinite outputs"))
        let clean = try Comparison.compare(original: original, compressed: original, on: PuzzleTask(data))
        #expect(clean.nonFinite == nil && clean.original.accuracy.nonFinite == nil)
    }

    @Test func statisticsOfNonFiniteValuesAreNotNumbers() {
        #expect(Statistics.bootstrapMean([0.5, .nan, 0.7]).estimate.isNaN)
        #expect(Statistics.bootstrapMean([0.5, .infinity]).lower.isNaN)
        #expect(Statistics.pairedBootstrap([0, 1], [1, .nan]).pValue.isNaN)
        var acc = CosineAccumulator()
        acc.add([1, .nan], [1, 2])
        #expect(acc.cosine.isNaN, "a NaN state is not 'orthogonal' (cosine 0)")
        #expect(Statistics.bootstrapMean([0.5, 0.7], seed: 1).estimate == 0.6)
    }
}
