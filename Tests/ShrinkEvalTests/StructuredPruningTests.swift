import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// Structured pruning removes whole SwiGLU channels or attention heads with the shapes shrunk: the smaller model must
/// compute exactly what the original computes with those channels' consumer columns zeroed (down_proj's column, or
/// the head's head_dim columns of o_proj: the independent, full-size path).
@Suite struct StructuredPruningTests {
    static func outputs(_ model: RecursiveReasoner, _ task: PuzzleTask) throws -> [[Float]] {
        try task.run(model, units: 0..<task.unitCount, depth: model.fullDepth, trace: true, linearInputs: nil).outputs!
    }

    @Test(arguments: [("Fixtures/models/trm_mlp_sudoku6", "Fixtures/data/sudoku6-hard-test.safetensors", StructuredPruning.Target.mlp, StructuredPruning.Method.magnitude, 0.25),
                      ("Fixtures/models/hrm_sudoku6", "Fixtures/data/sudoku6-easy-test.safetensors", .mlp, .wanda, 0.5),
                      ("Fixtures/models/trm_att_sudoku6", "Fixtures/data/sudoku6-easy-test.safetensors", .heads, .wanda, 0.5),
                      ("Fixtures/models/hrm_sudoku6", "Fixtures/data/sudoku6-easy-test.safetensors", .heads, .magnitude, 0.25)])
    func theShrunkModelIsTheOriginalWithTheChannelsZeroed(_ fixture: String, _ data: String, _ target: StructuredPruning.Target,
                                                          _ method: StructuredPruning.Method, _ fraction: Double) throws {
        let dir = Fixtures.path(fixture)
        let original = try RecursiveReasoner.load(directory: dir)
        let stats = method.needsCalibration
            ? try PuzzleTask.calibrationStatistics(original, calibration: Fixtures.path("Fixtures/data/sudoku6-train.safetensors"), count: 16).0
            : [:]
        let out = TemporaryDirectory()
        defer { withExtendedLifetime(out) {} }
        let report = try StructuredPruning.run(model: dir, family: original.family, target: target, fraction: fraction, method: method,
                                               statistics: stats, outputDirectory: out.path + "/p")
        let groups = original.family.channelGroups.filter { $0.target == target }
        #expect(report.groups.count == groups.count && groups.count >= 2 && report.groups.allSatisfy { $0.target == target })
        let width = groups[0].width, kept = StructuredPruning.keptCount(width: width, fraction: fraction)
        #expect(report.groups.allSatisfy { $0.widthAfter == StructuredPruning.keptCount(width: $0.widthBefore, fraction: fraction) && $0.kept.count == $0.widthAfter })
        let pruned = try RecursiveReasoner.load(directory: out.path + "/p")
        switch target {
        case .mlp:
            #expect(pruned.config.mlpWidth == kept && pruned.config.mlpWidth < original.config.mlpWidth)
            #expect(pruned.config.numHeads == original.config.numHeads)
        case .heads:
            #expect(pruned.config.numHeads == kept && kept < original.config.numHeads && pruned.config.mlpWidth == original.config.mlpWidth)
            #expect(pruned.config.headDim == original.config.headDim && pruned.config.attentionWidth == kept * original.config.headDim)
        }
        #expect(pruned.parameterCount == report.parametersAfter && report.parametersAfter < report.parametersBefore)

        let zeroed = OverlaySource(base: try Checkpoint.open(dir))
        for g in report.groups {
            var w = try zeroed.floats(g.consumer)
            let keep = Set(g.kept), columns = g.widthBefore * g.unit, rows = w.count / columns
            for r in 0..<rows {
                for j in 0..<columns where !keep.contains(j / g.unit) { w[r * columns + j] = 0 }
            }
            try zeroed.replace(g.consumer, with: w)
        }
        let reference = try RecursiveReasoner(config: original.config, weights: zeroed, location: dir + " [zeroed]")
        let task = try PuzzleTask(PuzzleDataset(path: Fixtures.path(data)), limit: 16)
        let a = try Self.outputs(pruned, task), b = try Self.outputs(reference, task), full = try Self.outputs(original, task)
        var worst: Float = 0, moved: Float = 0
        for s in a.indices {
            for i in a[s].indices { worst = max(worst, abs(a[s][i] - b[s][i])); moved = max(moved, abs(a[s][i] - full[s][i])) }
        }
        #expect(worst <= 1e-4, "max |Δlogit| shrunk vs zeroed: \(worst)")
        #expect(moved > 1e-2, "pruning changed the logits by at most \(moved)")
        // The smaller model has the original's inputs, carry and outputs: it is compared like any compressed copy.
        #expect(original.hasSameArchitecture(as: pruned) && pruned.hasSameArchitecture(as: original))
        let compared = try Comparison.compare(original: original, compressed: pruned, on: task)
        #expect(compared.puzzles == 16 && compared.compressed.weightBytes < compared.original.weightBytes)
    }

