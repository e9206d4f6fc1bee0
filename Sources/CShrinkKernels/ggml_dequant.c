// Decoding of ggml block formats (ggml-common.h layouts, ggml-quants.c
// dequantize_row_*), in the operation order of gguf-py 0.19.0 gguf/quants.py
// `dequantize_blocks`, so the floats equal numpy's bit for bit. numpy rounds every
// float32 product and sum separately: no fused multiply-add anywhere in this file.
#pragma STDC FP_CONTRACT OFF

#include "shrink_ggml.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define SK_GGML_X86 1
#endif

enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
    T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_BF16 = 30,
};

// ggml-common.h block sizes (static_assert(sizeof(block_…) == …) there).
enum {
    B_Q4_0 = 2 + 16, B_Q4_1 = 2 + 2 + 16, B_Q5_0 = 2 + 4 + 16, B_Q5_1 = 2 + 2 + 4 + 16, B_Q8_0 = 2 + 32,
    B_Q2_K = 16 + 64 + 2 + 2, B_Q3_K = 32 + 64 + 12 + 2, B_Q4_K = 2 + 2 + 12 + 128,
    B_Q5_K = 2 + 2 + 12 + 32 + 128, B_Q6_K = 128 + 64 + 16 + 2,
};

// The struct sizes ggml-common.h asserts (static_assert(sizeof(block_q4_0) == sizeof(ggml_half) + QK4_0 / 2, …)).
_Static_assert(B_Q4_0 == 18 && B_Q4_1 == 20 && B_Q5_0 == 22 && B_Q5_1 == 24 && B_Q8_0 == 34, "ggml-common.h block sizes");
_Static_assert(B_Q2_K == 84 && B_Q3_K == 110 && B_Q4_K == 144 && B_Q5_K == 176 && B_Q6_K == 210, "ggml-common.h k-quant sizes");

static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/// IEEE binary16 → binary32, exact (numpy `astype(np.float32)` of a float16).
static inline float h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0) {
        float f = (float)man * 5.9604644775390625e-8f;  // man · 2⁻²⁴, exact
        memcpy(&bits, &f, 4);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

static inline float bf2f(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

// ---- scalar references, one block each -------------------------------------------------

/// Q4_0: d · (q − 8); byte j holds element j (low nibble) and j+16 (high).
static void ref_q4_0(const uint8_t *b, float *y) {
    const float d = h2f(ld16(b));
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((int)(b[2 + j] & 0x0f) - 8);
        y[j + 16] = d * (float)((int)(b[2 + j] >> 4) - 8);
    }
}

/// Q4_1: (d · q) + m.
static void ref_q4_1(const uint8_t *b, float *y) {
    const float d = h2f(ld16(b)), m = h2f(ld16(b + 2));
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 0x0f) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

/// Q5_0: d · (q − 16), the fifth bit of element j is bit j of qh.
static void ref_q5_0(const uint8_t *b, float *y) {
    const float d = h2f(ld16(b));
    const uint32_t qh = ld32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 32; j++) {
        int lo = j < 16 ? (qs[j] & 0x0f) : (qs[j - 16] >> 4);
        int q = lo | (int)(((qh >> j) & 1u) << 4);
        y[j] = d * (float)(q - 16);
    }
}

/// Q5_1: (d · q) + m.
static void ref_q5_1(const uint8_t *b, float *y) {
    const float d = h2f(ld16(b)), m = h2f(ld16(b + 2));
    const uint32_t qh = ld32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 32; j++) {
        int lo = j < 16 ? (qs[j] & 0x0f) : (qs[j - 16] >> 4);
        int q = lo | (int)(((qh >> j) & 1u) << 4);
        y[j] = d * (float)q + m;
    }
}

/// Q8_0: q · d.
static void ref_q8_0(const uint8_t *b, float *y) {
    const float d = h2f(ld16(b));
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin;
/// element e: 2 bits at shift 2·((e mod 128)/32) of qs[32·(e/128) + e mod 32];
/// (d · sc) · q − (dmin · m) per 16 elements.
static void ref_q2_k(const uint8_t *b, float *y) {
    const uint8_t *sc = b, *qs = b + 16;
    const float d = h2f(ld16(b + 80)), dmin = h2f(ld16(b + 82));
    for (int e = 0; e < 256; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32, sb = e / 16;
        float dl = d * (float)(sc[sb] & 0x0f), ml = dmin * (float)(sc[sb] >> 4);
        float q = (float)((qs[32 * h + l] >> (2 * s)) & 3);
        y[e] = dl * q - ml;
    }
}

/// The 16 scales of a Q3_K block, d · (6-bit scale − 32): low nibbles in bytes 0–7 (both halves),
/// high 2-bit pairs in bytes 8–11 (gguf-py Q3_K's lscales/hscales).
static inline void q3_k_scales(const uint8_t *b, float dl[16]) {
    const uint8_t *sc = b + 96;
    const float d = h2f(ld16(b + 108));
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? (sc[i] & 0x0f) : (sc[i - 8] >> 4);
        int hi = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
        dl[i] = d * (float)((int)(int8_t)(uint8_t)(lo | (hi << 4)) - 32);
    }
}

