import Foundation
import ShrinkFormats
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// Tests/Fixtures/gguf (tools/make_gguf_goldens.py): a file written by gguf-py 0.19.0 with one
/// tensor per ggml type, and gguf.quants.dequantize's values for each.
private let typesFile = Fixtures.path("Tests/Fixtures/gguf/types.gguf")
private let goldenFile = Fixtures.path("Tests/Fixtures/gguf/types_dequantized.safetensors")

private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

@Suite struct GGUFReaderTests {
    @Test func blockSizesMatchGGMLCommon() {
        // ggml-common.h static_asserts and ggml.c type_traits (blck_size, type_size).
        let expected: [GGMLType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22), .q5_1: (32, 24),
            .q8_0: (32, 34), .q2_K: (256, 84), .q3_K: (256, 110), .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210),
        ]
        #expect(GGMLType.allCases.count == 13)
        for t in GGMLType.allCases {
            #expect(t.blockSize == expected[t]!.0 && t.bytesPerBlock == expected[t]!.1, "\(t)")
        }
        #expect(GGMLType.q2_K.rawValue == 10 && GGMLType.bf16.rawValue == 30 && GGMLType.q5_1.rawValue == 7)
    }

    @Test(arguments: ["types.gguf", "types_v2.gguf"])
    func everyTypeDequantizesBitForBitAsGGUFPy(_ file: String) throws {
        let r = try GGUFReader(path: Fixtures.path("Tests/Fixtures/gguf/" + file))
        let golden = try SafetensorsFile(path: goldenFile)
        #expect(r.version == (file == "types.gguf" ? 3 : 2))
        #expect(r.tensorNames == golden.tensorNames)
        #expect(r.tensorNames.count == 20)
        #expect(Set(r.tensorNames.compactMap { r.ggmlType($0) }) == Set(GGMLType.allCases))
        for name in golden.tensorNames {
            let expected = try golden.floats(name)
            let info = try #require(r.info(name))
            #expect(info.shape == golden.info(name)!.shape, "\(name)")
            #expect(bits(try r.floats(name)) == bits(expected), "\(name) (\(r.ggmlType(name)!))")
            // The scalar reference and the dispatched path agree with gguf-py too.
            let t = r.tensor(name)!
            let ref = t.type.dequantize(try r.blockBytes(name), reference: true)
            #expect(bits(ref) == bits(expected), "\(name) reference")
            // rawBytes gives bytes of the reported dtype, so a dtype-generic reader decodes them.
            #expect(bits(try r.decodedFloats(name)) == bits(expected), "\(name) rawBytes")
            r.release(name)
        }
    }

    @Test func rowsDecodeIntoACallerBuffer() throws {
        let r = try GGUFReader(path: typesFile)
        for name in ["q4_k_bits", "q4_1", "q6_k_bits", "f16_bits"] {
            let t = r.tensor(name)!
            let all = try r.floats(name)
            var rows = [Float](repeating: .nan, count: t.rowLength)
            try rows.withUnsafeMutableBufferPointer { try r.dequantizeRows(name, rows: 1..<2, into: $0.baseAddress!) }
            #expect(bits(rows) == bits(Array(all[t.rowLength..<(2 * t.rowLength)])), "\(name)")
        }
        #expect(throws: FormatError.self) {
            var y = [Float](repeating: 0, count: 512)
            try y.withUnsafeMutableBufferPointer { try r.dequantizeRows("q4_1", rows: 3..<4, into: $0.baseAddress!) }
        }
    }

    @Test func shapesAreRowMajorAndBlockTypesReportF32() throws {
        let r = try GGUFReader(path: typesFile)
        #expect(r.tensor("f32")!.dims == [5, 3, 2])
        #expect(r.info("f32")! == TensorInfo(name: "f32", dtype: .f32, shape: Shape([2, 3, 5])))
        #expect(r.info("q4_k_bits")! == TensorInfo(name: "q4_k_bits", dtype: .f32, shape: Shape([3, 512])))
        #expect(r.info("f16")!.dtype == .f16 && r.info("bf16_bits")!.dtype == .bf16)
        #expect(try r.blockBytes("q4_k_bits").count == 3 * 2 * 144)
        #expect(r.alignment == 32 && r.dataStart % 32 == 0)
        #expect(try Checkpoint.open(typesFile) is GGUFReader)
    }

    @Test func everyMetadataValueTypeReadsAsGGUFPyWroteIt() throws {
        let r = try GGUFReader(path: typesFile)
        #expect(r.value("test.uint8") == .uint8(200))
        #expect(r.value("test.int8") == .int8(-100))
        #expect(r.value("test.uint16") == .uint16(60000))
        #expect(r.value("test.int16") == .int16(-30000))
        #expect(r.value("test.uint32") == .uint32(4_000_000_000))
        #expect(r.value("test.int32") == .int32(-2_000_000_000))
        #expect(r.value("test.uint64") == .uint64(18_000_000_000_000_000_000))
        #expect(r.value("test.int64") == .int64(-9_000_000_000_000_000_000))
        #expect(r.value("test.float32") == .float32(0.1))
        #expect(r.value("test.float64") == .float64(-2.5e-300))
        #expect(r.value("test.bool") == .bool(true))
        #expect(try r.string("test.string") == "héllo ✓")
        #expect(try r.stringArray("test.strings") == ["a", "", "ġthe"])
        #expect(try r.intArray("test.int32s") == [1, -2, 3])
        #expect(try r.floatArray("test.float32s") == [0.5, -1.25])
        #expect(r.value("test.nested") == .array(elementType: .array, [.array(elementType: .int32, [.int32(1), .int32(2)]),
                                                                     .array(elementType: .int32, [.int32(3)])]))
        #expect(try r.requireString("general.architecture") == "llama")
        #expect(try r.requireInt("llama.context_length") == 2048)
        #expect(try r.requireFloat("llama.rope.freq_base") == 100000)
        #expect(throws: FormatError.self) { _ = try r.int("test.uint64") }  // does not fit an Int
        #expect(throws: FormatError.self) { _ = try r.int("test.string") }
        #expect(throws: FormatError.ggufMissingKey(file: typesFile, key: "llama.block_count")) { _ = try r.requireInt("llama.block_count") }
        #expect(try r.string("no.such.key") == nil)
        #expect(r.metadataKeys.first == "general.architecture")
        #expect(r.metadata["test.strings"] == "array of 3 string")
    }

    @Test func shrinkWritesWhatItReads() throws {
        let tmp = TemporaryDirectory()
        var f = GGUFFile()
        f.version = 2
        f.alignment = 64
        f.metadata = [("general.alignment", .uint32(64)), ("k.nested", .array(elementType: .array, [.array(elementType: .string, [.string("x")])])),
                      ("k.empty", .array(elementType: .float64, [])), ("k.u16", .uint16(7))]
        let q = [UInt8](repeating: 0x3c, count: 34 * 2)
        f.tensors = [GGUFFile.Tensor(name: "a", dims: [3], type: .f32, data: [0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64]),
                     GGUFFile.Tensor(name: "b", dims: [32, 2], type: .q8_0, data: q)]
        let path = tmp.file("w.gguf")
        try AtomicFile.write(bytes: f.serialized(), to: path)
        let r = try GGUFReader(path: path)
        #expect(r.version == 2 && r.alignment == 64 && r.dataStart % 64 == 0)
        #expect(r.metadataKeys == ["general.alignment", "k.nested", "k.empty", "k.u16"])
        #expect(r.value("k.nested") == f.metadata[1].value && r.value("k.empty") == .array(elementType: .float64, []))
        #expect(try r.floats("a") == [1, 2, 3])
        #expect(r.tensor("b")!.offset == 64)
        // d = fp16 0x3c3c = 1.05859375, q = 0x3c = 60
        #expect(try r.floats("b") == [Float](repeating: 60 * 1.05859375, count: 64))
    }
}

