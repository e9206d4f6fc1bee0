import Foundation
import ShrinkEval
import ShrinkModels

/// `shrink eval` and `shrink compare` on a VAE (`model_type` shrink-vae) with `--data` an IDX images file.
enum ImageCommands {
    /// The model at `path` is a VAE (its config names the family).
    static func isVAE(_ path: String) -> Bool { (try? ModelRegistry.family(config: path)) is VAEFamily }

    static func evaluate(_ model: String, data: String, limit: Int?, batchSize: Int, perImage: Bool, probe: ImageEvaluation.ProbeOptions?,
                         out: OutputOptions) throws {
        let task = try ImageTask(images: data, limit: limit, batchSize: batchSize)
        let r = try ImageEvaluation.evaluate(try ConvVAE.load(model), on: task, perImage: perImage, probe: probe, progress: out.progress)
        try out.emit(r) { Format.imageEvaluation(r) }
    }

    static func compare(_ original: String, _ compressed: String, data: String, limit: Int?, batchSize: Int, margin: Double?,
                        out: OutputOptions) throws -> ImageComparison.Report {
        var o = ImageComparison.Options()
        if let margin { o.equivalenceMarginNats = margin }
        let task = try ImageTask(images: data, limit: limit, batchSize: batchSize)
        let r = try ImageComparison.compare(original: try ConvVAE.load(original), compressed: try ConvVAE.load(compressed), on: task,
                                            options: o, progress: out.progress)
        try out.emit(r) { Format.imageComparison(r) }
        return r
    }
}

extension Format {
    static func metric(_ i: Statistics.Interval, _ digits: Int) -> String {
        "\(fixed(i.estimate, digits)) [\(fixed(i.lower, digits)), \(fixed(i.upper, digits))]"
    }

    static func imageEvaluation(_ r: ImageEvaluation.Report) -> String {
        let m = r.metrics
        var s = "\(r.model) (\(r.variant), \(count(r.parameters)) parameters, latent \(r.latentDim)) on \(r.data) (\(r.split ?? "unknown split")): \(r.images) images\n"
        s += "  −ELBO          \(metric(m.negativeELBO, 3)) nats  (reconstruction \(fixed(m.reconstructionNats.estimate, 3)) + KL \(fixed(m.klNats.estimate, 3)); decoder at z = μ; bootstrap 95%)\n"
        s += "  MSE            \(metric(m.mse, 5))\n"
        s += "  PSNR           \(metric(m.psnr, 3)) dB\n"
        s += "  SSIM           \(metric(m.ssim, 4))  (Wang et al. 2004, Gaussian σ 1.5)\n"
        if let p = r.probe {
            s += "  probe          \(interval(p.accuracy))  (logistic regression on μ of \(p.trainCount) train images, λ \(p.lambda), \(p.iterations) L-BFGS iterations; Wilson 95%)\n"
        }
        s += "  \(fixed(r.imagesPerSecond, 1)) images/s on \(r.threads) threads"
        return s
    }

    static func imageComparison(_ r: ImageComparison.Report) -> String {
        var s = "\(r.images) images of \(r.data) (\(r.split ?? "unknown split"))\n"
        s += table(["model", "weights", "−ELBO (nats)", "PSNR (dB)", "SSIM"], [
            ["original", bytes(r.original.weightBytes), metric(r.original.metrics.negativeELBO, 3), metric(r.original.metrics.psnr, 3), metric(r.original.metrics.ssim, 4)],
            ["compressed", bytes(r.compressed.weightBytes), metric(r.compressed.metrics.negativeELBO, 3), metric(r.compressed.metrics.psnr, 3), metric(r.compressed.metrics.ssim, 4)],
        ]) + "\n"
        s += "Δ −ELBO \(metric(r.negativeELBO.difference, 4)) nats (p = \(String(format: "%.3g", r.negativeELBO.p)))  "
        s += "Δ PSNR \(metric(r.psnr.difference, 4)) dB  Δ SSIM \(metric(r.ssim.difference, 5))  (paired bootstrap over images)\n"
        s += "latent cosine (μ) \(metric(r.latentCosine, 6)), min \(fixed(r.minimumLatentCosine, 6)); "
        s += "PSNR of B's reconstruction against A's \(metric(r.reconstructionPSNR, 2)) dB\n"
        if let worst = r.layers.min(by: { $0.error.sqnrDB < $1.error.sqnrDB }) {
            s += "weights: lowest SQNR \(fixed(worst.error.sqnrDB, 1)) dB in \(worst.name)\n"
        }
        if let bad = r.nonFinite { s += "warning: " + bad.description(unitName: "images") + "; the means over them are not numbers\n" }
        s += "\(r.label.evidence.rawValue): \(r.label.claim) (\(r.label.reason))"
        return s
    }
}
