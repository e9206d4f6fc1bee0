import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkTestSupport
import Testing

/// Swift's ConvVAE against PyTorch (tools/vae.py in float64, goldens by tools/make_vae_goldens.py) on the two
/// trained fixtures (Fixtures/models/vae_*), for μ, log σ², the decoder's logits, the reconstructions and the
/// negative ELBO of 8 validation images, and the FLOPs of one image.
@Suite struct VAEParityTests {
    /// Largest relative L2 error per image and tensor, ‖swift − torch‖₂ / ‖torch‖₂ (issue #15: 1e-4).
    static let relativeL2Tolerance = 1e-4

    static var fixtures: [String] {
        let dir = Fixtures.path("Fixtures/models")
        return FileSystem.list(dir).filter { $0.hasPrefix("vae_") && FileSystem.isDirectory(dir + "/" + $0) }.sorted().map { dir + "/" + $0 }
    }

    static func relativeL2(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
        return (num / max(den, 1e-300)).squareRoot()
    }

    static func doubles(_ f: SafetensorsFile, _ name: String) throws -> [Double] {
        let raw = try f.rawBytes(name)
        return (0..<(raw.count / 8)).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) }
    }

    @Test func findsBothTrainedFixtures() {
        #expect(Self.fixtures.map { ($0 as NSString).lastPathComponent } == ["vae_tiny64", "vae_vision_puzzle"])
    }

    @Test(arguments: ["vae_tiny64", "vae_vision_puzzle"])
    func matchesPyTorch(_ name: String) throws {
        let dir = Fixtures.path("Fixtures/models/" + name)
        let model = try ConvVAE.load(dir)
        let golden = try SafetensorsFile(path: dir + "/vae_golden.safetensors")
        let indices = try golden.integers("indices").map(Int.init)
        #expect(indices == Array(FashionMNIST.validationSplit().validation.prefix(indices.count)))
        let n = indices.count, P = model.config.pixelsPerImage
        #expect(n == 8)
        // FLOPs per image: the family's count against PyTorch's FlopCounterMode.
        #expect(model.family.cost(CostQuery()).flops == Int(try golden.integers("flops")[0]))
        let pixels = try golden.floats("pixels")
        let out = try model.reconstruct(pixels, count: n)
        let mu = try golden.floats("mu"), logvar = try golden.floats("logvar")
        let logits = try golden.floats("logits"), rec = try golden.floats("reconstructions")
        let elbo = try Self.doubles(golden, "neg_elbo")
        let L = model.config.latentDim
        var worst: [String: Double] = [:]
        for i in 0..<n {
            let errors = [("mu", Self.relativeL2(out.mu(i), mu[(i * L)..<((i + 1) * L)])),
                          ("logvar", Self.relativeL2(out.logvar(i), logvar[(i * L)..<((i + 1) * L)])),
                          ("logits", Self.relativeL2(out.logits(i), logits[(i * P)..<((i + 1) * P)])),
                          ("reconstructions", Self.relativeL2(out.reconstruction(i), rec[(i * P)..<((i + 1) * P)])),
                          ("neg_elbo", abs(out.negativeELBO(i, pixels: pixels[(i * P)..<((i + 1) * P)]).total - elbo[i]) / abs(elbo[i]))]
            for (k, e) in errors {
                worst[k] = max(worst[k] ?? 0, e)
                #expect(e <= Self.relativeL2Tolerance, "\(name) image \(i) \(k): relative error \(e)")
            }
        }
        print("VAE parity \(name): worst relative L2 \(worst.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
    }

    /// The model runs batch by batch in chunks; a batch's outputs equal those of the images one at a time.
    @Test func batchingDoesNotChangeOutputs() throws {
        let dir = Fixtures.path("Fixtures/models/vae_vision_puzzle")
        let model = try ConvVAE.load(dir)
        let pixels = try SafetensorsFile(path: dir + "/vae_golden.safetensors").floats("pixels")
        let P = model.config.pixelsPerImage
        let many = Array(repeating: pixels, count: 5).flatMap { $0 }  // 40 images: two internal chunks
        let batch = try model.reconstruct(many, count: 40)
        let single = try model.reconstruct(Array(pixels[(3 * P)..<(4 * P)]), count: 1)
        #expect(Self.relativeL2(batch.mu(35), single.mu(0)) < 1e-6)
        #expect(Self.relativeL2(batch.reconstruction(35), single.reconstruction(0)) < 1e-6)
        #expect(throws: ModelError.self) { try model.reconstruct(Array(pixels.dropLast()), count: 8) }
    }
}
