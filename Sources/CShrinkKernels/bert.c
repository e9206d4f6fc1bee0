#include "shrink_bert.h"

#include <math.h>
#include <stdlib.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define SK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SK_CLONES
#endif

SK_CLONES void sk_add_layer_norm_rows(const float *x, const float *r, size_t rows, size_t n, const float *gamma,
                                      const float *beta, float eps, float *y) {
    for (size_t row = 0; row < rows; row++) {
        const float *xr = x + row * n, *rr = r ? r + row * n : NULL;
        float *yr = y + row * n;
        if (rr)
            for (size_t i = 0; i < n; i++) yr[i] = xr[i] + rr[i];
        else if (yr != xr)
            for (size_t i = 0; i < n; i++) yr[i] = xr[i];
        // Two passes (mean, then squared deviations) as torch does: no cancellation.
        float sum = 0, ss = 0;
        {
#pragma clang fp reassociate(on)
            for (size_t i = 0; i < n; i++) sum += yr[i];
        }
        float mean = sum / (float)n;
        {
#pragma clang fp reassociate(on)
            for (size_t i = 0; i < n; i++) {
                float d = yr[i] - mean;
                ss += d * d;
            }
        }
        float inv = 1.0f / sqrtf(ss / (float)n + eps);
        for (size_t i = 0; i < n; i++) yr[i] = (yr[i] - mean) * inv * gamma[i] + beta[i];
    }
}

void sk_add_layer_norm_rows_ref(const float *x, const float *r, size_t rows, size_t n, const float *gamma,
                                const float *beta, float eps, float *y) {
    for (size_t row = 0; row < rows; row++) {
        double *v = malloc(n * sizeof(double));
        if (!v) return;
        double sum = 0, ss = 0;
        for (size_t i = 0; i < n; i++) {
            v[i] = (double)x[row * n + i] + (r ? (double)r[row * n + i] : 0.0);
            sum += v[i];
        }
        double mean = sum / (double)n;
        for (size_t i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
        double inv = 1.0 / sqrt(ss / (double)n + (double)eps);
        for (size_t i = 0; i < n; i++) y[row * n + i] = (float)((v[i] - mean) * inv * gamma[i] + beta[i]);
        free(v);
    }
}

// erf as a rational function p(x)/q(x) on [-4, 4] (erf is ±1 in float beyond): the
// approximation of Eigen's generic_fast_erf_float (also TensorFlow's), odd degree-13
// numerator over even degree-8 denominator, within a few ulp. Branch-free, so the
// GELU loop vectorizes.
static inline __attribute__((always_inline)) float erf_inline(float a) {
    float x = a < -4.0f ? -4.0f : (a > 4.0f ? 4.0f : a);
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    p = p * x;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return p / q;
}

float sk_erf_approx(float x) { return erf_inline(x); }

SK_CLONES void sk_gelu_erf(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + erf_inline(v * 0.70710678118654752f));
    }
}

void sk_gelu_erf_ref(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        x[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
}

void sk_attention_head_ref(const float *q, const float *k, const float *v, size_t ld, size_t positions, size_t d,
                           float scale, float *out, size_t ldo) {
    double *s = malloc(positions * sizeof(double));
    if (!s) return;
    for (size_t p = 0; p < positions; p++) {
        double mx = -INFINITY, sum = 0;
        for (size_t t = 0; t < positions; t++) {
            double a = 0;
            for (size_t j = 0; j < d; j++) a += (double)q[p * ld + j] * (double)k[t * ld + j];
            s[t] = a * scale;
            mx = s[t] > mx ? s[t] : mx;
        }
        for (size_t t = 0; t < positions; t++) { s[t] = exp(s[t] - mx); sum += s[t]; }
        for (size_t j = 0; j < d; j++) {
            double o = 0;
            for (size_t t = 0; t < positions; t++) o += s[t] / sum * (double)v[t * ld + j];
            out[p * ldo + j] = (float)o;
        }
    }
    free(s);
}
