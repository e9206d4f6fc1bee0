import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkTensor

/// What one pass over a batch of images produced (per image, in PyTorch's CHW order).
public struct VAEOutput: Sendable {
    public var images: Int
    public var latentDim: Int
    public var pixelsPerImage: Int
    /// [images, latent]: the encoder's means and log-variances.
    public var mu: [Float]
    public var logvar: [Float]
    /// [images, pixels]: the decoder's logits at z = μ; the reconstruction is σ(logits).
    public var logits: [Float]
    /// [images, pixels]: σ(logits), the Bernoulli means (the reconstructed image in [0, 1]).
    public var reconstructions: [Float]

    public func mu(_ i: Int) -> ArraySlice<Float> { mu[(i * latentDim)..<((i + 1) * latentDim)] }
    public func logvar(_ i: Int) -> ArraySlice<Float> { logvar[(i * latentDim)..<((i + 1) * latentDim)] }
    public func logits(_ i: Int) -> ArraySlice<Float> { logits[(i * pixelsPerImage)..<((i + 1) * pixelsPerImage)] }
    public func reconstruction(_ i: Int) -> ArraySlice<Float> { reconstructions[(i * pixelsPerImage)..<((i + 1) * pixelsPerImage)] }

    /// Image i's negative ELBO in nats with the reconstruction term at z = μ (tools/vae.py `negative_elbo` with
    /// no sampling): Σ BCE(logits, x) + KL(N(μ, σ²) ‖ N(0, I)), KL = −½ Σ (1 + log σ² − μ² − σ²); in Double.
    /// BCE with logits as PyTorch computes it stably: max(l, 0) − l·x + log(1 + e^−|l|).
    public func negativeELBO(_ i: Int, pixels x: ArraySlice<Float>) -> (total: Double, reconstruction: Double, kl: Double) {
        var rec = 0.0
        for (l, v) in zip(logits(i), x) {
            let ld = Double(l)
            rec += max(ld, 0) - ld * Double(v) + log1p(exp(-abs(ld)))
        }
        var kl = 0.0
        for (m, lv) in zip(mu(i), logvar(i)) {
            let md = Double(m), lvd = Double(lv)
            kl += -0.5 * (1 + lvd - md * md - exp(lvd))
        }
        return (rec + kl, rec, kl)
    }
}

/// A convolutional VAE with its weights bound (tools/vae.py `ConvVAE`). Activations are channels-last inside
/// (`shrink_conv.h`); inputs and outputs are per image in PyTorch's CHW order.
public final class ConvVAE: CompressibleModel, @unchecked Sendable {
    public let config: VAEConfig
    public var family: VAEFamily { VAEFamily(config) }
    public var familyDescription: any ModelFamily { family }
    public func hasSameArchitecture(as other: any CompressibleModel) -> Bool { (other as? ConvVAE)?.config == config }
    public let location: String
    public let parameterCount: Int

    /// A 3x3 convolution as a linear layer over im2col columns: the weight reordered to [out, ky, kx, in].
    struct Conv {
        var stage: VAEFamily.ConvStage
        var linear: PackedLinear
        var gamma: [Float]?, beta: [Float]?
    }

    let encoder: [Conv]
    let decoder: [Conv]
    let mu: PackedLinear, logvar: PackedLinear, decoderFC: PackedLinear

    /// Images per internal chunk: bounds the im2col buffers (≈ 0.9 MB of columns per image for TinyVAE's last conv).
    static let chunk = 32