    /// The scores by hand: column L1 norms, times √H_jj for Wanda; ties keep the lower index; the kept count floors.
    @Test func scoresRankTheChannelsAsTheirPapersDefine() throws {
        let w: [Float] = [1, -2, 0.5, 1,
                          -1, 1, 0.5, 1]  // [2, 4]: column L1 norms 2, 3, 1, 2
        let magnitude = try StructuredPruning.scores(w, rows: 2, columns: 4, method: .magnitude, statistics: nil, name: "w")
        #expect(magnitude == [2, 3, 1, 2])
        #expect(StructuredPruning.kept(magnitude, count: 2) == [0, 1], "the tie between channels 0 and 3 keeps 0")
        let stats = LayerStatistics(columns: 4)
        let x: [Float] = [3, 0, 2, 1]  // one input row: H_jj ∝ x_j²
        x.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: 1) }
        let wanda = try StructuredPruning.scores(w, rows: 2, columns: 4, method: .wanda, statistics: stats, name: "w")
        let h = stats.hessianDiagonal
        #expect(wanda == [2 * h[0].squareRoot(), 0, 1 * h[2].squareRoot(), 2 * h[3].squareRoot()])
        #expect(StructuredPruning.kept(wanda, count: 2) == [0, 2])
        #expect(throws: PruningError.self) { try StructuredPruning.scores(w, rows: 2, columns: 4, method: .wanda, statistics: nil, name: "w") }
        #expect(StructuredPruning.keptCount(width: 256, fraction: 0.25) == 192 && StructuredPruning.keptCount(width: 3, fraction: 0.9) == 1)
        // A head is head_dim columns: its score sums theirs.
        let heads = try StructuredPruning.scores(w, rows: 2, columns: 4, unit: 2, method: .magnitude, statistics: nil, name: "w")
        #expect(heads == [5, 3])
        let headsWanda = try StructuredPruning.scores(w, rows: 2, columns: 4, unit: 2, method: .wanda, statistics: stats, name: "w")
        #expect(headsWanda == [wanda[0] + wanda[1], wanda[2] + wanda[3]])
        #expect(StructuredPruning.smallestFraction(width: 4) == 0.25 && StructuredPruning.smallestFraction(width: 3) == 0.3334)
    }

    @Test func badRequestsAreRefusedAndLeaveNoOutput() throws {
        let dir = Fixtures.path("Fixtures/models/trm_mlp_sudoku6")
        let family = try RecursiveReasoner.load(directory: dir).family
        let out = TemporaryDirectory()
        for fraction in [0.0, 1.0, -0.5] {
            #expect(throws: PruningError.self) { try StructuredPruning.run(model: dir, family: family, fraction: fraction, method: .magnitude, outputDirectory: out.path + "/p") }
        }
        #expect(throws: PruningError.self) { try StructuredPruning.run(model: dir, family: family, fraction: 0.5, method: .wanda, outputDirectory: out.path + "/p") }
        #expect(!FileManager.default.fileExists(atPath: out.path + "/p"))
        // 10% of 4 heads is no head: refused, naming the tensor and the smallest fraction that removes one.
        let att = Fixtures.path("Fixtures/models/trm_att_sudoku6"), attFamily = try RecursiveReasoner.load(directory: att).family
        let none = #expect(throws: PruningError.self) {
            try StructuredPruning.run(model: att, family: attFamily, target: .heads, fraction: 0.1, method: .magnitude, outputDirectory: out.path + "/p")
        }
        #expect(none?.description.contains("o_proj") == true && none?.description.contains("--sparsity 0.25") == true, "\(String(describing: none))")
        // TRM-MLP has no attention heads.
        #expect(throws: PruningError.self) {
            try StructuredPruning.run(model: dir, family: family, target: .heads, fraction: 0.5, method: .magnitude, outputDirectory: out.path + "/p")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path + "/p"))
        // A width the weights do not have is named with the tensor and the shape the config implies.
        var c = family.config
        c.intermediateSize = 100
        #expect(throws: ModelError.self) { try StructuredPruning.run(model: dir, family: ReasonerFamily(c), fraction: 0.5, method: .magnitude, outputDirectory: out.path + "/p") }
        // intermediate_size_t belongs to TRM's token MLP.
        let bad = #"{"arch": "trm", "seq_len": 4, "vocab_size": 4, "H_cycles": 1, "L_cycles": 1, "L_layers": 1, "hidden_size": 8, "expansion": 2, "halt_max_steps": 1, "intermediate_size_t": 4}"#
        #expect(throws: ModelError.self) { try ReasonerFamily(config: Data(bad.utf8), file: "config.json") }
    }
}
