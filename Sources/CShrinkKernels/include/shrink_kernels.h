// Hot loops of Shrink: quantize, pack, unpack, dequantize, error statistics and
// dtype conversions. Each function has one portable C body; on x86-64 Linux the
// compiler emits AVX-512, AVX2 and baseline clones and the loader picks one at
// start-up (ifunc), so no build flag is needed for vector speed.
#ifndef SHRINK_KERNELS_H
#define SHRINK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "shrink_gemm.h"
#include "shrink_nn.h"
#include "shrink_logprob.h"
#include "shrink_gptq.h"
#include "shrink_fs.h"
#include "shrink_conv.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Running sums for comparing a reference with an approximation.
typedef struct {
    double sum_ref_sq;   ///< Σ x²
    double sum_out_sq;   ///< Σ x̂²
    double sum_err_sq;   ///< Σ (x − x̂)²
    double sum_dot;      ///< Σ x·x̂
    double max_abs_err;  ///< max |x − x̂|
    uint64_t count;
} sk_error_acc;

/// Min and max of n floats. Returns the number of NaN/±Inf values (then the
/// extremes are over the finite values only).
size_t sk_minmax_f32(const float *x, size_t n, float *out_min, float *out_max);

/// q[i] = clamp(roundeven(x[i] / scale + zero_point), qmin, qmax).
/// Division (not a reciprocal multiply) and round-half-to-even match PyTorch's
/// `torch.round(x / scale + zp)` bit for bit.
void sk_quantize_f32(const float *x, size_t n, float scale, float zero_point,
                     float qmin, float qmax, int8_t *q);

/// Quantizes like sk_quantize_f32 and, in the same pass, adds the comparison of
/// x with its reconstruction (q − zero_point)·scale into acc.
void sk_quantize_error_f32(const float *x, size_t n, float scale, float zero_point,
                           float qmin, float qmax, int8_t *q, sk_error_acc *acc);

/// out[i] = (q[i] − zero_point) · scale.
void sk_dequantize_i8(const int8_t *q, size_t n, float scale, float zero_point, float *out);

/// Adds the comparison of ref and out (n values) into acc.
void sk_error_accumulate(const float *ref, const float *out, size_t n, sk_error_acc *acc);

/// Number of 32-bit words holding n values of `bits` bits as one dense stream.
size_t sk_packed_words(size_t n, int bits);

/// Packs n signed codes of `bits` bits (offset by 2^(bits−1) to unsigned) into a
/// dense little-endian bit stream: value i occupies bits [i·bits, (i+1)·bits) of
/// the stream, word w holding stream bits [32w, 32w+32). This is
/// compressed-tensors' `pack_to_int32` (v0.20.0) along one row.
void sk_pack_bits(const int8_t *q, size_t n, int bits, uint32_t *out);

/// Inverse of sk_pack_bits.
void sk_unpack_bits(const uint32_t *in, size_t n, int bits, int8_t *q);

/// Dtype conversions. Sources may be unaligned (safetensors guarantees only
/// 8-byte alignment of the data region, and hostile files not even that).
void sk_f16_to_f32(const void *src, size_t n, float *dst);
void sk_bf16_to_f32(const void *src, size_t n, float *dst);
void sk_f32_to_f16(const float *src, size_t n, void *dst);   ///< round to nearest even
void sk_f32_to_bf16(const float *src, size_t n, void *dst);  ///< round to nearest even, NaN kept
void sk_f8e4m3_to_f32(const void *src, size_t n, float *dst);
void sk_f8e5m2_to_f32(const void *src, size_t n, float *dst);
void sk_load_f32(const void *src, size_t n, float *dst);     ///< unaligned copy
void sk_f64_to_f32(const void *src, size_t n, float *dst);

/// glibc only: keep freed large blocks in the heap (no munmap/trim), so buffers
/// of similar size are reused without new page faults. No-op elsewhere.
void sk_reuse_large_allocations(void);
/// Returns the heap's free pages to the kernel (glibc malloc_trim): after a phase whose large buffers are gone.
void sk_return_freed_memory(void);

/// Whether this CPU runs the hand-written AVX2+FMA paths (checked once).
int sk_has_avx2_fma(void);

/// Name of the instruction set the dispatcher chose ("avx512f", "avx2", "default").
const char *sk_isa(void);

#ifdef __cplusplus
}
#endif
#endif
