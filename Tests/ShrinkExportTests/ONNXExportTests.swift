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

    /// `--low-rank` factors (W ≈ Ŵ + A·B): each linear application keeps its quantized node (DequantizeLinear + MatMul,
    /// or MatMulNBits) and adds MatMul(MatMul(x, `<p>.weight_lora_b.T`), `<p>.weight_lora_a.T`) and one Add; the factor
    /// initializers are the stored factors transposed, and that linear evaluated here on an input agrees with
    /// x·(Ŵ + A·B)ᵀ, the weight Shrink runs. A quantized embedding is Gathered from Add(Ŵ, MatMul(A, B)).
    @Test(arguments: [ONNXExport.Style.qdq, .matmulnbits])
    func lowRankFactorsBecomeAMatMulPairBesideTheQuantizedProduct(style: ONNXExport.Style) throws {
        let dir = TemporaryDirectory()
        var o = QuantizeOptions()
        // MatMulNBits needs groups of ≥ 16; the embeddings (24-wide puzzle embedding) take groups of 8 (QDQ only).
        o.bits = 4; o.granularity = .group(style == .qdq ? 8 : 16); o.quantizeEmbeddings = style == .qdq
        o.lowRank = .init(rank: 3, method: .svd)
        let q = dir.file("lr")
        try QuantizeJob.run(try Checkpoint.open(Self.tiny), options: o, outputDirectory: q)
        let (m, summary) = try ONNXExport.model(directory: q, options: .init(style: style, steps: 1))
        let compressed = try CompressedCheckpoint(directory: q)
        let exported = compressed.packedWeights.keys.filter { !$0.hasPrefix(ReasonerNames.qHead) }.sorted()
        #expect(summary.lowRankWeights == exported.count && compressed.lowRankWeights.isSuperset(of: exported))
        let producer = Dictionary(m.graph.node.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        func consumers(_ value: String) -> [Onnx_NodeProto] { m.graph.node.filter { $0.input.contains(value) } }
        let embeddings: Set = [ReasonerNames.embedTokens, ReasonerNames.puzzleEmbedding, ReasonerNames.positionEmbedding]
        var linears = 0, gathered = 0
        for name in exported {
            let packed = try #require(compressed.packedWeights[name])
            let (R, C) = (packed.layout.rows, packed.layout.columns)
            let f = try LowRankCompensation.read(name, rows: R, columns: C, from: compressed.stored)
            #expect(f.rank == min(3, R, C))
            let shrinks = try compressed.floats(name)  // Ŵ + A·B
            let wHat = try compressed.quantized(packed).dequantized()
            let scale = Double(shrinks.map { abs($0) }.max() ?? 1)
            if embeddings.contains(name) {
                let add = try #require(producer[name + "_compensated"])
                #expect(add.opType == "Add" && add.input == [name, name + "_lora_ab"] && producer[name]?.opType == "DequantizeLinear")
                #expect(consumers(name + "_compensated").map(\.opType) == ["Gather"])
                #expect(producer[name + "_lora_ab"]?.input == [name + "_lora_a", name + "_lora_b"])
                let a = Self.floats(try #require(Self.initializer(m, name + "_lora_a"))), b = Self.floats(try #require(Self.initializer(m, name + "_lora_b")))
                #expect(a == f.a && b == f.b)
                var worst = 0.0
                for i in 0..<R {
                    for j in 0..<C {
                        let v = Double(wHat[i * C + j]) + (0..<f.rank).reduce(0.0) { $0 + Double(a[i * f.rank + $1]) * Double(b[$1 * C + j]) }
                        worst = max(worst, abs(v - Double(shrinks[i * C + j])))
                    }
                }
                #expect(worst <= 1e-6 * scale, "\(name): Ŵ + A·B off by \(worst)")
                gathered += 1
                continue
            }
            let bT = try #require(Self.initializer(m, name + "_lora_b.T")), aT = try #require(Self.initializer(m, name + "_lora_a.T"))
            #expect(bT.dims == [Int64(C), Int64(f.rank)] && aT.dims == [Int64(f.rank), Int64(R)])
            let (bt, at) = (Self.floats(bT), Self.floats(aT))
            #expect((0..<f.rank).allSatisfy { k in (0..<C).allSatisfy { bt[$0 * f.rank + k] == f.b[k * C + $0] } })
            #expect((0..<f.rank).allSatisfy { k in (0..<R).allSatisfy { at[k * R + $0] == f.a[$0 * f.rank + k] } })
            // Every application: the quantized node and the pair read the same x, and one Add joins them.
            let quantizedNodes = m.graph.node.filter { style == .matmulnbits ? $0.opType == "MatMulNBits" && $0.input[1] == name + ".nbits"
                                                                             : $0.opType == "MatMul" && $0.input[1] == name + ".T" }
            let first = m.graph.node.filter { $0.opType == "MatMul" && $0.input[1] == name + "_lora_b.T" }
            #expect(!first.isEmpty && first.count == quantizedNodes.count, "\(name)")
            for xb in first {
                let xba = try #require(consumers(xb.output[0]).first)
                #expect(xba.opType == "MatMul" && xba.input == [xb.output[0], name + "_lora_a.T"])
                let add = try #require(consumers(xba.output[0]).first)
                let base = try #require(producer[add.input[0]])
                #expect(add.opType == "Add" && add.input[1] == xba.output[0] && quantizedNodes.contains(base) && base.input[0] == xb.input[0])
            }
            // x·Ŵᵀ + (x·Bᵀ)·Aᵀ from the initializers against x·(Ŵ + A·B)ᵀ.
            let x = (0..<C).map { Double(sin(0.7 * Double($0) + 0.3)) }
            let t = (0..<f.rank).map { k in (0..<C).reduce(0.0) { $0 + x[$1] * Double(bt[$1 * f.rank + k]) } }
            var worst = 0.0, largest = 0.0
            for r in 0..<R {
                let reference = (0..<C).reduce(0.0) { $0 + x[$1] * Double(shrinks[r * C + $1]) }
                let graph = (0..<C).reduce(0.0) { $0 + x[$1] * Double(wHat[r * C + $1]) } + (0..<f.rank).reduce(0.0) { $0 + t[$1] * Double(at[$1 * R + r]) }
                worst = max(worst, abs(graph - reference))
                largest = max(largest, abs(reference))
            }
            #expect(worst <= 1e-5 * max(largest, 1), "\(name): x·Ŵᵀ + (x·Bᵀ)·Aᵀ off by \(worst)")
            linears += 1
        }
        let model = try RecursiveReasoner.load(directory: q)
        #expect(linears == 1 + 4 * ReasonerFamily(model.config).levels.map(\.layers).reduce(0, +))
        #expect(gathered == (style == .qdq ? 1 : 0), "the token embedding (--embeddings leaves the puzzle embedding float)")
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
