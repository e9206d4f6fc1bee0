import Foundation
import ShrinkEval

/// A VAE's training curve as tools/vae.py writes it (`curve.json` beside the trained weights): per epoch the
/// sampled training −ELBO and the validation −ELBO (decoder at z = μ), nats per image.
public struct TrainingCurve: Codable, Sendable, Equatable {
    public struct Epoch: Codable, Sendable, Equatable {
        public var epoch: Int
        public var trainNegElboSampled: Double
        public var validationNegElbo: Double
        public var seconds: Double?
    }
    public var command: String?
    public var parameters: Int?
    public var seed: Int?
    public var stoppedBy: String?
    public var converged: Bool?
    public var bestEpoch: Int?
    public var bestValidationNegElbo: Double
    public var patienceEpochs: Int?
    public var curve: [Epoch]
}

/// The VAE views: an image grid (test images, the original's and the compressed model's reconstructions) with the
/// paired metrics, and training curves with validation ELBO.
enum ImageViews {
    /// An 8-bit grey image as a BMP data URI (BITMAPINFOHEADER, 256-entry grey palette, rows bottom-up, each
    /// padded to 4 bytes): drawn inline, nothing fetched.
    static func bmp(_ pixels: Data, rows: Int, columns: Int) -> String {
        let rowBytes = (columns + 3) / 4 * 4
        let offset = 14 + 40 + 256 * 4, size = offset + rowBytes * rows
        var b = [UInt8]()
        b.reserveCapacity(size)
        func u16(_ v: Int) { b += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff)] }
        func u32(_ v: Int) { b += (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
        b += [0x42, 0x4D]; u32(size); u32(0); u32(offset)
        u32(40); u32(columns); u32(rows); u16(1); u16(8); u32(0); u32(rowBytes * rows); u32(2835); u32(2835); u32(256); u32(0)
        for g in 0..<256 { b += [UInt8(g), UInt8(g), UInt8(g), 0] }
        let p = [UInt8](pixels)
        for r in stride(from: rows - 1, through: 0, by: -1) {
            for c in 0..<columns { b.append(r * columns + c < p.count ? p[r * columns + c] : 0) }
            b += [UInt8](repeating: 0, count: rowBytes - columns)
        }
        return "data:image/bmp;base64," + Data(b).base64EncodedString()
    }

    static func section(_ r: ImageComparison.Report, name: String, id: String) -> Section {
        let iv = { (i: Statistics.Interval, d: Int) in Text.interval(i.estimate, i.lower, i.upper, percent: false, digits: d) }
        var intro = "\(r.compressed.model) against \(r.original.model) on \(r.images) images of \(r.data) (\(r.split ?? "unknown split")). "
        intro += "Δ −ELBO \(iv(r.negativeELBO.difference, 3)) nats, Δ PSNR \(iv(r.psnr.difference, 3)) dB, Δ SSIM \(iv(r.ssim.difference, 4)) "
        intro += "(paired bootstrap over images); latent cosine \(iv(r.latentCosine, 5)); PSNR between the two reconstructions \(iv(r.reconstructionPSNR, 2)) dB. "
        intro += CompareViews.label(r.label)
        let rows = [("−ELBO (nats)", r.original.metrics.negativeELBO, r.compressed.metrics.negativeELBO, r.negativeELBO.difference, 3),
                    ("PSNR (dB)", r.original.metrics.psnr, r.compressed.metrics.psnr, r.psnr.difference, 3),
                    ("SSIM", r.original.metrics.ssim, r.compressed.metrics.ssim, r.ssim.difference, 4)]
        let metrics = Table(header: ["metric", "original [95%]", "compressed [95%]", "compressed − original [95%]"],
                            rows: rows.map { [$0.0, iv($0.1, $0.4), iv($0.2, $0.4), iv($0.3, $0.4)] }, numeric: [])
        var figures: [Figure] = []
        if let g = r.gallery { figures.append(grid(g, r, metrics: metrics, id: id + "-grid")) }
        if let sqnr = CompareViews.sqnr(r.layers, id: id + "-sqnr") { figures.append(sqnr) }
        return Section(id: id, title: "compare --data (VAE): \(name)", intro: intro, figures: figures)
    }

    /// Test images (top row), the original model's reconstructions, the compressed model's (bottom row); its table
    /// is the paired metrics.
    static func grid(_ g: ImageComparison.Gallery, _ r: ImageComparison.Report, metrics: Table, id: String) -> Figure {
        let n = g.indices.count, cell = 84.0, gap = 8.0, label = 110.0
        let width = label + Double(n) * (cell + gap), height = 3 * (cell + gap) + 24
        var svg = "<svg viewBox=\"0 0 \(Text.c(width)) \(Text.c(height))\" role=\"img\" aria-label=\"test images and reconstructions\">"
        for (row, (title, images)) in [("test image", g.inputs), ("original", g.original), ("compressed", g.compressed)].enumerated() {
            let y = 20 + Double(row) * (cell + gap)
            svg += "<text x=\"0\" y=\"\(Text.c(y + cell / 2 + 4))\" font-size=\"12\">\(Text.escape(title))</text>"
            for (k, pixels) in images.enumerated() {
                let x = label + Double(k) * (cell + gap)
                svg += "<image x=\"\(Text.c(x))\" y=\"\(Text.c(y))\" width=\"\(Text.c(cell))\" height=\"\(Text.c(cell))\" "
                svg += "style=\"image-rendering:pixelated\" href=\"\(bmp(pixels, rows: g.rows, columns: g.columns))\"/>"
            }
        }
        for (k, i) in g.indices.enumerated() {
            svg += "<text x=\"\(Text.c(label + Double(k) * (cell + gap) + cell / 2))\" y=\"12\" font-size=\"12\" text-anchor=\"middle\">#\(i)</text>"
        }
        svg += "</svg>"
        let caption = "The first \(n) of \(r.images) test images (top), the original VAE's reconstructions at z = μ (middle) and the compressed one's (bottom), "
            + "8-bit grey levels of the Bernoulli means."
        return Figure(id: id, title: "Test images and reconstructions", svg: svg, caption: caption, table: metrics)
    }

    static func section(_ c: TrainingCurve, name: String, id: String) -> Section {
        let series = [
            Series(name: "validation −ELBO (z = μ)", style: 0, points: c.curve.map { .init(x: Double($0.epoch), y: $0.validationNegElbo) }),
            Series(name: "training −ELBO (sampled z)", style: 1, points: c.curve.map { .init(x: Double($0.epoch), y: $0.trainNegElboSampled) }),
        ]
        let values = c.curve.flatMap { [$0.validationNegElbo, $0.trainNegElboSampled] }
        let chart = XYChart(x: .integers("epoch", 1...max(1, c.curve.map(\.epoch).max() ?? 1)), y: .linear("−ELBO (nats per image)", values: values),
                            series: series, title: "Training curve")
        var caption = "−ELBO per epoch: \(c.curve.count) epochs, best validation \(Text.fixed(c.bestValidationNegElbo, 2)) nats"
        caption += c.bestEpoch.map { " at epoch \($0)" } ?? ""
        caption += c.stoppedBy.map { "; stopped by \($0)" } ?? ""
        caption += c.converged.map { $0 ? " (converged: validation stopped improving)" : " (not converged)" } ?? ""
        caption += "."
        let rows = c.curve.map { [String($0.epoch), Text.fixed($0.trainNegElboSampled, 3), Text.fixed($0.validationNegElbo, 3), $0.seconds.map { Text.fixed($0, 1) } ?? "–"] }
        let figure = Figure(id: id + "-curve", title: "Training curve", svg: chart.render(), legend: series.map { ($0.style, $0.name, .line) },
                            caption: caption, table: Table(header: ["epoch", "training −ELBO", "validation −ELBO", "seconds"], rows: rows, numeric: [0, 1, 2, 3]))
        let intro = (c.parameters.map { "\($0) parameters. " } ?? "") + (c.command.map { "Trained by `\($0)`." } ?? "")
        return Section(id: id, title: "VAE training: \(name)", intro: intro, figures: [figure])
    }
}
