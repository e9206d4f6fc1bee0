import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// `shrink export gguf`: a model directory (FP32, or a compressed directory whose
/// weights are dequantized first) as a GGUF v3 file. Linear weights (2-D `.weight`
/// tensors) take the requested ggml type where their row length is a multiple of
/// its block size and stay F32 otherwise; embeddings, biases and the initial
/// carries stay F32. The config's scalar fields become `<arch>.<field>` metadata.
public enum GGUFExport {
    public struct TensorEntry: Codable, Sendable {
        public var name: String
        /// PyTorch order ([out, in] for a linear weight).
        public var shape: [Int]
        public var type: String
        public var bytes: Int
        /// Why a linear weight was not given the requested type.
        public var note: String?
    }

    public struct Summary: Codable, Sendable {
        public var output: String
        public var requestedType: String
        public var architecture: String
        public var tensors: [TensorEntry]
        public var metadataKeys: Int
        public var bytes: Int
        public var verifyDump: String?
    }

    public static func run(model directory: String, output: String, type: GGMLType, verifyDump: String? = nil,
                           progress: (any ProgressSink)? = nil) throws -> Summary {
        let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let configPath = dir + "/config.json"
        let config: JSONValue
        do {
            let f = try MappedFile(path: configPath)
            config = try StrictJSONParser.parse(f.bytes(0..<f.byteCount))
        } catch let e as JSONParseError {
            throw FormatError.headerNotJSON(file: configPath, detail: e.description)
        } catch {
            throw FormatError.cannotOpen(file: configPath, reason: "a model directory needs config.json next to its weights")
        }
        guard let members = config.objectMembers else { throw FormatError.headerNotObject(file: configPath, found: config.kindName) }
        let arch = config["arch"]?.stringValue ?? "trm"
        let source: any TensorSource = CompressedCheckpoint.isCompressed(dir) ? try CompressedCheckpoint(directory: dir) : try Checkpoint.open(dir)

        var file = GGUFFile()
        file.metadata.append(("general.architecture", .string(arch)))
        file.metadata.append(("general.name", .string(FileSystem.lastComponent(dir))))
        file.metadata.append(("general.alignment", .uint32(UInt32(file.alignment))))
        if type.isQuantized { file.metadata.append(("general.quantization_version", .uint32(2))) }
        file.metadata.append(("shrink.requested_type", .string(type.name)))
        for (key, value) in members {
            switch value {
            case let .string(s): file.metadata.append(("\(arch).\(key)", .string(s)))
            case let .bool(b): file.metadata.append(("\(arch).\(key)", .bool(b)))
            case let .number(text):
                if let i = Int64(text) { file.metadata.append(("\(arch).\(key)", .int64(i))) } else if let d = Double(text) {
                    file.metadata.append(("\(arch).\(key)", .float64(d)))
                }
            default: continue  // nested objects (quantization_config) describe the source, not the model
            }
        }

        var entries: [TensorEntry] = []
        var dumpTensors: [(TensorInfo, [Float])] = []
        let names = source.tensorNames.sorted()
        for (i, name) in names.enumerated() {
            progress?.update(done: i, total: names.count, item: name)
            let info = try source.requireInfo(name)
            if name.utf8.count >= 64 {  // GGML_MAX_NAME, terminator included
                throw ExportError.unsupported(file: dir, detail: "tensor name '\(name)' is \(name.utf8.count) bytes; GGUF readers (ggml) allow 63")
            }
            let values = try source.floats(name)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ExportError.nonFinite(file: dir, tensor: name, index: bad)
            }
            let (chosen, note) = placement(name: name, shape: info.shape.dims, requested: type)
            let data = chosen.encode(values)
            file.tensors.append(GGUFFile.Tensor(name: name, dims: info.shape.dims.reversed(), type: chosen, data: data))
            entries.append(TensorEntry(name: name, shape: info.shape.dims, type: chosen.name, bytes: data.count, note: note))
            if verifyDump != nil {
                dumpTensors.append((TensorInfo(name: name, dtype: .f32, shape: info.shape), chosen.decode(data, count: values.count)))
                dumpTensors.append((TensorInfo(name: name + ":source", dtype: .f32, shape: info.shape), values))
            }
            source.release(name)
        }
        let bytes = file.serialized()
        try AtomicFile.write(bytes: bytes, to: output)
        if let verifyDump {
            let w = try SafetensorsWriter(path: verifyDump, tensors: dumpTensors.map(\.0))
            for (info, values) in dumpTensors { try w.write(info.name, values: values) }
            try w.commit()
        }
        progress?.finish()
        return Summary(output: output, requestedType: type.name, architecture: arch, tensors: entries,
                       metadataKeys: file.metadata.count, bytes: bytes.count, verifyDump: verifyDump)
    }

    /// The type a tensor gets: linear weights the requested one when the row fits its blocks.
    public static func placement(name: String, shape: [Int], requested: GGMLType) -> (GGMLType, String?) {
        guard shape.count == 2, name.hasSuffix(".weight") else { return (.f32, nil) }
        if requested.blockSize > 1 && shape[1] % requested.blockSize != 0 {
            return (.f32, "row length \(shape[1]) is not a multiple of \(requested.name)'s block of \(requested.blockSize); kept F32")
        }
        return (requested, nil)
    }
}
