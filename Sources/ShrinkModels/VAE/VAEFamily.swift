import Foundation
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// Convolutional VAEs (Kingma & Welling 2014, arXiv:1312.6114) as tools/vae.py builds and trains them
/// (`model_type` "shrink-vae"): a stride-2 conv encoder with GroupNorm and SiLU, linear μ and log σ² heads, and
/// a decoder of a linear layer, conv blocks and nearest 2x upsampling with a sigmoid output.
public struct VAEFamily: RunnableFamily, Equatable {
    public static let familyName = "vae"
    public static let claimedBy = "config.json with model_type shrink-vae (tools/vae.py)"
    public static func claims(_ c: ConfigSummary) -> Bool { c.modelType == "shrink-vae" }

    public let config: VAEConfig

    public init(_ config: VAEConfig) { self.config = config }

    public init(config data: Data, file: String) throws {
        let c: VAEConfig
        do { c = try JSONDecoder().decode(VAEConfig.self, from: data) } catch {
            throw ModelError.badConfig(file: file, field: ModelRegistry.field(of: error), reason: "is missing or has the wrong type")
        }
        try c.validate(file: file)
        config = c
    }

    public var variant: String { config.variant }

    /// One 3x3 convolution of the forward pass, in order: what binding, the layout, FLOPs and the arena read.
    public struct ConvStage: Sendable {
        public var names: VAENames.Block
        public var cin: Int, cout: Int, stride: Int
        /// Side of the conv's input (after the optional upsampling) and of its output.
        public var inSide: Int, outSide: Int
        /// Nearest 2x upsampling of the input first (the decoder's `up` and `conv_out`).
        public var upsample: Bool
        /// GroupNorm + SiLU after it (all but `conv_out`).
        public var normed: Bool
        public var inputFloats: Int { cin * inSide * inSide }
        public var outputFloats: Int { cout * outSide * outSide }
        /// im2col columns of the whole output (what the batched Swift path builds per image).
        public var columns: Int { outSide * outSide * 9 * cin }
        /// im2col columns of one output row (what a batch-1 deployment builds at a time).
        public var rowColumns: Int { outSide * 9 * cin }
        public var flops: Int { 2 * outSide * outSide * cout * cin * 9 }
    }

    public var encoderStages: [ConvStage] {
        let c = config, s = c.imageSize
        return [ConvStage(names: VAENames.convIn, cin: c.inChannels, cout: c.c1, stride: 2, inSide: s, outSide: s / 2, upsample: false, normed: true),
                ConvStage(names: VAENames.down, cin: c.c1, cout: c.c2, stride: 2, inSide: s / 2, outSide: s / 4, upsample: false, normed: true)]
            + (0..<c.bottleneckBlocks).map {
                ConvStage(names: VAENames.encoderBlock($0), cin: c.c2, cout: c.c2, stride: 1, inSide: s / 4, outSide: s / 4, upsample: false, normed: true)
            }
    }

    public var decoderStages: [ConvStage] {
        let c = config, s = c.imageSize
        let out = VAENames.Block(conv: VAENames.convOut, convBias: VAENames.convOutBias, norm: "", normBias: "")
        return (0..<c.bottleneckBlocks).map {
            ConvStage(names: VAENames.decoderBlock($0), cin: c.c2, cout: c.c2, stride: 1, inSide: s / 4, outSide: s / 4, upsample: false, normed: true)
        } + [ConvStage(names: VAENames.up, cin: c.c2, cout: c.c1, stride: 1, inSide: s / 2, outSide: s / 2, upsample: true, normed: true),
             ConvStage(names: out, cin: c.c1, cout: c.inChannels, stride: 1, inSide: s, outSide: s, upsample: true, normed: false)]
    }

    /// Every parameter of tools/vae.py's `ConvVAE`: conv kernels [out, in, 3, 3] (`.conv`), their biases, the
    /// GroupNorm affine pairs (`.norm`), the μ, log σ² and decoder fc layers (`.linear`, [out, in]).
    public var tensorLayout: [TensorSpec] {
        let c = config, F = c.bottleneckFeatures, L = c.latentDim
        var list: [TensorSpec] = []
        for st in encoderStages + decoderStages {
            list += [TensorSpec(st.names.conv, [st.cout, st.cin, 3, 3], .conv), TensorSpec(st.names.convBias, [st.cout], .bias)]
            if st.normed { list += [TensorSpec(st.names.norm, [st.cout], .norm), TensorSpec(st.names.normBias, [st.cout], .norm)] }
        }
        list += [TensorSpec(VAENames.mu, [L, F], .linear), TensorSpec(VAENames.muBias, [L], .bias),
                 TensorSpec(VAENames.logvar, [L, F], .linear), TensorSpec(VAENames.logvarBias, [L], .bias),
                 TensorSpec(VAENames.decoderFC, [F, L], .linear), TensorSpec(VAENames.decoderFCBias, [F], .bias)]
        return list.sorted { $0.name < $1.name }
    }

    /// None: every linear or conv layer reads a SiLU output (or the image), and SiLU(x/s) ≠ SiLU(x)/s, so no
    /// per-channel scale folds into a producer without changing the function.
    public var scaleFolds: [ScaleFold] { [] }

    /// Per image, batch 1, encoder and decoder at z = μ (what evaluation runs).
    public func cost(_ query: CostQuery) -> ForwardCost {
        ForwardCost(arena: arena(), flops: imageFLOPs, flopsUnit: "per image (encode, then decode z = μ)")
    }

    /// FLOPs of one image (a multiply-add is 2): every convolution, the two heads and the decoder fc.
    /// GroupNorm, SiLU, upsampling and the sigmoid are O(activations) and not counted.
    public var imageFLOPs: Int {
        let c = config
        return (encoderStages + decoderStages).reduce(0) { $0 + $1.flops } + 2 * 3 * c.bottleneckFeatures * c.latentDim
    }

    /// Batch-1 working memory, as the C export lays it out (`VAECExport`). Persistent: the image, μ, log σ², the
    /// reconstruction, two ping-pong activation buffers as large as the largest activation (an upsampled input
    /// included) and one dequantized weight row (the widest layer's inputs). Phases: each convolution's im2col
    /// columns of one output row, since a convolution runs one output row at a time.
    public func arena() -> ActivationArena {
        let c = config
        let stages = encoderStages + decoderStages
        let largest = max(c.bottleneckFeatures, stages.map { max($0.inputFloats, $0.outputFloats) }.max() ?? 0)
        let widest = max(c.bottleneckFeatures, c.latentDim, stages.map { 9 * $0.cin }.max() ?? 0)
        return ActivationArena(persistent: [("image", c.pixelsPerImage), ("mu", c.latentDim), ("logvar", c.latentDim),
                                            ("reconstruction", c.pixelsPerImage), ("activation_a", largest), ("activation_b", largest),
                                            ("weight_row", widest)],
                               phases: stages.map { ($0.names.conv, [($0.names.conv + ".columns", $0.rowColumns)]) })
    }

    public func bind(_ weights: any TensorSource, location: String, streamEmbeddings: Bool) throws -> any CompressibleModel {
        try ConvVAE(config: config, weights: weights, location: location)
    }
}

extension VAENames.Block {
    init(conv: String, convBias: String, norm: String, normBias: String) {
        self.conv = conv; self.convBias = convBias; self.norm = norm; self.normBias = normBias
    }
}
