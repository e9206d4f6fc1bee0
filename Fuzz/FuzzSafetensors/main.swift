import FuzzSupport
import ShrinkFormats


/// libFuzzer target: a safetensors file (8-byte header length, JSON header, tensor offsets over the data region).
/// Every accepted file's tensors are read whole, so a bad offset that slipped through shows up under ASan.
func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    FuzzInput.withFile(bytes, name: "model.safetensors") { path in
        guard let file = try? SafetensorsFile(path: path) else { return }
        for name in file.tensorNames {
            guard let info = file.info(name), let raw = try? file.rawBytes(name) else { continue }
            if raw.count != info.shape.elementCount * info.dtype.byteSize { fatalError("\(name): \(raw.count) bytes for \(info)") }
            fuzzSink(fuzzTouch(raw))
            file.release(name)
        }
    }
    return 0
}

fuzzMain(fuzzSafetensors)
