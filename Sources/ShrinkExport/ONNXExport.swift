import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import SwiftProtobuf

/// `shrink export onnx`: a TRM/HRM reasoner (FP32 or compressed) as one ONNX graph.
///
/// The recursion is unrolled: K supervision steps × H cycles × (L cycles + 1)
/// module applications become straight-line nodes that all read the same shared
/// initializers. The depth is small and fixed at export (≤ a few hundred block
/// applications), so unrolling costs only graph size, never weight bytes; it lets
/// onnxruntime fuse and plan memory across the whole chain, and avoids a `Loop`
/// whose body runs as a subgraph with per-iteration overhead and no cross-iteration
/// fusion. Inputs: `inputs` int64 [batch, seq_len] (+ `puzzle_identifiers` int64
/// [batch] when the config has a puzzle embedding). Outputs: `logits` float
/// [batch, seq_len, vocab] of the last step and `predictions` int64 [batch, seq_len]
/// (argmax, first maximum on ties, as ARCHITECTURE.md §8). A weight stored with low-rank
/// factors (`shrink quantize --low-rank`, W ≈ Ŵ + A·B) keeps its quantized nodes and adds
/// (x·Bᵀ)·Aᵀ: MatMul on `<p>.weight_lora_b.T`, MatMul on `<p>.weight_lora_a.T`, Add.
public enum ONNXExport {
    /// How quantized weights are written.
    public enum Style: String, CaseIterable, Codable, Sendable {
        /// int8/int4 initializers + DequantizeLinear (opset 21) feeding float MatMul.
        case qdq
        /// com.microsoft MatMulNBits for every linear layer (4- or 8-bit); embeddings stay QDQ.
        case matmulnbits
    }

    public struct Options: Sendable {
        public var style: Style = .qdq
        /// Supervision steps to unroll (default: the config's halt_max_steps).
        public var steps: Int?
        public init(style: Style = .qdq, steps: Int? = nil) { self.style = style; self.steps = steps }
    }

    public struct Summary: Codable, Sendable {
        public var model: String
        public var output: String
        public var bytes: Int
        public var style: Style
        public var steps: Int
        public var nodes: Int
        public var initializers: Int
        public var quantizedWeights: Int
        public var floatWeights: Int
        /// Quantized weights exported with their low-rank factors (`shrink quantize --low-rank`).
        public var lowRankWeights: Int
        public var operators: [String: Int]
    }

    public static let opset = 21
    public static let irVersion: Int64 = 10
    public static let microsoftDomain = "com.microsoft"

    /// Builds the graph for the model in `directory` (FP32 or compressed).
    public static func model(directory: String, options: Options = Options()) throws -> (Onnx_ModelProto, Summary) {
        let reasoner = try RecursiveReasoner.load(directory: directory)
        let source: any TensorSource = CompressedCheckpoint.isCompressed(reasoner.location)
            ? try CompressedCheckpoint(directory: reasoner.location) : try Checkpoint.open(reasoner.location)
        let steps = options.steps ?? reasoner.config.haltMaxSteps
        guard steps >= 1 else { throw ExportError.badFlag(flag: "--steps", value: String(steps), reason: "must be at least 1") }
        let compressed = source as? CompressedCheckpoint
        if options.style == .matmulnbits && (compressed?.packedWeights.isEmpty ?? true) {
            throw ExportError.badFlag(flag: "--style", value: "matmulnbits",
                                      reason: "needs quantized weights, and '\(reasoner.location)' has none; quantize it with `shrink quantize --bits 4` or use --style qdq")
        }
        var emitter = GraphEmitter(config: reasoner.config, source: source, compressed: compressed, style: options.style)
        try emitter.emitGraph(steps: steps)

        var graph = Onnx_GraphProto()
        graph.name = "shrink_" + reasoner.config.arch.rawValue
        graph.node = emitter.g.nodes
        graph.initializer = emitter.g.initializers
        graph.input = emitter.inputs
        graph.output = emitter.outputs
        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        model.producerName = "shrink"
        model.producerVersion = ShrinkVersion.current
        model.graph = graph
        var onnx = Onnx_OperatorSetIdProto()
        onnx.domain = ""; onnx.version = Int64(opset)
        model.opsetImport = [onnx]
        if emitter.usesMicrosoftDomain {
            var ms = Onnx_OperatorSetIdProto()
            ms.domain = microsoftDomain; ms.version = 1
            model.opsetImport.append(ms)
        }
        var ops: [String: Int] = [:]
        for n in graph.node { ops[n.opType, default: 0] += 1 }
        let summary = Summary(model: reasoner.location, output: "", bytes: 0, style: options.style, steps: steps,
                              nodes: graph.node.count, initializers: graph.initializer.count,
                              quantizedWeights: emitter.quantizedWeights, floatWeights: emitter.floatWeights,
                              lowRankWeights: emitter.lowRankWeights, operators: ops)
        return (model, summary)
    }

