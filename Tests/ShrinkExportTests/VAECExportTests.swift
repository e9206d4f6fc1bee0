import Foundation
import ShrinkExport
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// `shrink export c` of the trained VAEs, FP32 and packed INT8/INT4: the C (tools/c_vae_driver.c) computes on
/// real Fashion-MNIST test images what Swift's `ConvVAE` computes from the same directory.
@Suite(.serialized) struct VAECExportTests {
    /// The first `count` test images (tools/fetch_real.sh puts them in data/fashion-mnist).
    static func images(_ count: Int) throws -> [Float] {
        let test = try FashionMNIST.load(.test, folder: Fixtures.path(FashionMNIST.defaultFolder))
        return (0..<count).flatMap { test.intensities($0) }
    }

    /// Runs the driver; per image μ, log σ² and the reconstruction.
    static func run(_ executable: String, _ pixels: [Float], count: Int, latent: Int, scratch: TemporaryDirectory) throws -> (mu: [Float], logvar: [Float], recon: [Float]) {
        let input = scratch.file("images.bin"), output = scratch.file("out.bin")
        try pixels.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: input)) }
        try CBuild.run([executable, input, output, String(count)])
        let values = try Data(contentsOf: URL(fileURLWithPath: output)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let P = pixels.count / count, stride = 2 * latent + P
        #expect(values.count == count * stride)
        var r: (mu: [Float], logvar: [Float], recon: [Float]) = ([], [], [])
        for i in 0..<count {
            let v = values[(i * stride)..<((i + 1) * stride)]
            r.mu += v.prefix(latent); r.logvar += v.dropFirst(latent).prefix(latent); r.recon += v.suffix(P)
        }
        return r
    }

    static func worst(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }

    @Test(arguments: ["vae_tiny64", "vae_vision_puzzle"])
    func theCReconstructsWhatSwiftDoes(_ fixture: String) throws {
        let tmp = TemporaryDirectory()
        let model = Fixtures.path("Fixtures/models/\(fixture)")
        let n = 32
        let pixels = try Self.images(n)
        var variants: [(String, String)] = [("fp32", model)]
        for (bits, granularity) in [(8, Granularity.channel), (4, .channel)] {
            var o = QuantizeOptions()
            o.bits = bits
            o.granularity = granularity
            let q = tmp.file("int\(bits)")
            try QuantizeJob.run(try Checkpoint.open(model), options: o, outputDirectory: q)
            variants.append(("int\(bits)", q))
        }
        var fp32Recon: [Float] = []
        for (label, dir) in variants {
            let vae = try ConvVAE.load(dir)
            let out = tmp.file("c-\(label)")
            let s = try VAECExport.run(model: vae, output: out)
            #expect(s.files.count == 5 && s.arena == vae.family.arena())
            #expect(s.linears.count == vae.family.encoderStages.count + vae.family.decoderStages.count + 3)
            #expect(s.linears.allSatisfy { $0.bits == (label == "fp32" ? 32 : (label == "int8" ? 8 : 4)) }, "\(label): \(s.linears.map(\.bits))")
            try CBuild.run(["cc"] + CBuild.warnings + ["-O2", "-I" + out, Fixtures.path("tools/c_vae_driver.c"), out + "/model.c", out + "/weights.c",
                                                       "-lm", "-o", out + "/run"])
            let c = try Self.run(out + "/run", pixels, count: n, latent: vae.config.latentDim, scratch: tmp)
            let swift = try vae.reconstruct(pixels, count: n)
            let muScale = swift.mu.map(abs).max()!
            #expect(Self.worst(c.mu, swift.mu) <= 1e-4 * muScale, "\(fixture) \(label): max |Δμ| \(Self.worst(c.mu, swift.mu)) of max |μ| \(muScale)")
            #expect(Self.worst(c.logvar, swift.logvar) <= 1e-4 * swift.logvar.map(abs).max()!, "\(fixture) \(label) log σ²")
            #expect(Self.worst(c.recon, swift.reconstructions) <= 1e-4, "\(fixture) \(label): max |Δpixel| \(Self.worst(c.recon, swift.reconstructions))")
            if label == "fp32" { fp32Recon = c.recon } else {
                #expect(Self.worst(c.recon, fp32Recon) > 1e-3, "\(label) must change the reconstruction")
            }
        }
    }

    /// Under ASan and UBSan (no leaks, no overflow of the arena or the const tables) on a few images the C agrees
    /// with its -O2 build; INT8 fits the microcontroller profile (4 MB flash for the tables, 2.5 MB SRAM for the arena).
    @Test func sanitizersFindNothingAndInt8FitsTheMicrocontroller() throws {
        let tmp = TemporaryDirectory()
        var o = QuantizeOptions()
        o.bits = 8
        try QuantizeJob.run(try Checkpoint.open(Fixtures.path("Fixtures/models/vae_tiny64")), options: o, outputDirectory: tmp.file("q"))
        let vae = try ConvVAE.load(tmp.file("q"))
        let s = try VAECExport.run(model: vae, output: tmp.file("c"))
        #expect(s.constantBytes < 4_194_304 && s.constantBytes < 900_000, "INT8 tables: \(s.constantBytes) bytes")
        #expect(s.arena.totalBytes < 2_621_440 && s.arena.totalBytes == vae.family.arena().totalBytes)
        let pixels = try Self.images(3), dir = tmp.file("c")
        for (flags, exe) in [(["-O2"], "opt"), (["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"], "asan")] {
            try CBuild.run(["cc"] + CBuild.warnings + flags + ["-I" + dir, Fixtures.path("tools/c_vae_driver.c"), dir + "/model.c", dir + "/weights.c",
                                                            "-lm", "-o", dir + "/" + exe])
        }
        let a = try Self.run(dir + "/opt", pixels, count: 3, latent: vae.config.latentDim, scratch: tmp)
        let b = try Self.run(dir + "/asan", pixels, count: 3, latent: vae.config.latentDim, scratch: tmp)
        #expect(Self.worst(a.recon, b.recon) <= 1e-5 && Self.worst(a.mu, b.mu) <= 1e-4)
        // A non-finite pixel is refused, not propagated.
        var bad = pixels
        bad[5] = .nan
        #expect(throws: CBuildFailure.self) { try Self.run(dir + "/opt", bad, count: 3, latent: vae.config.latentDim, scratch: tmp) }
    }
}
