import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// One image's reconstruction by a VAE (decoder at z = μ).
public struct ImageOutcome: Codable, Sendable, Equatable {
    /// Negative ELBO in nats: `reconstructionNats` + `klNats` (`VAEOutput.negativeELBO`).
    public var negativeELBO: Double
    public var reconstructionNats: Double
    public var klNats: Double
    /// Against the input, on intensities in [0, 1].
    public var mse: Double
    public var psnr: Double
    /// Wang et al. 2004 (`ImageMetrics.ssim`), mean over the input's channels.
    public var ssim: Double
}

/// The image-reconstruction task: a VAE on a set of IDX images (Fashion-MNIST), per image negative ELBO, MSE,
/// PSNR and SSIM; for two models, per image the cosine of their μ and the PSNR between their reconstructions.
public struct ImageTask: Sendable {
    public let images: LabelledImages
    public let dataPath: String
    /// "test" for an MNIST-named t10k file (the held-out set), "train" for the train file, else nil.
    public let split: String?
    public let unitCount: Int
    public let batchSize: Int
    public var name: String { "image-reconstruction" }
    public var unitName: String { "images" }

    /// - Parameters:
    ///   - path: an IDX images file; its labels file is the MNIST-named one beside it (`…-labels-idx1-ubyte`).
    ///   - limit: evaluate only the first `limit` images.
    public init(images path: String, limit: Int? = nil, batchSize: Int = 256) throws {
        guard let labels = FashionMNIST.labelsPath(besideImages: path) else {
            throw ModelError.badRequest(flag: "--data", reason: "\(path) is not an IDX images file named like data/fashion-mnist/t10k-images-idx3-ubyte (its labels file is found beside it)")
        }
        if let limit, limit < 1 { throw ModelError.badRequest(flag: "--limit", reason: "\(limit) must be at least 1") }
        guard batchSize >= 1 else { throw ModelError.badRequest(flag: "--batch-size", reason: "\(batchSize) must be at least 1") }
        images = try LabelledImages(images: path, labels: labels)
        dataPath = path
        let file = (path as NSString).lastPathComponent
        split = file.hasPrefix("t10k-") ? "test" : file.hasPrefix("train-") ? "train" : nil
        unitCount = min(limit ?? images.count, images.count)
        self.batchSize = batchSize
    }

    /// Throws when the images do not fit the model's input.
    public func check(_ model: ConvVAE) throws {
        let c = model.config
        guard images.rows == c.imageSize, images.columns == c.imageSize, c.inChannels == 1 else {
            throw ModelError.dataMismatch(model: model.location, data: dataPath,
                                          detail: "images are \(images.rows)×\(images.columns) with 1 channel; the model takes \(c.inChannels)×\(c.imageSize)×\(c.imageSize)")
        }
        let window = 2 * ImageMetrics.windowRadius + 1
        guard images.rows >= window, images.columns >= window else {
            throw ModelError.dataMismatch(model: model.location, data: dataPath,
                                          detail: "images are \(images.rows)×\(images.columns); SSIM's Gaussian window needs at least \(window)×\(window)")
        }
    }

    /// The first `count` images of the fixed split's train part (`FashionMNIST.validationSplit`) when the file
    /// holds the 60,000 Fashion-MNIST train images, else the file's first `count`: what calibration and the probe
    /// fit on, so they never see validation images.
    public func trainPart(_ count: Int) -> LabelledImages {
        let pool = images.count == 60000 ? FashionMNIST.validationSplit().train : Array(0..<images.count)
        return images.subset(Array(pool.prefix(count)))
    }

    /// Calls `body` with consecutive batches of `set`'s images as intensities [n, pixels].
    public static func forEachBatch(of set: LabelledImages, batchSize: Int, item: String, progress: (any ProgressSink)?,
                                    _ body: ([Float], Int) throws -> Void) rethrows {
        var start = 0
        while start < set.count {
            progress?.update(done: start, total: set.count, item: item)
            let n = min(batchSize, set.count - start)
            try body(set.pixels[(start * set.pixelsPerImage)..<((start + n) * set.pixelsPerImage)].map { Float($0) / 255 }, n)
            start += n
        }
        progress?.finish()
    }

    /// Images `range` as intensities [n, pixels].
    public func pixels(_ range: Range<Int>) -> [Float] {
        images.pixels[(range.lowerBound * images.pixelsPerImage)..<(range.upperBound * images.pixelsPerImage)].map { Float($0) / 255 }
    }

