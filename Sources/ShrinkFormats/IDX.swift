/// The IDX format of the MNIST and Fashion-MNIST files (LeCun, Cortes & Burges, "THE IDX FILE FORMAT" on the
/// MNIST page; Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): a big-endian u32 magic `0x0000_08RR` (type 0x08 =
/// unsigned byte, RR = rank), RR big-endian u32 dimensions, then the bytes in row-major order, nothing after.
/// Images are rank 3 (`0x00000803`: count, rows, columns), labels rank 1 (`0x00000801`: count).
public enum IDXKind: UInt32, Sendable, CaseIterable {
    case labels = 0x0000_0801
    case images = 0x0000_0803

    public var rank: Int { Int(rawValue & 0xFF) }
    var name: String { self == .images ? "images (magic 0x00000803)" : "labels (magic 0x00000801)" }
    static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// One IDX file of unsigned bytes, read whole and checked: magic, every dimension and the byte count against the
/// file's size (before anything is allocated from a dimension).
public struct IDXFile: Sendable {
    public let path: String
    public let kind: IDXKind
    public let dimensions: [Int]
    /// The data, row-major (`dimensions.reduce(1, *)` bytes).
    public let bytes: [UInt8]

    /// Largest dimension accepted: 2^31 (the format's u32 fields allow more; no image set comes close, and every
    /// size Shrink derives stays far inside Int).
    public static let maxDimension = 1 << 31

    public init(path: String, kind: IDXKind) throws(FormatError) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            switch error {
            case let .cannotOpen(e):
                throw .cannotOpen(file: path, reason: systemErrorText(e) + "; for Fashion-MNIST run tools/fetch_real.sh")
            case .notARegularFile: throw .idxNotAFile(file: path)
            case let .cannotMap(e): throw .cannotOpen(file: path, reason: "mmap failed: \(systemErrorText(e))")
            }
        }
        try self.init(path: path, kind: kind, file: file.bytes(0..<file.byteCount))
    }

    /// Parses `data` as the IDX file `path` (the fuzz and hostile-input tests call this on bytes in memory too).
    public init(path: String, kind: IDXKind, file data: UnsafeRawBufferPointer) throws(FormatError) {
        let header = 4 + 4 * kind.rank
        guard data.count >= 4 else { throw .idxTooShort(file: path, bytes: data.count, header: header) }
        func u32(_ at: Int) -> UInt32 {
            (UInt32(data[at]) << 24) | (UInt32(data[at + 1]) << 16) | (UInt32(data[at + 2]) << 8) | UInt32(data[at + 3])
        }
        let magic = u32(0)
        guard magic == kind.rawValue else { throw .idxBadMagic(file: path, found: magic, expected: kind.name) }
        guard data.count >= header else { throw .idxTooShort(file: path, bytes: data.count, header: header) }
        var dims: [Int] = []
        var elements = 1
        for d in 0..<kind.rank {
            let v = Int(u32(4 + 4 * d))
            guard v > 0, v <= Self.maxDimension else {
                throw .idxBadDimension(file: path, index: d, value: v, limit: Self.maxDimension)
            }
            dims.append(v)
            // Bounded by the file's size before the last step, so only an impossible header can overflow.
            let (product, overflow) = elements.multipliedReportingOverflow(by: v)
            elements = product
            guard !overflow, d + 1 == kind.rank || elements <= data.count - header else {
                throw .idxSizeMismatch(file: path, dimensions: dims.map(String.init).joined(separator: "×") + (d + 1 < kind.rank ? "×…" : ""),
                                       needed: nil, dataBytes: data.count - header)
            }
        }
        guard elements == data.count - header else {
            throw .idxSizeMismatch(file: path, dimensions: dims.map(String.init).joined(separator: "×"),
                                   needed: elements, dataBytes: data.count - header)
        }
        self.path = path
        self.kind = kind
        self.dimensions = dims
        self.bytes = Array(UnsafeRawBufferPointer(rebasing: data[header...]))
    }
}

/// Greyscale images and their class labels, from an IDX images file and an IDX labels file of the same count.
public struct LabelledImages: Sendable {
    public let imagesPath: String
    public let labelsPath: String
    public let count: Int
    public let rows: Int
    public let columns: Int
    /// u8 intensities, [count, rows, columns] row-major.
    public let pixels: [UInt8]
    public let labels: [UInt8]
    /// One more than the largest label (labels are classes 0..<classCount).
    public let classCount: Int

    public var pixelsPerImage: Int { rows * columns }

    /// Largest image side accepted: 4096 (a model's input is a few hundred at most).
    public static let maxSide = 4096

    public init(images imagesPath: String, labels labelsPath: String) throws(FormatError) {
        let images = try IDXFile(path: imagesPath, kind: .images)
        let labels = try IDXFile(path: labelsPath, kind: .labels)
        try self.init(images: images, labels: labels)
    }

