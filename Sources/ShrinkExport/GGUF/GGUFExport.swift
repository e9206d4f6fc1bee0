import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// `shrink export gguf` for a reasoner: a model directory (FP32, or a compressed directory whose
/// weights are dequantized first) as a GGUF v3 file, streamed (`GGUFStreamWriter`). Decoders go through
/// `LlamaGGUFExport`. Linear weights (2-D `.weight`
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

        var metadata: [(key: String, value: GGUFValue)] = []
        metadata.append(("general.architecture", .string(arch)))
        metadata.append(("general.name", .string(FileSystem.lastComponent(dir))))
        metadata.append(("general.alignment", .uint32(UInt32(GGUFFile.defaultAlignment))))
        if type.isQuantized { metadata.append(("general.quantization_version", .uint32(2))) }
        metadata.append(("shrink.requested_type", .string(type.name)))
        for (key, value) in members {
            switch value {
            case let .string(s): metadata.append(("\(arch).\(key)", .string(s)))
            case let .bool(b): metadata.append(("\(arch).\(key)", .bool(b)))
            case let .number(text):
                if let i = Int64(text) { metadata.append(("\(arch).\(key)", .int64(i))) } else if let d = Double(text) {
                    metadata.append(("\(arch).\(key)", .float64(d)))
                }
            default: continue  // nested objects (quantization_config) describe the source, not the model
            }
        }

        // Types follow from shapes alone, so the header (with every offset) is written before any data (streamed).
        let names = source.tensorNames.sorted()
        var planned: [(name: String, info: TensorInfo, type: GGMLType, note: String?)] = []
        for name in names {
            let info = try source.requireInfo(name)
            if name.utf8.count >= 64 {  // GGML_MAX_NAME, terminator included
                throw ExportError.unsupported(file: dir, detail: "tensor name '\(name)' is \(name.utf8.count) bytes; GGUF readers (ggml) allow 63")
            }
            let (chosen, note) = placement(name: name, shape: info.shape.dims, requested: type)
            planned.append((name, info, chosen, note))
        }
        let writer = try GGUFStreamWriter(path: output, metadata: metadata, tensors: planned.map {
            GGUFHeader.TensorInfo(name: $0.name, dims: $0.info.shape.dims.reversed(), type: $0.type, byteCount: $0.type.rowBytes($0.info.shape.dims.reduce(1, *)))
        })
        var entries: [TensorEntry] = []
        var dumpTensors: [(TensorInfo, [Float])] = []
        for (i, p) in planned.enumerated() {
            progress?.update(done: i, total: names.count, item: p.name)
            let values = try source.floats(p.name)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ExportError.nonFinite(file: dir, tensor: p.name, index: bad)
            }
            let data = p.type.encode(values)
            try writer.write(p.name, bytes: data)
            entries.append(TensorEntry(name: p.name, shape: p.info.shape.dims, type: p.type.name, bytes: data.count, note: p.note))
            if verifyDump != nil {
                dumpTensors.append((TensorInfo(name: p.name, dtype: .f32, shape: p.info.shape), p.type.decode(data, count: values.count)))
                dumpTensors.append((TensorInfo(name: p.name + ":source", dtype: .f32, shape: p.info.shape), values))
            }
            source.release(p.name)
        }
        try writer.commit()
        if let verifyDump {
            let w = try SafetensorsWriter(path: verifyDump, tensors: dumpTensors.map(\.0))
            for (info, values) in dumpTensors { try w.write(info.name, values: values) }
            try w.commit()
        }
        progress?.finish()
        return Summary(output: output, requestedType: type.name, architecture: arch, tensors: entries,
                       metadataKeys: metadata.count, bytes: writer.bytesWritten, verifyDump: verifyDump)
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