    /// Runs images `range` through the model: their outcomes and the raw output (μ, reconstructions).
    public func run(_ model: ConvVAE, units range: Range<Int>) throws -> (outcomes: [ImageOutcome], output: VAEOutput) {
        let x = pixels(range)
        let out = try model.reconstruct(x, count: range.count)
        let P = images.pixelsPerImage, side = images.rows
        let outcomes = (0..<range.count).map { i -> ImageOutcome in
            let xi = x[(i * P)..<((i + 1) * P)]
            let e = out.negativeELBO(i, pixels: xi)
            let mse = ImageMetrics.mse(out.reconstruction(i), xi)
            // `check` guarantees images at least as large as the SSIM window.
            let ssim = ImageMetrics.ssim(Array(xi), Array(out.reconstruction(i)), width: side, height: side) ?? 0
            return ImageOutcome(negativeELBO: e.total, reconstructionNats: e.reconstruction, klNats: e.kl, mse: mse,
                                psnr: ImageMetrics.psnr(mse: mse), ssim: ssim)
        }
        return (outcomes, out)
    }

    /// Calls `body` with consecutive ranges of at most `batchSize` images.
    public func forEachBatch(progress: (any ProgressSink)? = nil, _ body: (Range<Int>) throws -> Void) rethrows {
        var start = 0
        while start < unitCount {
            progress?.update(done: start, total: unitCount, item: unitName)
            let end = min(start + batchSize, unitCount)
            try body(start..<end)
            start = end
        }
        progress?.finish()
    }
}

/// `shrink eval VAE --data IMAGES`: means over images with bootstrap 95% intervals.
public enum ImageEvaluation {
    public struct Metrics: Codable, Sendable {
        public var negativeELBO: Statistics.Interval
        public var reconstructionNats: Statistics.Interval
        public var klNats: Statistics.Interval
        public var mse: Statistics.Interval
        public var psnr: Statistics.Interval
        public var ssim: Statistics.Interval

        public init(_ o: [ImageOutcome], seed: UInt64) {
            func mean(_ k: KeyPath<ImageOutcome, Double>, _ s: UInt64) -> Statistics.Interval {
                Statistics.bootstrapMean(o.map { $0[keyPath: k] }, seed: seed &+ s)
            }
            negativeELBO = mean(\.negativeELBO, 0); reconstructionNats = mean(\.reconstructionNats, 1); klNats = mean(\.klNats, 2)
            mse = mean(\.mse, 3); psnr = mean(\.psnr, 4); ssim = mean(\.ssim, 5)
        }
    }

    public struct Report: Codable, Sendable {
        public var model: String
        public var family: String
        public var variant: String
        public var data: String
        public var split: String?
        public var task: String
        public var images: Int
        public var parameters: Int
        public var latentDim: Int
        public var metrics: Metrics
        public var seconds: Double
        public var imagesPerSecond: Double
        public var threads: Int
        public var perImage: [ImageOutcome]?
        /// The linear probe on μ, when asked for.
        public var probe: Probe?
    }

    /// Where the probe is fitted: the first `count` images of the train part of the fixed split
    /// (`FashionMNIST.validationSplit`) of a 60,000-image train file, else its first `count` images.
    public struct ProbeOptions: Sendable {
        public var trainImages: String
        public var count: Int
        public var options = LinearProbe.Options()
        public init(trainImages: String, count: Int) { self.trainImages = trainImages; self.count = count }
    }

    public struct Probe: Codable, Sendable {
        public var trainImages: String
        public var trainCount: Int
        public var lambda: Double
        public var iterations: Int
        public var trainLoss: Double
        /// On the evaluated images (Wilson 95%).
        public var accuracy: Statistics.Interval
    }

    public static func evaluate(_ model: ConvVAE, on task: ImageTask, perImage: Bool = false, probe: ProbeOptions? = nil,
                                seed: UInt64 = 0, progress: (any ProgressSink)? = nil) throws -> Report {
        try task.check(model)
        let t0 = Date()
        var outcomes: [ImageOutcome] = [], mu: [Float] = []
        try task.forEachBatch(progress: progress) {
            let r = try task.run(model, units: $0)
            outcomes += r.outcomes
            if probe != nil { mu += r.output.mu }
        }
        let seconds = Date().timeIntervalSince(t0)  // the evaluation alone, without the probe's fit
        let fitted = try probe.map { p -> Probe in
            let (fit, count) = try fitProbe(model, p, progress: progress)
            let correct = fit.correct(mu, labels: task.images.labels.prefix(task.unitCount).map(Int.init))
            return Probe(trainImages: p.trainImages, trainCount: count, lambda: fit.lambda, iterations: fit.iterations, trainLoss: fit.loss,
                         accuracy: Statistics.wilson(successes: correct.count { $0 }, trials: correct.count))
        }
        return Report(model: model.location, family: VAEFamily.familyName, variant: model.config.variant, data: task.dataPath,
                      split: task.split, task: task.name, images: task.unitCount, parameters: model.parameterCount,
                      latentDim: model.config.latentDim, metrics: Metrics(outcomes, seed: seed), seconds: seconds,
                      imagesPerSecond: Double(task.unitCount) / max(seconds, 1e-9), threads: Parallel.workerCount,
                      perImage: perImage ? outcomes : nil, probe: fitted)
    }

