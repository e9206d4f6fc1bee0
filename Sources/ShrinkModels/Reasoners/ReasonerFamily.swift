import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// TRM and HRM tensor names, as the upstream PyTorch modules name them (tools/reference/ARCHITECTURE.md): the
/// one place they are written. Binding, accounting, AWQ and every exporter read them from here.
public enum ReasonerNames {
    public static let hInit = "inner.H_init"
    public static let lInit = "inner.L_init"
    public static let embedTokens = "inner.embed_tokens.embedding_weight"
    public static let lmHead = "inner.lm_head.weight"
    public static let qHead = "inner.q_head.weight"
    public static let qHeadBias = "inner.q_head.bias"
    public static let puzzleEmbedding = "inner.puzzle_emb.weights"
    public static let positionEmbedding = "inner.embed_pos.embedding_weight"

    /// The two reasoning modules (TRM uses only the L level for both updates).
    public enum Level: String, Sendable, CaseIterable {
        case low = "L_level", high = "H_level"
    }

    /// The linear weights of block `i` of a level.
    public struct Block: Sendable {
        public let qkv, output, tokenGateUp, tokenDown, gateUp, down: String
        init(_ p: String) {
            qkv = p + "self_attn.qkv_proj.weight"; output = p + "self_attn.o_proj.weight"
            tokenGateUp = p + "mlp_t.gate_up_proj.weight"; tokenDown = p + "mlp_t.down_proj.weight"
            gateUp = p + "mlp.gate_up_proj.weight"; down = p + "mlp.down_proj.weight"
        }
    }

    public static func block(_ level: Level, _ i: Int) -> Block { Block("inner.\(level.rawValue).layers.\(i).") }
}

/// The recursive reasoners (TRM, HRM) as a model family.
public struct ReasonerFamily: RunnableFamily, Equatable {
    public static let familyName = "trm/hrm"
    public static let claimedBy = "TRM/HRM config: 'arch' trm or hrm, or 'H_cycles'"
    public static func claims(_ c: ConfigSummary) -> Bool { c.keys.contains("H_cycles") || ["trm", "hrm"].contains(c.arch ?? "") }

    public let config: ReasonerConfig

    public init(_ config: ReasonerConfig) { self.config = config }

    public init(config data: Data, file: String) throws {
        let c: ReasonerConfig
        do { c = try JSONDecoder().decode(ReasonerConfig.self, from: data) } catch {
            throw ModelError.badConfig(file: file, field: ModelRegistry.field(of: error), reason: "is missing or has the wrong type")
        }
        try c.validate(file: file)
        config = c
    }

    public var variant: String { config.arch == .hrm ? "hrm" : (config.mlpT ? "trm-mlp" : "trm-attention") }

    /// The levels the model has, with their layer counts.
    public var levels: [(level: ReasonerNames.Level, layers: Int)] {
        [(.low, config.lLayers)] + (config.arch == .hrm ? [(.high, config.hLayers)] : [])
    }

    public var tensorLayout: [TensorSpec] {
        let c = config, D = c.hiddenSize, P = c.positions, I = c.mlpWidth, A = c.attentionWidth
        typealias N = ReasonerNames
        var list = [TensorSpec(N.hInit, [D], .parameter), TensorSpec(N.lInit, [D], .parameter),
                    TensorSpec(N.embedTokens, [c.vocabSize, D], .embedding, rowRead: true),
                    TensorSpec(N.lmHead, [c.vocabSize, D], .linear), TensorSpec(N.qHead, [2, D], .linear), TensorSpec(N.qHeadBias, [2], .bias)]
        if c.puzzleEmbNdim > 0 { list.append(TensorSpec(N.puzzleEmbedding, [c.numPuzzleIdentifiers, c.puzzleEmbNdim], .embedding, rowRead: true)) }
        if c.posEncodings == .learned { list.append(TensorSpec(N.positionEmbedding, [P, D], .embedding, rowRead: true)) }
        for (level, layers) in levels {
            for i in 0..<layers {
                let b = N.block(level, i)
                if c.mlpT {
                    let It = c.tokenMLPWidth
                    list += [TensorSpec(b.tokenGateUp, [2 * It, P], .linear), TensorSpec(b.tokenDown, [P, It], .linear)]
                } else {
                    list += [TensorSpec(b.qkv, [3 * A, D], .linear), TensorSpec(b.output, [D, A], .linear)]
                }
                list += [TensorSpec(b.gateUp, [2 * I, D], .linear), TensorSpec(b.down, [D, I], .linear)]
            }
        }
        return list.sorted { $0.name < $1.name }
    }