/// Q3_K: hmask[32], qs[64], 12 bytes of 6-bit signed scales, d; q = low 2 bits − 4·(1 − hbit);
/// (d · (scale − 32)) · q per 16 elements.
static void ref_q3_k(const uint8_t *b, float *y) {
    const uint8_t *hm = b, *qs = b + 32;
    float dl[16];
    q3_k_scales(b, dl);
    for (int e = 0; e < 256; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        int ql = (qs[32 * h + l] >> (2 * s)) & 3;
        int hb = (hm[l] >> (e / 32)) & 1;
        y[e] = dl[e / 16] * (float)(ql - ((hb ^ 1) << 2));
    }
}

/// ggml `get_scale_min_k4` (gguf-py Q4_K.get_scale_min): 6-bit scale and min of sub-block j.
static inline void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/// Q4_K: d, dmin, scales[12], qs[128]; sub-block j of 32: nibble (j mod 2) of qs[32·(j/2) + l];
/// (d · sc) · q − (dmin · m).
static void ref_q4_k(const uint8_t *b, float *y) {
    const float d = h2f(ld16(b)), dmin = h2f(ld16(b + 2));
    const uint8_t *scales = b + 4, *qs = b + 16;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        scale_min_k4(j, scales, &sc, &m);
        const float dj = d * (float)sc, mj = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            float q = (float)((qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0f);
            y[32 * j + l] = dj * q - mj;
        }
    }
}

/// Q5_K: d, dmin, scales[12], qh[32], qs[128]; as Q4_K plus bit j of qh[l] as the fifth bit.
static void ref_q5_k(const uint8_t *b, float *y) {
    const float d = h2f(ld16(b)), dmin = h2f(ld16(b + 2));
    const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + 48;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        scale_min_k4(j, scales, &sc, &m);
        const float dj = d * (float)sc, mj = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            int q = ((qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0f) | (((qh[l] >> j) & 1) << 4);
            y[32 * j + l] = dj * (float)q - mj;
        }
    }
}

/// Q6_K: ql[128], qh[64], int8 scales[16], d; element e = 128·h + r: low 4 bits from nibble
/// r/64 of ql[64·h + r mod 64], high 2 bits from bits 2·(r/32) of qh[32·h + r mod 32];
/// (d · scale) · (q − 32).
static void ref_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = h2f(ld16(b + 208));
    for (int e = 0; e < 256; e++) {
        int h = e / 128, r = e % 128;
        int lo = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0f;
        int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
        int q = (int)(int8_t)(uint8_t)(lo | (hi << 4)) - 32;
        y[e] = (d * (float)sc[e / 16]) * (float)q;
    }
}

typedef void (*block_fn)(const uint8_t *, float *);

static int blocks_ref(block_fn fn, size_t bytes, size_t elems, const void *src, float *dst, size_t n) {
    const uint8_t *s = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++) fn(s + i * bytes, dst + i * elems);
    return 0;
}

int sk_ggml_dequantize_ref(uint32_t type, const void *src, float *dst, size_t n) {
    const uint8_t *s = (const uint8_t *)src;
    switch (type) {
    case T_F32: memcpy(dst, src, n * 4); return 0;
    case T_F16: for (size_t i = 0; i < n; i++) dst[i] = h2f(ld16(s + 2 * i)); return 0;
    case T_BF16: for (size_t i = 0; i < n; i++) dst[i] = bf2f(ld16(s + 2 * i)); return 0;
    case T_Q4_0: return blocks_ref(ref_q4_0, B_Q4_0, 32, src, dst, n);
    case T_Q4_1: return blocks_ref(ref_q4_1, B_Q4_1, 32, src, dst, n);
    case T_Q5_0: return blocks_ref(ref_q5_0, B_Q5_0, 32, src, dst, n);
    case T_Q5_1: return blocks_ref(ref_q5_1, B_Q5_1, 32, src, dst, n);
    case T_Q8_0: return blocks_ref(ref_q8_0, B_Q8_0, 32, src, dst, n);
    case T_Q2_K: return blocks_ref(ref_q2_k, B_Q2_K, 256, src, dst, n);
    case T_Q3_K: return blocks_ref(ref_q3_k, B_Q3_K, 256, src, dst, n);
    case T_Q4_K: return blocks_ref(ref_q4_k, B_Q4_K, 256, src, dst, n);
    case T_Q5_K: return blocks_ref(ref_q5_k, B_Q5_K, 256, src, dst, n);
    case T_Q6_K: return blocks_ref(ref_q6_k, B_Q6_K, 256, src, dst, n);
    default: return -1;
    }
}

