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
public final class RecursiveReasoner: CompressibleModel, @unchecked Sendable {
    public let config: ReasonerConfig
    public var family: ReasonerFamily { ReasonerFamily(config) }
    public var familyDescription: any ModelFamily { family }
    /// The same config up to the MLP widths and the attention heads: a structurally pruned copy (`StructuredPruning`)
    /// has the same inputs, carry and outputs, so it is compared like any compressed copy.
    public func hasSameArchitecture(as other: any CompressibleModel) -> Bool {
        guard let theirs = (other as? RecursiveReasoner)?.config else { return false }
        func unpruned(_ c: ReasonerConfig) -> ReasonerConfig {
            var c = c
            (c.intermediateSize, c.tokenIntermediateSize, c.headDimension, c.numHeads) = (nil, nil, nil, 0)
            return c
        }
        return unpruned(config) == unpruned(theirs)
    }
    public let location: String
    let embedTokens: [Float]
    /// Puzzle embeddings: resident, or streamed a row at a time from the file.
    public let puzzleEmbedding: (any EmbeddingRows)?
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
    /// - Parameter streamPuzzleEmbedding: read puzzle-embedding rows from the
    ///   source on demand instead of loading the table (it must stay alive and mapped).
    public init(config: ReasonerConfig, weights: any TensorSource, location: String, streamPuzzleEmbedding: Bool = false) throws {
        try config.validate(file: location)
        self.config = config
        self.location = location
        let c = config, D = c.hiddenSize, P = c.positions
        let bind = WeightBinder(source: weights, file: weights.location)
        typealias N = ReasonerNames
        hInit = try bind.tensor(N.hInit, shape: [D])
        lInit = try bind.tensor(N.lInit, shape: [D])
        embedTokens = try bind.tensor(N.embedTokens, shape: [c.vocabSize, D])
        lmHead = try bind.linear(N.lmHead, out: c.vocabSize, in: D)
        qHead = try bind.linear(N.qHead, out: 2, in: D, bias: N.qHeadBias)
        if c.puzzleEmbNdim == 0 {
            puzzleEmbedding = nil
        } else if streamPuzzleEmbedding {
            puzzleEmbedding = try bind.rows(N.puzzleEmbedding, shape: [c.numPuzzleIdentifiers, c.puzzleEmbNdim])
        } else {
            puzzleEmbedding = ResidentRows(values: try bind.tensor(N.puzzleEmbedding, shape: [c.numPuzzleIdentifiers, c.puzzleEmbNdim]),
                                           rows: c.numPuzzleIdentifiers, width: c.puzzleEmbNdim)
        }
        positionEmbedding = c.posEncodings == .learned ? try bind.tensor(N.positionEmbedding, shape: [P, D]) : nil

        func module(_ level: ReasonerNames.Level, layers: Int) throws -> ReasoningModule {
            try ReasoningModule(blocks: (0..<layers).map { i in
                let names = N.block(level, i)
                let inter = c.mlpWidth
                let mlp = SwiGLU(gateUp: try bind.linear(names.gateUp, out: 2 * inter, in: D),
                                 down: try bind.linear(names.down, out: D, in: inter))
                if c.mlpT {
                    let interT = c.tokenMLPWidth
                    let token = SwiGLU(gateUp: try bind.linear(names.tokenGateUp, out: 2 * interT, in: P),
                                       down: try bind.linear(names.tokenDown, out: P, in: interT))
                    return Block(qkv: nil, output: nil, tokenMLP: token, mlp: mlp)
                }
                let A = c.attentionWidth
                return Block(qkv: try bind.linear(names.qkv, out: 3 * A, in: D),
                             output: try bind.linear(names.output, out: D, in: A),
                             tokenMLP: nil, mlp: mlp)
            })
        }
        lLevel = try module(.low, layers: c.lLayers)
        hLevel = c.arch == .hrm ? try module(.high, layers: c.hLayers) : nil
        try bind.finish()

        (ropeCos, ropeSin) = Self.ropeTables(c)
    }

    /// RoPE tables (cos, sin), each [positions, head_dim], float32 as the reference
    /// computes them; zeros when the config uses no RoPE.
    public static func ropeTables(_ c: ReasonerConfig) -> (cos: [Float], sin: [Float]) {
        let P = c.positions, d = c.headDim
        var cosT = [Float](repeating: 0, count: P * d), sinT = cosT
        if c.usesRoPE {
            let half = d / 2
            for p in 0..<P {
                for i in 0..<d {
                    let j = i % half
                    let invFreq = Float(1) / Float(pow(c.ropeTheta, Double(Float(2 * j) / Float(d))))
                    let angle = Float(p) * invFreq
                    cosT[p * d + i] = cos(angle)
                    sinT[p * d + i] = sin(angle)
                }
            }
        }
        return (cosT, sinT)
    }

    /// Loads a reasoner from a model directory, its weights file, or a compressed directory (whose weights are
    /// dequantized on load), with `config.json` beside the weights.
    public static func load(directory path: String, streamPuzzleEmbedding: Bool = false) throws -> RecursiveReasoner {
        try ModelRegistry.load(path, as: RecursiveReasoner.self, needed: "a recursive reasoner (TRM/HRM)", streamEmbeddings: streamPuzzleEmbedding)
    }

    /// Parameters (all bound tensors).
    public var parameterCount: Int {
        func count(_ l: PackedLinear) -> Int { l.outFeatures * l.inFeatures + (l.bias?.count ?? 0) }
        func module(_ m: ReasoningModule) -> Int {
            m.blocks.reduce(0) { s, b in
                s + [b.qkv, b.output, b.tokenMLP?.gateUp, b.tokenMLP?.down, b.mlp.gateUp, b.mlp.down].compactMap { $0 }.reduce(0) { $0 + count($1) }
            }
        }
        return hInit.count + lInit.count + embedTokens.count + count(lmHead) + count(qHead) + (puzzleEmbedding.map { $0.rows * $0.width } ?? 0)
            + (positionEmbedding?.count ?? 0) + module(lLevel) + (hLevel.map(module) ?? 0)
    }
}
