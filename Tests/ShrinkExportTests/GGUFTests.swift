import Foundation
import ShrinkFormats
import ShrinkTestSupport
import Testing
@testable import ShrinkExport

/// Worst-case reconstruction error of a block format, as a fraction of the block's
/// largest magnitude (half a quantization step plus fp16 rounding of the scale; Q4_0
/// reaches only 7·d on the side opposite its largest value, so up to a full step there).
private let maxRelativeError: [GGMLType: Float] = [.q8_0: 0.5 / 127 + 0.002, .q4_0: 1.0 / 8 + 0.002, .q4_1: 1.0 / 15 + 0.004,
                                                    .q4_K: 2.0 / 15 + 0.02, .q6_K: 1.0 / 32 + 0.01]

@Suite struct GGMLBlockTests {
    @Test func blockByteCountsMatchGGMLStructs() {
        // ggml-common.h static_asserts: sizeof(block_q8_0) == 34, q4_0 18, q4_1 20, q4_K 144, q6_K 210.
        var rng = TestRandom(seed: 1)
        let x = rng.normals(256)
        for (type, expected) in [(GGMLType.q8_0, 34), (.q4_0, 18), (.q4_1, 20), (.q4_K, 144), (.q6_K, 210)] {
            #expect(type.bytesPerBlock == expected)
            #expect(type.encode(Array(x[0..<type.blockSize])).count == expected, "\(type)")
        }
    }

    @Test func everyFormatRoundTripsWithinItsStep() {
        var rng = TestRandom(seed: 7)
        for type in [GGMLType.q8_0, .q4_0, .q4_1, .q4_K, .q6_K] {
            for trial in 0..<8 {
                let x = rng.normals(512, scale: Float(trial + 1) * 0.05)
                let bytes = type.encode(x)
                #expect(bytes.count == type.rowBytes(512))
                let y = type.decode(bytes, count: x.count)
                for b in stride(from: 0, to: 512, by: type.blockSize) {
                    let amax = x[b..<(b + type.blockSize)].map(abs).max()!
                    let worst = (b..<(b + type.blockSize)).map { abs(x[$0] - y[$0]) }.max()!
                    #expect(worst <= maxRelativeError[type]! * amax, "\(type) block \(b / type.blockSize): \(worst) vs amax \(amax)")
                }
                // Decoding then re-reading the blocks gives the same bytes.
                #expect(type.encode(y).count == bytes.count)
            }
        }
    }

    @Test func bytesSurviveParseAndSerialize() {
        var rng = TestRandom(seed: 3)
        let x = rng.normals(256)
        func check<B: GGMLBlock & Equatable>(_: B.Type) {
            let block = x.withUnsafeBufferPointer { B(quantizing: UnsafeBufferPointer(rebasing: $0[0..<B.elements])) }
            var bytes: [UInt8] = []
            block.append(to: &bytes)
            let again = bytes.withUnsafeBytes { B(bytes: $0) }
            #expect(again == block)
        }
        check(BlockQ8_0.self); check(BlockQ4_0.self); check(BlockQ4_1.self); check(BlockQ4_K.self); check(BlockQ6_K.self)
    }

    @Test func q4_0PutsElementsZeroToFifteenInLowNibbles() {
        // max magnitude −8 → d = 1, so q = x + 8 exactly.
        var x = [Float](repeating: 0, count: 32)
        x[0] = -8; x[1] = 3; x[16] = 5; x[17] = -2
        let bytes = GGMLType.q4_0.encode(x)
        #expect(bytes[0] == 0x00 && bytes[1] == 0x3c)  // fp16 1.0
        #expect(bytes[2] == (0 | (13 << 4)))  // element 0 → 0, element 16 → 13
        #expect(bytes[3] == (11 | (6 << 4)))  // element 1 → 11, element 17 → 6
        #expect(GGMLType.q4_0.decode(bytes, count: 32) == x)
    }

    @Test func q8_0RoundsHalfAwayFromZero() {
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127; x[1] = 2.5; x[2] = -2.5; x[3] = 0.5
        let block = x.withUnsafeBufferPointer { BlockQ8_0(quantizing: $0) }
        #expect(Array(block.qs[0..<4]) == [127, 3, -3, 1])
    }

