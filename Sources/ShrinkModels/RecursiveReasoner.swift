import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// TRM ("Less is More: Recursive Reasoning with Tiny Networks", arXiv 2510.04871)
/// and HRM ("Hierarchical Reasoning Model", arXiv 2506.21734) at inference, exactly
/// as tools/reference/ARCHITECTURE.md specifies: post-norm blocks (attention with
/// RoPE, or an MLP across the sequence when `mlp_t`) and SwiGLU, the H/L recursion,
/// and supervision steps whose carry flows from one step to the next.
public final class RecursiveReasoner: @unchecked Sendable {
    public let config: ReasonerConfig
    public let location: String
    let embedTokens: [Float]
    let puzzleEmbedding: [Float]?
    let positionEmbedding: [Float]?
    let hInit: [Float], lInit: [Float]
    let lmHead: PackedLinear
    let qHead: PackedLinear
    let lLevel: ReasoningModule
    let hLevel: ReasoningModule?
    let ropeCos: [Float], ropeSin: [Float]

    struct SwiGLU {
        var gateUp: PackedLinear
        var down: PackedLinear
        var inter: Int { down.inFeatures }
    }

    struct Block {
        var qkv: PackedLinear?
        var output: PackedLinear?
        var tokenMLP: SwiGLU?
        var mlp: SwiGLU
    }

    struct ReasoningModule { var blocks: [Block] }

    /// Binds a checkpoint (names as the upstream PyTorch modules) to `config`.
    public init(config: ReasonerConfig, weights: any TensorSource, location: String) throws {
        try config.validate(file: location)
        self.config = config
        self.location = location
        let c = config, D = c.hiddenSize, P = c.positions
        let bind = WeightBinder(source: weights, file: weights.location)
        hInit = try bind.tensor("inner.H_init", shape: [D])
        lInit = try bind.tensor("inner.L_init", shape: [D])
        embedTokens = try bind.tensor("inner.embed_tokens.embedding_weight", shape: [c.vocabSize, D])
        lmHead = try bind.linear("inner.lm_head.weight", out: c.vocabSize, in: D)
        qHead = try bind.linear("inner.q_head.weight", out: 2, in: D, bias: "inner.q_head.bias")
        puzzleEmbedding = c.puzzleEmbNdim > 0 ? try bind.tensor("inner.puzzle_emb.weights", shape: [c.numPuzzleIdentifiers, c.puzzleEmbNdim]) : nil
        positionEmbedding = c.posEncodings == .learned ? try bind.tensor("inner.embed_pos.embedding_weight", shape: [P, D]) : nil

        func module(_ name: String, layers: Int) throws -> ReasoningModule {
            try ReasoningModule(blocks: (0..<layers).map { i in
                let prefix = "inner.\(name).layers.\(i)."
                let inter = c.swigluWidth(D)
                let mlp = SwiGLU(gateUp: try bind.linear(prefix + "mlp.gate_up_proj.weight", out: 2 * inter, in: D),
                                 down: try bind.linear(prefix + "mlp.down_proj.weight", out: D, in: inter))
                if c.mlpT {
                    let interT = c.swigluWidth(P)
                    let token = SwiGLU(gateUp: try bind.linear(prefix + "mlp_t.gate_up_proj.weight", out: 2 * interT, in: P),
                                       down: try bind.linear(prefix + "mlp_t.down_proj.weight", out: P, in: interT))
                    return Block(qkv: nil, output: nil, tokenMLP: token, mlp: mlp)
                }
                return Block(qkv: try bind.linear(prefix + "self_attn.qkv_proj.weight", out: 3 * D, in: D),
                             output: try bind.linear(prefix + "self_attn.o_proj.weight", out: D, in: D),
                             tokenMLP: nil, mlp: mlp)
            })
        }
        lLevel = try module("L_level", layers: c.lLayers)
        hLevel = c.arch == .hrm ? try module("H_level", layers: c.hLayers) : nil
        try bind.finish()

        (ropeCos, ropeSin) = c.usesRoPE ? Self.ropeTables(c) : ([Float](repeating: 0, count: P * c.headDim), [Float](repeating: 0, count: P * c.headDim))
    }

