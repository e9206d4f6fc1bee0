// ggml block formats decoded to float, bit for bit as gguf-py 0.19.0's
// gguf.quants.dequantize computes them (numpy float32: every product and sum
// rounded on its own, never fused). Types use ggml's numbering (ggml.h enum ggml_type).
#ifndef SHRINK_GGML_H
#define SHRINK_GGML_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Decodes `blocks` consecutive blocks of ggml type `type` (F32, F16 and BF16 count one
/// element per block) from `src` into `dst`. Scalar reference: one block at a time, in
/// gguf-py's operation order. Returns 0, or -1 for a type it does not know.
int sk_ggml_dequantize_ref(uint32_t type, const void *src, float *dst, size_t blocks);

/// The same result, through AVX2/F16C code when the CPU has it (checked at run time).
int sk_ggml_dequantize(uint32_t type, const void *src, float *dst, size_t blocks);

/// 1 when sk_ggml_dequantize takes its AVX2 path on this CPU.
int sk_ggml_has_fast_path(void);

#ifdef __cplusplus
}
#endif

#endif