// ---- AVX2 + F16C: the same operations, 8 lanes at a time -------------------------------
// Only separate _mm256_mul_ps / _mm256_add_ps / _mm256_sub_ps (no FMA target), so every
// lane rounds exactly as the scalar reference does.
#ifdef SK_GGML_X86
#define AVX2 __attribute__((target("avx2,f16c")))

AVX2 static inline __m256 i8x8(const uint8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
AVX2 static inline __m256i u8x8i(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)); }

AVX2 static void fast_f16(const uint8_t *s, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 2 * i))));
    for (; i < n; i++) y[i] = h2f(ld16(s + 2 * i));
}

AVX2 static void fast_bf16(const uint8_t *s, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + 2 * i))), 16);
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(v));
    }
    for (; i < n; i++) y[i] = bf2f(ld16(s + 2 * i));
}

AVX2 static void fast_q8_0(const uint8_t *s, float *y, size_t n) {
    for (size_t i = 0; i < n; i++, s += B_Q8_0, y += 32) {
        const __m256 d = _mm256_set1_ps(h2f(ld16(s)));
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(i8x8(s + 2 + 8 * k), d));
    }
}

/// The 32 nibbles of 16 bytes as two 16-byte vectors (low nibbles = elements 0–15, high = 16–31).
AVX2 static inline void nibbles16(const uint8_t *p, __m128i *lo, __m128i *hi) {
    const __m128i m = _mm_set1_epi8(0x0f), v = _mm_loadu_si128((const __m128i *)p);
    *lo = _mm_and_si128(v, m);
    *hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
}
AVX2 static inline __m256 lane8(__m128i v, int half) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(half ? _mm_srli_si128(v, 8) : v));
}

AVX2 static void fast_q4_0(const uint8_t *s, float *y, size_t n) {
    const __m256 eight = _mm256_set1_ps(8.0f);
    for (size_t i = 0; i < n; i++, s += B_Q4_0, y += 32) {
        const __m256 d = _mm256_set1_ps(h2f(ld16(s)));
        __m128i lo, hi;
        nibbles16(s + 2, &lo, &hi);
        // q − 8 is exact in float, so subtracting after conversion equals the integer subtraction.
        _mm256_storeu_ps(y + 0, _mm256_mul_ps(d, _mm256_sub_ps(lane8(lo, 0), eight)));
        _mm256_storeu_ps(y + 8, _mm256_mul_ps(d, _mm256_sub_ps(lane8(lo, 1), eight)));
        _mm256_storeu_ps(y + 16, _mm256_mul_ps(d, _mm256_sub_ps(lane8(hi, 0), eight)));
        _mm256_storeu_ps(y + 24, _mm256_mul_ps(d, _mm256_sub_ps(lane8(hi, 1), eight)));
    }
}

AVX2 static void fast_q4_1(const uint8_t *s, float *y, size_t n) {
    for (size_t i = 0; i < n; i++, s += B_Q4_1, y += 32) {
        const __m256 d = _mm256_set1_ps(h2f(ld16(s))), m = _mm256_set1_ps(h2f(ld16(s + 2)));
        __m128i lo, hi;
        nibbles16(s + 4, &lo, &hi);
        _mm256_storeu_ps(y + 0, _mm256_add_ps(_mm256_mul_ps(d, lane8(lo, 0)), m));
        _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_mul_ps(d, lane8(lo, 1)), m));
        _mm256_storeu_ps(y + 16, _mm256_add_ps(_mm256_mul_ps(d, lane8(hi, 0)), m));
        _mm256_storeu_ps(y + 24, _mm256_add_ps(_mm256_mul_ps(d, lane8(hi, 1)), m));
    }
}

