import FuzzSupport
import ShrinkFormats


/// libFuzzer target: a GGUF file (header, every metadata value, tensor infos, data region). Every accepted file is
/// read as Shrink does: every typed metadata accessor on every key, then every tensor decoded whole (`floats`,
/// `rawBytes`) and row by row, which runs the dequantizer of its block type on the bytes the file gives.
func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    FuzzInput.withFile(bytes, name: "model.gguf") { path in
        guard GGUFReader.looksLikeGGUF(path), let reader = try? GGUFReader(path: path) else { return }
        for key in reader.metadataKeys {
            fuzzSink(try? reader.string(key)); fuzzSink(try? reader.int(key)); fuzzSink(try? reader.float(key))
            fuzzSink(try? reader.bool(key)); fuzzSink(try? reader.stringArray(key)); fuzzSink(try? reader.intArray(key))
            fuzzSink(try? reader.floatArray(key)); fuzzSink(reader.metadata[key])
        }
        for name in reader.tensorOrder {
            guard let t = reader.tensor(name), let info = reader.info(name) else { fatalError("\(name) listed but absent") }
            // A tensor over 16 M elements is skipped: decoding it takes the fuzzer's time, not new paths.
            guard t.elementCount <= 1 << 24 else { continue }
            guard let floats = try? reader.floats(name) else { fatalError("\(name): a validated tensor does not decode") }
            if floats.count != info.shape.elementCount { fatalError("\(name): \(floats.count) values for \(info)") }
            guard let raw = try? reader.rawBytes(name) else { fatalError("\(name): no bytes") }
            fuzzSink(fuzzTouch(raw))
            if t.rowCount > 1 {
                var row = [Float](repeating: 0, count: t.rowLength)
                try? row.withUnsafeMutableBufferPointer {
                    try reader.dequantizeRows(name, rows: (t.rowCount - 1)..<t.rowCount, into: $0.baseAddress!, parallel: false)
                }
                fuzzSink(row)
            }
            fuzzSink(try? reader.dequantizeRows(name, rows: 0..<(t.rowCount + 1), into: UnsafeMutablePointer<Float>(bitPattern: 16)!))
            reader.release(name)
        }
    }
    return 0
}

fuzzMain(fuzzGGUF)