    /// Writes the ONNX file atomically.
    @discardableResult
    public static func export(directory: String, to path: String, options: Options = Options()) throws -> Summary {
        var (model, summary) = try Self.model(directory: directory, options: options)
        let bytes: [UInt8] = try model.serializedBytes()
        try AtomicFile.write(bytes: bytes, to: path)
        summary.output = path
        summary.bytes = bytes.count
        return summary
    }
}

/// Emits ARCHITECTURE.md §4–7 as ONNX nodes.
struct GraphEmitter {
    let c: ReasonerConfig
    let source: any TensorSource
    let compressed: CompressedCheckpoint?
    let style: ONNXExport.Style
    var g = ONNXGraphBuilder()
    var inputs: [Onnx_ValueInfoProto] = []
    var outputs: [Onnx_ValueInfoProto] = []
    var usesMicrosoftDomain = false
    var quantizedWeights = 0, floatWeights = 0, lowRankWeights = 0
    /// Weight name (+ layout) → the graph value holding it as float.
    private var floatValues: [String: String] = [:]
    private var nbits: [String: (ONNXWeightEncoding.NBits, [String])] = [:]
    private var unpacked: [String: UnpackedWeight] = [:]
    private var factors: [String: LowRank.Factors] = [:]
    /// Weights whose transposed factor initializers are in the graph.
    private var factorInitializers: Set<String> = []

    init(config: ReasonerConfig, source: any TensorSource, compressed: CompressedCheckpoint?, style: ONNXExport.Style) {
        c = config; self.source = source; self.compressed = compressed; self.style = style
    }

    mutating func emitGraph(steps: Int) throws {
        let D = c.hiddenSize, P = c.positions, E = c.puzzleEmbLen, L = c.seqLen
        inputs.append(.tensor("inputs", .int64, [.symbolic("batch"), .fixed(L)]))
        var e = try g.node("Gather", [weight(ReasonerNames.embedTokens, transposed: false), "inputs"], [.int("axis", 0)])
        if c.puzzleEmbNdim > 0 {
            inputs.append(.tensor("puzzle_identifiers", .int64, [.symbolic("batch")]))
            var pe = try g.node("Gather", [weight(ReasonerNames.puzzleEmbedding, transposed: false), "puzzle_identifiers"], [.int("axis", 0)])
            if E * D > c.puzzleEmbNdim {
                pe = g.node("Pad", [pe, g.int64Vector([0, 0, 0, E * D - c.puzzleEmbNdim])])
            }
            pe = g.node("Reshape", [pe, g.int64Vector([0, E, D])])
            e = g.node("Concat", [pe, e], [.int("axis", 1)])
        }
        if c.posEncodings == .learned {
            let pos = try weight(ReasonerNames.positionEmbedding, transposed: false)
            e = g.node("Mul", [g.node("Add", [e, pos]), g.scalar(0.707106781)])
        }
        let x = g.node("Mul", [e, g.scalar(Float(Double(D).squareRoot()))], output: "input_embeddings")

        // The initial carry is one [D] vector; broadcasting in the first Add makes it [B, P, D].
        var zH = try weight(ReasonerNames.hInit, transposed: false)
        var zL = try weight(ReasonerNames.lInit, transposed: false)
        let high: ReasonerNames.Level = c.arch == .hrm ? .high : .low
        let highLayers = c.arch == .hrm ? c.hLayers : c.lLayers
        for _ in 0..<steps {
            for _ in 0..<c.hCycles {
                for _ in 0..<c.lCycles {
                    zL = try module(.low, layers: c.lLayers, hidden: zL, injection: g.node("Add", [zH, x]))
                }
                zH = try module(high, layers: highLayers, hidden: zH, injection: zL)
            }
        }
        let tokens = E == 0 ? zH : g.node("Slice", [zH, g.int64Vector([E]), g.int64Vector([P]), g.int64Vector([1])])
        try linear(tokens, ReasonerNames.lmHead, output: "logits")
        g.node("ArgMax", ["logits"], [.int("axis", -1), .int("keepdims", 0), .int("select_last_index", 0)], output: "predictions")
        outputs = [.tensor("logits", .float, [.symbolic("batch"), .fixed(L), .fixed(c.vocabSize)]),
                   .tensor("predictions", .int64, [.symbolic("batch"), .fixed(L)])]
    }

