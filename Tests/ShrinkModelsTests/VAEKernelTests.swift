import CShrinkKernels
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// The VAE's channels-last kernels (shrink_conv.h) against their channels-first double-precision references.
@Suite struct VAEKernelTests {
    /// Tolerance of a float kernel against its double reference, relative to the output's largest magnitude.
    static let relativeTolerance: Float = 2e-6

    static func hwc(_ chw: [Float], c: Int, hw: Int) -> [Float] {
        var y = [Float](repeating: 0, count: chw.count)
        for ch in 0..<c { for p in 0..<hw { y[p * c + ch] = chw[ch * hw + p] } }
        return y
    }

    static func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(b.map { abs($0) }.max() ?? 0, 1e-30)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    /// im2col + the packed SGEMM (the path ConvVAE runs) against direct convolution, for the shapes the VAE uses
    /// (stride 2 and 1, one and many input channels, odd sizes).
    @Test(arguments: [(1, 8, 28, 2), (8, 16, 14, 2), (16, 16, 7, 1), (16, 8, 14, 1), (8, 1, 28, 1), (3, 5, 9, 2)])
    func convolutionMatchesDirectReference(_ shape: (Int, Int, Int, Int)) {
        let (cin, cout, side, stride) = shape
        var rng = TestRandom(seed: UInt64(cin * 1000 + cout * 10 + side))
        let x = rng.normals(cin * side * side), w = rng.normals(cout * cin * 9, scale: 0.3), b = rng.normals(cout)
        let out = sk_conv_out_size(side, 3, stride, 1)
        #expect(out == (side + 2 - 3) / stride + 1)
        var ref = [Float](repeating: 0, count: cout * out * out)
        sk_conv2d_chw_ref(x, cin, side, side, w, b, cout, 3, stride, 1, &ref)
        var whwc = [Float](repeating: 0, count: w.count)
        sk_conv_weight_to_hwc(w, cout, cin, 3, &whwc)
        var cols = [Float](repeating: 0, count: out * out * 9 * cin)
        sk_im2col_hwc(Self.hwc(x, c: cin, hw: side * side), side, side, cin, 3, stride, 1, &cols)
        let y = PackedLinear(weight: whwc, outFeatures: cout, inFeatures: 9 * cin, bias: b).apply(cols, rows: out * out)
        #expect(Self.maxRelativeError(y, Self.hwc(ref, c: cout, hw: out * out)) < Self.relativeTolerance)
    }

    @Test(arguments: [(16, 4, 49, 0), (32, 8, 196, 1), (48, 8, 49, 1), (8, 8, 784, 1)])
    func groupNormMatchesReference(_ shape: (Int, Int, Int, Int)) {
        let (c, groups, hw, silu) = shape
        var rng = TestRandom(seed: UInt64(c * 7 + hw))
        // A large common offset: the two-pass variance must not lose it.
        let x = rng.normals(c * hw, scale: 2).map { $0 + 30 }, gamma = rng.normals(c), beta = rng.normals(c)
        var ref = [Float](repeating: 0, count: x.count)
        sk_group_norm_chw_ref(x, hw, c, groups, 1e-5, gamma, beta, Int32(silu), &ref)
        var y = Self.hwc(x, c: c, hw: hw)
        sk_group_norm_hwc(y, hw, c, groups, 1e-5, gamma, beta, Int32(silu), &y)
        #expect(Self.maxRelativeError(y, Self.hwc(ref, c: c, hw: hw)) < 1e-5)
    }

    @Test func siluAndSigmoidMatchReferences() {
        var rng = TestRandom(seed: 5)
        let x = rng.normals(4096, scale: 8) + [-100, -88, -20, 0, 20, 88, 100]
        for (fast, ref) in [(sk_silu, sk_silu_ref), (sk_sigmoid, sk_sigmoid_ref)] as [(@convention(c) (UnsafeMutablePointer<Float>?, Int) -> Void, @convention(c) (UnsafeMutablePointer<Float>?, Int) -> Void)] {
            var a = x, b = x
            fast(&a, a.count)
            ref(&b, b.count)
            for (u, v) in zip(a, b) { #expect(abs(u - v) <= 4e-7 * max(1, abs(v)), "\(u) vs \(v)") }
        }
    }

    @Test func upsampleMatchesPyTorchNearest() {
        var rng = TestRandom(seed: 9)
        let (c, h) = (5, 7)
        let x = rng.normals(c * h * h)
        var ref = [Float](repeating: 0, count: c * 4 * h * h)
        sk_upsample_nearest_chw_ref(x, c, h, h, 2 * h, 2 * h, &ref)
        var y = [Float](repeating: 0, count: ref.count)
        sk_upsample_nearest2x_hwc(Self.hwc(x, c: c, hw: h * h), h, h, c, &y)
        #expect(y == Self.hwc(ref, c: c, hw: 4 * h * h))
    }
}