    /// RoPE tables cos, sin [P, head_dim], float32 as the reference computes them (ARCHITECTURE.md §5).
    public static func ropeTables(_ c: ReasonerConfig) -> (cos: [Float], sin: [Float]) {
        let P = c.positions, d = c.headDim, half = d / 2
        var cosT = [Float](repeating: 0, count: P * d), sinT = cosT
        for p in 0..<P {
            for i in 0..<d {
                let j = i % half
                let invFreq = Float(1) / Float(pow(c.ropeTheta, Double(Float(2 * j) / Float(d))))
                let angle = Float(p) * invFreq
                cosT[p * d + i] = cos(angle)
                sinT[p * d + i] = sin(angle)
            }
        }
        return (cosT, sinT)
    }

    /// Loads `config.json` and the checkpoint from a model directory (a compressed
    /// pack-quantized directory works too: its weights are dequantized on load).
    public static func load(directory: String) throws -> RecursiveReasoner {
        let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let configPath = dir + "/config.json"
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw FormatError.cannotOpen(file: configPath, reason: "a model directory needs config.json next to its weights")
        }
        let config: ReasonerConfig
        do { config = try JSONDecoder().decode(ReasonerConfig.self, from: data) } catch {
            throw ModelError.badConfig(file: configPath, field: Self.missingKey(error) ?? "?", reason: "is missing or has the wrong type")
        }
        try config.validate(file: configPath)
        let weights: any TensorSource = CompressedCheckpoint.isCompressed(dir) ? try CompressedCheckpoint(directory: dir) : try Checkpoint.open(dir)
        return try RecursiveReasoner(config: config, weights: weights, location: dir)
    }

    /// Where an input-channel scale of a linear layer can be folded without
    /// changing the function: layer → the producing layer and the rows of it whose
    /// outputs are that layer's input channels, in order. down_proj's input is
    /// silu(gate)·up, so dividing the `up` rows of gate_up_proj by s divides its
    /// input by s; o_proj's input is a softmax-weighted sum of v, so the `v` rows of
    /// qkv_proj carry it. Layers after a weightless RMSNorm have no such producer.
    public static func scaleFoldTargets(_ c: ReasonerConfig) -> [String: (producer: String, rows: Range<Int>)] {
        var map: [String: (String, Range<Int>)] = [:]
        let modules = [("L_level", c.lLayers)] + (c.arch == .hrm ? [("H_level", c.hLayers)] : [])
        let inter = c.swigluWidth(c.hiddenSize), interT = c.swigluWidth(c.positions), D = c.hiddenSize
        for (module, layers) in modules {
            for i in 0..<layers {
                let p = "inner.\(module).layers.\(i)."
                map[p + "mlp.down_proj.weight"] = (p + "mlp.gate_up_proj.weight", inter..<(2 * inter))
                if c.mlpT {
                    map[p + "mlp_t.down_proj.weight"] = (p + "mlp_t.gate_up_proj.weight", interT..<(2 * interT))
                } else {
                    map[p + "self_attn.o_proj.weight"] = (p + "self_attn.qkv_proj.weight", (2 * D)..<(3 * D))
                }
            }
        }
        return map
    }

    static func missingKey(_ error: Error) -> String? {
        switch error as? DecodingError {
        case let .keyNotFound(k, _)?: k.stringValue
        case let .typeMismatch(_, ctx)?: ctx.codingPath.last?.stringValue
        case let .dataCorrupted(ctx)?: ctx.codingPath.last?.stringValue
        default: nil
        }
    }

    /// Parameters (all bound tensors).
    public var parameterCount: Int {
        func count(_ l: PackedLinear) -> Int { l.outFeatures * l.inFeatures + (l.bias?.count ?? 0) }
        func module(_ m: ReasoningModule) -> Int {
            m.blocks.reduce(0) { s, b in
                s + [b.qkv, b.output, b.tokenMLP?.gateUp, b.tokenMLP?.down, b.mlp.gateUp, b.mlp.down].compactMap { $0 }.reduce(0) { $0 + count($1) }
            }
        }
        return hInit.count + lInit.count + embedTokens.count + count(lmHead) + count(qHead) + (puzzleEmbedding?.count ?? 0)
            + (positionEmbedding?.count ?? 0) + module(lLevel) + (hLevel.map(module) ?? 0)
    }
}