    /// Module(hidden, injection) of §6.
    private mutating func module(_ level: ReasonerNames.Level, layers: Int, hidden: String, injection: String) throws -> String {
        var h = g.node("Add", [hidden, injection])
        for i in 0..<layers {
            let names = ReasonerNames.block(level, i)
            if c.mlpT {
                let t = g.node("Transpose", [h], [.ints("perm", [0, 2, 1])])
                let mixed = residualNorm(t, try swiglu(t, gateUp: names.tokenGateUp, down: names.tokenDown))
                h = g.node("Transpose", [mixed], [.ints("perm", [0, 2, 1])])
            } else {
                h = residualNorm(h, try attention(h, qkv: names.qkv, output: names.output))
            }
            h = residualNorm(h, try swiglu(h, gateUp: names.gateUp, down: names.down))
        }
        return h
    }

    /// rms_norm(v + u) over the last axis: (v+u)·1/sqrt(mean((v+u)²) + ε), as the kernel computes it.
    private mutating func residualNorm(_ v: String, _ u: String) -> String {
        let s = g.node("Add", [v, u])
        let meanSquare = g.node("ReduceMean", [g.node("Mul", [s, s]), g.int64Vector([-1])], [.int("keepdims", 1)])
        let inv = g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [meanSquare, g.scalar(Float(c.rmsNormEps))])])])
        return g.node("Mul", [s, inv])
    }

    /// §3: Linear(silu(gate)·up; down) with gate/up the two halves of gate_up_proj's output.
    private mutating func swiglu(_ v: String, gateUp gateUpName: String, down: String) throws -> String {
        let gateUp = try linear(v, gateUpName)
        let halves = g.multiOutput("Split", [gateUp], [.int("axis", -1), .int("num_outputs", 2)], count: 2)
        let silu = g.node("Mul", [halves[0], g.node("Sigmoid", [halves[0]])])
        return try linear(g.node("Mul", [silu, halves[1]]), down)
    }

    /// §5: multi-head attention over all positions, RoPE on q and k.
    private mutating func attention(_ h: String, qkv qkvName: String, output: String) throws -> String {
        let nH = c.numHeads, d = c.headDim, A = c.attentionWidth
        let qkv = try linear(h, qkvName)
        // [B, P, 3A] → [B, P, 3, nH, d] → [3, B, nH, P, d]  (A = nH·d: hidden_size unless heads were pruned)
        let heads = g.node("Transpose", [g.node("Reshape", [qkv, g.int64Vector([0, 0, 3, nH, d])])], [.ints("perm", [2, 0, 3, 1, 4])])
        let parts = g.multiOutput("Split", [heads], [.int("axis", 0), .int("num_outputs", 3)], count: 3)
        var (q, k, v) = (squeeze(parts[0]), squeeze(parts[1]), squeeze(parts[2]))
        if c.usesRoPE {
            q = try rope(q); k = try rope(k)
        }
        let kT = g.node("Transpose", [k], [.ints("perm", [0, 1, 3, 2])])
        // The kernel scales q before the dot products.
        let scores = g.node("MatMul", [g.node("Mul", [q, g.scalar(1 / Float(Double(d).squareRoot()))]), kT])
        let weights = g.node("Softmax", [scores], [.int("axis", -1)])
        let o = g.node("Transpose", [g.node("MatMul", [weights, v])], [.ints("perm", [0, 2, 1, 3])])
        return try linear(g.node("Reshape", [o, g.int64Vector([0, 0, A])]), output)
    }

    private mutating func squeeze(_ v: String) -> String { g.node("Squeeze", [v, g.int64Vector([0])]) }

    /// rope(z) = z·cos + rotate_half(z)·sin with float32 tables [P, d] (§5).
    private mutating func rope(_ z: String) throws -> String {
        let (cosName, sinName) = ropeTables()
        let halves = g.multiOutput("Split", [z], [.int("axis", -1), .int("num_outputs", 2)], count: 2)
        let rotated = g.node("Concat", [g.node("Neg", [halves[1]]), halves[0]], [.int("axis", -1)])
        return g.node("Add", [g.node("Mul", [z, cosName]), g.node("Mul", [rotated, sinName])])
    }

    private mutating func ropeTables() -> (String, String) {
        if floatValues["rope.cos"] != nil { return ("rope.cos", "rope.sin") }
        let (P, d) = (c.positions, c.headDim)
        let (cosT, sinT) = RecursiveReasoner.ropeTables(c)
        floatValues["rope.cos"] = g.floats("rope.cos", dims: [P, d], cosT)
        floatValues["rope.sin"] = g.floats("rope.sin", dims: [P, d], sinT)
        return ("rope.cos", "rope.sin")
    }

    /// x·Wᵀ for the [out, in] weight `name`. A weight with low-rank factors (W ≈ Ŵ + A·B,
    /// `LowRankCompensation`) is x·Ŵᵀ + (x·Bᵀ)·Aᵀ: the quantized product as without factors, plus
    /// MatMul(MatMul(x, `<p>.weight_lora_b.T`), `<p>.weight_lora_a.T`) and one Add (`lowRankProduct`).
    @discardableResult
    private mutating func linear(_ x: String, _ name: String, output: String? = nil) throws -> String {
        let factors = try lowRankFactors(name)
        let quantizedOutput = factors == nil ? output : g.fresh(name + "_quantized")
        let y: String
        if style == .matmulnbits, let w = try quantizedWeight(name) {
            let (enc, names) = try nbitsInitializers(w)
            usesMicrosoftDomain = true
            y = g.node("MatMulNBits", [x] + names,
                       [.int("K", enc.K), .int("N", enc.N), .int("bits", enc.bits), .int("block_size", enc.blockSize), .int("accuracy_level", 0)],
                       domain: ONNXExport.microsoftDomain, output: quantizedOutput)
        } else {
            y = g.node("MatMul", [x, try weight(name, transposed: true)], output: quantizedOutput)
        }
        guard let factors else { return y }
        return g.node("Add", [y, lowRankProduct(x, name, factors)], output: output)
    }

    /// (x·Bᵀ)·Aᵀ for weight `name`'s factors: two MatMuls on float32 initializers `<p>.weight_lora_b.T`
    /// [columns, R] and `<p>.weight_lora_a.T` [R, rows] (the stored F16 values widened exactly), their
    /// outputs `<p>.weight_lora_b_<n>` and `<p>.weight_lora_a_<n>`.
    private mutating func lowRankProduct(_ x: String, _ name: String, _ f: LowRank.Factors) -> String {
        let (a, b) = (name + LowRankCompensation.suffixA, name + LowRankCompensation.suffixB)
        if !factorInitializers.contains(name) {
            _ = g.floats(b + ".T", dims: [f.columns, f.rank], Self.transpose(f.b, rows: f.rank, columns: f.columns))
            _ = g.floats(a + ".T", dims: [f.rank, f.rows], Self.transpose(f.a, rows: f.rows, columns: f.rank))
            factorInitializers.insert(name)
        }
        let xb = g.node("MatMul", [x, b + ".T"], output: g.fresh(b))
        return g.node("MatMul", [xb, a + ".T"], output: g.fresh(a))
    }

    /// Weight `name`'s low-rank factors as Shrink reads them (nil when it has none).
    private mutating func lowRankFactors(_ name: String) throws -> LowRank.Factors? {
        if let f = factors[name] { return f }
        guard let compressed, compressed.lowRankWeights.contains(name), let packed = compressed.packedWeights[name] else { return nil }
        let f = try LowRankCompensation.read(name, rows: packed.layout.rows, columns: packed.layout.columns, from: compressed.stored)
        factors[name] = f
        lowRankWeights += 1
        return f
    }

    /// [rows, columns] row-major → [columns, rows].
    private static func transpose(_ v: [Float], rows: Int, columns: Int) -> [Float] {
        var t = v
        for r in 0..<rows { for j in 0..<columns { t[j * rows + r] = v[r * columns + j] } }
        return t
    }

    private mutating func quantizedWeight(_ name: String) throws -> UnpackedWeight? {
        if let w = unpacked[name] { return w }
        guard let compressed, let packed = compressed.packedWeights[name] else { return nil }
        if packed.layout.scheme.grid == .ggmlMinimum { throw ExportError.ggmlMinimumGrid(file: compressed.location, tensor: name, format: "ONNX") }
        let w = UnpackedWeight(name: name, try compressed.quantized(packed))
        unpacked[name] = w
        return w
    }

    private mutating func nbitsInitializers(_ w: UnpackedWeight) throws -> (ONNXWeightEncoding.NBits, [String]) {
        if let done = nbits[w.name] { return done }
        let enc: ONNXWeightEncoding.NBits
        switch ONNXWeightEncoding.nbits(w) {
        case let .success(e): enc = e
        case let .failure(error): throw error
        }
        g.initializer(w.name + ".nbits", .uint8, dims: [enc.N, enc.kBlocks, enc.blockSize * enc.bits / 8], raw: Data(enc.b))
        var names = [w.name + ".nbits", g.floats(w.name + ".nbits_scales", dims: [enc.N, enc.kBlocks], enc.scales)]
        if let z = enc.zeroPoints {
            g.initializer(w.name + ".nbits_zero_points", .uint8, dims: [enc.N, z.count / enc.N], raw: Data(z))
            names.append(w.name + ".nbits_zero_points")
        }
        quantizedWeights += 1
        nbits[w.name] = (enc, names)
        return (enc, names)
    }

    /// The float value of weight `name` ([out, in], or [in, out] when `transposed`):
    /// an initializer for float tensors, DequantizeLinear of int8/int4 ones. Transposed, it is
    /// only Ŵ (`linear` adds a low-rank weight's factors as a product of their own); untransposed
    /// (the embeddings' Gather), a weight with factors is Add(Ŵ, MatMul(`<p>.weight_lora_a`,
    /// `<p>.weight_lora_b`)) = Ŵ + A·B, output `<p>.weight_compensated`.
    private mutating func weight(_ name: String, transposed: Bool) throws -> String {
        let key = name + (transposed ? ".T" : "")
        if let v = floatValues[key] { return v }
        var value: String
        if let w = try quantizedWeight(name) {
            let q = ONNXWeightEncoding.qdq(w, transposed: transposed)
            g.initializer(key + ".quantized", q.codeType, dims: q.dims, raw: Data(q.codes))
            var args = [key + ".quantized", g.floats(key + ".scale", dims: q.scaleDims, q.scales)]
            if let z = q.zeroPoints {
                g.initializer(key + ".zero_point", q.codeType, dims: q.scaleDims, raw: Data(z))
                args.append(key + ".zero_point")
            }
            var attributes: [Onnx_AttributeProto] = []
            if let axis = q.axis { attributes.append(.int("axis", axis)) }
            if let b = q.blockSize { attributes.append(.int("block_size", b)) }
            value = g.node("DequantizeLinear", args, attributes, output: key)
            quantizedWeights += 1
            if !transposed, let f = try lowRankFactors(name) {
                let (a, b) = (name + LowRankCompensation.suffixA, name + LowRankCompensation.suffixB)
                let ab = g.node("MatMul", [g.floats(a, dims: [f.rows, f.rank], f.a), g.floats(b, dims: [f.rank, f.columns], f.b)], output: name + "_lora_ab")
                value = g.node("Add", [value, ab], output: name + "_compensated")
            }
        } else {
            guard let info = source.info(name) else { throw ModelError.missingTensor(file: source.location, tensor: name) }
            var values = try source.floats(name)
            var dims = info.shape.dims
            if transposed {
                values = Self.transpose(values, rows: dims[0], columns: dims[1])
                dims = [dims[1], dims[0]]
            }
            value = g.floats(key, dims: dims, values)
            floatWeights += 1
        }
        floatValues[key] = value
        return value
    }
}