    /// The probe fitted on the model's μ of the probe's train images, and how many it used.
    public static func fitProbe(_ model: ConvVAE, _ p: ProbeOptions, progress: (any ProgressSink)? = nil) throws -> (LinearProbe, Int) {
        let train = try ImageTask(images: p.trainImages, batchSize: 256)
        if train.split == "test" {
            throw ModelError.badRequest(flag: "--probe-train", reason: "\(p.trainImages) is the test split; fit the probe on train images")
        }
        try train.check(model)
        guard p.count >= 1 else { throw ModelError.badRequest(flag: "--probe-count", reason: "\(p.count) must be at least 1") }
        let picked = train.trainPart(p.count)
        var mu: [Float] = []
        ImageTask.forEachBatch(of: picked, batchSize: 256, item: "probe images", progress: progress) { x, n in mu += model.encode(x, count: n).mu }
        let fit = try LinearProbe.fit(features: mu, labels: picked.labels.map(Int.init), dimension: model.config.latentDim,
                                      classes: max(2, picked.classCount), options: p.options)
        return (fit, picked.count)
    }
}

/// `shrink compare A B --data IMAGES`: two VAEs of the same architecture (an original and a compressed copy) on
/// the same images: paired differences B − A, and per image the cosine of their μ and the PSNR of B's
/// reconstruction against A's.
public enum ImageComparison {
    public struct Options: Sendable {
        /// |Δ mean −ELBO| inside this many nats per image (its 95% interval) counts as "unchanged".
        public var equivalenceMarginNats = 0.5
        /// Images needed before a result can be validated.
        public var minimumImages = 100
        public var seed: UInt64 = 0
        /// The first this many images, with both models' reconstructions, go into the report (`Gallery`).
        public var galleryImages = 8
        public init() {}
    }

    /// A few test images beside both models' reconstructions, as 8-bit grey levels (round(255·x)), for the report's
    /// image grid.
    public struct Gallery: Codable, Sendable, Equatable {
        public var rows: Int, columns: Int
        /// The images' indices in the data.
        public var indices: [Int]
        /// Row-major pixels, one entry per image (base64 in JSON).
        public var inputs: [Data]
        public var original: [Data]
        public var compressed: [Data]

        static func levels(_ x: ArraySlice<Float>) -> Data { Data(x.map { UInt8((min(max($0, 0), 1) * 255).rounded()) }) }
    }

    public struct Side: Codable, Sendable {
        public var model: String
        public var weightBytes: Int
        public var metrics: ImageEvaluation.Metrics
    }

    public struct Difference: Codable, Sendable {
        /// Paired bootstrap over images of mean(B) − mean(A).
        public var difference: Statistics.Interval
        public var p: Double
    }

    public struct Report: Codable, Sendable {
        public var data: String
        public var split: String?
        public var images: Int
        public var original: Side
        public var compressed: Side
        public var negativeELBO: Difference
        public var psnr: Difference
        public var ssim: Difference
        /// Mean over images of cos(μ_A, μ_B), bootstrap 95% interval, and the smallest.
        public var latentCosine: Statistics.Interval
        public var minimumLatentCosine: Double
        /// Mean over images of PSNR(reconstruction_B against reconstruction_A), dB.
        public var reconstructionPSNR: Statistics.Interval
        public var layers: [DiffReport.Entry]
        public var label: Comparison.Label
        public var seconds: Double
        public var perImage: [PerImage]?
        public var gallery: Gallery?
        /// Images whose −ELBO, PSNR or SSIM under either model was NaN or infinite (the means over them are not
        /// numbers either); absent when none were.
        public var nonFinite: NonFiniteUnits?
    }

    public struct PerImage: Codable, Sendable {
        public var original: ImageOutcome
        public var compressed: ImageOutcome
        public var latentCosine: Double
        public var reconstructionPSNR: Double
    }