    public init(config: VAEConfig, weights: any TensorSource, location: String) throws {
        try config.validate(file: location)
        self.config = config
        self.location = location
        let fam = VAEFamily(config)
        let bind = WeightBinder(source: weights, file: weights.location)
        func conv(_ st: VAEFamily.ConvStage) throws -> Conv {
            let w = try bind.tensor(st.names.conv, shape: [st.cout, st.cin, 3, 3])
            var hwc = [Float](repeating: 0, count: w.count)
            w.withUnsafeBufferPointer { s in hwc.withUnsafeMutableBufferPointer { sk_conv_weight_to_hwc(s.baseAddress!, st.cout, st.cin, 3, $0.baseAddress!) } }
            let b = try bind.tensor(st.names.convBias, shape: [st.cout])
            let linear = PackedLinear(weight: hwc, outFeatures: st.cout, inFeatures: 9 * st.cin, bias: b, name: st.names.conv)
            guard st.normed else { return Conv(stage: st, linear: linear) }
            return Conv(stage: st, linear: linear, gamma: try bind.tensor(st.names.norm, shape: [st.cout]),
                        beta: try bind.tensor(st.names.normBias, shape: [st.cout]))
        }
        encoder = try fam.encoderStages.map(conv)
        decoder = try fam.decoderStages.map(conv)
        let F = config.bottleneckFeatures, L = config.latentDim
        mu = try bind.linear(VAENames.mu, out: L, in: F, bias: VAENames.muBias)
        logvar = try bind.linear(VAENames.logvar, out: L, in: F, bias: VAENames.logvarBias)
        decoderFC = try bind.linear(VAENames.decoderFC, out: F, in: L, bias: VAENames.decoderFCBias)
        try bind.finish()
        parameterCount = fam.tensorLayout.reduce(0) { $0 + $1.parameters }
    }

    /// Loads a VAE from a model directory, its weights file, or a compressed directory (dequantized on load).
    public static func load(_ path: String) throws -> ConvVAE {
        try ModelRegistry.load(path, as: ConvVAE.self, needed: "a VAE (model_type shrink-vae)")
    }

    /// Encodes `count` images ([count, in_channels, size, size], intensities in [0, 1]) and decodes z = μ.
    /// - Parameter linearInputs: sees the input of every linear layer and every convolution as it is applied
    ///   (calibration): a convolution's im2col rows in the stored weight's column order (in, ky, kx), so the
    ///   statistics belong to the [out, in·9] matrix of the `[out, in, 3, 3]` tensor.
    public func reconstruct(_ pixels: [Float], count: Int, linearInputs: LinearInputObserver? = nil) throws -> VAEOutput {
        let P = config.pixelsPerImage, L = config.latentDim
        guard count >= 1, pixels.count == count * P else {
            throw ModelError.badRequest(flag: "images", reason: "hold \(pixels.count) values for \(count) images; the model takes \(P) per image (\(config.inChannels)×\(config.imageSize)×\(config.imageSize))")
        }
        var out = VAEOutput(images: count, latentDim: L, pixelsPerImage: P, mu: [], logvar: [], logits: [], reconstructions: [])
        out.mu.reserveCapacity(count * L); out.logvar.reserveCapacity(count * L); out.logits.reserveCapacity(count * P)
        var start = 0
        while start < count {
            let n = min(Self.chunk, count - start)
            let (m, lv) = encode(Array(pixels[(start * P)..<((start + n) * P)]), count: n, linearInputs: linearInputs)
            out.mu += m; out.logvar += lv
            out.logits += decodeLogits(m, count: n, linearInputs: linearInputs)
            start += n
        }
        out.reconstructions = out.logits
        out.reconstructions.withUnsafeMutableBufferPointer { sk_sigmoid($0.baseAddress!, $0.count) }
        return out
    }

    /// (μ, log σ²), each [count, latent], of `count` CHW images.
    public func encode(_ pixels: [Float], count n: Int, linearInputs: LinearInputObserver? = nil) -> (mu: [Float], logvar: [Float]) {
        let c = config, S = c.imageSize
        // CHW → HWC per image (the identity for one channel).
        var x = Self.transpose(pixels, images: n, rows: c.inChannels, cols: S * S)
        for conv in encoder { x = apply(conv, x, images: n, linearInputs: linearInputs) }
        let s = c.bottleneckSide
        // The heads read PyTorch's flatten of the CHW bottleneck.
        let flat = Self.transpose(x, images: n, rows: s * s, cols: c.c2)
        if let linearInputs {
            flat.withUnsafeBufferPointer { linearInputs.observe(layers: [VAENames.mu, VAENames.logvar], inputs: $0.baseAddress!, rows: n, columns: c.bottleneckFeatures) }
        }
        return (mu.apply(flat, rows: n), logvar.apply(flat, rows: n))
    }

