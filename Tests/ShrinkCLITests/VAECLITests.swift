import Foundation
import ShrinkTestSupport
import Testing

/// `shrink eval`, `compare` and `account` on the VAE fixtures with Fashion-MNIST (tools/fetch_real.sh).
@Suite struct VAECLITests {
    static let model = Fixtures.path("Fixtures/models/vae_vision_puzzle")
    static let train = Fixtures.path("data/fashion-mnist/train-images-idx3-ubyte")

    @Test func evalReportsImageMetricsAsJSON() throws {
        let r = try CLI.run(["eval", Self.model, "--data", Self.train, "--limit", "8", "--json", "--per-puzzle"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["images"] as? Int == 8 && json["split"] as? String == "train" && json["family"] as? String == "vae")
        let metrics = try #require(json["metrics"] as? [String: [String: Double]])
        for key in ["negative_elbo", "mse", "psnr", "ssim"] {
            let m = try #require(metrics[key], "\(key)")
            #expect(m["lower"]! <= m["estimate"]! && m["estimate"]! <= m["upper"]!, "\(key)")
        }
        #expect((json["per_image"] as? [Any])?.count == 8)
    }

    @Test func compareWithItselfAndAccount() throws {
        let r = try CLI.run(["compare", Self.model, Self.model, "--data", Self.train, "--limit", "8", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((json["latent_cosine"] as? [String: Double])?["estimate"] ?? 0 > 1 - 1e-9)
        let a = try CLI.run(["account", Self.model + "/config.json"])
        #expect(a.status == 0 && a.stdout.contains("vision-puzzle-vae, 340.3k parameters"), "\(a.stdout)\(a.stderr)")
    }

    /// `shrink export c` of a VAE writes the five files and reports its tables and arena; --steps is a reasoner's flag.
    @Test func exportCWritesTheVAERuntime() throws {
        let dir = TemporaryDirectory()
        let r = try CLI.run(["export", "c", Self.model, "-o", dir.file("c"), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["variant"] as? String == "vision-puzzle-vae" && (json["files"] as? [String])?.count == 5)
        let source = try String(contentsOfFile: dir.file("c/model.h"), encoding: .utf8)
        #expect(source.contains("int shrink_vae_reconstruct(const float *image, float *mu, float *logvar, float *reconstruction);"))
        let refused = try CLI.run(["export", "c", Self.model, "-o", dir.file("d"), "--steps", "2"])
        #expect(refused.status != 0 && refused.stderr.split(separator: "\n").first?.contains("--steps: ") == true, "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("d")))
    }

    @Test func evalRefusesDataThatIsNotIDX() throws {
        let r = try CLI.run(["eval", Self.model, "--data", Fixtures.path("Fixtures/data/maze7-test.safetensors")])
        #expect(r.status != 0)
        #expect(r.stderr.contains("is not an IDX images file"), "\(r.stderr)")
    }
}
