import Foundation
import ShrinkFormats
import ShrinkTestSupport
import Testing

/// The IDX reader on hand-made files (valid and hostile) and on the real Fashion-MNIST files.
@Suite struct IDXTests {
    /// An IDX file: big-endian magic and dimensions, then `body`.
    static func idx(magic: UInt32, dims: [UInt32], body: [UInt8]) -> [UInt8] {
        var b: [UInt8] = []
        for v in [magic] + dims { b += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
        return b + body
    }

    static func parse(_ bytes: [UInt8], _ kind: IDXKind, name: String = "x.idx") throws(FormatError) -> IDXFile {
        var result: Result<IDXFile, FormatError>!
        bytes.withUnsafeBytes { raw in result = Result { () throws(FormatError) in try IDXFile(path: name, kind: kind, file: raw) } }
        return try result.get()
    }

    static func error(_ bytes: [UInt8], _ kind: IDXKind) -> FormatError? {
        do { _ = try parse(bytes, kind); return nil } catch { return error }
    }

    @Test func readsImagesAndLabels() throws {
        let imgs = try Self.parse(Self.idx(magic: 0x803, dims: [2, 2, 3], body: Array(0..<12)), .images)
        #expect(imgs.dimensions == [2, 2, 3])
        #expect(imgs.bytes == Array(0..<12))
        let labels = try Self.parse(Self.idx(magic: 0x801, dims: [2], body: [7, 3]), .labels)
        let set = try LabelledImages(images: imgs, labels: labels)
        #expect(set.count == 2 && set.rows == 2 && set.columns == 3 && set.classCount == 8)
        #expect(Array(set.image(1)) == [6, 7, 8, 9, 10, 11])
        #expect(set.intensities(0)[1] == Float(1) / 255)
        #expect(set.subset([1]).labels == [3])
    }

    @Test func refusesHostileFiles() {
        let good = Self.idx(magic: 0x803, dims: [2, 2, 3], body: Array(0..<12))
        // Empty and shorter than the magic or the dimensions.
        #expect(Self.error([], .images) == .idxTooShort(file: "x.idx", bytes: 0, header: 16))
        #expect(Self.error(Array(good[0..<10]), .images) == .idxTooShort(file: "x.idx", bytes: 10, header: 16))
        // Wrong magic: a labels file read as images, a gzip file, little-endian bytes.
        #expect(Self.error(Self.idx(magic: 0x801, dims: [12], body: Array(0..<12)), .images)
                == .idxBadMagic(file: "x.idx", found: 0x801, expected: "images (magic 0x00000803)"))
        #expect(Self.error([0x1F, 0x8B, 8, 0] + Array(good[4...]), .images) != nil)
        #expect(Self.error([3, 8, 0, 0] + Array(good[4...]), .images) != nil)
        // Truncated data and trailing bytes.
        #expect(Self.error(Array(good.dropLast()), .images)
                == .idxSizeMismatch(file: "x.idx", dimensions: "2×2×3", needed: 12, dataBytes: 11))
        #expect(Self.error(good + [0], .images)
                == .idxSizeMismatch(file: "x.idx", dimensions: "2×2×3", needed: 12, dataBytes: 13))
        // Zero and huge dimensions: refused before anything is allocated from them.
        #expect(Self.error(Self.idx(magic: 0x803, dims: [0, 28, 28], body: []), .images)
                == .idxBadDimension(file: "x.idx", index: 0, value: 0, limit: IDXFile.maxDimension))
        #expect(Self.error(Self.idx(magic: 0x803, dims: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], body: [1]), .images)
                == .idxBadDimension(file: "x.idx", index: 0, value: 0xFFFF_FFFF, limit: IDXFile.maxDimension))
        #expect(Self.error(Self.idx(magic: 0x803, dims: [0x8000_0000, 0x8000_0000, 0x8000_0000], body: [1, 2]), .images)
                == .idxSizeMismatch(file: "x.idx", dimensions: "2147483648×…", needed: nil, dataBytes: 2))
    }

    @Test func refusesImagesAndLabelsOfDifferentCounts() throws {
        let imgs = try Self.parse(Self.idx(magic: 0x803, dims: [2, 1, 1], body: [1, 2]), .images, name: "i")
        let labels = try Self.parse(Self.idx(magic: 0x801, dims: [3], body: [0, 1, 2]), .labels, name: "l")
        #expect(throws: FormatError.idxCountMismatch(images: "i", imageCount: 2, labels: "l", labelCount: 3)) {
            try LabelledImages(images: imgs, labels: labels)
        }
        let big = try Self.parse(Self.idx(magic: 0x803, dims: [1, 5000, 1], body: Array(repeating: 0, count: 5000)), .images, name: "i")
        let one = try Self.parse(Self.idx(magic: 0x801, dims: [1], body: [0]), .labels)
        #expect(throws: FormatError.idxBadDimension(file: "i", index: 1, value: 5000, limit: LabelledImages.maxSide)) {
            try LabelledImages(images: big, labels: one)
        }
    }

    @Test func missingFileNamesTheFetchScript() {
        do {
            _ = try FashionMNIST.load(.test, folder: "/nonexistent")
            Issue.record("a missing file was read")
        } catch {
            #expect(error.description.contains("/nonexistent/t10k-images-idx3-ubyte"))
            #expect(error.description.contains("run tools/fetch_real.sh"))
        }
    }

    /// The validation split: 5,000 distinct indices, disjoint from train, and the first indices
    /// tools/fashion_mnist.py prints (`split()[1][:5]`, `split()[0][:5]`).
    @Test func validationSplitMatchesThePythonTool() {
        let (train, validation) = FashionMNIST.validationSplit()
        #expect(train.count == 55000 && validation.count == 5000)
        #expect(Set(train + validation).count == 60000)
        #expect(Array(validation.prefix(5)) == [16450, 18145, 5373, 59266, 10703])
        #expect(Array(train.prefix(5)) == [31111, 11922, 31797, 57695, 25118])
    }

    /// The real files (tools/fetch_real.sh): fails when they are missing.
    @Test func readsRealFashionMNIST() throws {
        let folder = Fixtures.path(FashionMNIST.defaultFolder)
        let train = try FashionMNIST.load(.train, folder: folder)
        let test = try FashionMNIST.load(.test, folder: folder)
        #expect(train.count == 60000 && test.count == 10000)
        #expect(train.rows == 28 && train.columns == 28 && test.classCount == 10)
        #expect(Array(train.labels.prefix(10)) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
        // Every class appears 6,000 times in train and 1,000 times in test (Xiao et al. 2017, Table 1).
        for c in 0..<10 {
            #expect(train.labels.count { $0 == c } == 6000)
            #expect(test.labels.count { $0 == c } == 1000)
        }
    }
}
