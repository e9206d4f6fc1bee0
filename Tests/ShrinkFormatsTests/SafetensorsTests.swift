import Foundation
import ShrinkFormats
import ShrinkTensor
import ShrinkTestSupport
import Testing

@Suite struct SafetensorsWriterTests {
    @Test func writtenTensorsReadBackByteForByteWithAPaddedHeader() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t.safetensors")
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Int64] = [7, -8]
        let c: [UInt8] = [1, 0, 1]
        let w = try SafetensorsWriter(
            path: path,
            tensors: [TensorInfo(name: "z.a", dtype: .f32, shape: Shape([2, 3])),
                      TensorInfo(name: "b", dtype: .i64, shape: Shape([2])),
                      TensorInfo(name: "c", dtype: .bool, shape: Shape([3]))],
            metadata: ["format": "pt", "note": "quote \" and \\ kept"])
        try w.write("z.a", values: a)
        try w.write("b", values: b)
        try w.write("c", values: c)
        try w.commit()

        let f = try SafetensorsFile(path: path)
        #expect(f.tensorNames == ["b", "c", "z.a"])
        #expect(try f.floats("z.a") == a)
        #expect(try f.integers("b") == b)
        #expect(try f.integers("c") == [1, 0, 1])
        #expect(f.metadata == ["format": "pt", "note": "quote \" and \\ kept"])
        #expect(f.dataStart % 8 == 0)
        #expect(dir.entries == ["t.safetensors"])
    }

    @Test func sameTensorsGiveByteIdenticalFiles() throws {
        let dir = TemporaryDirectory()
        var rng = TestRandom(seed: 1)
        let values = rng.normals(300)
        for name in ["1", "2"] {
            try writeF32([("w", [10, 30], values), ("v", [300], values)], to: dir.file(name), metadata: ["k": "v"])
        }
        #expect(fileBytes(dir.file("1")) == fileBytes(dir.file("2")))
    }

    @Test func aWriterDroppedBeforeCommitLeavesNoFileBehind() throws {
        let dir = TemporaryDirectory()
        do {
            let w = try SafetensorsWriter(path: dir.file("x.safetensors"), tensors: [
                TensorInfo(name: "a", dtype: .f32, shape: Shape([2])), TensorInfo(name: "b", dtype: .f32, shape: Shape([2])),
            ])
            try w.write("a", values: [Float(1), 2])
            #expect(!dir.entries.isEmpty)  // the staging file exists while writing
        }
        #expect(dir.entries.isEmpty)
    }

    @Test func writerRefusesOutOfOrderOrWrongSizedData() throws {
        let dir = TemporaryDirectory()
        let w = try SafetensorsWriter(path: dir.file("x.safetensors"), tensors: [
            TensorInfo(name: "a", dtype: .f32, shape: Shape([2])), TensorInfo(name: "b", dtype: .f32, shape: Shape([2])),
        ])
        #expect(throws: FormatError.self) { try w.write("b", values: [Float(1), 2]) }
        #expect(throws: FormatError.self) { try w.write("a", values: [Float(1)]) }
        #expect(throws: FormatError.self) { try w.commit() }
    }

    @Test func outputPathThatIsADirectoryOrInAMissingDirectoryIsRefused() throws {
        let dir = TemporaryDirectory()
        #expect(throws: FormatError.outputIsDirectory(path: dir.path)) {
            try SafetensorsWriter(path: dir.path, tensors: [])
        }
        #expect(throws: FormatError.self) { try SafetensorsWriter(path: dir.file("missing/x.safetensors"), tensors: []) }
    }
}

@Suite struct SafetensorsReaderTests {
    @Test func readerIsLazyAndReleasesPages() throws {
        let f = try SafetensorsFile(path: Fixtures.defaultModel)
        let names = f.tensorNames
        #expect(names.contains("layers.0.weight"))
        let w = try f.floats("layers.0.weight")
        #expect(w.count == f.info("layers.0.weight")!.elementCount)
        f.release("layers.0.weight")
        #expect(try f.floats("layers.0.weight") == w)  // pages come back from the file
    }

    @Test func missingTensorIsAnErrorNamingIt() throws {
        let f = try SafetensorsFile(path: Fixtures.defaultModel)
        #expect(throws: FormatError.missingTensor(source: Fixtures.defaultModel, tensor: "nope")) { try f.rawBytes("nope") }
    }
}
