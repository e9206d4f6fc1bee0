import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// A Llama-architecture decoder with its weights bound (transformers' LlamaForCausalLM, and Qwen2ForCausalLM
/// with q/k/v biases): pre-norm blocks of RMSNorm → grouped-query causal attention with RoPE → residual,
/// RMSNorm → SwiGLU MLP → residual, then the final RMSNorm and the (tied or untied) output head.
///
/// Memory: every linear weight is held packed for `sk_gemm` (F32 panels of 16 output columns, the size of the
/// F32 weights plus padding to 16 rows); q/k/v and gate/up are each packed as one fused weight. A tied
/// embedding table is read back from the packed head (`sk_gemm_packed_row`), so it is stored once.
public final class LlamaModel: CompressibleModel, @unchecked Sendable {
    public let config: LlamaConfig
    public let location: String
    public var family: LlamaFamily { LlamaFamily(config) }
    public var familyDescription: any ModelFamily { family }
    public func hasSameArchitecture(as other: any CompressibleModel) -> Bool { (other as? LlamaModel)?.config.sameArchitecture(as: config) == true }

    struct Layer {
        var inputNorm: [Float], postNorm: [Float]
        /// q, k, v stacked: [qDim + 2·kvDim, hidden] (with the three biases when the config has them).
        var qkv: PackedLinear
        var o: PackedLinear
        /// gate, up stacked: [2·intermediate, hidden], so a row of its output is sk_swiglu_rows' layout.
        var gateUp: PackedLinear
        var down: PackedLinear
        var names: LlamaNames.Layer
    }

    let layers: [Layer]
    let finalNorm: [Float]
    /// The output head [vocab, hidden]: lm_head, or the embedding table when tied.
    let head: PackedLinear
    /// The untied input table (resident or streamed); nil when tied (rows come from `head`).
    let embedding: (any EmbeddingRows)?

    /// Binds HF-named tensors (`LlamaNames`) to `config`; every tensor must be used.
    public init(config: LlamaConfig, weights: any TensorSource, location: String, streamEmbeddings: Bool = false) throws {
        try config.validateRunnable(file: location)
        self.config = config
        self.location = location
        let c = config, H = c.hiddenSize, V = c.vocabularySize
        let bind = WeightBinder(source: weights, file: weights.location)
        typealias N = LlamaNames

        // The head first: its dequantized table (the largest tensor) is freed before the layers' panels exist,
        // which keeps the peak of binding at the packed model plus one tensor.
        finalNorm = try bind.tensor(N.finalNorm, shape: [H])
        if c.tiedEmbeddings {
            head = try bind.linear(N.embedTokens, out: V, in: H)
            // Some checkpoints store the tied head too; it is the same table.
            if weights.info(N.lmHead) != nil { _ = try bind.tensor(N.lmHead, shape: [V, H]) }
            embedding = nil
        } else {
            head = try bind.linear(N.lmHead, out: V, in: H)
            embedding = streamEmbeddings ? try bind.rows(N.embedTokens, shape: [V, H])
                : ResidentRows(values: try bind.tensor(N.embedTokens, shape: [V, H]), rows: V, width: H)
        }
        layers = try (0..<c.layers).map { try Self.bindLayer($0, config: c, bind: bind) }
        try bind.finish()
    }

    /// `other` with its blocks or head swapped (the arrays of the rest are shared, not copied).
    init(copying other: LlamaModel, layers: [Layer], head: PackedLinear) {
        config = other.config
        location = other.location
        finalNorm = other.finalNorm
        embedding = other.embedding
        self.layers = layers
        self.head = head
    }

    /// Block `i`'s weights, packed (q/k/v and gate/up each fused).
    static func bindLayer(_ i: Int, config c: LlamaConfig, bind: WeightBinder) throws -> Layer {
        let H = c.hiddenSize, I = c.intermediateSize
        func stacked(_ names: [String], rows: [Int], biases: [String]?, name: String) throws -> PackedLinear {
            var w: [Float] = []
            w.reserveCapacity(rows.reduce(0, +) * H)
            for (n, r) in zip(names, rows) { w += try bind.tensor(n, shape: [r, H]) }
            var b: [Float]?
            if let biases {
                b = []
                for (n, r) in zip(biases, rows) { b! += try bind.tensor(n, shape: [r]) }
            }
            return PackedLinear(weight: w, outFeatures: rows.reduce(0, +), inFeatures: H, bias: b, name: name)
        }
        let n = LlamaNames.layer(i)
        let qkv = try stacked([n.q, n.k, n.v], rows: [c.qDim, c.kvDim, c.kvDim], biases: c.qkvBias ? [n.qBias, n.kBias, n.vBias] : nil,
                              name: n.q)
        let gateUp = try stacked([n.gate, n.up], rows: [I, I], biases: nil, name: n.gate)
        return Layer(inputNorm: try bind.tensor(n.inputNorm, shape: [H]), postNorm: try bind.tensor(n.postNorm, shape: [H]),
                     qkv: qkv, o: try bind.linear(n.o, out: H, in: c.qDim), gateUp: gateUp,
                     down: try bind.linear(n.down, out: H, in: I), names: n)
    }

