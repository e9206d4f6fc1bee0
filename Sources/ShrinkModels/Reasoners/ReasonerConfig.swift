import Foundation
import ShrinkFormats
import ShrinkTensor

/// Configuration of a recursive reasoner (TRM or HRM) with upstream's field
/// names (TinyRecursiveReasoningModel_ACTV1Config, HierarchicalReasoningModel_ACTV1Config),
/// as `tools/reference` writes them into config.json. See tools/reference/ARCHITECTURE.md.
public struct ReasonerConfig: Codable, Sendable, Equatable {
    public enum Architecture: String, Codable, Sendable { case trm, hrm }
    public enum PositionEncoding: String, Codable, Sendable { case rope, learned, none }

    public var arch: Architecture
    public var seqLen: Int
    public var vocabSize: Int
    public var puzzleEmbNdim: Int
    public var puzzleEmbLen: Int
    public var numPuzzleIdentifiers: Int
    public var hCycles: Int
    public var lCycles: Int
    public var hLayers: Int
    public var lLayers: Int
    public var hiddenSize: Int
    public var expansion: Double
    public var numHeads: Int
    public var posEncodings: PositionEncoding
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var haltMaxSteps: Int
    public var mlpT: Bool
    /// The SwiGLU widths when they are not upstream's rule (a model whose MLP channels were pruned, issue 17):
    /// `intermediate_size` of the hidden-axis MLP, `intermediate_size_t` of TRM's token MLP.
    public var intermediateSize: Int?
    public var tokenIntermediateSize: Int?
    /// The attention heads' width when it is not hidden_size / num_heads (a model whose heads were pruned, issue 17):
    /// q, k and v then have num_heads · head_dim rows each and o_proj as many columns.
    public var headDimension: Int?