    @Test func nearestIntRoundsHalfToEven() {
        #expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6].map { nearestInt(Float($0)) } == [0, 2, 2, 0, -2, 2, -3])
    }

    @Test func allZeroBlocksDecodeToZero() {
        for type in [GGMLType.q8_0, .q4_0, .q4_1, .q4_K, .q6_K] {
            let zeros = [Float](repeating: 0, count: 256)
            #expect(type.decode(type.encode(zeros), count: 256) == zeros, "\(type)")
        }
    }
}

@Suite struct GGUFFileTests {
    private func u32(_ b: [UInt8], _ o: Int) -> UInt32 { b[o..<(o + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    private func u64(_ b: [UInt8], _ o: Int) -> UInt64 { b[o..<(o + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    @Test func headerAndAlignmentFollowTheSpec() {
        var f = GGUFFile()
        f.metadata = [("general.architecture", .string("trm"))]
        f.tensors = [GGUFFile.Tensor(name: "a", dims: [3], type: .f32, data: [UInt8](repeating: 1, count: 12)),
                     GGUFFile.Tensor(name: "b", dims: [32, 2], type: .q8_0, data: [UInt8](repeating: 2, count: 68))]
        let b = f.serialized()
        #expect(Array(b[0..<4]) == Array("GGUF".utf8))
        #expect(u32(b, 4) == 3)
        #expect(u64(b, 8) == 2 && u64(b, 16) == 1)
        // key "general.architecture", type 8 (string), "trm"
        #expect(u64(b, 24) == 20 && u32(b, 52) == 8 && u64(b, 56) == 3)
        let firstInfo = 67
        #expect(u64(b, firstInfo) == 1 && b[firstInfo + 8] == UInt8(ascii: "a") && u32(b, firstInfo + 9) == 1)
        #expect(u64(b, firstInfo + 13) == 3 && u32(b, firstInfo + 21) == 0 && u64(b, firstInfo + 25) == 0)
        let second = firstInfo + 33
        #expect(u32(b, second + 9) == 2 && u64(b, second + 13) == 32 && u64(b, second + 21) == 2)
        #expect(u32(b, second + 29) == 8 && u64(b, second + 33) == 32)  // q8_0, offset padded to 32
        let dataStart = (second + 41 + 31) / 32 * 32
        #expect(b.count == dataStart + 32 + 96)
        #expect(b[dataStart] == 1 && b[dataStart + 12] == 0 && b[dataStart + 32] == 2)
    }

    @Test func exportKeepsRowsThatDoNotFitTheBlockAsF32() throws {
        let tmp = TemporaryDirectory()
        let s = try GGUFExport.run(model: Fixtures.path("Fixtures/models/trm_mlp_sudoku6"), output: tmp.file("m.gguf"), type: .q4_K)
        let byName = Dictionary(uniqueKeysWithValues: s.tensors.map { ($0.name, $0) })
        let tokenGateUp = try #require(byName["inner.L_level.layers.0.mlp_t.gate_up_proj.weight"])
        #expect(tokenGateUp.type == "f32" && tokenGateUp.note != nil)  // 36 columns
        #expect(byName["inner.L_level.layers.0.mlp.down_proj.weight"]?.type == "q4_k")  // 256 columns
        #expect(byName["inner.embed_tokens.embedding_weight"]?.type == "f32")
        let bytes = fileBytes(tmp.file("m.gguf"))
        #expect(bytes.count == s.bytes && Array(bytes[0..<4]) == Array("GGUF".utf8))
    }

    @Test func exportIsDeterministic() throws {
        let tmp = TemporaryDirectory()
        let model = Fixtures.path("Fixtures/models/hrm_sudoku6")
        _ = try GGUFExport.run(model: model, output: tmp.file("a.gguf"), type: .q4_1)
        _ = try GGUFExport.run(model: model, output: tmp.file("b.gguf"), type: .q4_1)
        #expect(fileBytes(tmp.file("a.gguf")) == fileBytes(tmp.file("b.gguf")))
    }
}
