import Foundation
import ShrinkFormats
@testable import ShrinkQuant
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// compressed-tensors' sparse formats: the encoder and decoder against goldens written by compressed-tensors
/// 0.14.0 itself (tools/make_sparse_goldens.py), and `shrink quantize --prune` outputs read back.
@Suite struct SparseStorageTests {
    func golden(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/sparse/\(name).safetensors"))
    }

    @Test func theEncoderWritesWhatCompressedTensorsWritesAndReadsItBack() throws {
        for (name, format) in [("bitmask", SparseFormat.bitmask), ("sparse24", .twoFour)] {
            let g = try golden(name)
            let dense = try g.floats("dense"), info = try g.requireInfo("dense")
            let rows = info.shape.dims[0], columns = info.shape.dims[1]
            let kept = dense.map { $0 != 0 }
            let e = SparseBitmask.encode(values: dense, kept: kept, rows: rows, columns: columns)
            #expect(e.bitmask == Array(try g.rawBytes("layer.bitmask")), "\(name)")
            #expect(e.compressed == (try g.floats("layer.compressed")), "\(name)")
            if format == .bitmask { #expect(e.rowOffsets == (try g.integers("layer.row_offsets"))) }
            // Decoding compressed-tensors' file.
            let layout = try SparseBitmask.layout(module: "layer", in: g)
            #expect(layout == SparseLayout(format: format, rows: rows, columns: columns, dtype: info.dtype, kept: kept.filter { $0 }.count))
            #expect(try SparseBitmask.read(module: "layer", layout: layout, from: g) == dense)
            // Writing: the same tensors, byte for byte.
            let dir = TemporaryDirectory()
            let writer = try SafetensorsWriter(path: dir.file("s.safetensors"), tensors: layout.storedTensors(for: "layer.weight"))
            try SparseBitmask.write(PrunedTensor(rows: rows, columns: columns, values: dense, kept: kept), name: "layer.weight", layout: layout, to: writer)
            try writer.commit()
            let mine = try SafetensorsFile(path: dir.file("s.safetensors"))
            #expect(mine.tensorNames.sorted() == g.tensorNames.filter { $0 != "dense" }.sorted())
            for t in mine.tensorNames {
                #expect(mine.info(t)?.shape == g.info(t)?.shape && mine.info(t)?.dtype == g.info(t)?.dtype, "\(t)")
                #expect(Array(try mine.rawBytes(t)) == Array(try g.rawBytes(t)), "\(name) \(t)")
            }
        }
    }

    @Test func pruningOutputsReadBackAsTheirPrunedWeights() throws {
        let source = try Checkpoint.open(Fixtures.defaultModel)
        for (sparsity, format) in [(Sparsity.unstructured(0.5), SparseFormat.bitmask), (.semiStructured(keep: 2, of: 4), .twoFour),
                                   (.semiStructured(keep: 4, of: 8), .bitmask)] {
            var o = QuantizeOptions()
            o.prune = PruneChoice(method: .magnitude, sparsity: sparsity)
            o.quantize = false
            let dir = TemporaryDirectory()
            let recipe = try QuantizeJob.run(source, options: o, outputDirectory: dir.file("p"))
            #expect(recipe.format == "compressed-tensors/" + format.rawValue)
            let pruned = recipe.tensors.filter { $0.action == .pruned }
            #expect(pruned.map(\.name) == ["head.weight", "layers.0.weight", "layers.1.weight"])
            let c = try CompressedCheckpoint(directory: dir.file("p"))
            #expect(c.config.sparsity?.format == format && c.config.sparsity?.structure == sparsity.structure)
            #expect(c.config.groups.isEmpty)
            #expect(Set(c.tensorNames) == Set(source.tensorNames))
            for r in pruned {
                #expect(r.measuredSparsity == 0.5 && r.sparsity == sparsity.description && r.sparseFormat == format.rawValue)
                let w = try source.floats(r.name)
                let info = try source.requireInfo(r.name)
                let expected = try w.withUnsafeBufferPointer {
                    try MagnitudePruner().prune($0, rows: info.shape.dims[0], columns: info.shape.dims[1], sparsity: sparsity, statistics: nil, name: r.name)
                }
                #expect(try c.floats(r.name) == expected.values)
                #expect(r.bytesAfter == SparseLayout(format: format, rows: info.shape.dims[0], columns: info.shape.dims[1], dtype: .f32,
                                                     kept: expected.keptCount).storedBytes)
            }
            #expect(try c.floats("norm.weight") == (try source.floats("norm.weight")))
        }
    }

    @Test func prunedAndQuantizedWeightsKeepTheirMaskInTheZeroCodes() throws {
        let source = try Checkpoint.open(Fixtures.defaultModel)
        var o = QuantizeOptions()
        o.bits = 4
        o.granularity = .group(64)
        o.symmetric = false
        o.prune = PruneChoice(method: .magnitude, sparsity: .semiStructured(keep: 2, of: 4))
        let dir = TemporaryDirectory()
        let recipe = try QuantizeJob.run(source, options: o, outputDirectory: dir.file("q"))
        let c = try CompressedCheckpoint(directory: dir.file("q"))
        #expect(c.config.sparsity == .init(format: .dense, targets: ["head", "layers.0", "layers.1"],
                                           globalSparsity: c.config.sparsity?.globalSparsity ?? -1, structure: "2:4"))
        for r in recipe.tensors where r.action == .quantized {
            #expect(r.sparsity == "2:4" && r.sparseFormat == "dense" && r.measuredSparsity == 0.5)
            let v = try c.floats(r.name), n = r.shape.dims[1]
            for row in 0..<r.shape.dims[0] {
                for g in stride(from: 0, to: n, by: 4) { #expect((g..<(g + 4)).filter { v[row * n + $0] == 0 }.count >= 2) }
            }
        }
        // The recipe names the pruning per tensor, and old recipes without it still read.
        let choice = TensorChoice(bits: 4, granularity: .group(64), method: .gptq, prune: PruneChoice(method: .sparsegpt, sparsity: .unstructured(0.5)))
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        let text = String(decoding: try e.encode(choice), as: UTF8.self)
        #expect(text == #"{"bits":4,"group_size":64,"method":"gptq","prune":{"method":"sparsegpt","sparsity":"0.5"},"strategy":"group"}"#)
        #expect(try JSONDecoder().decode(TensorChoice.self, from: Data(text.utf8)) == choice)
        let old = try JSONDecoder().decode(TensorChoice.self, from: Data(#"{"bits":4,"strategy":"channel","method":"rtn"}"#.utf8))
        #expect(old.prune == nil)
        #expect(String(decoding: try e.encode(old), as: UTF8.self) == #"{"bits":4,"method":"rtn","strategy":"channel"}"#)
    }

    @Test func badFilesAndFlagsAreOneLineErrors() throws {
        var o = QuantizeOptions()
        o.prune = PruneChoice(method: .magnitude, sparsity: .unstructured(0.5))
        o.method = .awq
        #expect(throws: PruningError.self) { try o.validate() }
        o.method = .rtn
        o.grid = .ggmlMinimum
        #expect(throws: PruningError.self) { try o.validate() }
        o.grid = .integer
        o.prune = PruneChoice(method: .magnitude, sparsity: .semiStructured(keep: 4, of: 8))
        // The default model's head has 256 columns (divisible); a 12-column tensor is not.
        let dir = TemporaryDirectory()
        try writeF32([("a.weight", [2, 12], [Float](repeating: 1, count: 24))], to: dir.file("m.safetensors"))
        #expect(throws: PruningError.patternDoesNotDivide(tensor: "a.weight", pattern: "4:8", columns: 12)) {
            _ = try QuantizeJob.plan(try Checkpoint.open(dir.file("m.safetensors")), options: o)
        }
        // A stored bitmask that flags more weights than the values hold.
        let g = try golden("bitmask")
        var tensors: [TensorInfo] = []
        for n in g.tensorNames where n != "dense" { tensors.append(g.info(n)!) }
        let bad = dir.file("bad")
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        let w = try SafetensorsWriter(path: bad + "/model.safetensors", tensors: tensors)
        for t in tensors {
            var bytes = Array(try g.rawBytes(t.name))
            if t.name == "layer.bitmask" { bytes[0] |= 0xFF }
            try w.write(t.name, values: bytes)
        }
        try w.commit()
        let config = #"{"quantization_config": {"quant_method": "compressed-tensors", "sparsity_config": {"format": "sparse-bitmask"}}}"#
        try config.write(toFile: bad + "/config.json", atomically: true, encoding: .utf8)
        let c = try CompressedCheckpoint(directory: bad)
        #expect(c.tensorNames == ["layer.weight"])
        #expect(throws: QuantizationError.self) { _ = try c.floats("layer.weight") }
        do { _ = try c.floats("layer.weight") } catch { #expect("\(error)".contains("layer.bitmask") && !"\(error)".contains("\n")) }
    }
}
