// Elementwise and row kernels for model forward passes (float32).
#ifndef SHRINK_NN_H
#define SHRINK_NN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y_i = x_i / sqrt(mean(x²) + eps) for each of `rows` rows of length n (in place allowed).
void sk_rms_norm_rows(const float *x, size_t rows, size_t n, float eps, float *y);

/// out[r, i] = silu(gu[r, i]) · gu[r, inter + i] for each row of gu ([rows, 2·inter]).
void sk_swiglu_rows(const float *gu, size_t rows, size_t inter, float *out);

/// y = a + b (n values; y may alias a or b).
void sk_add(const float *a, const float *b, size_t n, float *y);

/// Rotary embedding, rotate-half convention, in place on `rows` vectors of
/// length d at stride ld, row p using cos/sin row p (tables [positions, d]).
void sk_rope_rows(float *x, size_t rows, size_t d, size_t ld, const float *cos_t, const float *sin_t);

/// One attention head over P positions: q, k, v rows of length d at stride ld;
/// out[p] = Σ_p' softmax_p'(q_p·k_p'·scale) v_p' written at stride ldo.
/// scratch: P·(d + 1) floats.
void sk_attention_head(const float *q, const float *k, const float *v, size_t ld, size_t positions, size_t d,
                       float scale, float *out, size_t ldo, float *scratch);

/// dst [cols, rows] = transpose of src [rows, cols].
void sk_transpose(const float *src, size_t rows, size_t cols, float *dst);

/// acc[j] += Σ_r |x[r, j]| for x [rows, cols].
void sk_column_abs_sums(const float *x, size_t rows, size_t cols, double *acc);

/// acc[i] += x[i] (widening to double).
void sk_accumulate_f64(const float *x, size_t n, double *acc);

/// exp(x) with ≤ 2 ulp error for x in [-87, 88] (inputs outside are clamped).
float sk_expf(float x);

#ifdef __cplusplus
}
#endif
#endif