    public static func compare(original a: ConvVAE, compressed b: ConvVAE, on task: ImageTask, options: Options = Options(),
                               perImage: Bool = false, progress: (any ProgressSink)? = nil) throws -> Report {
        guard a.hasSameArchitecture(as: b) else {
            throw ModelError.dataMismatch(model: b.location, data: a.location, detail: "the two VAEs have different configs")
        }
        try task.check(a)
        try task.check(b)
        let t0 = Date()
        var oa: [ImageOutcome] = [], ob: [ImageOutcome] = [], cosines: [Double] = [], psnrs: [Double] = []
        let shown = min(options.galleryImages, task.unitCount)
        let pixels = task.images.pixelsPerImage
        var gallery = Gallery(rows: task.images.rows, columns: task.images.columns, indices: Array(0..<shown), inputs: [], original: [], compressed: [])
        try task.forEachBatch(progress: progress) { units in
            let ra = try task.run(a, units: units), rb = try task.run(b, units: units)
            oa += ra.outcomes; ob += rb.outcomes
            for (k, i) in units.enumerated() where i < shown {
                gallery.inputs.append(Data(task.images.pixels[(i * pixels)..<((i + 1) * pixels)]))
                gallery.original.append(Gallery.levels(ra.output.reconstruction(k)))
                gallery.compressed.append(Gallery.levels(rb.output.reconstruction(k)))
            }
            cosines += StateCosine.perUnit(ra.output.mu, rb.output.mu, width: a.config.latentDim)
            for i in 0..<units.count {
                psnrs.append(ImageMetrics.psnr(mse: ImageMetrics.mse(rb.output.reconstruction(i), ra.output.reconstruction(i))))
            }
        }
        let seed = options.seed
        func paired(_ k: KeyPath<ImageOutcome, Double>, _ s: UInt64) -> Difference {
            let r = Statistics.pairedBootstrap(oa.map { $0[keyPath: k] }, ob.map { $0[keyPath: k] }, seed: seed &+ s)
            return Difference(difference: r.difference, p: r.pValue)
        }
        let elbo = paired(\.negativeELBO, 10)
        func finite(_ o: ImageOutcome) -> Bool { o.negativeELBO.isFinite && o.psnr.isFinite && o.ssim.isFinite }
        let nonFinite = NonFiniteUnits(units: oa.indices.filter { !finite(oa[$0]) || !finite(ob[$0]) }, of: oa.count)
        let (locationA, locationB) = (ModelLocation(a.location), ModelLocation(b.location))
        let layers = try TensorDiff.compare(reference: locationA.openWeights(), other: locationB.openWeights()).tensors
        return Report(
            data: task.dataPath, split: task.split, images: task.unitCount,
            original: Side(model: a.location, weightBytes: try locationA.openStored().totalBytes, metrics: .init(oa, seed: seed)),
            compressed: Side(model: b.location, weightBytes: try locationB.openStored().totalBytes, metrics: .init(ob, seed: seed)),
            negativeELBO: elbo, psnr: paired(\.psnr, 11), ssim: paired(\.ssim, 12),
            latentCosine: Statistics.bootstrapMean(cosines, seed: seed &+ 13), minimumLatentCosine: cosines.min() ?? 1,
            reconstructionPSNR: Statistics.bootstrapMean(psnrs, seed: seed &+ 14), layers: layers,
            label: label(elbo, images: task.unitCount, split: task.split, options: options, nonFinite: nonFinite.map { $0.description(unitName: "images") }),
            seconds: Date().timeIntervalSince(t0),
            perImage: perImage ? (0..<oa.count).map { PerImage(original: oa[$0], compressed: ob[$0], latentCosine: cosines[$0], reconstructionPSNR: psnrs[$0]) } : nil,
            gallery: shown > 0 ? gallery : nil, nonFinite: nonFinite)
    }

    /// validated: the held-out test split, at least `minimumImages`, and either a significant paired difference in
    /// −ELBO (bootstrap p < 0.05) or its 95% interval inside ±margin nats (equivalence). Otherwise exploratory, as is
    /// any comparison in which an image gave NaN or infinite outcomes (`nonFinite` says which).
    public static func label(_ d: Difference, images: Int, split: String?, options: Options, nonFinite: String? = nil) -> Comparison.Label {
        let iv = d.difference, m = options.equivalenceMarginNats
        let range = String(format: "Δ(−ELBO) %+.3f nats [%+.3f, %+.3f]", iv.estimate, iv.lower, iv.upper)
        var claim: String, validated: Bool, reason: String
        if d.p < 0.05 {
            claim = (iv.estimate > 0 ? "compression worsens the ELBO: " : "compression improves the ELBO: ") + range
            validated = true
            reason = String(format: "paired bootstrap p = %.2g", d.p)
        } else if iv.lower >= -m && iv.upper <= m {
            claim = String(format: "ELBO unchanged within ±%.2f nats: ", m) + range
            validated = true
            reason = String(format: "95%% interval inside the equivalence margin; p = %.2g", d.p)
        } else {
            claim = "inconclusive: " + range
            validated = false
            reason = String(format: "p = %.2g and the interval is wider than ±%.2f nats; evaluate more images", d.p, m)
        }
        if let nonFinite {
            validated = false
            reason = nonFinite + "; " + reason
        } else if split != "test" {
            validated = false
            reason = "data split is '\(split ?? "unknown")', not the held-out test split; " + reason
        } else if images < options.minimumImages {
            validated = false
            reason = "only \(images) images; " + reason
        }
        return Comparison.Label(evidence: validated ? .validated : .exploratory, claim: claim, reason: reason)
    }
}