    public init(images: IDXFile, labels: IDXFile) throws(FormatError) {
        guard images.kind == .images else { throw .idxBadMagic(file: images.path, found: images.kind.rawValue, expected: IDXKind.images.name) }
        guard labels.kind == .labels else { throw .idxBadMagic(file: labels.path, found: labels.kind.rawValue, expected: IDXKind.labels.name) }
        let (n, r, c) = (images.dimensions[0], images.dimensions[1], images.dimensions[2])
        guard r <= Self.maxSide, c <= Self.maxSide else {
            throw .idxBadDimension(file: images.path, index: r > Self.maxSide ? 1 : 2, value: max(r, c), limit: Self.maxSide)
        }
        guard labels.dimensions[0] == n else {
            throw .idxCountMismatch(images: images.path, imageCount: n, labels: labels.path, labelCount: labels.dimensions[0])
        }
        imagesPath = images.path
        labelsPath = labels.path
        count = n
        rows = r
        columns = c
        pixels = images.bytes
        self.labels = labels.bytes
        classCount = Int(labels.bytes.max() ?? 0) + 1
    }

    /// The pixels of image `i`.
    public func image(_ i: Int) -> ArraySlice<UInt8> { pixels[(i * pixelsPerImage)..<((i + 1) * pixelsPerImage)] }

    /// Image `i` as intensities in [0, 1] (u8 / 255, what the VAE reads).
    public func intensities(_ i: Int) -> [Float] { image(i).map { Float($0) / 255 } }

    /// The images at `indices`, same files named.
    public func subset(_ indices: [Int]) -> LabelledImages {
        var p: [UInt8] = []
        p.reserveCapacity(indices.count * pixelsPerImage)
        for i in indices { p.append(contentsOf: image(i)) }
        return LabelledImages(imagesPath: imagesPath, labelsPath: labelsPath, count: indices.count, rows: rows,
                              columns: columns, pixels: p, labels: indices.map { labels[$0] }, classCount: classCount)
    }

    init(imagesPath: String, labelsPath: String, count: Int, rows: Int, columns: Int, pixels: [UInt8], labels: [UInt8], classCount: Int) {
        self.imagesPath = imagesPath; self.labelsPath = labelsPath; self.count = count; self.rows = rows
        self.columns = columns; self.pixels = pixels; self.labels = labels; self.classCount = classCount
    }
}

/// Fashion-MNIST as tools/fetch_real.sh unpacks it (data/fashion-mnist/, Debian dataset-fashion-mnist) and the
/// fixed validation split that tools/fashion_mnist.py also uses.
public enum FashionMNIST {
    public enum Part: String, Sendable, CaseIterable {
        /// 60,000 images: 55,000 train and 5,000 validation (`validationSplit`).
        case train
        /// 10,000 test images (`t10k`), used only for final figures.
        case test = "t10k"
    }

    public static let defaultFolder = "data/fashion-mnist"
    public static let validationCount = 5000
    public static let splitSeed: UInt64 = 0x5EED_F45A

    public static func imagesPath(_ part: Part, folder: String = defaultFolder) -> String { "\(folder)/\(part.rawValue)-images-idx3-ubyte" }
    public static func labelsPath(_ part: Part, folder: String = defaultFolder) -> String { "\(folder)/\(part.rawValue)-labels-idx1-ubyte" }

    public static func load(_ part: Part, folder: String = defaultFolder) throws(FormatError) -> LabelledImages {
        try LabelledImages(images: imagesPath(part, folder: folder), labels: labelsPath(part, folder: folder))
    }

    /// The IDX labels file beside an IDX images file (`…-images-idx3-ubyte` → `…-labels-idx1-ubyte`), or nil
    /// when the name does not follow the MNIST naming.
    public static func labelsPath(besideImages path: String) -> String? {
        guard path.hasSuffix("-images-idx3-ubyte") else { return nil }
        return String(path.dropLast("-images-idx3-ubyte".count)) + "-labels-idx1-ubyte"
    }

    /// (train, validation) indices into the `count` train images: a Fisher–Yates shuffle of 0..<count driven by
    /// SplitMix64 (Steele, Lea & Flood 2014) seeded with `splitSeed`, j = next() % (i + 1) for i = count-1 down
    /// to 1; the last `validationCount` shuffled indices are validation. tools/fashion_mnist.py does the same.
    public static func validationSplit(count: Int = 60000) -> (train: [Int], validation: [Int]) {
        var order = Array(0..<count)
        var state = splitSeed
        var i = count - 1
        while i > 0 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            order.swapAt(i, Int(z % UInt64(i + 1)))
            i -= 1
        }
        let v = min(validationCount, count)
        return (Array(order[..<(count - v)]), Array(order[(count - v)...]))
    }
}
