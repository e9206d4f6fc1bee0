import ShrinkTensor

/// A checkpoint split over several safetensors files, described by an index
/// (`model.safetensors.index.json`: {"metadata": {...}, "weight_map": {tensor: file}}),
/// as transformers' `save_pretrained` writes it.
public final class ShardedCheckpoint: TensorSource {
    public let location: String
    public let tensorNames: [String]
    public let metadata: [String: String]
    private let shards: [String: SafetensorsFile]
    private let owner: [String: String]  // tensor → shard file name

    public init(indexPath: String) throws {
        location = indexPath
        let raw: MappedFile
        do { raw = try MappedFile(path: indexPath) } catch {
            throw FormatError.cannotOpen(file: indexPath, reason: "cannot read the shard index")
        }
        let json: JSONValue
        do { json = try StrictJSONParser.parse(raw.bytes(0..<raw.byteCount)) } catch {
            throw FormatError.shardIndexInvalid(index: indexPath, detail: "not valid JSON (\(error.description))")
        }
        guard let weightMap = json["weight_map"]?.objectMembers else {
            throw FormatError.shardIndexInvalid(index: indexPath, detail: "has no \"weight_map\" object")
        }
        var meta: [String: String] = [:]
        if let m = json["metadata"]?.objectMembers {
            for (k, v) in m {
                switch v {
                case let .string(s): meta[k] = s
                case let .number(t): meta[k] = t
                default: break
                }
            }
        }
        let dir = FileSystem.directoryOf(indexPath)
        var files: [String: SafetensorsFile] = [:]
        var owner: [String: String] = [:]
        for (tensor, fileValue) in weightMap {
            guard let shard = fileValue.stringValue else {
                throw FormatError.shardIndexInvalid(index: indexPath, detail: "weight_map entry '\(tensor)' is \(fileValue.kindName), expected a file name")
            }
            guard !shard.hasPrefix("/"), !shard.split(separator: "/").contains("..") else {
                throw FormatError.shardIndexInvalid(index: indexPath, detail: "shard name '\(shard)' leaves the checkpoint's directory")
            }
            if files[shard] == nil {
                let p = dir + "/" + shard
                guard FileSystem.exists(p) else { throw FormatError.shardMissing(index: indexPath, shard: shard) }
                files[shard] = try SafetensorsFile(path: p)
            }
            guard files[shard]!.info(tensor) != nil else {
                throw FormatError.tensorNotInShard(index: indexPath, tensor: tensor, shard: shard)
            }
            owner[tensor] = shard
        }
        // A tensor stored twice, or stored but not indexed, means the index and the
        // shards disagree; refuse rather than guess which copy is meant.
        var seen: [String: String] = [:]
        for shard in files.keys.sorted() {
            for t in files[shard]!.tensorNames {
                if let first = seen[t] { throw FormatError.tensorInTwoShards(index: indexPath, tensor: t, first: first, second: shard) }
                seen[t] = shard
                if owner[t] == nil { throw FormatError.tensorNotIndexed(index: indexPath, tensor: t, shard: shard) }
            }
        }
        for (_, f) in files { meta.merge(f.metadata) { index, _ in index } }
        shards = files
        self.owner = owner
        metadata = meta
        tensorNames = owner.keys.sorted()
    }

    public var shardFiles: [String] { shards.keys.sorted() }

    public func info(_ name: String) -> TensorInfo? {
        guard let s = owner[name] else { return nil }
        return shards[s]?.info(name)
    }

    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let s = owner[name], let f = shards[s] else { throw FormatError.missingTensor(source: location, tensor: name) }
        return try f.rawBytes(name)
    }

    public func release(_ name: String) {
        if let s = owner[name] { shards[s]?.release(name) }
    }
}
