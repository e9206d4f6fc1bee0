import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkTestSupport
import Testing

/// The VAE family: config decoding and bounds, tensor layout sizes against tools/vae.py, registry.
@Suite struct VAETests {
    /// tools/vae.py's config.json for TinyVAE at latent 64, with fields replaced by `edits` (JSON text).
    static func config(_ edits: [String: String] = [:]) -> Data {
        var c: [String: String] = ["model_type": "\"shrink-vae\"", "architectures": "[\"ConvVAE\"]", "variant": "\"tiny-vae\"",
                                   "image_size": "28", "in_channels": "1", "channels": "[32, 64]", "bottleneck_blocks": "2",
                                   "latent_dim": "64", "norm_groups": "8", "norm_eps": "1e-05", "likelihood": "\"bernoulli\""]
        c.merge(edits) { $1 }
        return Data(("{" + c.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}").utf8)
    }

    /// Parameter counts `tools/vae.py count` prints.
    @Test func layoutSizesMatchTheReferenceScript() throws {
        let expected = [(VAEConfig.tinyVAE(latent: 8), 264_465), (VAEConfig.tinyVAE(latent: 16), 339_745),
                        (VAEConfig.tinyVAE(latent: 32), 490_305), (VAEConfig.tinyVAE(latent: 64), 791_425),
                        (VAEConfig.visionPuzzleVAE, 340_289)]
        for (c, n) in expected {
            let layout = VAEFamily(c).tensorLayout
            #expect(layout.reduce(0) { $0 + $1.parameters } == n, "\(c.variant) latent \(c.latentDim)")
            #expect(Set(layout.map(\.name)).count == layout.count)
        }
        let tiny = VAEFamily(.tinyVAE()).tensorLayout
        #expect(tiny.count { $0.role == .conv } == 8 && tiny.count { $0.role == .linear } == 3)
        #expect(tiny.first { $0.name == "decoder.conv_out.weight" }?.shape == [1, 32, 3, 3])
    }

    @Test func registryReadsTheConfig() throws {
        let family = try ModelRegistry.family(config: Self.config(), file: "config.json")
        let vae = try #require(family as? VAEFamily)
        #expect(vae.config == .tinyVAE())
        #expect(vae.variant == "tiny-vae")
        // FLOPs: the convs (2·out²·cout·cin·9) and the three linear layers.
        let convs = [(14, 32, 1), (7, 64, 32), (7, 64, 64), (7, 64, 64), (7, 64, 64), (7, 64, 64), (14, 32, 64), (28, 1, 32)]
        let flops = convs.reduce(0) { $0 + 2 * $1.0 * $1.0 * $1.1 * $1.2 * 9 } + 2 * 3 * 3136 * 64
        #expect(vae.cost(CostQuery()).flops == flops)
        let arena = vae.cost(CostQuery()).arena
        // Largest activation: c1 channels at full size after the last upsampling (32·28·28).
        #expect(arena.buffer("activation_a")?.floats == 32 * 28 * 28)
        // One output row of im2col columns at a time: conv_out's 28 pixels × 9·32 inputs.
        #expect(arena.buffer("decoder.conv_out.weight.columns")?.floats == 28 * 9 * 32)
        // decoder.up (14 pixels × 9·64) ties it: the first of the largest phases is named.
        #expect(arena.buffer("decoder.up.conv.weight.columns")?.floats == 14 * 9 * 64 && arena.largestPhase == "decoder.up.conv.weight")
        #expect(arena.buffer("weight_row")?.floats == 3136, "the heads' 64·7·7 inputs are the widest row")
    }

    @Test(arguments: [
        ("image_size", "30", "multiple of 4"), ("channels", "[32]", "two encoder widths"),
        ("channels", "[32, 60]", "multiple of norm_groups"), ("latent_dim", "0", "at least 1"),
        ("latent_dim", "1099511627776", "at most"), ("bottleneck_blocks", "1048576", "at most"),
        ("norm_eps", "-1.0", "positive"), ("likelihood", "\"gaussian\"", "wrong type"),
    ])
    func refusesBadConfigs(_ field: String, _ value: String, _ message: String) {
        do {
            _ = try ModelRegistry.family(config: Self.config([field: value]), file: "c.json")
            Issue.record("\(field) = \(value) was accepted")
        } catch {
            #expect("\(error)".contains("'\(field)'"), "\(error)")
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func refusesAHugeModelBeforeCountingIt() {
        #expect(throws: ModelError.self) {
            try ModelRegistry.family(config: Self.config(["image_size": "4194304", "channels": "[1048576, 1048576]"]), file: "c.json")
        }
    }
}
