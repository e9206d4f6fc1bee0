// Dense linear algebra for GPTQ (Frantar et al., arXiv 2210.17323): a blocked,
// in-place Cholesky of the damped Hessian, a blocked in-place triangular
// inverse (LAPACK dpotrf / dtrtri, lower, right-looking), the GEMM-like update
// they share, and GPTQ's per-block column loop. Row-major throughout. Each call
// runs on the calling thread; the Swift side (ShrinkQuant/GPTQ.swift) splits rows
// over cores between calls. AVX2+FMA paths are chosen at run time
// (sk_has_avx2_fma); every kernel has a portable C body.
#ifndef SHRINK_GPTQ_H
#define SHRINK_GPTQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Packs B given as rows of length k ("[col][k]", row stride ldb, ncols rows) into
/// panels of 8 columns: out[p·k·8 + kk·8 + j] = b[(8p + j)·ldb + kk], zero-padded.
/// out holds ceil(ncols/8)·8·k doubles.
void sk_dpack_rows(const double *b, size_t ldb, size_t ncols, size_t k, double *out);

/// Packs B given as [k][col] (row stride ldb) into the same panel layout:
/// out[p·k·8 + kk·8 + j] = b[kk·ldb + 8p + j], zero-padded past ncols.
void sk_dpack_cols(const double *b, size_t ldb, size_t k, size_t ncols, double *out);

/// C[i][c] (= or +=) alpha · Σ_kk A[i][kk] · B[kk][c] for i < m, c < ncols, with B
/// packed by sk_dpack_rows/sk_dpack_cols (panel_stride doubles per panel, usually 8·k).
/// triangle 0: full. triangle 1: only columns c ≤ tri_base + i are needed (others may be
/// written with garbage: callers use it where they are the unused upper triangle).
/// triangle 2: A[i][kk] is zero for kk > tri_base + i (a lower-triangular A), so the
/// sum stops there.
void sk_dgemm_packed(double *c, size_t ldc, const double *a, size_t lda, size_t m, size_t k,
                     const double *bp, size_t panel_stride, size_t ncols, double alpha, int accumulate,
                     int triangle, size_t tri_base);

/// Unblocked Cholesky of the leading nb×nb block (lower, in place; the strict upper
/// part is not read). Returns 0, or 1 + the column whose pivot is not positive.
int sk_dpotrf_lower(double *a, size_t lda, size_t nb);

/// Solves X·Lᵀ = B in place for `rows` rows of B (length nb, row stride ldb), L the
/// nb×nb lower factor at l (row stride ldl): Cholesky's panel step.
void sk_dtrsm_lower_t(const double *l, size_t ldl, size_t nb, double *b, size_t ldb, size_t rows);

/// Solves X·L = −B in place for `rows` rows of B (length nb), L lower nb×nb:
/// the triangular inverse's panel step.
void sk_dtrsm_lower_neg(const double *l, size_t ldl, size_t nb, double *b, size_t ldb, size_t rows);

/// Inverts the nb×nb lower-triangular block in place (LAPACK dtrti2, 'L', 'N').
void sk_dtrti2_lower(double *a, size_t lda, size_t nb);

/// Zeros the strict upper triangle of an n×n matrix.
void sk_dzero_upper(double *a, size_t n);

/// Reflects the lower triangle across the anti-diagonal in place:
/// a[i][j] ↔ a[n−1−j][n−1−i] (J·Aᵀ·J with J the reversal; lower stays lower).
void sk_dreflect_anti(double *a, size_t n);

/// Converts count doubles to floats in place: the floats occupy the first half of the
/// buffer, float i at byte 4i.
void sk_d2f_inplace(double *a, size_t count);

/// Page-granular buffers for n×n matrices: mmap'ed, zero-filled, returned to the
/// system on free or trim. NULL when the system refuses the memory.
void *sk_big_alloc(size_t bytes);
/// Returns the pages past `keep` bytes to the system (the buffer stays `bytes` long
/// for sk_big_free; the released range reads as zero if touched again).
void sk_big_trim(void *p, size_t bytes, size_t keep);
void sk_big_free(void *p, size_t bytes);

/// GPTQ's column loop over one block of `count` columns for `rows` rows of the
/// (permuted) weights w (row stride ldw; w points at the block's first column and is
/// updated in place by the block's own errors). ublk is the block's count×count part
/// of U (upper, row-major, row stride count; H⁻¹ = UᵀU). scale and zero hold each
/// row's parameters for each column of the block (row stride count).
/// grid 0: t = clamp(x/s + z, qmin, qmax) rounded half to even, x̂ = (t − z)·s
///         (compressed-tensors' integer zero point).
/// grid 1: t = clamp((x − m)/d, qmin, qmax) rounded half to even (0 when d = 0),
///         x̂ = t·d + m (ggml's Q4_1/Q5_1 grid; zero holds m).
/// codes[r·ldcodes + k] = t + code_offset; negerr[r·count + k] = −(x − x̂)/U[k][k],
/// the block's row of errors for the lazy update of later columns.
void sk_gptq_block(float *w, size_t rows, size_t ldw, size_t count, const float *ublk,
                   const float *scale, const float *zero, int grid, float qmin, float qmax,
                   float code_offset, int8_t *codes, size_t ldcodes, float *negerr);

/// SparseGPT's column loop over one block (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be
/// Accurately Pruned in One-Shot", arXiv 2301.00774, Algorithm 1), the same shape as sk_gptq_block: w, ublk,
/// negerr as there. pruned (row stride ldp, pointing at the block's first column) flags the weights removed:
/// read when prune_m is 0 (a mask chosen before the block), else written: at every column k with k % prune_m
/// == 0 the prune_k columns of [k, k + prune_m) of smallest w²/U_jj² (ties to the lower column; prune_m ≤ 64)
/// are flagged (N:M). Each column: q = 0 where flagged, else w; with `quantize`, q is then quantized on
/// `grid` as sk_gptq_block does (a flagged weight quantizes 0, exactly 0 on grid 0) and its code written;
/// err = (w − q)/U_kk is pushed onto the block's later columns, and w[k] becomes q (the block's final values).
void sk_sparsegpt_block(float *w, size_t rows, size_t ldw, size_t count, const float *ublk,
                        uint8_t *pruned, size_t ldp, int prune_m, int prune_k, int quantize,
                        const float *scale, const float *zero, int grid, float qmin, float qmax,
                        float code_offset, int8_t *codes, size_t ldcodes, float *negerr);

/// Round to nearest on the ggml minimum grid (Q4_1/Q5_1): t = clamp((x − m)/d, 0, qmax)
/// rounded half to even (0 when d = 0), q = t + code_offset, out = t·d + m.
void sk_quantize_affine_f32(const float *x, size_t n, float d, float m, float qmax, float code_offset,
                            int8_t *q, float *out);

#ifdef __cplusplus
}
#endif
#endif
