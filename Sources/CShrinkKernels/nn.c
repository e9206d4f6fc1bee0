#include "shrink_nn.h"
#include "exp_inline.h"

#include <math.h>
#include <string.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define SK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SK_CLONES
#endif

float sk_expf(float x) { return exp_inline(x); }

SK_CLONES void sk_rms_norm_rows(const float *x, size_t rows, size_t n, float eps, float *y) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float ss = 0;
        {
#pragma clang fp reassociate(on)
            for (size_t i = 0; i < n; i++) ss += xr[i] * xr[i];
        }
        float inv = 1.0f / sqrtf(ss / (float)n + eps);
        for (size_t i = 0; i < n; i++) yr[i] = xr[i] * inv;
    }
}

SK_CLONES void sk_swiglu_rows(const float *gu, size_t rows, size_t inter, float *out) {
    for (size_t r = 0; r < rows; r++) {
        const float *g = gu + r * 2 * inter, *u = g + inter;
        float *o = out + r * inter;
        for (size_t i = 0; i < inter; i++) {
            float a = g[i];
            o[i] = a / (1.0f + exp_inline(-a)) * u[i];
        }
    }
}

SK_CLONES void sk_add(const float *a, const float *b, size_t n, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

SK_CLONES void sk_rope_rows(float *x, size_t rows, size_t d, size_t ld, const float *cos_t, const float *sin_t) {
    size_t h = d / 2;
    for (size_t p = 0; p < rows; p++) {
        float *z = x + p * ld;
        const float *c = cos_t + p * d, *s = sin_t + p * d;
        for (size_t i = 0; i < h; i++) {
            float lo = z[i], hi = z[i + h];
            z[i] = lo * c[i] - hi * s[i];
            z[i + h] = hi * c[i + h] + lo * s[i + h];
        }
    }
}

SK_CLONES void sk_attention_head(const float *q, const float *k, const float *v, size_t ld, size_t positions, size_t d,
                                 float scale, float *out, size_t ldo, float *scratch) {
    // kt: keys transposed [d, P], so a row of scores is d axpys over contiguous memory.
    float *kt = scratch, *s = scratch + d * positions;
    for (size_t p = 0; p < positions; p++)
        for (size_t j = 0; j < d; j++) kt[j * positions + p] = k[p * ld + j];
    for (size_t p = 0; p < positions; p++) {
        const float *qp = q + p * ld;
        for (size_t t = 0; t < positions; t++) s[t] = 0;
        for (size_t j = 0; j < d; j++) {
            float a = qp[j] * scale;
            const float *row = kt + j * positions;
            for (size_t t = 0; t < positions; t++) s[t] += a * row[t];
        }
        float mx = -INFINITY;
        for (size_t t = 0; t < positions; t++) mx = s[t] > mx ? s[t] : mx;
        float inv = 1.0f / exp_shifted_sum(s, positions, mx);
        float *o = out + p * ldo;
        for (size_t j = 0; j < d; j++) o[j] = 0;
        for (size_t t = 0; t < positions; t++) {
            float w = s[t] * inv;
            const float *vt = v + t * ld;
            for (size_t j = 0; j < d; j++) o[j] += w * vt[j];
        }
    }
}

void sk_transpose(const float *src, size_t rows, size_t cols, float *dst) {
    // 32×32 tiles keep both sides in cache.
    enum { T = 32 };
    for (size_t r0 = 0; r0 < rows; r0 += T)
        for (size_t c0 = 0; c0 < cols; c0 += T) {
            size_t r1 = r0 + T < rows ? r0 + T : rows, c1 = c0 + T < cols ? c0 + T : cols;
            for (size_t r = r0; r < r1; r++)
                for (size_t c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
        }
}

SK_CLONES void sk_column_abs_sums(const float *x, size_t rows, size_t cols, double *acc) {
    // Double partial sums (the per-channel means feed AWQ's exponent search,
    // which should not depend on summation order in float).
    enum { R = 256 };
    double part[1024];
    for (size_t c0 = 0; c0 < cols; c0 += 1024) {
        size_t w = cols - c0 < 1024 ? cols - c0 : 1024;
        for (size_t r0 = 0; r0 < rows; r0 += R) {
            size_t r1 = r0 + R < rows ? r0 + R : rows;
            for (size_t j = 0; j < w; j++) part[j] = 0;
            for (size_t r = r0; r < r1; r++) {
                const float *row = x + r * cols + c0;
                for (size_t j = 0; j < w; j++) part[j] += (double)fabsf(row[j]);
            }
            for (size_t j = 0; j < w; j++) acc[c0 + j] += part[j];
        }
    }
}

SK_CLONES void sk_accumulate_f64(const float *x, size_t n, double *acc) {
    for (size_t i = 0; i < n; i++) acc[i] += x[i];
}
