import ShrinkFormats
import ShrinkTensor

extension LlamaModel: BlockwiseLanguageModel {
    public var blockTensors: [[String]] { family.blocks }
    public var headTensors: [String] { [config.tiedEmbeddings ? LlamaNames.embedTokens : LlamaNames.lmHead] }

    public func trace(_ tokens: [Int32], from first: Int) throws -> (blockInputs: [[Float]], logits: [Float]) {
        var inputs = [[Float]](repeating: [], count: config.layers)
        let logits = try forward(tokens, cache: makeCache(capacity: tokens.count), hiddenStates: { s, h in
            if s < self.config.layers { inputs[s] = Array(h) }
        }, linearInputs: nil, logitsFrom: first)
        return (inputs, logits)
    }

    public func logits(fromBlock block: Int, input: [Float], tokens T: Int, from first: Int, replacing weights: any TensorSource) throws -> [Float] {
        let c = config
        guard (0..<c.layers).contains(block), input.count == T * c.hiddenSize, T > 0, (0...T).contains(first) else {
            throw ModelError.badRequest(flag: "block", reason: "block \(block) of \(c.layers) with \(input.count) input floats for \(T) tokens does not fit \(location)")
        }
        var swapped = layers
        swapped[block] = try Self.bindLayer(block, config: c, bind: WeightBinder(source: weights, file: weights.location))
        let variant = LlamaModel(copying: self, layers: swapped, head: head)
        let buffers = LlamaBlockBuffers(config: c, tokens: T)
        input.withUnsafeBufferPointer { buffers.x.update(from: $0.baseAddress!, count: T * c.hiddenSize) }
        return variant.run(buffers, tokens: T, fromBlock: block, cache: makeCache(capacity: T), hiddenStates: nil, linearInputs: nil, logitsFrom: first)
    }

    public func logits(_ tokens: [Int32], from first: Int, head weights: any TensorSource) throws -> [Float] {
        let c = config, bind = WeightBinder(source: weights, file: weights.location)
        let replaced = try bind.linear(headTensors[0], out: c.vocabularySize, in: c.hiddenSize)
        let variant = LlamaModel(copying: self, layers: layers, head: replaced)
        return try variant.forward(tokens, cache: makeCache(capacity: tokens.count), hiddenStates: nil, linearInputs: nil, logitsFrom: first)
    }
}
