import ShrinkModels
import ShrinkPlan
import ShrinkTestSupport
import Testing

/// `shrink account` on the VAE fixtures' configs: the sizes tools/vae.py reports.
@Suite struct VAEAccountTests {
    @Test(arguments: [("vae_tiny64", "tiny-vae", 791_425), ("vae_vision_puzzle", "vision-puzzle-vae", 340_289)])
    func accountsFromTheConfig(_ name: String, _ variant: String, _ parameters: Int) throws {
        let family = try ModelRegistry.family(config: Fixtures.path("Fixtures/models/\(name)/config.json"))
        let account = ConfigAccount.make(family, choice: nil)
        #expect(family is VAEFamily && account.family == variant)
        #expect(account.parameters == parameters)
        #expect(account.fp32Bytes == 4 * parameters && account.weightBytes == 4 * parameters)
        #expect(account.flops > 0 && account.activationBytes > 0)
    }
}
