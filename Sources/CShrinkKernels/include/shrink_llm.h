// Row kernels of decoder-only language models (Llama, Qwen2), float32: weighted
// RMSNorm, RoPE at a position offset, causal grouped-query attention over a KV
// cache. Each has a scalar reference (`_ref`) the tests compare it with.
#ifndef SHRINK_LLM_H
#define SHRINK_LLM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y_r = w ⊙ x_r / sqrt(mean(x_r²) + eps) for `rows` rows of length n (y may alias x), as transformers'
/// LlamaRMSNorm: normalize, then scale by the weight.
void sk_rms_norm_weighted_rows(const float *x, size_t rows, size_t n, float eps, const float *w, float *y);
void sk_rms_norm_weighted_rows_ref(const float *x, size_t rows, size_t n, float eps, const float *w, float *y);

/// Rotary embedding (rotate-half convention, transformers' apply_rotary_pos_emb) in place on `heads` vectors
/// of length d per row, consecutive at stride d, for `rows` rows at row stride ld; row r uses table row
/// `first_position + r` of cos/sin ([positions, d], each half repeated).
void sk_rope_heads(float *x, size_t rows, size_t ld, size_t heads, size_t d, size_t first_position,
                   const float *cos_t, const float *sin_t);
void sk_rope_heads_ref(float *x, size_t rows, size_t ld, size_t heads, size_t d, size_t first_position,
                       const float *cos_t, const float *sin_t);

/// Causal attention of one query head: query row i (stride ldq) sits at position first_position + i and attends
/// to keys/values 0 … first_position + i (rows of length d at stride ldkv);
/// out_i = Σ_t softmax_t(q_i·k_t·scale) v_t, written at stride ldo.
/// scratch: sk_causal_attention_scratch(rows, first_position, d) floats.
void sk_causal_attention_head(const float *q, size_t ldq, size_t rows, size_t first_position, const float *k,
                              const float *v, size_t ldkv, size_t d, float scale, float *out, size_t ldo,
                              float *scratch);
size_t sk_causal_attention_scratch(size_t rows, size_t first_position, size_t d);
/// The same, one dot product and a libm exp per score (scratch: first_position + rows floats).
void sk_causal_attention_head_ref(const float *q, size_t ldq, size_t rows, size_t first_position, const float *k,
                                  const float *v, size_t ldkv, size_t d, float scale, float *out, size_t ldo,
                                  float *scratch);

/// out[r, i] = silu(gu[r, i]) · gu[r, inter + i] with libm exp (the reference of sk_swiglu_rows).
void sk_swiglu_rows_ref(const float *gu, size_t rows, size_t inter, float *out);

/// Gathers row `row` of the [n, k] matrix W from its sk_gemm_pack panels into dst (k floats): a tied
/// embedding table read back from the packed output head.
void sk_gemm_packed_row(const float *packed, size_t n, size_t k, size_t row, float *dst);

#ifdef __cplusplus
}
#endif
#endif