    /// Decoder logits [count, pixels] (CHW per image) of latents z [count, latent].
    public func decodeLogits(_ z: [Float], count n: Int, linearInputs: LinearInputObserver? = nil) -> [Float] {
        let c = config, s = c.bottleneckSide, S = c.imageSize
        if let linearInputs { z.withUnsafeBufferPointer { linearInputs.observe(layer: VAENames.decoderFC, inputs: $0.baseAddress!, rows: n, columns: c.latentDim) } }
        var h = decoderFC.apply(z, rows: n)
        h.withUnsafeMutableBufferPointer { sk_silu($0.baseAddress!, $0.count) }
        var x = Self.transpose(h, images: n, rows: c.c2, cols: s * s)
        for conv in decoder { x = apply(conv, x, images: n, linearInputs: linearInputs) }
        return Self.transpose(x, images: n, rows: S * S, cols: c.inChannels)
    }

    /// One conv stage on `n` HWC images: optional 2x upsampling, im2col + SGEMM, optional GroupNorm + SiLU.
    func apply(_ conv: Conv, _ input: [Float], images n: Int, linearInputs: LinearInputObserver? = nil) -> [Float] {
        let st = conv.stage
        var x = input
        if st.upsample {
            let h = st.inSide / 2
            var up = [Float](repeating: 0, count: n * st.inputFloats)
            input.withUnsafeBufferPointer { s in
                up.withUnsafeMutableBufferPointer { d in
                    for i in 0..<n {
                        sk_upsample_nearest2x_hwc(s.baseAddress! + i * h * h * st.cin, h, h, st.cin, d.baseAddress! + i * st.inputFloats)
                    }
                }
            }
            x = up
        }
        var cols = [Float](repeating: 0, count: n * st.columns)
        x.withUnsafeBufferPointer { s in
            cols.withUnsafeMutableBufferPointer { d in
                for i in 0..<n {
                    sk_im2col_hwc(s.baseAddress! + i * st.inputFloats, st.inSide, st.inSide, st.cin, 3, st.stride, 1, d.baseAddress! + i * st.columns)
                }
            }
        }
        let rows = n * st.outSide * st.outSide
        if let linearInputs {
            // (ky, kx, in) → (in, ky, kx) within each row: the stored weight's column order.
            let torchOrder = Self.transpose(cols, images: rows, rows: 9, cols: st.cin)
            torchOrder.withUnsafeBufferPointer { linearInputs.observe(layer: st.names.conv, inputs: $0.baseAddress!, rows: rows, columns: 9 * st.cin) }
        }
        var y = conv.linear.apply(cols, rows: rows)
        if let gamma = conv.gamma, let beta = conv.beta {
            let hw = st.outSide * st.outSide, groups = config.normGroups, eps = Float(config.normEps)
            y.withUnsafeMutableBufferPointer { yb in
                for i in 0..<n {
                    let p = yb.baseAddress! + i * st.outputFloats
                    sk_group_norm_hwc(p, hw, st.cout, groups, eps, gamma, beta, 1, p)
                }
            }
        }
        return y
    }

    /// Per image, [rows, cols] → [cols, rows].
    static func transpose(_ x: [Float], images n: Int, rows: Int, cols: Int) -> [Float] {
        if rows == 1 || cols == 1 { return x }
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { s in
            y.withUnsafeMutableBufferPointer { d in
                for i in 0..<n { sk_transpose(s.baseAddress! + i * rows * cols, rows, cols, d.baseAddress! + i * rows * cols) }
            }
        }
        return y
    }
}
