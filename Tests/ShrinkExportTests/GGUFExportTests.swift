import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing
@testable import ShrinkExport

/// ggml's quantizers against llama.cpp's own library: Tests/Fixtures/ggml_quant/ holds 14 seeded rows of 512
/// (normal data at several scales, all-zero, constants, huge and tiny values, outliers, one-signed, sparse,
/// integer ties) and ggml_quantize_chunk's bytes for them, written by tools/ggml_quant/make_goldens.sh
/// (tools/ggml_quant/goldens.c linked against vendor/llama.cpp's libggml-base.a).
@Suite struct GGMLQuantGoldenTests {
    static let dir = Fixtures.path("Tests/Fixtures/ggml_quant")
    static let rowLength = 512

    static func inputs() throws -> [Float] {
        let bytes = fileBytes(dir + "/inputs.f32")
        try #require(bytes.count == 14 * rowLength * 4, "inputs.f32: regenerate with tools/ggml_quant/make_goldens.sh")
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    @Test func everyBlockTypeMatchesLlamaCppByteForByte() throws {
        let x = try Self.inputs()
        let cases = try String(contentsOfFile: Self.dir + "/cases.txt", encoding: .utf8).split(separator: "\n")
        #expect(cases.count == 14)
        var checked = 0
        for type in GGMLType.blockTypes {
            let golden = fileBytes(Self.dir + "/\(type.name.replacingOccurrences(of: "_k", with: "_K")).bin")  // ggml_type_name
            #expect(golden.count == type.rowBytes(Self.rowLength) * 14, "\(type.name) golden")
            let ours = type.encode(x)
            let rowBytes = type.rowBytes(Self.rowLength)
            for (c, name) in cases.enumerated() {
                let range = (c * rowBytes)..<((c + 1) * rowBytes)
                #expect(ours[range] == golden[range], "\(type.name) case \(name)")
            }
            checked += 1
        }
        #expect(checked == 10)
    }

    /// ggml_quantize_chunk with quant_weights (quantize_row_<type>_impl, what llama-quantize --imatrix runs), through
    /// the export's own row-parallel path; Q8_0 ignores the weights, as in ggml.
    @Test func importanceWeightedQuantizersMatchLlamaCpp() throws {
        let x = try Self.inputs()
        let wb = fileBytes(Self.dir + "/importance.f32")
        try #require(wb.count == Self.rowLength * 4)
        let w = wb.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var checked = 0
        for type in GGMLType.blockTypes {
            let golden = fileBytes(Self.dir + "/\(type.name.replacingOccurrences(of: "_k", with: "_K"))_imatrix.bin")
            #expect(golden.count == type.rowBytes(Self.rowLength) * 14, "\(type.name) golden")
            let (ours, _) = LlamaGGUFExport.quantize(x, rowLength: Self.rowLength, type: type, importance: w)
            #expect(ours == golden, "\(type.name) with importance")
            if type != .q8_0 { #expect(ours != type.encode(x), "\(type.name): the weights changed nothing") }
            checked += 1
        }
        #expect(checked == 10)
    }

    /// The Swift ports (GGMLBlocks.swift) are an independent transcription of the same ggml functions.
    @Test func swiftReferencePortsAgreeWithTheCQuantizer() throws {
        let x = try Self.inputs()
        var checked = 0
        for type in GGMLType.blockTypes {
            guard let swift = type.encodeSwiftReference(x) else { continue }
            #expect(swift == type.encode(x), "\(type.name)")
            checked += 1
        }
        #expect(checked == 5)
    }
}

@Suite struct GGUFStreamWriterTests {
    static func sample() -> GGUFFile {
        var f = GGUFFile()
        f.metadata = [("general.architecture", .string("llama")), ("x.list", .array(elementType: .uint32, [.uint32(1), .uint32(2)]))]
        var rng = TestRandom(seed: 11)
        let a = rng.normals(64), b = rng.normals(7)
        f.tensors = [GGUFFile.Tensor(name: "a", dims: [32, 2], type: .q8_0, data: GGMLType.q8_0.encode(a)),
                     GGUFFile.Tensor(name: "b", dims: [7], type: .f32, data: GGMLType.f32.encode(b))]
        return f
    }

    @Test func streamedFileEqualsTheInMemoryOneAndReadsBack() throws {
        let tmp = TemporaryDirectory()
        let f = Self.sample()
        let w = try GGUFStreamWriter(path: tmp.file("s.gguf"), metadata: f.metadata,
                                     tensors: f.tensors.map { GGUFHeader.TensorInfo(name: $0.name, dims: $0.dims, type: $0.type, byteCount: $0.data.count) })
        for t in f.tensors { try w.write(t.name, bytes: t.data) }
        try w.commit()
        #expect(fileBytes(tmp.file("s.gguf")) == f.serialized())
        #expect(w.bytesWritten == f.serialized().count)
        let r = try GGUFReader(path: tmp.file("s.gguf"))
        #expect(r.tensorOrder == ["a", "b"])
        #expect(Array(try r.blockBytes("a")) == f.tensors[0].data)
        #expect(try r.string("general.architecture") == "llama")
    }

    @Test func abandonedOrMisusedWriterLeavesNoFile() throws {
        let tmp = TemporaryDirectory()
        let f = Self.sample()
        let infos = f.tensors.map { GGUFHeader.TensorInfo(name: $0.name, dims: $0.dims, type: $0.type, byteCount: $0.data.count) }
        do {
            let w = try GGUFStreamWriter(path: tmp.file("x.gguf"), metadata: f.metadata, tensors: infos)
            #expect(throws: FormatError.self) { try w.write("b", bytes: f.tensors[1].data) }  // out of order
            try w.write("a", bytes: f.tensors[0].data)
            #expect(throws: FormatError.self) { try w.commit() }  // "b" not written
        }
        #expect(tmp.entries.isEmpty)
        let wrong = [GGUFHeader.TensorInfo(name: "a", dims: [32, 2], type: .q8_0, byteCount: 10)]
        #expect(throws: FormatError.self) { _ = try GGUFStreamWriter(path: tmp.file("y.gguf"), metadata: [], tensors: wrong) }
        #expect(tmp.entries.isEmpty)
    }
}

@Suite struct GGMLGridTests {
    /// compressed-tensors symmetric group-32 f16 codes written as Q4_0/Q5_0/Q8_0 decode (ggml_dequant.c, bit-exact
    /// with gguf-py) to exactly Shrink's dequantized tensor.
    @Test(arguments: [2, 3, 4, 5, 6, 8])
    func symmetricGroup32CodesAreExactBlocks(bits: Int) throws {
        var rng = TestRandom(seed: UInt64(bits))
        let rows = 6, columns = 128
        let w = rng.normals(rows * columns, scale: 0.05)
        let scheme = QuantScheme(bits: bits, granularity: .group(32), symmetric: true, scaleDType: .f16)
        let q = try RoundToNearest.quantize(w, rows: rows, columns: columns, scheme: scheme, name: "w")
        let grid = try #require(GGMLGrid(scheme: scheme))
        let expected = q.dequantized()
        var tried = 0
        for type in [GGMLType.q4_0, .q5_0, .q8_0] where grid.fits(in: type) {
            var bytes = [UInt8](repeating: 0, count: type.rowBytes(columns) * rows)
            bytes.withUnsafeMutableBytes { GGMLGridCopy.fromCodes(q.codes(), scales: q.scales, to: type, into: $0) }
            let got = type.decode(bytes, count: rows * columns)
            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(bits)-bit as \(type.name)")
            tried += 1
        }
        #expect(tried == (bits <= 4 ? 3 : bits <= 5 ? 2 : 1))
        #expect(grid.nativeType == (bits <= 4 ? .q4_0 : bits <= 5 ? .q5_0 : .q8_0))
        #expect(GGMLGrid(scheme: QuantScheme(bits: bits, granularity: .group(64), symmetric: true, scaleDType: .f16)) == nil)
        #expect(GGMLGrid(scheme: QuantScheme(bits: bits, granularity: .group(32), symmetric: false, scaleDType: .f16)) == nil)
    }

    @Test func narrowGridsWidenWithoutChangingAValue() {
        var rng = TestRandom(seed: 5)
        let x = rng.normals(32 * 40)
        var checked = 0
        for (from, to) in [(GGMLType.q4_0, GGMLType.q5_0), (.q4_0, .q8_0), (.q5_0, .q8_0), (.q4_1, .q5_1)] {
            let src = from.encode(x)
            var out = [UInt8](repeating: 0, count: to.rowBytes(x.count))
            src.withUnsafeBytes { s in out.withUnsafeMutableBytes { GGMLGridCopy.widen(s, from: from, to: to, into: $0) } }
            #expect(to.decode(out, count: x.count).map(\.bitPattern) == from.decode(src, count: x.count).map(\.bitPattern), "\(from.name) → \(to.name)")
            // Re-reading a block and writing it as its own type gives back the bytes.
            var same = [UInt8](repeating: 0, count: src.count)
            src.withUnsafeBytes { s in same.withUnsafeMutableBytes { GGMLGridCopy.widen(s, from: from, to: from, into: $0) } }
            #expect(same == src)
            checked += 1
        }
        #expect(checked == 4)
    }

    @Test func llamaCppPermutationIsTheInverseOfTheReader() throws {
        // LlamaGGUFSource: GGUF row h·d + 2i + j → HF row h·d + j·d/2 + i.
        let heads = 3, d = 8
        let from = try #require(LlamaGGUFNames.permutation(rows: heads * d, heads: heads))
        for h in 0..<heads { for i in 0..<(d / 2) { for j in 0..<2 { #expect(from[h * d + 2 * i + j] == h * d + j * d / 2 + i) } } }
        #expect(Set(from).count == heads * d)
        #expect(LlamaGGUFNames.permutation(rows: 9, heads: 3) == nil)
        for hf in ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "model.layers.12.self_attn.k_proj.weight",
                   "model.layers.0.mlp.down_proj.weight", "model.layers.3.post_attention_layernorm.weight", "model.layers.1.self_attn.q_proj.bias"] {
            let g = try #require(LlamaGGUFNames.ggufName(hf: hf), "\(hf)")
            #expect(LlamaGGUFNames.hfName(g) == hf)
        }
        #expect(LlamaGGUFNames.ggufName(hf: "model.layers.x.mlp.up_proj.weight") == nil)
    }

    @Test func kQuantRowsFallBackAsLlamaCpp() throws {
        let cases: [(GGMLType, Int, GGMLType?)] = [(.q4_K, 576, .q5_0), (.q5_K, 576, .q5_1), (.q6_K, 576, .q8_0), (.q2_K, 576, .q4_0),
                                                   (.q3_K, 576, .q4_0), (.q4_K, 1536, nil), (.q4_K, 100, .f16)]
        for (type, row, expected) in cases {
            let got = try LlamaGGUFExport.fallback(type, rowLength: row, tensor: "t", file: "f")
            #expect(got?.0 == expected, "\(type.name) rows of \(row)")
        }
        #expect(throws: ExportError.self) { _ = try LlamaGGUFExport.fallback(.q4_0, rowLength: 100, tensor: "t", file: "f") }
    }
}

/// The whole-model export on the real SmolLM2-135M Q4_1 GGUF (models/smollm2, from tools/fetch_real.sh).
@Suite(.serialized) struct LlamaGGUFExportTests {
    static let smolLM2 = Fixtures.path("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")

    static func requireSmolLM2() throws -> String {
        guard FileSystem.exists(smolLM2) else {
            throw ExportError.unsupported(file: smolLM2, detail: "is missing: run tools/fetch_real.sh")
        }
        return smolLM2
    }

    /// Q4_1 → Q5_1 re-packs every block exactly (the Q8_0 embedding is copied); the tokenizer and every other key come across verbatim.
    @Test func q4_1SourceWidensToQ5_1ExactlyWithItsTokenizer() throws {
        let path = try Self.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let out = tmp.file("q5_1.gguf")
        let s = try LlamaGGUFExport.run(source: path, output: out, options: .init(type: .q5_1, typeFor: [("token_embd", .q8_0)]))
        let src = try GGUFReader(path: path), dst = try GGUFReader(path: out)
        #expect(s.tensors.count == 272 && dst.tensorNames.count == 272)
        #expect(s.typeCounts == ["q5_1": 210, "q8_0": 1, "f32": 61], "\(s.typeCounts)")
        #expect(s.exact == 272 && s.requantized == 0)
        #expect(try dst.int("general.file_type") == 9)
        var keys = 0
        for k in src.metadataKeys where k.hasPrefix("tokenizer.") || k.hasPrefix("llama.") {
            #expect(dst.value(k) == src.value(k), "\(k)")
            keys += 1
        }
        #expect(keys >= 15)
        // Values: the first and last blocks, the embedding and the final norm (every tensor of a kind is re-packed alike).
        let sampled = src.tensorNames.filter { $0.hasPrefix("blk.0.") || $0.hasPrefix("blk.29.") || !$0.hasPrefix("blk.") }
        #expect(sampled.count == 20)
        for name in sampled {
            let a = try src.floats(name), b = try dst.floats(name)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(name)")
            src.release(name); dst.release(name)
        }
        #expect(try LlamaConfig(gguf: dst) == LlamaConfig(gguf: src))
    }

    /// K-quant requests on SmolLM2's 576-wide rows fall back per tensor (Q4_K → Q5_0); 1536-wide rows take Q4_K.
    @Test func kQuantRequestFallsBackPerTensor() throws {
        let path = try Self.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let s = try LlamaGGUFExport.run(source: path, output: tmp.file("k.gguf"),
                                        options: .init(type: nil, typeFor: [(#"blk\.0\.(ffn_down|attn_q)\.weight"#, .q4_K)]))
        let down = try #require(s.tensors.first { $0.name == "blk.0.ffn_down.weight" })
        let q = try #require(s.tensors.first { $0.name == "blk.0.attn_q.weight" })
        #expect(down.type == "q4_k" && down.placement == .requantized && down.note == nil)
        #expect(q.type == "q5_0" && q.note != nil && q.placement == .requantized)
        #expect(down.relativeError > 0 && down.relativeError < 0.2, "\(down.relativeError)")
        #expect(s.fallbacks == 1 && s.requantized == 2)
        let r = try GGUFReader(path: tmp.file("k.gguf"))
        #expect(r.ggmlType("blk.0.ffn_down.weight") == .q4_K && r.ggmlType("blk.0.attn_q.weight") == .q5_0)
        #expect(r.ggmlType("blk.1.ffn_down.weight") == .q4_1)  // auto: its own type, copied
    }

    /// A compressed directory (symmetric int4 group-32 f16, transformers names and row order, as `shrink quantize`
    /// writes from a GGUF) exports its codes as Q4_0 and Q8_0 blocks: llama.cpp decodes exactly Shrink's
    /// dequantized weights, Q/K rows back in llama.cpp's order.
    @Test func compressedDirectoryExportsItsCodesExactly() throws {
        let path = try Self.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let reader = try GGUFReader(path: path)
        let source = LlamaGGUFSource(reader, config: try LlamaConfig(gguf: reader))
        var o = QuantizeOptions()
        o.bits = 4; o.granularity = .group(32); o.symmetric = true; o.scaleDType = .f16
        o.include = #"model\.layers\.[01]\.(self_attn\.(q|k|v)_proj|mlp\.down_proj)\.weight"#
        try QuantizeJob.run(source, options: o, outputDirectory: tmp.file("c"))
        let ckpt = try CompressedCheckpoint(directory: tmp.file("c"))
        #expect(ckpt.packedWeights.count == 8)
        for type in [GGMLType.q4_0, .q8_0] {
            let out = tmp.file("\(type.name).gguf")
            let s = try LlamaGGUFExport.run(source: tmp.file("c"), output: out, options: .init(type: type))
            #expect(s.sourceKind == "compressed" && s.metadataSource == path)
            #expect(s.tensors.count == 272 && s.tensors.filter { $0.sourceFormat.hasPrefix("int4") }.allSatisfy { $0.placement == .exact })
            let exported = try GGUFReader(path: out)
            #expect(exported.value("tokenizer.ggml.tokens") == reader.value("tokenizer.ggml.tokens"))
            let view = LlamaGGUFSource(exported, config: try LlamaConfig(gguf: exported))
            for name in ckpt.packedWeights.keys.sorted() {
                #expect(try view.floats(name).map(\.bitPattern) == ckpt.floats(name).map(\.bitPattern), "\(name) as \(type.name)")
            }
            // An unquantized tensor went through the requested type: its stored error is what the summary reports.
            let o = try #require(s.tensors.first { $0.name == "blk.0.attn_output.weight" })
            #expect(o.placement == .requantized && o.type == type.name && o.relativeError > 0)
        }
    }

    /// Low-rank factors as a llama.cpp LoRA adapter (`--lora-adapter`): the model holds Ŵ's codes exactly (not Ŵ + A·B
    /// re-quantized), and the adapter holds each block weight's factors bit for bit in llama.cpp's roles — lora_a =
    /// Shrink's B [r, in], lora_b = Shrink's A [out, r] with Q/K rows in llama.cpp's order — under the keys
    /// src/llama-adapter.cpp reads. (tools/check_gguf_export.sh runs it in llama-perplexity --lora.)
    @Test func lowRankFactorsExportAsALoRAAdapterBitForBit() throws {
        let path = try Self.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let reader = try GGUFReader(path: path)
        let config = try LlamaConfig(gguf: reader)
        var o = QuantizeOptions()
        o.bits = 4; o.granularity = .group(32); o.scaleDType = .f16
        o.include = #"model\.layers\.0\.(self_attn\.(q|k|v)_proj|mlp\.down_proj)\.weight"#
        o.lowRank = .init(rank: 4, method: .svd)
        try QuantizeJob.run(LlamaGGUFSource(reader, config: config), options: o, outputDirectory: tmp.file("c"))
        let ckpt = try CompressedCheckpoint(directory: tmp.file("c"))
        #expect(ckpt.lowRankWeights.count == 4)
        let s = try LlamaGGUFExport.run(source: tmp.file("c"), output: tmp.file("m.gguf"),
                                        options: .init(type: .q4_0, typeFor: [("token_embd", .q8_0)], loraAdapter: tmp.file("a.gguf")))
        #expect(s.loraAdapter?.weights == 4 && ckpt.lowRankWeights.allSatisfy { n in s.tensors.first { $0.source == n }?.placement == .exact })
        let model = try GGUFReader(path: tmp.file("m.gguf")), adapter = try GGUFReader(path: tmp.file("a.gguf"))
        #expect(adapter.value("general.type") == .string("adapter") && adapter.value("adapter.type") == .string("lora"))
        #expect(adapter.value("general.architecture") == .string("llama") && adapter.value("adapter.lora.alpha") == .float32(0))
        #expect(adapter.tensorNames.count == 8)
        let view = LlamaGGUFSource(model, config: config)
        for name in ckpt.lowRankWeights.sorted() {
            let packed = try #require(ckpt.packedWeights[name])
            #expect(try view.floats(name) == ckpt.quantized(packed).dequantized(), "\(name): the model holds Ŵ")
            let gguf = try #require(LlamaGGUFNames.ggufName(hf: name))
            let f = try LowRankCompensation.read(name, rows: packed.layout.rows, columns: packed.layout.columns, from: ckpt.stored)
            let a = try #require(adapter.tensor(gguf + ".lora_a")), b = try #require(adapter.tensor(gguf + ".lora_b"))
            #expect(a.type == .f16 && a.shape.dims == [4, packed.layout.columns] && b.shape.dims == [packed.layout.rows, 4])
            #expect(try adapter.floats(gguf + ".lora_a") == f.b)
            let rows = try adapter.floats(gguf + ".lora_b")
            let from = LlamaGGUFNames.permutedHeads(gguf: gguf, config: config).flatMap { LlamaGGUFNames.permutation(rows: packed.layout.rows, heads: $0) }
                ?? Array(0..<packed.layout.rows)
            #expect(gguf.contains("attn_q") || gguf.contains("attn_k") ? from != Array(0..<packed.layout.rows) : true)
            for (i, r) in from.enumerated() { #expect(Array(rows[(i * 4)..<(i * 4 + 4)]) == Array(f.a[(r * 4)..<(r * 4 + 4)]), "\(gguf) row \(i)") }
        }
        // Without --lora-adapter the factors are folded in and those weights re-quantized; an adapter needs factors.
        let folded = try LlamaGGUFExport.run(source: tmp.file("c"), output: tmp.file("f.gguf"), options: .init(type: .q4_0, typeFor: [("token_embd", .q8_0)]))
        #expect(folded.loraAdapter == nil && folded.requantized == s.requantized + 4)
        #expect(throws: ExportError.self) {
            try LlamaGGUFExport.run(source: path, output: tmp.file("x.gguf"), options: .init(type: .q4_0, loraAdapter: tmp.file("x.lora.gguf")))
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.file("x.gguf")) && !FileManager.default.fileExists(atPath: tmp.file("x.lora.gguf")))
    }

    /// GPTQ solved on ggml's Q4_1/Q5_1 grid (`--grid ggml`) is stored with its F16 minima (`_minimum`) and exported
    /// as Q4_1/Q5_1 blocks value for value: llama.cpp's decoder gives exactly Shrink's dequantized weights.
    @Test(arguments: [4, 5])
    func ggmlMinimumGridExportsAsQ4_1AndQ5_1Exactly(bits: Int) throws {
        let path = try Self.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let reader = try GGUFReader(path: path)
        let source = LlamaGGUFSource(reader, config: try LlamaConfig(gguf: reader))
        var o = QuantizeOptions()
        o.bits = bits; o.granularity = .group(32); o.grid = .ggmlMinimum
        o.include = #"model\.layers\.[01]\.(self_attn\.(q|k)_proj|mlp\.down_proj)\.weight"#
        let (roundTrip, _) = try QuantizeJob.roundTrip(source, options: o)
        try QuantizeJob.run(source, options: o, outputDirectory: tmp.file("c"))
        let ckpt = try CompressedCheckpoint(directory: tmp.file("c"))
        #expect(ckpt.packedWeights.count == 6 && ckpt.packedWeights.values.allSatisfy { $0.layout.scheme.grid == .ggmlMinimum })
        #expect(ckpt.config.groups.allSatisfy { $0.scheme.grid == .ggmlMinimum })
        let config = try String(contentsOfFile: tmp.file("c/config.json"), encoding: .utf8)
        #expect(config.contains("\"format\": \"\(CompressedTensorsConfig.ggmlMinimumFormat)\""), "compressed-tensors must refuse it, not misread it")
        let stored = try SafetensorsFile(path: tmp.file("c/model.safetensors"))
        let down = "model.layers.0.mlp.down_proj.weight"
        #expect(stored.info(down + "_minimum")?.dtype == .f16 && stored.info(down + "_zero_point") == nil)
        for name in ckpt.packedWeights.keys {
            #expect(try ckpt.floats(name).map(\.bitPattern) == roundTrip.floats(name).map(\.bitPattern), "\(name): the file holds the round trip")
        }
        let type: GGMLType = bits == 4 ? .q4_1 : .q5_1
        let out = tmp.file("m.gguf")
        let s = try LlamaGGUFExport.run(source: tmp.file("c"), output: out, options: .init(type: nil))
        let packedRows = s.tensors.filter { $0.sourceFormat.hasPrefix("int\(bits)") }
        #expect(packedRows.count == 6 && packedRows.allSatisfy { $0.placement == .exact && $0.type == type.name })
        let exported = try GGUFReader(path: out)
        let view = LlamaGGUFSource(exported, config: try LlamaConfig(gguf: exported))
        for name in ckpt.packedWeights.keys.sorted() {
            #expect(try view.floats(name).map(\.bitPattern) == ckpt.floats(name).map(\.bitPattern), "\(name) as \(type.name)")
        }
    }

    @Test func missingSourceGGUFIsAOneLineError() throws {
        let path = try Self.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let reader = try GGUFReader(path: path)
        var o = QuantizeOptions()
        o.include = #"model\.layers\.0\.mlp\.down_proj\.weight"#
        o.granularity = .group(32); o.scaleDType = .f16
        try QuantizeJob.run(LlamaGGUFSource(reader, config: try LlamaConfig(gguf: reader)), options: o, outputDirectory: tmp.file("c"))
        let recipe = tmp.file("c/shrink.json")
        let text = try String(contentsOfFile: recipe, encoding: .utf8).replacingOccurrences(of: path, with: "/nonexistent/gone.gguf")
        try text.write(toFile: recipe, atomically: true, encoding: .utf8)
        do {
            _ = try LlamaGGUFExport.run(source: tmp.file("c"), output: tmp.file("x.gguf"), options: .init(type: .q4_0))
            Issue.record("exported without its source GGUF")
        } catch let e as ExportError {
            #expect(e.description.contains("/nonexistent/gone.gguf") && e.description.contains("is gone") && !e.description.contains("\n"))
        }
        #expect(!FileSystem.exists(tmp.file("x.gguf")))
    }
}

@Suite struct LlamaGGUFExportErrorTests {
    /// A minimal llama GGUF whose token embedding holds a NaN: the export names the tensor and writes nothing.
    @Test func nonFiniteWeightIsNamed() throws {
        let tmp = TemporaryDirectory()
        var f = GGUFFile()
        f.metadata = [("general.architecture", .string("llama")), ("llama.embedding_length", .uint32(64)),
                      ("llama.attention.head_count", .uint32(2)), ("llama.block_count", .uint32(1)),
                      ("llama.feed_forward_length", .uint32(128)), ("llama.vocab_size", .uint32(32))]
        var values = [Float](repeating: 0.5, count: 32 * 64)
        values[70] = .nan
        f.tensors = [GGUFFile.Tensor(name: "token_embd.weight", dims: [64, 32], type: .f32, data: GGMLType.f32.encode(values)),
                     GGUFFile.Tensor(name: "output_norm.weight", dims: [64], type: .f32, data: GGMLType.f32.encode([Float](repeating: 1, count: 64)))]
        try AtomicFile.write(bytes: f.serialized(), to: tmp.file("nan.gguf"))
        do {
            _ = try LlamaGGUFExport.run(source: tmp.file("nan.gguf"), output: tmp.file("out.gguf"), options: .init(type: .q8_0))
            Issue.record("exported a NaN")
        } catch let e as ExportError {
            #expect(e == .nonFinite(file: tmp.file("nan.gguf"), tensor: "token_embd.weight", index: 70))
        }
        #expect(tmp.entries == ["nan.gguf"])
    }
}
