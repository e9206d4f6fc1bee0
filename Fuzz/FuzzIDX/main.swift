import FuzzSupport
import ShrinkFormats

/// libFuzzer target: IDX image and label files (Fashion-MNIST, `IDXFile`, `LabelledImages`). The input is an
/// images file, optionally followed by `IDXLABELS` and a labels file; each part is also read as the other kind.
/// An accepted pair is read as the image task reads it.
func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let (imagesPart, labelsPart) = FuzzInput.split(bytes, separator: Array("IDXLABELS".utf8))
    let imagesPath = FuzzInput.write(imagesPart, name: "fuzz-images-idx3-ubyte")
    let labelsPath = FuzzInput.write(labelsPart, name: "fuzz-labels-idx1-ubyte")
    for kind in IDXKind.allCases {
        if let f = try? IDXFile(path: imagesPath, kind: kind) { fuzzSink(f.bytes.last) }
        if let f = try? IDXFile(path: labelsPath, kind: kind) { fuzzSink(f.bytes.last) }
    }
    if let set = try? LabelledImages(images: imagesPath, labels: labelsPath) {
        for i in 0..<min(set.count, 16) { fuzzSink(set.intensities(i)) }
        fuzzSink(set.subset([set.count - 1]).labels)
    }
    return 0
}

fuzzMain(fuzzIDX)
