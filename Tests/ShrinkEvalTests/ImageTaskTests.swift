import CShrinkKernels
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// Image metrics against an independent reference, and the reconstruction task on real Fashion-MNIST images
/// with the committed VAE fixture.
@Suite struct ImageTaskTests {
    /// SSIM of Shrink (windows summed directly) against tools/make_ssim_goldens.py (scikit-image's filtered and
    /// cropped maps, in NumPy float64) on the same float32 images: both in double, so only summation order differs.
    static let ssimTolerance = 1e-9

    @Test func ssimMatchesTheReferenceImplementation() throws {
        let golden = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/images/ssim_golden.safetensors"))
        let raw = try golden.rawBytes("ssim")
        let expected = (0..<(raw.count / 8)).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) }
        #expect(expected.count == 10)
        for (i, value) in expected.enumerated() {
            let shape = try #require(golden.info("a_\(i)")).shape.dims
            let a = try golden.floats("a_\(i)"), b = try golden.floats("b_\(i)")
            let s = try #require(ImageMetrics.ssim(a, b, width: shape[1], height: shape[0]))
            #expect(abs(s - value) <= Self.ssimTolerance, "pair \(i): \(s) vs \(value)")
        }
        #expect(ImageMetrics.ssim([Float](repeating: 0, count: 100), [Float](repeating: 0, count: 100), width: 10, height: 10) == nil)
    }

    /// The probe's L-BFGS fit against PyTorch's (float64, strong Wolfe, tools/make_probe_golden.py) on the same
    /// strictly convex objective: the same optimum.
    @Test func linearProbeReachesTheReferenceOptimum() throws {
        let g = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/images/probe_golden.safetensors"))
        func doubles(_ name: String) throws -> [Double] {
            let raw = try g.rawBytes(name)
            return (0..<(raw.count / 8)).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) }
        }
        let trainY = try g.integers("train_y").map(Int.init), testY = try g.integers("test_y").map(Int.init)
        let probe = try LinearProbe.fit(features: try g.floats("train_x"), labels: trainY, dimension: 8, classes: 3)
        let loss = try doubles("loss")[0], weight = try doubles("weight"), bias = try doubles("bias")
        #expect(abs(probe.loss - loss) <= 1e-9 * loss, "loss \(probe.loss) vs \(loss)")
        let err = zip(probe.weight + probe.bias, weight + bias).map { abs($0 - $1) }.max()!
        #expect(err < 1e-4, "largest weight difference \(err)")
        #expect(probe.predict(try g.floats("test_x")) == (try g.integers("test_predictions").map(Int.init)))
        #expect(probe.correct(try g.floats("test_x"), labels: testY).count { $0 } == 248)
        #expect(throws: ModelError.self) { try LinearProbe.fit(features: [1, 2], labels: [0, 5], dimension: 1, classes: 3) }
    }

    @Test func mseAndPSNR() {
        #expect(ImageMetrics.mse([0, 1, 0.5] as [Float], [0, 0, 0.5] as [Float]) == 1.0 / 3)
        #expect(abs(ImageMetrics.psnr(mse: 0.01) - 20) < 1e-12)
        #expect(ImageMetrics.psnr(mse: 0) == ImageMetrics.maxPSNR)
    }

    static var fixture: String { Fixtures.path("Fixtures/models/vae_vision_puzzle") }
    /// The real train images (tools/fetch_real.sh); the task opens them and fails with its message when missing.
    static var trainImages: String { Fixtures.path("data/fashion-mnist/train-images-idx3-ubyte") }

    @Test func evaluatesRealImages() throws {
        let task = try ImageTask(images: Self.trainImages, limit: 40, batchSize: 16)
        #expect(task.unitCount == 40 && task.split == "train")
        let model = try ConvVAE.load(Self.fixture)
        let r = try ImageEvaluation.evaluate(model, on: task, perImage: true)
        let outcomes = try #require(r.perImage)
        #expect(outcomes.count == 40)
        for o in outcomes {
            #expect(abs(o.negativeELBO - o.reconstructionNats - o.klNats) < 1e-9)
            #expect(o.klNats > 0 && o.reconstructionNats > 0)
            #expect(o.ssim > 0 && o.ssim <= 1 && o.psnr > 10)
            #expect(abs(o.psnr - ImageMetrics.psnr(mse: o.mse)) < 1e-12)
        }
        // The same images through the model directly: the task adds nothing of its own.
        let x = task.pixels(0..<40)
        let out = try model.reconstruct(x, count: 40)
        #expect(out.negativeELBO(7, pixels: x[(7 * 784)..<(8 * 784)]).total == outcomes[7].negativeELBO)
    }

    /// The probe on real μ: fitted on the first 300 images of the split's train part, scored on the train file's
    /// first 60 images (a few may be among the 300: this checks the probe on real latents, not generalisation;
    /// chance is 10%). A test-split file is refused as the probe's train set.
    @Test func probeOnRealLatents() throws {
        let model = try ConvVAE.load(Self.fixture)
        let task = try ImageTask(images: Self.trainImages, limit: 60)
        let r = try ImageEvaluation.evaluate(model, on: task, probe: .init(trainImages: Self.trainImages, count: 300))
        let p = try #require(r.probe)
        #expect(p.trainCount == 300 && p.iterations > 5)
        #expect(p.accuracy.estimate > 0.4, "probe accuracy \(p.accuracy.estimate)")
        #expect(throws: ModelError.self) {
            try ImageEvaluation.evaluate(model, on: task, probe: .init(trainImages: Fixtures.path("data/fashion-mnist/t10k-images-idx3-ubyte"), count: 10))
        }
    }

    /// Records the raw inputs one layer is shown.
    final class Recorder: LinearInputObserver {
        let layer: String
        var inputs: [Float] = [], columns = 0
        init(_ layer: String) { self.layer = layer }
        func observe(layer: String, inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
            guard layer == self.layer else { return }
            self.inputs += UnsafeBufferPointer(start: inputs, count: rows * columns)
            self.columns = columns
        }
    }

    /// Calibration sees every conv and linear layer, each conv's rows in the stored weight's (in, ky, kx) order:
    /// those rows times the [out, in·9] weight are the convolution PyTorch computes.
    @Test func calibrationSeesEveryLayerInStoredWeightOrder() throws {
        let model = try ConvVAE.load(Fixtures.path("Fixtures/models/vae_tiny64"))
        let (stats, record) = try ImageCalibration.statistics(model, calibration: Self.trainImages, count: 12, batchSize: 5)
        #expect(record.puzzles == 12 && record.split == "train")
        let layout = VAEFamily(model.config).tensorLayout.filter { $0.role == .conv || $0.role == .linear }
        #expect(Set(stats.keys) == Set(layout.map(\.name)) && stats.count == 11)
        for spec in layout {
            let s = try #require(stats[spec.name])
            #expect(s.columns == spec.shape.dropFirst().reduce(1, *), "\(spec.name)")
            let positions = spec.name == "encoder.conv_in.conv.weight" ? 196 : spec.role == .linear ? 1 : s.rows / 12
            #expect(s.rows == 12 * positions, "\(spec.name)")
        }
        #expect(stats["fc_mu.weight"] === stats["fc_logvar.weight"])
        // The first conv's observed rows against direct convolution of the image.
        let recorder = Recorder("encoder.conv_in.conv.weight")
        let task = try ImageTask(images: Self.trainImages, limit: 1)
        let x = task.pixels(0..<1)
        _ = try model.reconstruct(x, count: 1, linearInputs: recorder)
        let weights = try SafetensorsFile(path: Fixtures.path("Fixtures/models/vae_tiny64/model.safetensors"))
        let w = try weights.floats("encoder.conv_in.conv.weight"), b = try weights.floats("encoder.conv_in.conv.bias")
        var ref = [Float](repeating: 0, count: 32 * 196)
        sk_conv2d_chw_ref(x, 1, 28, 28, w, b, 32, 3, 2, 1, &ref)
        #expect(recorder.columns == 9 && recorder.inputs.count == 196 * 9)
        var worst: Float = 0
        for p in 0..<196 {
            for o in 0..<32 {
                var v = b[o]
                for j in 0..<9 { v += recorder.inputs[p * 9 + j] * w[o * 9 + j] }
                worst = max(worst, abs(v - ref[o * 196 + p]))
            }
        }
        #expect(worst < 1e-5)
        // The second conv (32 input channels, where the column order matters): its observed rows times the stored
        // weight against the reference chain conv → GroupNorm + SiLU → conv, all channels-first.
        let down = Recorder("encoder.down.conv.weight")
        _ = try model.reconstruct(x, count: 1, linearInputs: down)
        var act = [Float](repeating: 0, count: 32 * 196)
        sk_group_norm_chw_ref(ref, 196, 32, 8, 1e-5, try weights.floats("encoder.conv_in.norm.weight"),
                              try weights.floats("encoder.conv_in.norm.bias"), 1, &act)
        let w2 = try weights.floats("encoder.down.conv.weight"), b2 = try weights.floats("encoder.down.conv.bias")
        var ref2 = [Float](repeating: 0, count: 64 * 49)
        sk_conv2d_chw_ref(act, 32, 14, 14, w2, b2, 64, 3, 2, 1, &ref2)
        #expect(down.columns == 288 && down.inputs.count == 49 * 288)
        var worst2: Float = 0, scale: Float = 0
        for p in 0..<49 {
            for o in 0..<64 {
                var v = b2[o]
                for j in 0..<288 { v += down.inputs[p * 288 + j] * w2[o * 288 + j] }
                worst2 = max(worst2, abs(v - ref2[o * 49 + p])); scale = max(scale, abs(ref2[o * 49 + p]))
            }
        }
        #expect(worst2 < 1e-4 * scale, "\(worst2) of \(scale)")
        #expect(throws: (any Error).self) {
            try ImageCalibration.statistics(model, calibration: Fixtures.path("data/fashion-mnist/t10k-images-idx3-ubyte"), count: 4)
        }
    }

    @Test func comparingAModelWithItselfShowsNoDifference() throws {
        let task = try ImageTask(images: Self.trainImages, limit: 20)
        let a = try ConvVAE.load(Self.fixture), b = try ConvVAE.load(Self.fixture)
        let r = try ImageComparison.compare(original: a, compressed: b, on: task, perImage: true)
        #expect(r.negativeELBO.difference.estimate == 0 && r.latentCosine.estimate > 1 - 1e-12)
        #expect(r.reconstructionPSNR.estimate == ImageMetrics.maxPSNR)
        #expect(r.label.evidence == .exploratory)  // train split, 20 images
        #expect(r.perImage?.count == 20)
    }

    /// Every convolution kernel is quantized too, as its [out, in·3·3] im2col matrix, and stored with its four
    /// dimensions; on real test images INT8 costs far less than INT4, and GPTQ (calibrated on train images, conv
    /// inputs in the kernel's column order) less than round to nearest.
    @Test func convolutionKernelsAreQuantizedAndGPTQBeatsRoundToNearest() throws {
        let dir = TemporaryDirectory()
        let source = try Checkpoint.open(Self.fixture)
        let kernels = source.infos.filter { $0.shape.rank == 4 }
        #expect(kernels.count >= 6)
        func quantized(_ bits: Int, _ method: Method) throws -> ImageComparison.Report {
            var o = QuantizeOptions()
            o.bits = bits; o.method = method
            let out = dir.file("\(bits)-\(method)")
            if method == .gptq {
                try QuantizePipeline.run(checkpoint: Self.fixture, options: o, calibration: .init(data: Self.trainImages, count: 64),
                                         outputDirectory: out, overwrite: false)
            } else {
                try QuantizeJob.run(source, options: o, outputDirectory: out)
            }
            let c = try CompressedCheckpoint(directory: out)
            for k in kernels {
                #expect(c.packedWeights[k.name] != nil && c.info(k.name)?.shape == k.shape, "\(k.name) quantized with its 4-D shape")
            }
            return try ImageComparison.compare(original: ConvVAE.load(Self.fixture), compressed: ConvVAE.load(out),
                                               on: ImageTask(images: Fixtures.path("data/fashion-mnist/t10k-images-idx3-ubyte"), limit: 100))
        }
        let (int8, int4, gptq4) = (try quantized(8, .rtn), try quantized(4, .rtn), try quantized(4, .gptq))
        let d8 = int8.negativeELBO.difference.estimate, d4 = int4.negativeELBO.difference.estimate, g4 = gptq4.negativeELBO.difference.estimate
        #expect(abs(d8) < d4 / 10 && d4 > 0, "Δ−ELBO int8 \(d8), int4 \(d4) nats")
        #expect(g4 < d4, "GPTQ int4 \(g4) vs RTN int4 \(d4) nats")
    }

    @Test func refusesDataThatDoesNotFit() throws {
        #expect(throws: ModelError.self) { try ImageTask(images: Fixtures.path("Fixtures/data/maze7-test.safetensors")) }
        let tiny = try ConvVAE.load(Fixtures.path("Fixtures/models/vae_tiny64"))
        let dir = TemporaryDirectory()
        // 2 images of 8×8 with labels, MNIST-named.
        var images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0, 8] + [UInt8](repeating: 7, count: 128)
        try Data(images).write(to: URL(fileURLWithPath: dir.file("x-images-idx3-ubyte")))
        images = [0, 0, 8, 1, 0, 0, 0, 2, 1, 2]
        try Data(images).write(to: URL(fileURLWithPath: dir.file("x-labels-idx1-ubyte")))
        let task = try ImageTask(images: dir.file("x-images-idx3-ubyte"))
        #expect(throws: ModelError.self) { try ImageEvaluation.evaluate(tiny, on: task) }
    }
}
