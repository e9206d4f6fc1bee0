// Row kernels of a BERT encoder forward pass (float32): LayerNorm with its affine
// parameters and GELU with the exact erf; attention is shrink_nn.h's head. Each
// fast kernel has a scalar reference (`_ref`, double precision, libm erf/exp)
// that tests compare it against.
#ifndef SHRINK_BERT_H
#define SHRINK_BERT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y = LayerNorm(x + r)·gamma + beta for each of `rows` rows of length n, with the
/// biased variance (torch.nn.LayerNorm). `r` may be NULL (no residual); y may alias x.
void sk_add_layer_norm_rows(const float *x, const float *r, size_t rows, size_t n, const float *gamma,
                            const float *beta, float eps, float *y);
void sk_add_layer_norm_rows_ref(const float *x, const float *r, size_t rows, size_t n, const float *gamma,
                                const float *beta, float eps, float *y);

/// x ← x·Φ(x) = 0.5·x·(1 + erf(x/√2)) in place (transformers' "gelu", not the tanh form).
void sk_gelu_erf(float *x, size_t n);
void sk_gelu_erf_ref(float *x, size_t n);

/// erf(x) by the rational approximation the fast GELU uses (for tests).
float sk_erf_approx(float x);

/// Scalar reference of sk_attention_head (shrink_nn.h), the head the encoder runs on
/// one sentence of a packed batch (all its tokens see each other: the padding mask is
/// the sentence's extent): out = softmax(q·kᵀ·scale)·v in double precision.
void sk_attention_head_ref(const float *q, const float *k, const float *v, size_t ld, size_t positions, size_t d,
                           float scale, float *out, size_t ldo);

#ifdef __cplusplus
}
#endif
#endif
