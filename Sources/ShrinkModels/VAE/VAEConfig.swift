import Foundation
import ShrinkTensor

/// A convolutional VAE's `config.json` as tools/vae.py writes it (`model_type` "shrink-vae"): the architecture
/// of `ConvVAE` in that script, which is the reference this family is checked against.
public struct VAEConfig: Codable, Sendable, Equatable {
    /// The decoder's likelihood p(x | z) (tools/vae.py).
    public enum Likelihood: String, Codable, Sendable {
        /// Independent Bernoulli pixels with means σ(logits): −log p = Σ BCE(logits, x), x = u8/255.
        case bernoulli
    }

    public var modelType: String
    /// "tiny-vae", "vision-puzzle-vae" or another name for the same architecture.
    public var variant: String
    public var imageSize: Int
    public var inChannels: Int
    /// [c1, c2]: channels after the first and the second stride-2 convolution.
    public var channels: [Int]
    /// Stride-1 conv blocks at the bottleneck, in the encoder and again in the decoder.
    public var bottleneckBlocks: Int
    public var latentDim: Int
    public var normGroups: Int
    public var normEps: Double
    public var likelihood: Likelihood

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", variant, imageSize = "image_size", inChannels = "in_channels", channels
        case bottleneckBlocks = "bottleneck_blocks", latentDim = "latent_dim", normGroups = "norm_groups"
        case normEps = "norm_eps", likelihood
    }

    public init(variant: String, imageSize: Int = 28, inChannels: Int = 1, channels: [Int], bottleneckBlocks: Int,
                latentDim: Int, normGroups: Int = 8, normEps: Double = 1e-5) {
        modelType = "shrink-vae"; self.variant = variant; self.imageSize = imageSize; self.inChannels = inChannels
        self.channels = channels; self.bottleneckBlocks = bottleneckBlocks; self.latentDim = latentDim
        self.normGroups = normGroups; self.normEps = normEps; likelihood = .bernoulli
    }

    /// The two architectures of issue #15 (tools/vae.py `ARCHS`): TinyVAE, 791,425 parameters at latent 64
    /// (3,165,700 bytes F32), and VisionPuzzleVAE, 340,289 (1,361,156 bytes).
    public static func tinyVAE(latent: Int = 64) -> VAEConfig {
        VAEConfig(variant: "tiny-vae", channels: [32, 64], bottleneckBlocks: 2, latentDim: latent)
    }
    public static let visionPuzzleVAE = VAEConfig(variant: "vision-puzzle-vae", channels: [32, 48], bottleneckBlocks: 2, latentDim: 32)

    public var c1: Int { channels[0] }
    public var c2: Int { channels[1] }
    /// The bottleneck's side (image_size / 4, after two stride-2 convolutions).
    public var bottleneckSide: Int { imageSize / 4 }
    /// Features of the flattened bottleneck, c2 · (image_size/4)²: the heads' input and the decoder fc's output.
    public var bottleneckFeatures: Int { c2 * bottleneckSide * bottleneckSide }
    public var pixelsPerImage: Int { inChannels * imageSize * imageSize }

    /// Checks what the forward pass relies on; names the field and the fix.
    public func validate(file: String) throws {
        func bad(_ field: String, _ why: String) -> ModelError { .badConfig(file: file, field: field, reason: why) }
        if modelType != "shrink-vae" { throw bad("model_type", "is '\(modelType)'; this family reads 'shrink-vae'") }
        if channels.count != 2 { throw bad("channels", "has \(channels.count) entries; it lists the two encoder widths [c1, c2]") }
        for (f, v) in [("image_size", imageSize), ("in_channels", inChannels), ("channels", channels.min() ?? 0),
                       ("latent_dim", latentDim), ("norm_groups", normGroups)] where v < 1 {
            throw bad(f, "must be at least 1, is \(v)")
        }
        if bottleneckBlocks < 0 { throw bad("bottleneck_blocks", "must be 0 or more, is \(bottleneckBlocks)") }
        try ConfigBounds.requireCounts([("bottleneck_blocks", bottleneckBlocks)], file: file)
        try ConfigBounds.requireSizes([("image_size", imageSize), ("in_channels", inChannels), ("channels", channels.max() ?? 0),
                                       ("latent_dim", latentDim), ("norm_groups", normGroups)], file: file)
        if imageSize % 4 != 0 { throw bad("image_size", "is \(imageSize); two stride-2 convolutions and two 2x upsamplings need a multiple of 4") }
        for (i, c) in channels.enumerated() where c % normGroups != 0 {
            throw bad("channels", "entry \(i) (\(c)) is not a multiple of norm_groups \(normGroups)")
        }
        if !(normEps > 0) || !normEps.isFinite { throw bad("norm_eps", "must be a positive number, is \(normEps)") }
        // Parameters and FLOPs from above, in Double: the heads (2·F·L + L·F), the convs at full resolution.
        let s = Double(imageSize), c = Double(channels.max() ?? 1), f = Double(c2) * (s / 4) * (s / 4)
        try ConfigBounds.requireWork(16 * (3 * f * Double(latentDim) + Double(2 * bottleneckBlocks + 4) * s * s * 9 * c * Swift.max(c, Double(inChannels))),
                                     fields: "image_size, channels, bottleneck_blocks and latent_dim", file: file)
    }
}

/// Tensor names as tools/vae.py's `ConvVAE` state dict spells them: the one place they are written.
public enum VAENames {
    /// A conv block (Conv2d 3x3 + GroupNorm + SiLU) under `prefix`.
    public struct Block: Sendable {
        public let conv, convBias, norm, normBias: String
        init(_ p: String) {
            conv = p + ".conv.weight"; convBias = p + ".conv.bias"; norm = p + ".norm.weight"; normBias = p + ".norm.bias"
        }
    }
    public static let convIn = Block("encoder.conv_in")
    public static let down = Block("encoder.down")
    public static func encoderBlock(_ i: Int) -> Block { Block("encoder.blocks.\(i)") }
    public static let mu = "fc_mu.weight", muBias = "fc_mu.bias"
    public static let logvar = "fc_logvar.weight", logvarBias = "fc_logvar.bias"
    public static let decoderFC = "decoder.fc.weight", decoderFCBias = "decoder.fc.bias"
    public static func decoderBlock(_ i: Int) -> Block { Block("decoder.blocks.\(i)") }
    public static let up = Block("decoder.up")
    public static let convOut = "decoder.conv_out.weight", convOutBias = "decoder.conv_out.bias"
}
