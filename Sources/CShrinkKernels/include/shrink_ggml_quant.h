// ggml's reference quantizers (ggml/src/ggml-quants.c `quantize_row_*_ref`, llama.cpp b10605), ported operation
// for operation so the bytes equal what llama-quantize writes without an importance matrix. Types use ggml's
// numbering (ggml.h enum ggml_type): Q4_0 2, Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8, Q2_K 10, Q3_K 11, Q4_K 12, Q5_K 13, Q6_K 14.
#ifndef SHRINK_GGML_QUANT_H
#define SHRINK_GGML_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Elements per block of `type` (32 or 256), or 0 for a type this file cannot quantize.
int sk_ggml_quant_block_elements(uint32_t type);

/// Bytes per block of `type` (sizeof(block_…) in ggml-common.h), or 0 for a type this file cannot quantize.
int sk_ggml_quant_block_bytes(uint32_t type);

/// Quantizes `n` floats (a multiple of the block) from `x` into blocks at `y`, as ggml's
/// `quantize_row_<type>_ref`. Returns 0, or -1 for an unknown type or a ragged `n`.
int sk_ggml_quantize_ref(uint32_t type, const float *x, void *y, int64_t n);

/// `rows` rows of `n_per_row` floats quantized as ggml_quantize_chunk(type, x, y, 0, rows, n_per_row, importance)
/// does: with `importance` (n_per_row non-negative weights per column, e.g. an imatrix or diag(XᵀX)), ggml's
/// `quantize_row_<type>_impl`; without it (NULL), and always for Q8_0, the reference quantizer above.
/// Returns 0, or -1 for an unknown type or a ragged row.
int sk_ggml_quantize_weighted(uint32_t type, const float *x, void *y, int64_t rows, int64_t n_per_row, const float *importance);

/// ggml's `GGML_FP32_TO_FP16` (the FP16 library's bit trick; round to nearest even).
uint16_t sk_ggml_fp32_to_fp16(float f);

#ifdef __cplusplus
}
#endif

#endif
