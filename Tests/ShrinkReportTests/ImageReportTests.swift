import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing
@testable import ShrinkReport

/// The VAE views of `shrink report`: the image grid of a real comparison (the trained TinyVAE against its INT4 copy
/// on Fashion-MNIST test images) and the training curve of its curve.json.
@Suite struct ImageReportTests {
    static let model = Fixtures.path("Fixtures/models/vae_tiny64")
    static let images = Fixtures.path("data/fashion-mnist/t10k-images-idx3-ubyte")

    static func comparison() throws -> (ImageComparison.Report, TemporaryDirectory) {
        try #require(FileManager.default.fileExists(atPath: images), "run tools/fetch_real.sh (Fashion-MNIST from Debian's dataset-fashion-mnist)")
        let dir = TemporaryDirectory()
        var o = QuantizeOptions()
        o.bits = 4
        try QuantizeJob.run(try Checkpoint.open(model), options: o, outputDirectory: dir.file("q"))
        let r = try ImageComparison.compare(original: ConvVAE.load(model), compressed: ConvVAE.load(dir.file("q")),
                                            on: ImageTask(images: images, limit: 12, batchSize: 12))
        return (r, dir)
    }

    @Test func theGridShowsTheTestImagesAndBothReconstructionsAsDecodedPixels() throws {
        let (r, dir) = try Self.comparison()
        _ = dir
        let g = try #require(r.gallery)
        #expect(g.indices == Array(0..<8) && g.inputs.count == 8 && g.original.count == 8 && g.compressed.count == 8)
        #expect(g.original != g.compressed, "4-bit weights change the reconstructions")
        // The first test image as stored in the IDX file.
        let file = try LabelledImages(images: Self.images, labels: Fixtures.path("data/fashion-mnist/t10k-labels-idx1-ubyte"))
        #expect(g.inputs[0] == Data(file.pixels[0..<784]))

        // Through the JSON a user passes to `shrink report`.
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        let json = try e.encode(r)
        guard case let .imageComparison(decoded) = try ReportInput.decode(json, path: "vq.json") else {
            Issue.record("a VAE comparison is not read as one"); return
        }
        #expect(decoded.gallery == g && decoded.negativeELBO.difference == r.negativeELBO.difference)

        let html = HTMLReport.render([ReportInput(name: "vq", content: .imageComparison(decoded))])
        #expect(html.components(separatedBy: "data:image/bmp;base64,").count - 1 == 24)
        #expect(html.contains("Test images and reconstructions") && html.contains("compressed − original [95%]"))
        // The BMP of the first test image decodes back to its pixels (bottom-up rows after the 1078-byte header).
        let uri = try #require(html.components(separatedBy: "href=\"data:image/bmp;base64,").dropFirst().first?.split(separator: "\"").first)
        let bmp = try #require(Data(base64Encoded: String(uri)))
        #expect(bmp.count == 1078 + 784 && bmp[0] == 0x42 && bmp[1] == 0x4D)
        let rows = (0..<28).map { r in Array(bmp[(1078 + (27 - r) * 28)..<(1078 + (28 - r) * 28)]) }
        #expect(Data(rows.joined()) == g.inputs[0])
    }

    @Test func theTrainingCurveDrawsEveryEpoch() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.model + "/curve.json"))
        guard case let .trainingCurve(c) = try ReportInput.decode(data, path: "curve.json") else {
            Issue.record("curve.json is not read as a training curve"); return
        }
        #expect(!c.curve.isEmpty && c.curve.map(\.epoch) == Array(1...c.curve.count))
        let html = HTMLReport.render([ReportInput(name: "tiny", content: .trainingCurve(c))])
        #expect(html.contains("VAE training: tiny") && html.contains(Text.fixed(c.bestValidationNegElbo, 2)))
        for e in c.curve { #expect(html.contains("<td>\(Text.fixed(e.validationNegElbo, 3))</td>") || html.contains(Text.fixed(e.validationNegElbo, 3))) }
    }
}
