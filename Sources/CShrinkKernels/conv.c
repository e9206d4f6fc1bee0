#include "shrink_conv.h"
#include "exp_inline.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define SK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SK_CLONES
#endif

size_t sk_conv_out_size(size_t in, size_t k, size_t stride, size_t pad) {
    if (stride == 0 || in + 2 * pad < k) return 0;
    return (in + 2 * pad - k) / stride + 1;
}

void sk_im2col_hwc(const float *x, size_t h, size_t w, size_t c, size_t k, size_t stride, size_t pad, float *cols) {
    size_t ho = sk_conv_out_size(h, k, stride, pad), wo = sk_conv_out_size(w, k, stride, pad);
    size_t row = k * k * c;
    for (size_t oy = 0; oy < ho; oy++) {
        for (size_t ox = 0; ox < wo; ox++) {
            float *dst = cols + (oy * wo + ox) * row;
            for (size_t ky = 0; ky < k; ky++) {
                // Signed coordinates: the window starts up to `pad` before the image.
                long iy = (long)(oy * stride + ky) - (long)pad;
                for (size_t kx = 0; kx < k; kx++) {
                    long ix = (long)(ox * stride + kx) - (long)pad;
                    float *d = dst + (ky * k + kx) * c;
                    if (iy < 0 || iy >= (long)h || ix < 0 || ix >= (long)w) {
                        memset(d, 0, c * sizeof(float));
                    } else {
                        memcpy(d, x + ((size_t)iy * w + (size_t)ix) * c, c * sizeof(float));
                    }
                }
            }
        }
    }
}

void sk_conv_weight_to_hwc(const float *src, size_t cout, size_t cin, size_t k, float *dst) {
    for (size_t o = 0; o < cout; o++)
        for (size_t i = 0; i < cin; i++)
            for (size_t ky = 0; ky < k; ky++)
                for (size_t kx = 0; kx < k; kx++)
                    dst[((o * k + ky) * k + kx) * cin + i] = src[((o * cin + i) * k + ky) * k + kx];
}

void sk_conv2d_chw_ref(const float *x, size_t cin, size_t h, size_t w, const float *weight, const float *bias,
                       size_t cout, size_t k, size_t stride, size_t pad, float *y) {
    size_t ho = sk_conv_out_size(h, k, stride, pad), wo = sk_conv_out_size(w, k, stride, pad);
    for (size_t o = 0; o < cout; o++) {
        for (size_t oy = 0; oy < ho; oy++) {
            for (size_t ox = 0; ox < wo; ox++) {
                double s = bias ? bias[o] : 0.0;
                for (size_t i = 0; i < cin; i++) {
                    for (size_t ky = 0; ky < k; ky++) {
                        long iy = (long)(oy * stride + ky) - (long)pad;
                        if (iy < 0 || iy >= (long)h) continue;
                        for (size_t kx = 0; kx < k; kx++) {
                            long ix = (long)(ox * stride + kx) - (long)pad;
                            if (ix < 0 || ix >= (long)w) continue;
                            s += (double)weight[((o * cin + i) * k + ky) * k + kx] * (double)x[(i * h + (size_t)iy) * w + (size_t)ix];
                        }
                    }
                }
                y[(o * ho + oy) * wo + ox] = (float)s;
            }
        }
    }
}

SK_CLONES void sk_group_norm_hwc(const float *x, size_t hw, size_t c, size_t groups, float eps, const float *gamma,
                                 const float *beta, int silu, float *y) {
    size_t cg = c / groups;
    double n = (double)(hw * cg);
    for (size_t g = 0; g < groups; g++) {
        size_t c0 = g * cg;
        // Mean, then the variance about it (two passes: one-pass E[x²] − E[x]² loses digits when |mean| ≫ std).
        double sum = 0;
        for (size_t p = 0; p < hw; p++) {
            const float *xp = x + p * c + c0;
            float s = 0;
            for (size_t j = 0; j < cg; j++) s += xp[j];
            sum += s;
        }
        float mean = (float)(sum / n);
        double sq = 0;
        for (size_t p = 0; p < hw; p++) {
            const float *xp = x + p * c + c0;
            float s = 0;
            for (size_t j = 0; j < cg; j++) { float d = xp[j] - mean; s += d * d; }
            sq += s;
        }
        float inv = (float)(1.0 / sqrt(sq / n + (double)eps));
        for (size_t p = 0; p < hw; p++) {
            const float *xp = x + p * c + c0;
            float *yp = y + p * c + c0;
            for (size_t j = 0; j < cg; j++) {
                float v = (xp[j] - mean) * inv * gamma[c0 + j] + beta[c0 + j];
                yp[j] = silu ? v / (1.0f + exp_inline(-v)) : v;
            }
        }
    }
}

void sk_group_norm_chw_ref(const float *x, size_t hw, size_t c, size_t groups, float eps, const float *gamma,
                           const float *beta, int silu, float *y) {
    size_t cg = c / groups;
    double n = (double)(hw * cg);
    for (size_t g = 0; g < groups; g++) {
        const float *xg = x + g * cg * hw;
        double mean = 0, var = 0;
        for (size_t i = 0; i < cg * hw; i++) mean += xg[i];
        mean /= n;
        for (size_t i = 0; i < cg * hw; i++) var += (xg[i] - mean) * (xg[i] - mean);
        var /= n;
        double inv = 1.0 / sqrt(var + (double)eps);
        for (size_t j = 0; j < cg; j++) {
            size_t ch = g * cg + j;
            for (size_t p = 0; p < hw; p++) {
                double v = (xg[j * hw + p] - mean) * inv * gamma[ch] + beta[ch];
                y[ch * hw + p] = (float)(silu ? v / (1.0 + exp(-v)) : v);
            }
        }
    }
}

SK_CLONES void sk_silu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + exp_inline(-x[i]));
}

void sk_silu_ref(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)x[i] / (1.0 + exp(-(double)x[i])));
}

SK_CLONES void sk_sigmoid(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + exp_inline(-x[i]));
}

void sk_sigmoid_ref(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
}

void sk_upsample_nearest2x_hwc(const float *x, size_t h, size_t w, size_t c, float *y) {
    size_t ow = 2 * w;
    for (size_t iy = 0; iy < h; iy++) {
        for (size_t ix = 0; ix < w; ix++) {
            const float *src = x + (iy * w + ix) * c;
            memcpy(y + ((2 * iy) * ow + 2 * ix) * c, src, c * sizeof(float));
            memcpy(y + ((2 * iy) * ow + 2 * ix + 1) * c, src, c * sizeof(float));
        }
        memcpy(y + (2 * iy + 1) * ow * c, y + (2 * iy) * ow * c, ow * c * sizeof(float));
    }
}

void sk_upsample_nearest_chw_ref(const float *x, size_t c, size_t h, size_t w, size_t oh, size_t ow, float *y) {
    for (size_t ch = 0; ch < c; ch++)
        for (size_t oy = 0; oy < oh; oy++)
            for (size_t ox = 0; ox < ow; ox++)
                y[(ch * oh + oy) * ow + ox] = x[(ch * h + oy * h / oh) * w + ox * w / ow];
}
