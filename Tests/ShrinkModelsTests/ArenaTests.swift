import Foundation
import ShrinkModels
import ShrinkTestSupport
import Testing

@Suite struct ArenaTests {
    private func config(_ name: String) throws -> ReasonerConfig {
        try JSONDecoder().decode(ReasonerConfig.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Fixtures/models/\(name)/config.json"))))
    }

    @Test func attentionModelArenaIsPersistentPlusTheLargestPhase() throws {
        let a = ReasonerFamily(try config("trm_att_sudoku6")).arena(batch: 1)
        // P = 36, D = 64, SwiGLU width 256: x, z_H, z_L (3 · 9216 B) + weight row (1024 B);
        // the MLP phase (gate_up 73728 + act 36864 + out 9216) outweighs attention (27648 + 9216 + 144 + 9216).
        #expect(a.totalBytes == 3 * 9216 + 1024 + 73728 + 36864 + 9216)
        #expect(a.buffer("qkv")?.offsetBytes == a.buffer("gate_up")?.offsetBytes)
    }

    @Test(arguments: ["trm_att_sudoku6", "trm_mlp_sudoku6", "hrm_sudoku6"])
    func buffersOfOnePhaseNeverOverlapAndStayInside(_ name: String) throws {
        for batch in [1, 4] {
            let a = ReasonerFamily(try config(name)).arena(batch: batch)
            for x in a.buffers {
                #expect(x.offsetBytes % ActivationArena.alignment == 0 && x.offsetBytes + x.bytes <= a.totalBytes)
                for y in a.buffers where y.name != x.name && (x.phase == y.phase || x.phase == "persistent" || y.phase == "persistent") {
                    #expect(x.offsetBytes + x.bytes <= y.offsetBytes || y.offsetBytes + y.bytes <= x.offsetBytes, "\(x.name) / \(y.name)")
                }
            }
        }
    }

    @Test func batchScalesActivationsButNotTheWeightRow() throws {
        let c = try config("trm_mlp_sudoku6")
        let one = ReasonerFamily(c).arena(batch: 1), four = ReasonerFamily(c).arena(batch: 4)
        #expect(four.buffer("z_h")!.bytes == 4 * one.buffer("z_h")!.bytes)
        #expect(four.buffer("weight_row")!.bytes == one.buffer("weight_row")!.bytes)
        #expect(one.buffer("tokens") != nil && one.buffer("qkv") == nil)
    }
}
