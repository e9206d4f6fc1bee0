// Single-precision matrix multiply for inference: Y = X · Wᵀ (+ bias), the
// PyTorch Linear layout (W is [n, k], row-major). W is packed once into panels
// of 16 output columns; X is read in place. One call runs on the calling
// thread; callers split the rows of X across cores.
#ifndef SHRINK_GEMM_H
#define SHRINK_GEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Floats needed to pack an [n, k] weight.
size_t sk_gemm_packed_count(size_t n, size_t k);

/// Packs W [n, k] (row stride ldw) into `packed` (sk_gemm_packed_count floats):
/// panel p holds columns 16p..16p+15 of Wᵀ, k-major, zero-padded.
void sk_gemm_pack(const float *w, size_t n, size_t k, size_t ldw, float *packed);

/// Y[m, n] (row stride ldy) = X[m, k] (row stride ldx) · Wᵀ + bias (bias may be NULL).
/// With accumulate != 0, adds to Y instead of overwriting it.
void sk_gemm(const float *x, size_t m, size_t k, size_t ldx, const float *packed, size_t n,
             const float *bias, float *y, size_t ldy, int accumulate);

#ifdef __cplusplus
}
#endif
#endif