    /// Loads a decoder from a model directory or its weights file (config.json beside them).
    public static func load(_ path: String, streamEmbeddings: Bool = false) throws -> LlamaModel {
        try ModelRegistry.load(path, as: LlamaModel.self, needed: "a Llama-architecture decoder", streamEmbeddings: streamEmbeddings)
    }

    /// Parameters of every bound tensor (a tied table counted once).
    public var parameterCount: Int { config.tensors().reduce(0) { $0 + $1.parameters } }

    /// A cache for `capacity` positions (K and V of every layer, plus the RoPE tables of those positions).
    public func makeCache(capacity: Int) -> KVCache { KVCache(config: config, capacity: capacity) }

    /// Writes embedding row `token` into `destination` (hidden floats).
    func embed(_ token: Int, into destination: UnsafeMutablePointer<Float>) {
        if let embedding {
            embedding.copyRow(token, into: destination)
        } else {
            head.withPacked { sk_gemm_packed_row($0, config.vocabularySize, config.hiddenSize, token, destination) }
        }
    }
}

/// Keys and values of every layer for positions 0 ..< `count`, room for `capacity`, and the RoPE cos/sin
/// tables of those positions. One sequence; `forward` appends to it.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public let layers: Int
    /// Floats per position per layer (kv_heads × head_dim).
    public let kvDim: Int
    public internal(set) var count = 0
    /// [layers][capacity, kvDim], keys then values.
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    /// [capacity, head_dim] each.
    let cosTable: [Float], sinTable: [Float]

    init(config c: LlamaConfig, capacity: Int) {
        self.capacity = max(1, capacity)
        layers = c.layers; kvDim = c.kvDim
        let n = c.layers * self.capacity * c.kvDim
        // Position p is written before any query reads it: no need to clear the buffers.
        keys = .allocate(capacity: n)
        values = .allocate(capacity: n)
        (cosTable, sinTable) = Self.ropeTables(positions: self.capacity, headDim: c.headDim, theta: c.ropeTheta)
    }

    deinit { keys.deallocate(); values.deallocate() }

    /// Forgets every position (the buffers are kept).
    public func reset() { count = 0 }

    func keys(layer: Int) -> UnsafeMutablePointer<Float> { keys + layer * capacity * kvDim }
    func values(layer: Int) -> UnsafeMutablePointer<Float> { values + layer * capacity * kvDim }

    /// cos/sin [positions, d] in float32 as transformers' LlamaRotaryEmbedding (default rope type) computes them:
    /// inv_freq_j = 1 / θ^(2j/d), angle = position · inv_freq_j, each half of a row repeating the d/2 angles.
    public static func ropeTables(positions: Int, headDim d: Int, theta: Double) -> (cos: [Float], sin: [Float]) {
        var cosT = [Float](repeating: 0, count: positions * d), sinT = cosT
        let half = d / 2
        let invFreq: [Float] = (0..<half).map { j in Float(1) / Float(pow(theta, Double(Float(2 * j) / Float(d)))) }
        for p in 0..<positions {
            for i in 0..<d {
                let angle = Float(p) * invFreq[i % half]
                cosT[p * d + i] = cos(angle)
                sinT[p * d + i] = sin(angle)
            }
        }
        return (cosT, sinT)
    }
}

extension LlamaModel: CausalLanguageModel {
    public var vocabularySize: Int { config.vocabularySize }
    public var hiddenSize: Int { config.hiddenSize }
    public var hiddenStateCount: Int { config.layers + 1 }

    /// The byte-level BPE tokenizer of the GGUF (`tokenizer.ggml.*`) or of the `tokenizer.json` beside the weights.
    public func makeTokenizer() throws -> any Tokenizer { try family.tokenizer(location: location) }

    public func logits(_ tokens: [Int32], from first: Int, hiddenStates: ((Int, UnsafeBufferPointer<Float>) -> Void)?,
                       linearInputs: LinearInputObserver?) throws -> [Float] {
        try forward(tokens, cache: makeCache(capacity: tokens.count), hiddenStates: hiddenStates, linearInputs: linearInputs, logitsFrom: first)
    }
}
