import ShrinkFormats
import ShrinkTensor

extension LlamaFamily: SequentialFamily {
    /// Block i: its two norms and seven linear weights (with q/k/v biases when the config has them).
    public var blocks: [[String]] {
        (0..<config.layers).map { i in
            let n = LlamaNames.layer(i)
            return [n.inputNorm, n.q, n.k, n.v] + (config.qkvBias ? [n.qBias, n.kBias, n.vBias] : []) + [n.o, n.postNorm, n.gate, n.up, n.down]
        }
    }

    public func sequentialRunner(_ weights: any TensorSource, location: String) throws -> any SequentialRunner {
        try config.validateRunnable(file: location)
        return LlamaSequentialRunner(config: config, weights: presenting(weights), location: location)
    }
}

/// Calibration sequences' hidden states between Llama blocks, [units, tokens, hidden], each unit run from
/// position 0 with its own keys and values (as the language-modelling task runs a chunk from a fresh cache).
final class LlamaSequentialRunner: SequentialRunner {
    let config: LlamaConfig
    let weights: any TensorSource
    let location: String
    private var states: [[Float]] = []
    private var lengths: [Int] = []

    init(config: LlamaConfig, weights: any TensorSource, location: String) {
        self.config = config; self.weights = weights; self.location = location
    }

    var stateBytes: Int { states.reduce(0) { $0 + $1.count * 4 } }

    func begin(_ units: [[Int32]]) throws {
        let c = config, H = c.hiddenSize, V = c.vocabularySize
        let embed = LlamaNames.embedTokens
        guard let info = weights.info(embed) else { throw ModelError.missingTensor(file: location, tensor: embed) }
        guard info.shape == Shape([V, H]) else { throw ModelError.wrongShape(file: location, tensor: embed, expected: Shape([V, H]), actual: info.shape) }
        // Rows read on demand: the table stays in the mapped file.
        let rows = try StreamedRows(source: weights, name: embed)
        states = []
        lengths = []
        for unit in units {
            guard !unit.isEmpty else { throw ModelError.badRequest(flag: "--calib", reason: "a calibration sequence is empty") }
            if let bad = unit.first(where: { $0 < 0 || Int($0) >= V }) {
                throw ModelError.badRequest(flag: "--calib", reason: "token \(bad) is outside \(location)'s vocabulary of \(V)")
            }
            var x = [Float](repeating: 0, count: unit.count * H)
            x.withUnsafeMutableBufferPointer { xb in
                for (t, token) in unit.enumerated() { rows.copyRow(Int(token), into: xb.baseAddress! + t * H) }
            }
            states.append(x)
            lengths.append(unit.count)
        }
        weights.release(embed)
    }

    func run(block index: Int, weights blockWeights: any TensorSource, observer: LinearInputObserver?, advance: Bool) throws {
        let c = config, H = c.hiddenSize
        guard (0..<c.layers).contains(index) else {
            throw ModelError.badRequest(flag: "block", reason: "\(index) is outside 0..<\(c.layers)")
        }
        let layer = try LlamaModel.bindLayer(index, config: c, bind: WeightBinder(source: blockWeights, file: location))
        let longest = lengths.max() ?? 0
        guard longest > 0 else { return }
        let buffers = LlamaBlockBuffers(config: c, tokens: longest)
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: longest * c.kvDim)
        let values = UnsafeMutablePointer<Float>.allocate(capacity: longest * c.kvDim)
        defer { keys.deallocate(); values.deallocate() }
        let (cosT, sinT) = KVCache.ropeTables(positions: longest, headDim: c.headDim, theta: c.ropeTheta)
        try cosT.withUnsafeBufferPointer { cb in
            try sinT.withUnsafeBufferPointer { sb in
                for u in states.indices {
                    let T = lengths[u]
                    observer?.beginUnits(u..<(u + 1))
                    states[u].withUnsafeBufferPointer { buffers.x.update(from: $0.baseAddress!, count: T * H) }
                    LlamaModel.runBlock(layer, config: c, buffers: buffers, tokens: T, start: 0, keys: keys, values: values,
                                        cos: cb.baseAddress!, sin: sb.baseAddress!, linearInputs: observer)
                    if advance { states[u].withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: buffers.x, count: T * H) } }
                }
                if states.isEmpty { throw ModelError.badRequest(flag: "--calib", reason: "no calibration sequences; call begin first") }
            }
        }
    }
}