    /// down_proj's input is silu(gate)·up, so dividing the `up` rows of gate_up_proj by s divides its input by s;
    /// o_proj's input is a softmax-weighted sum of v, so the `v` rows of qkv_proj carry it. Layers after a
    /// weightless RMSNorm have no producer.
    public var scaleFolds: [ScaleFold] {
        let c = config, inter = c.mlpWidth, interT = c.tokenMLPWidth, A = c.attentionWidth
        var folds: [ScaleFold] = []
        for (level, layers) in levels {
            for i in 0..<layers {
                let b = ReasonerNames.block(level, i)
                folds.append(ScaleFold(consumer: b.down, producer: b.gateUp, rows: inter..<(2 * inter)))
                folds.append(c.mlpT ? ScaleFold(consumer: b.tokenDown, producer: b.tokenGateUp, rows: interT..<(2 * interT))
                                    : ScaleFold(consumer: b.output, producer: b.qkv, rows: (2 * A)..<(3 * A)))
            }
        }
        return folds
    }

    public func cost(_ query: CostQuery) -> ForwardCost {
        let steps = query.steps ?? config.haltMaxSteps
        return ForwardCost(arena: arena(batch: 1),
                           flops: ReasonerCost.puzzleFLOPs(config, depth: RecursionDepth(steps: steps, hCycles: config.hCycles, lCycles: config.lCycles)),
                           flopsUnit: "per puzzle at \(steps) steps")
    }

    /// The arena of a forward pass for `batch` puzzles at once (the C export runs batch 1).
    ///
    /// Persistent: the input embedding `x` and the carries `z_h`, `z_l` (updates are in place:
    /// z_L ← L(z_L + (z_H + x)), z_H ← H(z_H + z_L), so no injection buffer is needed), plus `weight_row`, one
    /// dequantized weight row. Phases: attention or token MLP, channel MLP, the output head.
    public func arena(batch: Int) -> ActivationArena {
        let c = config
        let B = batch, P = c.positions, D = c.hiddenSize, inter = c.mlpWidth
        let interT = c.mlpT ? c.tokenMLPWidth : 0
        var phases: [(phase: String, buffers: [(name: String, floats: Int)])] = [
            ("mlp", [("gate_up", B * P * 2 * inter), ("act", B * P * inter), ("mlp_out", B * P * D)]),
            ("head", [("logits", c.vocabSize)]),
        ]
        if c.mlpT {
            phases.insert(("token_mlp", [("tokens", B * D * P), ("token_gate_up", B * D * 2 * interT), ("token_act", B * D * interT),
                                         ("token_out", B * D * P)]), at: 0)
        } else {
            let A = c.attentionWidth
            phases.insert(("attention", [("qkv", B * P * 3 * A), ("attention", B * P * A), ("scores", P), ("attention_out", B * P * D)]), at: 0)
        }
        return ActivationArena(persistent: [("x", B * P * D), ("z_h", B * P * D), ("z_l", B * P * D), ("weight_row", max(D, inter, P, interT))],
                               phases: phases)
    }

    public func bind(_ weights: any TensorSource, location: String, streamEmbeddings: Bool) throws -> any CompressibleModel {
        try RecursiveReasoner(config: config, weights: weights, location: location, streamPuzzleEmbedding: streamEmbeddings)
    }
}