    enum CodingKeys: String, CodingKey {
        case arch, seqLen = "seq_len", vocabSize = "vocab_size", puzzleEmbNdim = "puzzle_emb_ndim"
        case puzzleEmbLen = "puzzle_emb_len", numPuzzleIdentifiers = "num_puzzle_identifiers"
        case hCycles = "H_cycles", lCycles = "L_cycles", hLayers = "H_layers", lLayers = "L_layers"
        case hiddenSize = "hidden_size", expansion, numHeads = "num_heads", posEncodings = "pos_encodings"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", haltMaxSteps = "halt_max_steps", mlpT = "mlp_t"
        case intermediateSize = "intermediate_size", tokenIntermediateSize = "intermediate_size_t", headDimension = "head_dim"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        arch = try c.decodeIfPresent(Architecture.self, forKey: .arch) ?? .trm
        seqLen = try c.decode(Int.self, forKey: .seqLen)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        puzzleEmbNdim = try c.decodeIfPresent(Int.self, forKey: .puzzleEmbNdim) ?? 0
        let hidden = try c.decode(Int.self, forKey: .hiddenSize)
        hiddenSize = hidden
        let len = try c.decodeIfPresent(Int.self, forKey: .puzzleEmbLen) ?? 0
        // Rounded up without `ndim + hidden - 1`, which overflows for hostile sizes; hidden < 1 is refused by `validate`.
        puzzleEmbLen = puzzleEmbNdim == 0 || hidden < 1 ? 0 : (len > 0 ? len : puzzleEmbNdim / hidden + (puzzleEmbNdim % hidden > 0 ? 1 : 0))
        numPuzzleIdentifiers = try c.decodeIfPresent(Int.self, forKey: .numPuzzleIdentifiers) ?? 1
        hCycles = try c.decode(Int.self, forKey: .hCycles)
        lCycles = try c.decode(Int.self, forKey: .lCycles)
        hLayers = try c.decodeIfPresent(Int.self, forKey: .hLayers) ?? 0
        lLayers = try c.decode(Int.self, forKey: .lLayers)
        expansion = try c.decode(Double.self, forKey: .expansion)
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? 1
        posEncodings = try c.decodeIfPresent(PositionEncoding.self, forKey: .posEncodings) ?? .rope
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? 1e-5
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? 10000
        haltMaxSteps = try c.decode(Int.self, forKey: .haltMaxSteps)
        mlpT = try c.decodeIfPresent(Bool.self, forKey: .mlpT) ?? false
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize)
        tokenIntermediateSize = try c.decodeIfPresent(Int.self, forKey: .tokenIntermediateSize)
        headDimension = try c.decodeIfPresent(Int.self, forKey: .headDimension)
    }

    /// Positions in the hidden state: puzzle-embedding prefix plus tokens.
    public var positions: Int { puzzleEmbLen + seqLen }
    /// `head_dim`, else hidden_size / num_heads (upstream's Attention).
    public var headDim: Int { headDimension ?? hiddenSize / max(1, numHeads) }
    /// Rows of each of q, k and v, and the columns of o_proj: num_heads · head_dim (hidden_size unless heads were pruned).
    public var attentionWidth: Int { numHeads * headDim }
    public var usesRoPE: Bool { posEncodings == .rope && !mlpT }

    /// Upstream's SwiGLU width: round(expansion·n·2/3) rounded up to a multiple of 256.
    public func swigluWidth(_ n: Int) -> Int {
        let raw = (expansion * Double(n) * 2 / 3).rounded(.toNearestOrEven)
        return (Int(raw) + 255) / 256 * 256
    }

    /// The hidden-axis SwiGLU width: `intermediate_size`, else upstream's rule.
    public var mlpWidth: Int { intermediateSize ?? swigluWidth(hiddenSize) }
    /// TRM's token-MLP SwiGLU width: `intermediate_size_t`, else upstream's rule over the positions.
    public var tokenMLPWidth: Int { tokenIntermediateSize ?? swigluWidth(positions) }

    /// Checks what the forward pass relies on; names the field and the fix.
    public func validate(file: String) throws {
        func bad(_ field: String, _ why: String) -> ModelError { .badConfig(file: file, field: field, reason: why) }
        for (f, v) in [("seq_len", seqLen), ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("H_cycles", hCycles),
                       ("L_cycles", lCycles), ("L_layers", lLayers), ("halt_max_steps", haltMaxSteps)] where v < 1 {
            throw bad(f, "must be at least 1, is \(v)")
        }
        try ConfigBounds.requireCounts([("H_cycles", hCycles), ("L_cycles", lCycles), ("H_layers", hLayers), ("L_layers", lLayers),
                                        ("halt_max_steps", haltMaxSteps)], file: file)
        try ConfigBounds.requireSizes([("seq_len", seqLen), ("vocab_size", vocabSize), ("hidden_size", hiddenSize),
                                       ("puzzle_emb_ndim", puzzleEmbNdim), ("puzzle_emb_len", puzzleEmbLen),
                                       ("num_puzzle_identifiers", numPuzzleIdentifiers), ("H_cycles", hCycles), ("L_cycles", lCycles),
                                       ("H_layers", hLayers), ("L_layers", lLayers), ("halt_max_steps", haltMaxSteps)], file: file)
        for (f, v) in [("puzzle_emb_ndim", puzzleEmbNdim), ("puzzle_emb_len", puzzleEmbLen), ("H_layers", hLayers)] where v < 0 {
            throw bad(f, "must not be negative, is \(v)")
        }
        for (f, v) in [("intermediate_size", intermediateSize), ("intermediate_size_t", tokenIntermediateSize), ("head_dim", headDimension)] {
            guard let v else { continue }
            if v < 1 { throw bad(f, "must be at least 1, is \(v)") }
            try ConfigBounds.requireSizes([(f, v)], file: file)
        }
        if tokenIntermediateSize != nil && !mlpT { throw bad("intermediate_size_t", "is the width of TRM's token MLP: set mlp_t true or drop it") }
        if headDimension != nil && mlpT { throw bad("head_dim", "is the width of attention heads, which a TRM with mlp_t has not: drop it") }
        if numPuzzleIdentifiers < 1 { throw bad("num_puzzle_identifiers", "must be at least 1, is \(numPuzzleIdentifiers)") }
        guard expansion.isFinite, expansion > 0, expansion <= 1024 else { throw bad("expansion", "must be a number in (0, 1024], is \(expansion)") }
        if !mlpT && (numHeads < 1 || numHeads > ConfigBounds.maxSize) { throw bad("num_heads", "must be in 1…\(ConfigBounds.maxSize), is \(numHeads)") }
        let width = Double(Swift.max(hiddenSize, mlpWidth, vocabSize, positions, puzzleEmbNdim, mlpT ? 0 : numHeads * headDim))
        try ConfigBounds.requireWork(Double(haltMaxSteps) * Double(hCycles) * Double(lCycles + 1) * Double(hLayers + lLayers + 2)
                                         * Double(positions) * width * width * 16
                                         + Double(numPuzzleIdentifiers) * Double(puzzleEmbNdim),
                                     fields: "hidden_size, expansion, seq_len, vocab_size, cycles, layers and halt_max_steps", file: file)
        if arch == .hrm && hLayers < 1 { throw bad("H_layers", "HRM needs at least one H layer") }
        if arch == .hrm && mlpT { throw bad("mlp_t", "is a TRM option") }
        if !mlpT && headDimension == nil && hiddenSize % numHeads != 0 { throw bad("num_heads", "must divide hidden_size \(hiddenSize) (or set head_dim)") }
        if usesRoPE && headDim % 2 != 0 { throw bad("num_heads", "RoPE needs an even head dimension, got \(headDim)") }
        if puzzleEmbNdim > puzzleEmbLen * hiddenSize { throw bad("puzzle_emb_ndim", "does not fit puzzle_emb_len × hidden_size") }
    }
}
