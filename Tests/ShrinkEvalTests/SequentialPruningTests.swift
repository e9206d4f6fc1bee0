import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// Pruning in GPTQ's sequential mode on the tiny Llama (Tests/Fixtures/llama/llama-tiny): each block is pruned on
/// inputs from the blocks before it as pruned (SparseGPT's and Wanda's reference code runs layer by layer the same
/// way), which a whole-model capture of the hybrid model reproduces bit for bit.
@Suite struct SequentialPruningTests {
    @Test(arguments: [PruneMethod.sparsegpt, .wanda])
    func eachBlockIsPrunedOnInputsFromThePrunedPrefix(_ method: PruneMethod) throws {
        let tiny = SequentialCalibrationTests.tiny
        let family = try #require(try ModelRegistry.family(config: tiny) as? LlamaFamily)
        let units = try SequentialCalibrationTests.units()
        let source = try Checkpoint.open(tiny)
        var options = QuantizeOptions()
        options.prune = PruneChoice(method: method, sparsity: .semiStructured(keep: 2, of: 4))
        options.quantize = false
        options.keep = "lm_head"
        let dir = TemporaryDirectory()
        let sequential = try SequentialCalibration(family: family, weights: source, location: tiny, units: units,
                                                   decisions: QuantizeJob.plan(source, options: options), awq: [])
        let recipe = try QuantizeJob.run(source, options: options, outputDirectory: dir.path + "/out", calibrationSource: sequential)
        #expect(recipe.format == "compressed-tensors/sparse-24-bitmask")
        let written = try CompressedCheckpoint(directory: dir.path + "/out")

        let original = try SequentialCalibrationTests.capture(source, config: family.config, units: units)
        let hybrid = OverlaySource(base: source)
        for name in family.blocks[0] where written.info(name) != nil { try hybrid.replace(name, with: try written.floats(name)) }
        let prefixed = try SequentialCalibrationTests.capture(hybrid, config: family.config, units: units)
        var checked = 0
        for (b, statistics) in [(0, original), (1, prefixed)] {
            for name in family.blocks[b] {
                let info = try source.requireInfo(name)
                guard info.shape.rank == 2 else { continue }
                let stats = try #require(statistics[name])
                let w = try source.floats(name)
                let expected = try w.withUnsafeBufferPointer {
                    try method.pruner().prune($0, rows: info.shape.dims[0], columns: info.shape.dims[1], sparsity: .semiStructured(keep: 2, of: 4),
                                              statistics: stats, name: name)
                }
                #expect(try written.floats(name) == expected.values, "\(name)")
                checked += 1
            }
        }
        #expect(checked == 14)
        // Block 1 pruned on the original model's inputs would differ: the prefix matters.
        let name = family.blocks[1].first { (try? source.requireInfo($0).shape.rank) == 2 }!
        let info = try source.requireInfo(name)
        let onOriginal = try (try source.floats(name)).withUnsafeBufferPointer {
            try method.pruner().prune($0, rows: info.shape.dims[0], columns: info.shape.dims[1], sparsity: .semiStructured(keep: 2, of: 4),
                                      statistics: original[name], name: name)
        }
        #expect(try written.floats(name) != onOriginal.values)
    }
}