/// The 32 five-bit values of a Q5 block as four 8-lane int vectors.
AVX2 static inline void q5_values(const uint8_t *qs, uint32_t qh, __m256 out[4]) {
    __m128i lo, hi;
    nibbles16(qs, &lo, &hi);
    const __m256i shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), one = _mm256_set1_epi32(1);
    const __m256i h = _mm256_set1_epi32((int)qh);
    for (int k = 0; k < 4; k++) {
        __m128i src = k < 2 ? lo : hi;
        __m256i q = _mm256_cvtepu8_epi32((k & 1) ? _mm_srli_si128(src, 8) : src);
        __m256i bit = _mm256_and_si256(_mm256_srlv_epi32(h, _mm256_add_epi32(shifts, _mm256_set1_epi32(8 * k))), one);
        out[k] = _mm256_cvtepi32_ps(_mm256_or_si256(q, _mm256_slli_epi32(bit, 4)));
    }
}

AVX2 static void fast_q5_0(const uint8_t *s, float *y, size_t n) {
    const __m256 sixteen = _mm256_set1_ps(16.0f);
    for (size_t i = 0; i < n; i++, s += B_Q5_0, y += 32) {
        const __m256 d = _mm256_set1_ps(h2f(ld16(s)));
        __m256 q[4];
        q5_values(s + 6, ld32(s + 2), q);
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(d, _mm256_sub_ps(q[k], sixteen)));
    }
}

AVX2 static void fast_q5_1(const uint8_t *s, float *y, size_t n) {
    for (size_t i = 0; i < n; i++, s += B_Q5_1, y += 32) {
        const __m256 d = _mm256_set1_ps(h2f(ld16(s))), m = _mm256_set1_ps(h2f(ld16(s + 2)));
        __m256 q[4];
        q5_values(s + 8, ld32(s + 4), q);
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(d, q[k]), m));
    }
}

AVX2 static void fast_q4_k(const uint8_t *s, float *y, size_t n) {
    const __m256i m4 = _mm256_set1_epi32(0x0f);
    for (size_t i = 0; i < n; i++, s += B_Q4_K, y += 256) {
        const float d = h2f(ld16(s)), dmin = h2f(ld16(s + 2));
        const uint8_t *qs = s + 16;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            scale_min_k4(j, s + 4, &sc, &m);
            const __m256 dj = _mm256_set1_ps(d * (float)sc), mj = _mm256_set1_ps(dmin * (float)m);
            const int shift = 4 * (j % 2);
            for (int l = 0; l < 32; l += 8) {
                __m256i q = _mm256_and_si256(_mm256_srli_epi32(u8x8i(qs + 32 * (j / 2) + l), shift), m4);
                _mm256_storeu_ps(y + 32 * j + l, _mm256_sub_ps(_mm256_mul_ps(dj, _mm256_cvtepi32_ps(q)), mj));
            }
        }
    }
}

AVX2 static void fast_q5_k(const uint8_t *s, float *y, size_t n) {
    const __m256i m4 = _mm256_set1_epi32(0x0f), one = _mm256_set1_epi32(1);
    for (size_t i = 0; i < n; i++, s += B_Q5_K, y += 256) {
        const float d = h2f(ld16(s)), dmin = h2f(ld16(s + 2));
        const uint8_t *qh = s + 16, *qs = s + 48;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            scale_min_k4(j, s + 4, &sc, &m);
            const __m256 dj = _mm256_set1_ps(d * (float)sc), mj = _mm256_set1_ps(dmin * (float)m);
            const int shift = 4 * (j % 2);
            for (int l = 0; l < 32; l += 8) {
                __m256i q = _mm256_and_si256(_mm256_srli_epi32(u8x8i(qs + 32 * (j / 2) + l), shift), m4);
                __m256i h = _mm256_and_si256(_mm256_srli_epi32(u8x8i(qh + l), j), one);
                q = _mm256_or_si256(q, _mm256_slli_epi32(h, 4));
                _mm256_storeu_ps(y + 32 * j + l, _mm256_sub_ps(_mm256_mul_ps(dj, _mm256_cvtepi32_ps(q)), mj));
            }
        }
    }
}