/// The SmolLM2-135M-Instruct release (tools/fetch_real.sh puts it in models/).
@Suite struct SmolLM2GGUFTests {
    struct MissingRealData: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) is missing: run tools/fetch_real.sh" }
    }

    static let path = Fixtures.path("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")

    static func open() throws -> GGUFReader {
        guard FileSystem.exists(path) else { throw MissingRealData(path: path) }
        return try GGUFReader(path: path)
    }

    @Test func headerMetadataAndTensorsAreTheRelease() throws {
        let r = try Self.open()
        #expect(r.version == 3 && r.alignment == 32)
        #expect(try r.requireString("general.architecture") == "llama")
        #expect(try r.requireInt("llama.block_count") == 30)
        #expect(try r.requireInt("llama.embedding_length") == 576)
        #expect(try r.requireInt("llama.feed_forward_length") == 1536)
        #expect(try r.requireInt("llama.attention.head_count") == 9)
        #expect(try r.requireInt("llama.attention.head_count_kv") == 3)
        #expect(try r.requireFloat("llama.rope.freq_base") == 100000)
        #expect(Float(try r.requireFloat("llama.attention.layer_norm_rms_epsilon")) == 1e-5)
        #expect(try r.requireString("tokenizer.ggml.model") == "gpt2" && r.requireString("tokenizer.ggml.pre") == "smollm")
        let tokens = try #require(try r.stringArray("tokenizer.ggml.tokens"))
        #expect(tokens.count == 49152 && tokens[0] == "<|endoftext|>")
        #expect(try r.stringArray("tokenizer.ggml.merges")?.count == 48900)
        #expect(try r.intArray("tokenizer.ggml.token_type")?.count == 49152)
        #expect(r.tensorNames.count == 272)
        var counts: [GGMLType: Int] = [:]
        for n in r.tensorNames { counts[r.ggmlType(n)!, default: 0] += 1 }
        #expect(counts == [.q4_1: 210, .q8_0: 1, .f32: 61])
        #expect(r.info("token_embd.weight") == TensorInfo(name: "token_embd.weight", dtype: .f32, shape: Shape([49152, 576])))
        #expect(r.info("blk.0.ffn_down.weight")!.shape == Shape([576, 1536]))
        #expect(r.parameterCount == 134_515_008)
    }

    @Test func fastPathEqualsTheScalarReferenceOnEveryTensor() throws {
        let r = try Self.open()
        for name in r.tensorOrder {
            let t = r.tensor(name)!
            let fast = try r.floats(name)
            let ref = t.type.dequantize(try r.blockBytes(name), reference: true)
            #expect(fast.count == ref.count && memcmp(fast, ref, 4 * fast.count) == 0, "\(name)")  // bit for bit
            r.release(name)
        }
    }
}
