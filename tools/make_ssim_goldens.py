"""SSIM goldens for ShrinkEval's ImageMetrics.ssim (Tests/ShrinkEvalTests/ImageTaskTests.swift).

An independent NumPy (float64) implementation of scikit-image's
`structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)`
(skimage/metrics/_structural_similarity.py; Wang et al. 2004, IEEE TIP 13(4)): each of the five local moments is
filtered over the whole image with scipy.ndimage.gaussian_filter's defaults (mode "reflect" = NumPy's "symmetric"
padding, truncate 4.0 is overridden by skimage to 3.5, so radius int(3.5*1.5 + 0.5) = 5), the SSIM map formed, its
5-pixel border cropped and the rest averaged. Shrink instead sums each window directly over the interior
positions, so the two agree only if both are right.

Pairs (deterministic, seeded): smooth random fields in [0, 1] and a degraded copy (noise, blur, shift, contrast),
28x28 and 20x32, plus identical images (SSIM 1) and a constant pair.
Writes Tests/Fixtures/images/ssim_golden.safetensors: a_<i>, b_<i> (F32 [h, w]), ssim (F64 [pairs]).
Usage: .venv-tools/bin/python tools/make_ssim_goldens.py
"""
import os

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGMA, RADIUS = 1.5, 5


def gaussian_filter(x):
    t = np.arange(-RADIUS, RADIUS + 1, dtype=np.float64)
    g = np.exp(-t * t / (2 * SIGMA * SIGMA))
    g /= g.sum()
    p = np.pad(x, RADIUS, mode="symmetric")
    rows = sum(g[i] * p[i: i + x.shape[0], :] for i in range(2 * RADIUS + 1))
    return sum(g[i] * rows[:, i: i + x.shape[1]] for i in range(2 * RADIUS + 1))


def ssim(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ma, mb = gaussian_filter(a), gaussian_filter(b)
    va = gaussian_filter(a * a) - ma * ma
    vb = gaussian_filter(b * b) - mb * mb
    cov = gaussian_filter(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return s[RADIUS:-RADIUS, RADIUS:-RADIUS].mean()


def field(rng, h, w):
    x = rng.random((h, w))
    for _ in range(2):
        x = gaussian_filter(x)
    x = (x - x.min()) / (x.max() - x.min())
    return x


def main():
    rng = np.random.default_rng(20040401)
    pairs = []
    for h, w in [(28, 28), (20, 32)]:
        a = field(rng, h, w)
        pairs.append((a, np.clip(a + 0.1 * rng.standard_normal((h, w)), 0, 1)))
        pairs.append((a, gaussian_filter(a)))
        pairs.append((a, np.roll(a, 1, axis=1)))
        pairs.append((a, 0.5 * a + 0.25))
    a = field(rng, 28, 28)
    pairs.append((a, a.copy()))
    pairs.append((np.full((28, 28), 0.3), np.full((28, 28), 0.7)))
    out = {}
    values = []
    for i, (a, b) in enumerate(pairs):
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        out[f"a_{i}"], out[f"b_{i}"] = a32, b32
        values.append(ssim(a32, b32))
    out["ssim"] = np.array(values, dtype=np.float64)
    path = os.path.join(ROOT, "Tests/Fixtures/images/ssim_golden.safetensors")
    save_file(out, path, metadata={"source": "tools/make_ssim_goldens.py", "numpy": np.__version__})
    print(path, ", ".join(f"{v:.6f}" for v in values))


if __name__ == "__main__":
    main()
