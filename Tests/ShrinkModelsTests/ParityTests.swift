import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkTestSupport
import Testing

/// Trained fixtures with golden outputs of the PyTorch reference
/// (tools/reference/goldens.py): Fixtures/models/<name>/{config.json, model.safetensors, golden.safetensors}.
/// Plus tiny untrained models covering the remaining architecture options
/// (tools/reference/make_tiny_fixtures.py): Tests/Fixtures/tiny/<name>.
enum ModelFixtures {
    static let folders = ["Fixtures/models", "Tests/Fixtures/tiny"]
    static let names: [String] = folders.flatMap { folder in
        FileSystem.list(Fixtures.path(folder)).filter { FileSystem.exists(Fixtures.path("\(folder)/\($0)/golden.safetensors")) }
            .map { "\(folder)/\($0)" }
    }
    static func directory(_ name: String) -> String { Fixtures.path(name) }
}

/// Records every traced carry state of a run.
final class Recorder: CarryObserver {
    var low: [CarryPoint: [Float]] = [:], high: [CarryPoint: [Float]] = [:]
    var endH: [Int: [Float]] = [:], endL: [Int: [Float]] = [:]
    func observe(_ point: CarryPoint, zH: UnsafeBufferPointer<Float>?, zL: UnsafeBufferPointer<Float>?) {
        switch point {
        case .lowUpdate: low[point] = Array(zL!)
        case .highUpdate: high[point] = Array(zH!)
        case let .stepEnd(s): endH[s] = Array(zH!); endL[s] = Array(zL!)
        }
    }
}

/// max |a − b| / max(max |b|, tiny): relative to the reference's scale.
func relativeDifference(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    precondition(a.count == b.count)
    var worst = 0.0, scale = 1e-12
    for (x, y) in zip(a, b) {
        worst = max(worst, Double(abs(x - y)))
        scale = max(scale, Double(abs(y)))
    }
    return worst / scale
}

@Suite struct ParityTests {
    static let tolerance = 1e-4

    /// A parametrized test over discovered fixtures passes vacuously when it discovers none: count them.
    @Test func everyFixtureWithAGoldenIsDiscovered() {
        #expect(ModelFixtures.names.count == 11, "found \(ModelFixtures.names)")  // 5 trained fixtures + 4 tiny models + 2 structurally pruned (MLP; heads then MLP)
    }

    @Test(arguments: ModelFixtures.names)
    func swiftMatchesPyTorchOnLogitsQAndEveryCarryState(_ name: String) throws {
        let model = try RecursiveReasoner.load(directory: ModelFixtures.directory(name))
        let golden = try SafetensorsFile(path: ModelFixtures.directory(name) + "/golden.safetensors")
        let inputs = try golden.integers("inputs").map { Int32($0) }
        let ids = try golden.integers("puzzle_identifiers").map { Int32($0) }
        let c = model.config
        let batch = ids.count, steps = golden.info("logits")!.shape.dims[0]
        let traced = golden.info("trace.z_L")?.shape.dims[0] ?? 0

        let x = model.inputEmbeddings(inputs: inputs, puzzleIdentifiers: ids, batch: batch)
        #expect(relativeDifference(x[...], try golden.floats("input_embeddings")[...]) < Self.tolerance)

        let logits = try golden.floats("logits"), qHalt = try golden.floats("q_halt_logits"), qContinue = try golden.floats("q_continue_logits")
        let zH = try golden.floats("z_H"), zL = try golden.floats("z_L")
        let traceL = traced > 0 ? try golden.floats("trace.z_L") : [], traceH = traced > 0 ? try golden.floats("trace.z_H") : []
        let recorder = Recorder()
        let perStepLogits = batch * c.seqLen * c.vocabSize, carry = batch * c.positions * c.hiddenSize
        try model.run(inputs: inputs, puzzleIdentifiers: ids, batch: batch, depth: RecursionDepth(steps: steps, hCycles: c.hCycles, lCycles: c.lCycles),
                      observer: recorder) { s, out in
            let r = s * perStepLogits..<(s + 1) * perStepLogits
            #expect(relativeDifference(out.logits[...], logits[r]) < Self.tolerance, "logits, step \(s)")
            #expect(relativeDifference(out.qHalt[...], qHalt[s * batch..<(s + 1) * batch]) < Self.tolerance, "q_halt, step \(s)")
            #expect(relativeDifference(out.qContinue[...], qContinue[s * batch..<(s + 1) * batch]) < Self.tolerance, "q_continue, step \(s)")
        }
        for s in 0..<steps {
            #expect(relativeDifference(recorder.endH[s]![...], zH[s * carry..<(s + 1) * carry]) < Self.tolerance, "z_H after step \(s)")
            #expect(relativeDifference(recorder.endL[s]![...], zL[s * carry..<(s + 1) * carry]) < Self.tolerance, "z_L after step \(s)")
        }
        for s in 0..<traced {
            for h in 0..<c.hCycles {
                for l in 0..<c.lCycles {
                    let k = ((s * c.hCycles + h) * c.lCycles + l) * carry
                    #expect(relativeDifference(recorder.low[.lowUpdate(step: s, h: h, l: l)]![...], traceL[k..<(k + carry)]) < Self.tolerance,
                            "z_L step \(s) h \(h) l \(l)")
                }
                let k = (s * c.hCycles + h) * carry
                #expect(relativeDifference(recorder.high[.highUpdate(step: s, h: h)]![...], traceH[k..<(k + carry)]) < Self.tolerance,
                        "z_H step \(s) h \(h)")
            }
        }
    }
}
