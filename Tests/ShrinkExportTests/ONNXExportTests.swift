import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing
@testable import ShrinkExport

@Suite struct ONNXExportTests {
    static let tiny = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")

    static func quantized(_ source: String, bits: Int, _ granularity: Granularity, symmetric: Bool = true,
                          embeddings: Bool = false, in dir: TemporaryDirectory) throws -> String {
        var o = QuantizeOptions()
        o.bits = bits; o.granularity = granularity; o.symmetric = symmetric; o.quantizeEmbeddings = embeddings
        let out = dir.file("q\(bits)-\(granularity)-\(symmetric)")
        try QuantizeJob.run(try Checkpoint.open(source), options: o, outputDirectory: out)
        return out
    }

    static func initializer(_ m: Onnx_ModelProto, _ name: String) -> Onnx_TensorProto? {
        m.graph.initializer.first { $0.name == name }
    }

    static func floats(_ t: Onnx_TensorProto) -> [Float] {
        [UInt8](t.rawData).withUnsafeBytes { raw in (0..<(raw.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
    }

    @Test func int4PackingPutsTheFirstValueInTheLowNibble() {
        let values: [Int8] = [1, -2, 7, -8, 3]
        let packed = LSBFirstPacking.packInt4(values)
        #expect(packed == [0xE1, 0x87, 0x03])
        #expect(LSBFirstPacking.unpackInt4(packed, count: values.count) == values)
        let all = (0..<16).map { Int8($0) - 8 }
        #expect(LSBFirstPacking.unpackInt4(LSBFirstPacking.packInt4(all), count: 16) == all)
        #expect(LSBFirstPacking.pack([1, 2, 3, 0], bits: 2) == [0b00_11_10_01])
    }

    @Test func anFP32ModelBecomesFloatInitializersAndTheUnrolledRecursion() throws {
        let (m, summary) = try ONNXExport.model(directory: Self.tiny, options: .init(steps: 2))
        let config = try RecursiveReasoner.load(directory: Self.tiny).config
        #expect(m.opsetImport.map(\.version) == [21] && m.irVersion == 10)
        #expect(m.graph.input.map(\.name) == ["inputs", "puzzle_identifiers"])
        #expect(m.graph.output.map(\.name) == ["logits", "predictions"])
        #expect(summary.operators["DequantizeLinear"] == nil && summary.quantizedWeights == 0)
        // One MatMul per linear layer application: per module call 2 per SwiGLU + qkv + o_proj, per layer.
        let calls = 2 * config.hCycles * (config.lCycles + 1)
        #expect(summary.operators["MatMul"] == calls * config.lLayers * 4 + calls * config.lLayers * 2 + 1)
        let qkv = try #require(Self.initializer(m, "inner.L_level.layers.0.self_attn.qkv_proj.weight.T"))
        #expect(qkv.dims == [Int64(config.hiddenSize), Int64(3 * config.hiddenSize)])
        // Transposed: element [i, o] of the initializer is W[o, i].
        let w = try Checkpoint.open(Self.tiny).floats("inner.L_level.layers.0.self_attn.qkv_proj.weight")
        let t = Self.floats(qkv), D = config.hiddenSize
        #expect(t[1 * 3 * D + 5] == w[5 * D + 1])
    }

    @Test func sameModelAndFlagsGiveTheSameBytes() throws {
        let dir = TemporaryDirectory()
        try ONNXExport.export(directory: Self.tiny, to: dir.file("a.onnx"), options: .init(steps: 1))
        try ONNXExport.export(directory: Self.tiny, to: dir.file("b.onnx"), options: .init(steps: 1))
        #expect(fileBytes(dir.file("a.onnx")) == fileBytes(dir.file("b.onnx")) && !fileBytes(dir.file("a.onnx")).isEmpty)
    }

    @Test(arguments: [(4, Granularity.group(8), true), (4, .group(8), false), (8, .channel, true), (3, .channel, false), (4, .tensor, false)])
    func qdqInitializersDequantizeToShrinksWeights(bits: Int, granularity: Granularity, symmetric: Bool) throws {
        let dir = TemporaryDirectory()
        let q = try Self.quantized(Self.tiny, bits: bits, granularity, symmetric: symmetric, embeddings: true, in: dir)
        let (m, summary) = try ONNXExport.model(directory: q, options: .init(style: .qdq, steps: 1))
        let compressed = try CompressedCheckpoint(directory: q)
        // The Q head (halting) is not part of the exported graph.
        let exported = compressed.packedWeights.filter { !$0.key.hasPrefix("inner.q_head") }
        #expect(summary.quantizedWeights == exported.count && exported.count == compressed.packedWeights.count - 1)
        for (name, packed) in exported {
            let expected = try compressed.floats(name)
            let R = packed.layout.rows, C = packed.layout.columns
            let transposed = !name.contains("embed")
            let key = name + (transposed ? ".T" : "")
            let dq = try #require(m.graph.node.first { $0.opType == "DequantizeLinear" && $0.output == [key] })
            let codesT = try #require(Self.initializer(m, dq.input[0]))
            #expect(codesT.dataType == (bits <= 4 ? ONNXElementType.int4 : .int8).rawValue)
            let count = R * C
            let codes = bits <= 4 ? LSBFirstPacking.unpackInt4([UInt8](codesT.rawData), count: count) : [UInt8](codesT.rawData).map { Int8(bitPattern: $0) }
            let scaleT = try #require(Self.initializer(m, dq.input[1]))
            let scales = Self.floats(scaleT)
            var zeros = [Int8](repeating: 0, count: scales.count)
            if dq.input.count > 2 {
                let z = try #require(Self.initializer(m, dq.input[2]))
                zeros = bits <= 4 ? LSBFirstPacking.unpackInt4([UInt8](z.rawData), count: scales.count) : [UInt8](z.rawData).map { Int8(bitPattern: $0) }
            }
            let axis = dq.attribute.first { $0.name == "axis" }.map { Int($0.i) } ?? 1
            let block = dq.attribute.first { $0.name == "block_size" }.map { Int($0.i) }
            let dims = codesT.dims.map(Int.init)
            // DequantizeLinear's definition, element by element, against Shrink's dequantized weight.
            for r in 0..<dims[0] {
                for c in 0..<dims[1] {
                    let s: Int
                    if scales.count == 1 { s = 0 }
                    else if let block { s = axis == 0 ? (r / block) * dims[1] + c : r * (dims[1] / block) + c / block }
                    else { s = axis == 0 ? r : c }
                    let y = Float(Int(codes[r * dims[1] + c]) - Int(zeros[s])) * scales[s]
                    let (o, i) = transposed ? (c, r) : (r, c)
                    #expect(y == expected[o * C + i], "\(name)[\(o), \(i)]")
                    if y != expected[o * C + i] { return }
                }
            }
        }
    }

    @Test(arguments: [(true, 8), (false, 8), (true, 0)])
    func matMulNBitsWeightsDequantizeToShrinksWeights(symmetric: Bool, group: Int) throws {
        let dir = TemporaryDirectory()
        // The tiny model's layers have 16 or 64 inputs: group 8 is refused, per-channel pads to one block.
        let granularity: Granularity = group == 0 ? .channel : .group(16)
        let q = try Self.quantized(Self.tiny, bits: 4, granularity, symmetric: symmetric, in: dir)
        let (m, summary) = try ONNXExport.model(directory: q, options: .init(style: .matmulnbits, steps: 1))
        #expect(m.opsetImport.contains { $0.domain == "com.microsoft" && $0.version == 1 })
        #expect(summary.operators["MatMul"] == summary.operators["Softmax"].map { 2 * $0 } ?? 0)
        let compressed = try CompressedCheckpoint(directory: q)
        let linears = compressed.packedWeights.filter { !$0.key.hasPrefix(ReasonerNames.qHead) }
        // Every linear layer of the tiny TRM but the Q head (not exported): lm_head + 4 per block.
        let model = try RecursiveReasoner.load(directory: q)
        #expect(linears.count == 1 + 4 * ReasonerFamily(model.config).levels.map(\.layers).reduce(0, +) && summary.quantizedWeights >= linears.count)
        for (name, packed) in linears {
            let expected = try compressed.floats(name)
            let node = try #require(m.graph.node.first { $0.opType == "MatMulNBits" && $0.input[1] == name + ".nbits" })
            func attr(_ a: String) -> Int { Int(node.attribute.first { $0.name == a }!.i) }
            let (N, K, bs) = (attr("N"), attr("K"), attr("block_size"))
            #expect(N == packed.layout.rows && K == packed.layout.columns && attr("bits") == 4)
            let kBlocks = (K + bs - 1) / bs
            let b = LSBFirstPacking.unpack([UInt8](try #require(Self.initializer(m, name + ".nbits")).rawData), count: N * kBlocks * bs, bits: 4)
            let scales = Self.floats(try #require(Self.initializer(m, name + ".nbits_scales")))
            var zeros = [UInt8](repeating: 8, count: N * kBlocks)
            if !symmetric {
                let z = try #require(Self.initializer(m, name + ".nbits_zero_points"))
                let perRow = (kBlocks * 4 + 7) / 8
                #expect(z.dims == [Int64(N), Int64(perRow)])
                for n in 0..<N {
                    let row = LSBFirstPacking.unpack(Array([UInt8](z.rawData)[(n * perRow)..<((n + 1) * perRow)]), count: kBlocks, bits: 4)
                    for kb in 0..<kBlocks { zeros[n * kBlocks + kb] = row[kb] }
                }
            }
            for n in 0..<N {
                for k in 0..<K {
                    let blk = n * kBlocks + k / bs
                    let y = Float(Int(b[blk * bs + k % bs]) - Int(zeros[blk])) * scales[blk]
                    #expect(y == expected[n * K + k], "\(name)[\(n), \(k)]")
                    if y != expected[n * K + k] { return }
                }
            }
        }
    }

    @Test func badRequestsAreRefusedWithTheFlagNamed() throws {
        #expect(throws: ExportError.badFlag(flag: "--steps", value: "0", reason: "must be at least 1")) {
            try ONNXExport.model(directory: Self.tiny, options: .init(steps: 0))
        }
        #expect { try ONNXExport.model(directory: Self.tiny, options: .init(style: .matmulnbits)) } throws: { error in
            "\(error)".contains("--style matmulnbits") && "\(error)".contains("quantize")
        }
        let dir = TemporaryDirectory()
        let q = try Self.quantized(Self.tiny, bits: 4, .group(8), in: dir)
        #expect { try ONNXExport.model(directory: q, options: .init(style: .matmulnbits)) } throws: { error in
            "\(error)".contains("group size 8") && "\(error)".contains("--style qdq")
        }
        #expect(throws: (any Error).self) { try ONNXExport.model(directory: dir.file("missing")) }
    }
}
