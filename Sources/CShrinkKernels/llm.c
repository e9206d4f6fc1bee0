// Decoder row kernels (shrink_llm.h). Sources: transformers
// models/llama/modeling_llama.py (LlamaRMSNorm, rotate_half/apply_rotary_pos_emb, eager_attention_forward,
// LlamaMLP) and models/qwen2/modeling_qwen2.py (the same blocks with q/k/v bias).
#include "shrink_llm.h"
#include "shrink_gemm.h"
#include "shrink_nn.h"
#include "exp_inline.h"

#include <math.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define SK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SK_CLONES
#endif

SK_CLONES void sk_rms_norm_weighted_rows(const float *x, size_t rows, size_t n, float eps, const float *w, float *y) {
    sk_rms_norm_rows(x, rows, n, eps, y);  // y = x · (1 / sqrt(mean(x²) + eps)), then the weight
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < n; i++) y[r * n + i] *= w[i];
}

void sk_rms_norm_weighted_rows_ref(const float *x, size_t rows, size_t n, float eps, const float *w, float *y) {
    for (size_t r = 0; r < rows; r++) {
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += (double)x[r * n + i] * x[r * n + i];
        float inv = (float)(1.0 / sqrt(ss / (double)n + eps));
        for (size_t i = 0; i < n; i++) y[r * n + i] = w[i] * (x[r * n + i] * inv);
    }
}

SK_CLONES void sk_rope_heads(float *x, size_t rows, size_t ld, size_t heads, size_t d, size_t first_position,
                             const float *cos_t, const float *sin_t) {
    size_t h = d / 2;
    for (size_t r = 0; r < rows; r++) {
        const float *c = cos_t + (first_position + r) * d, *s = sin_t + (first_position + r) * d;
        for (size_t head = 0; head < heads; head++) {
            float *z = x + r * ld + head * d;
            for (size_t i = 0; i < h; i++) {
                float lo = z[i], hi = z[i + h];
                z[i] = lo * c[i] - hi * s[i];
                z[i + h] = hi * c[i + h] + lo * s[i + h];
            }
        }
    }
}

void sk_rope_heads_ref(float *x, size_t rows, size_t ld, size_t heads, size_t d, size_t first_position,
                       const float *cos_t, const float *sin_t) {
    // q·cos + rotate_half(q)·sin, rotate_half(q) = cat(−q[h:], q[:h]).
    size_t h = d / 2;
    float rotated[1024];
    for (size_t r = 0; r < rows; r++) {
        size_t p = first_position + r;
        for (size_t head = 0; head < heads; head++) {
            float *z = x + r * ld + head * d;
            for (size_t i = 0; i < d; i++) rotated[i] = i < h ? -z[i + h] : z[i - h];
            for (size_t i = 0; i < d; i++) z[i] = z[i] * cos_t[p * d + i] + rotated[i] * sin_t[p * d + i];
        }
    }
}

size_t sk_causal_attention_scratch(size_t rows, size_t first_position, size_t d) {
    size_t n = first_position + rows;
    return sk_gemm_packed_count(n, d) + rows * n + sk_gemm_packed_count(d, n);
}

// Scores and the weighted sum of values are two sk_gemm calls: S = Q·Kᵀ with K packed as the weight, then
// O = P·V with Vᵀ packed (a panel of 16 value columns is a strip of V's rows, copied as is).
SK_CLONES void sk_causal_attention_head(const float *q, size_t ldq, size_t rows, size_t first_position, const float *k,
                                        const float *v, size_t ldkv, size_t d, float scale, float *out, size_t ldo,
                                        float *scratch) {
    enum { NR = 16 };  // gemm.c's panel width
    size_t n = first_position + rows;
    float *pk = scratch, *s = pk + sk_gemm_packed_count(n, d), *pv = s + rows * n;
    sk_gemm_pack(k, n, d, ldkv, pk);
    sk_gemm(q, rows, d, ldq, pk, n, NULL, s, n, 0);
    for (size_t i = 0; i < rows; i++) {
        size_t len = first_position + i + 1;
        float *si = s + i * n;
        float mx = -INFINITY;
        for (size_t t = 0; t < len; t++) {
            si[t] *= scale;
            mx = si[t] > mx ? si[t] : mx;
        }
        float inv = 1.0f / exp_shifted_sum(si, len, mx);
        for (size_t t = 0; t < len; t++) si[t] *= inv;
        for (size_t t = len; t < n; t++) si[t] = 0;
    }
    size_t panels = (d + NR - 1) / NR;
    for (size_t p = 0; p < panels; p++)
        for (size_t t = 0; t < n; t++)
            for (size_t j = 0; j < NR; j++) {
                size_t col = p * NR + j;
                pv[(p * n + t) * NR + j] = col < d ? v[t * ldkv + col] : 0.0f;
            }
    sk_gemm(s, rows, n, n, pv, d, NULL, out, ldo, 0);
}

void sk_causal_attention_head_ref(const float *q, size_t ldq, size_t rows, size_t first_position, const float *k,
                                  const float *v, size_t ldkv, size_t d, float scale, float *out, size_t ldo,
                                  float *scratch) {
    float *s = scratch;
    for (size_t i = 0; i < rows; i++) {
        size_t len = first_position + i + 1;
        double mx = -INFINITY;
        for (size_t t = 0; t < len; t++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++) dot += (double)q[i * ldq + j] * k[t * ldkv + j];
            s[t] = (float)(dot * scale);
            mx = s[t] > mx ? s[t] : mx;
        }
        double sum = 0;
        for (size_t t = 0; t < len; t++) sum += exp(s[t] - mx);
        for (size_t j = 0; j < d; j++) {
            double acc = 0;
            for (size_t t = 0; t < len; t++) acc += exp(s[t] - mx) / sum * v[t * ldkv + j];
            out[i * ldo + j] = (float)acc;
        }
    }
}

void sk_swiglu_rows_ref(const float *gu, size_t rows, size_t inter, float *out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < inter; i++) {
            float a = gu[r * 2 * inter + i];
            out[r * inter + i] = a / (1.0f + expf(-a)) * gu[r * 2 * inter + inter + i];
        }
}

void sk_gemm_packed_row(const float *packed, size_t n, size_t k, size_t row, float *dst) {
    enum { NR = 16 };  // gemm.c's panel width
    (void)n;
    const float *panel = packed + row / NR * NR * k;
    size_t j = row % NR;
    for (size_t kk = 0; kk < k; kk++) dst[kk] = panel[kk * NR + j];
}
