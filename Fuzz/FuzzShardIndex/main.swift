import FuzzSupport
import ShrinkFormats


/// libFuzzer target: `model.safetensors.index.json` beside two fixed, valid shards (written once), so the
/// fuzzer explores the index (weight_map, metadata, shard names) against real shard files.
func fuzzShardIndex(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = shardsWritten
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    FuzzInput.withFile(bytes, name: "model.safetensors.index.json") { path in
        guard let checkpoint = try? ShardedCheckpoint(indexPath: path) else { return }
        for name in checkpoint.tensorNames {
            guard let raw = try? checkpoint.rawBytes(name) else { continue }
            fuzzSink(fuzzTouch(raw))
        }
    }
    return 0
}

/// Two shards: `a` (F32 [2]) in model-00001-of-00002, `b` (F32 [1]) and `c` (I32 [1]) in model-00002-of-00002.
private let shardsWritten: Bool = {
    func shard(_ header: String, _ payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        let h = Array(header.utf8)
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out += $0 }
        return out + h + payload
    }
    let one = shard(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 128, 63, 0, 0, 0, 64])
    let two = shard(#"{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}"#,
                    [0, 0, 64, 64, 7, 0, 0, 0])
    one.withUnsafeBytes { FuzzInput.write($0, name: "model-00001-of-00002.safetensors") }
    two.withUnsafeBytes { FuzzInput.write($0, name: "model-00002-of-00002.safetensors") }
    return true
}()

fuzzMain(fuzzShardIndex)