AVX2 static void fast_q6_k(const uint8_t *s, float *y, size_t n) {
    const __m256i m4 = _mm256_set1_epi32(0x0f), m2 = _mm256_set1_epi32(3), off = _mm256_set1_epi32(32);
    for (size_t i = 0; i < n; i++, s += B_Q6_K, y += 256) {
        const uint8_t *ql = s, *qh = s + 128;
        const int8_t *sc = (const int8_t *)(s + 192);
        const float d = h2f(ld16(s + 208));
        for (int h = 0; h < 2; h++) {
            for (int r = 0; r < 128; r += 8) {
                __m256i lo = _mm256_and_si256(_mm256_srli_epi32(u8x8i(ql + 64 * h + r % 64), 4 * (r / 64)), m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi32(u8x8i(qh + 32 * h + r % 32), 2 * (r / 32)), m2);
                __m256i q = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), off);
                const int e = 128 * h + r;
                const __m256 ds = _mm256_set1_ps(d * (float)sc[e / 16]);
                _mm256_storeu_ps(y + e, _mm256_mul_ps(ds, _mm256_cvtepi32_ps(q)));
            }
        }
    }
}

AVX2 static void fast_q2_k(const uint8_t *s, float *y, size_t n) {
    const __m256i m2 = _mm256_set1_epi32(3);
    for (size_t i = 0; i < n; i++, s += B_Q2_K, y += 256) {
        const uint8_t *sc = s, *qs = s + 16;
        const float d = h2f(ld16(s + 80)), dmin = h2f(ld16(s + 82));
        for (int e = 0; e < 256; e += 8) {
            const int h = e / 128, sh = (e % 128) / 32, l = e % 32, sb = e / 16;
            const __m256 dl = _mm256_set1_ps(d * (float)(sc[sb] & 0x0f)), ml = _mm256_set1_ps(dmin * (float)(sc[sb] >> 4));
            __m256i q = _mm256_and_si256(_mm256_srli_epi32(u8x8i(qs + 32 * h + l), 2 * sh), m2);
            _mm256_storeu_ps(y + e, _mm256_sub_ps(_mm256_mul_ps(dl, _mm256_cvtepi32_ps(q)), ml));
        }
    }
}

AVX2 static void fast_q3_k(const uint8_t *s, float *y, size_t n) {
    const __m256i m2 = _mm256_set1_epi32(3), one = _mm256_set1_epi32(1);
    for (size_t i = 0; i < n; i++, s += B_Q3_K, y += 256) {
        const uint8_t *hm = s, *qs = s + 32;
        float dl[16];
        q3_k_scales(s, dl);
        for (int e = 0; e < 256; e += 8) {
            const int h = e / 128, sh = (e % 128) / 32, l = e % 32;
            __m256i ql = _mm256_and_si256(_mm256_srli_epi32(u8x8i(qs + 32 * h + l), 2 * sh), m2);
            __m256i hb = _mm256_and_si256(_mm256_srli_epi32(u8x8i(hm + l), e / 32), one);
            __m256i q = _mm256_sub_epi32(ql, _mm256_slli_epi32(_mm256_xor_si256(hb, one), 2));
            _mm256_storeu_ps(y + e, _mm256_mul_ps(_mm256_set1_ps(dl[e / 16]), _mm256_cvtepi32_ps(q)));
        }
    }
}
#endif

int sk_ggml_has_fast_path(void) {
#ifdef SK_GGML_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
    }
    return cached;
#else
    return 0;
#endif
}

int sk_ggml_dequantize(uint32_t type, const void *src, float *dst, size_t n) {
#ifdef SK_GGML_X86
    if (sk_ggml_has_fast_path()) {
        const uint8_t *s = (const uint8_t *)src;
        switch (type) {
        case T_F32: memcpy(dst, src, n * 4); return 0;
        case T_F16: fast_f16(s, dst, n); return 0;
        case T_BF16: fast_bf16(s, dst, n); return 0;
        case T_Q4_0: fast_q4_0(s, dst, n); return 0;
        case T_Q4_1: fast_q4_1(s, dst, n); return 0;
        case T_Q5_0: fast_q5_0(s, dst, n); return 0;
        case T_Q5_1: fast_q5_1(s, dst, n); return 0;
        case T_Q8_0: fast_q8_0(s, dst, n); return 0;
        case T_Q2_K: fast_q2_k(s, dst, n); return 0;
        case T_Q3_K: fast_q3_k(s, dst, n); return 0;
        case T_Q4_K: fast_q4_k(s, dst, n); return 0;
        case T_Q5_K: fast_q5_k(s, dst, n); return 0;
        case T_Q6_K: fast_q6_k(s, dst, n); return 0;
        default: return -1;
        }
    }
#endif
    return sk_ggml_dequantize_ref(type, src, dst, n);
}
