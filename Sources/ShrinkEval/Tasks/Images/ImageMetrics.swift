import Foundation

/// Per-image reconstruction metrics on intensities in [0, 1] (data range 1).
public enum ImageMetrics {
    /// Mean squared error over the pixels, in Double.
    public static func mse<A: Collection<Float>, B: Collection<Float>>(_ a: A, _ b: B) -> Double {
        var s = 0.0, n = 0
        for (x, y) in zip(a, b) { let d = Double(x) - Double(y); s += d * d; n += 1 }
        return n > 0 ? s / Double(n) : 0
    }

    /// Peak signal-to-noise ratio in dB for data range 1: 10·log10(1 / MSE). Identical images give +∞, which is
    /// capped at `maxPSNR` so that means and intervals stay finite.
    public static func psnr(mse: Double) -> Double { mse > 0 ? min(maxPSNR, -10 * log10(mse)) : maxPSNR }
    /// The cap: 100 dB (MSE 1e-10, far below float32 rounding of intensities).
    public static let maxPSNR = 100.0

    /// Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error
    /// visibility to structural similarity", IEEE TIP 13(4), eq. 13) with their Gaussian window (σ = 1.5, 11×11,
    /// normalised), K1 = 0.01, K2 = 0.03, L = 1, population (not sample) covariances; the mean of the SSIM map
    /// over the positions where the whole window lies inside the image. This is what scikit-image's
    /// `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)`
    /// computes (it filters the whole image, then crops the 5-pixel border). Returns nil for an image smaller
    /// than the window.
    public static func ssim(_ a: [Float], _ b: [Float], width: Int, height: Int) -> Double? {
        let r = windowRadius, k = 2 * r + 1
        guard width >= k, height >= k, a.count == width * height, b.count == width * height else { return nil }
        let g = gaussianWindow
        let c1 = (0.01 * 1.0) * (0.01 * 1.0), c2 = (0.03 * 1.0) * (0.03 * 1.0)
        var total = 0.0
        for cy in r..<(height - r) {
            for cx in r..<(width - r) {
                var ma = 0.0, mb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0
                for dy in 0..<k {
                    for dx in 0..<k {
                        let w = g[dy] * g[dx]
                        let i = (cy - r + dy) * width + (cx - r + dx)
                        let x = Double(a[i]), y = Double(b[i])
                        ma += w * x; mb += w * y; saa += w * x * x; sbb += w * y * y; sab += w * x * y
                    }
                }
                let va = saa - ma * ma, vb = sbb - mb * mb, cov = sab - ma * mb
                total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
            }
        }
        return total / Double((width - 2 * r) * (height - 2 * r))
    }

    /// 5: scikit-image's truncate 3.5 at σ 1.5 (int(3.5·1.5 + 0.5)), the 11×11 window of Wang et al.
    public static let windowRadius = 5
    /// The normalised 1-D Gaussian (σ = 1.5) whose outer product is the window.
    public static let gaussianWindow: [Double] = {
        let r = windowRadius
        let w = (-r...r).map { exp(-Double($0 * $0) / (2 * 1.5 * 1.5)) }
        let s = w.reduce(0, +)
        return w.map { $0 / s }
    }()
}
