#include "shrink_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Shrink's file formats are little-endian; big-endian hosts are not supported"
#endif

// One body, several instruction sets: the loader picks the best clone (ifunc).
#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define SK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SK_CLONES
#endif

#define SK_INLINE static inline __attribute__((always_inline))

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef int8_t v16b __attribute__((vector_size(16)));

// Macros, not functions: passing 64-byte vectors by value would change the ABI
// between the clones.
#define load16(p) ({ v16f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store16(p, v) do { v16f v_ = (v); memcpy((p), &v_, sizeof v_); } while (0)
#define splat(s) ((v16f){0} + (float)(s))

// 1.5·2^23: adding and subtracting it rounds any |v| < 2^22 to an integer with
// the current rounding mode (nearest, ties to even) — the same as torch.round.
static const float kRoundMagic = 12582912.0f;

// Exact recount for the rare case of NaN/Inf in the data.
static size_t minmax_slow(const float *x, size_t n, float *out_min, float *out_max) {
    float l = INFINITY, h = -INFINITY;
    size_t nonfinite = 0;
    for (size_t j = 0; j < n; j++) {
        float v = x[j];
        if (!isfinite(v)) { nonfinite++; continue; }
        if (v < l) l = v;
        if (v > h) h = v;
    }
    *out_min = l;
    *out_max = h;
    return nonfinite;
}

static size_t minmax_portable(const float *x, size_t n, float *out_min, float *out_max) {
    v16f lo = splat(INFINITY), hi = splat(-INFINITY), bad = splat(0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f v = load16(x + i);
        lo = __builtin_elementwise_min(lo, v);
        hi = __builtin_elementwise_max(hi, v);
        bad += v - v;  // NaN in a lane once that lane saw NaN or ±Inf
    }
    float l = INFINITY, h = -INFINITY;
    int any_bad = 0;
    for (int k = 0; k < 16; k++) {
        if (lo[k] < l) l = lo[k];
        if (hi[k] > h) h = hi[k];
        if (bad[k] != bad[k]) any_bad = 1;
    }
    for (; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) { any_bad = 1; continue; }
        if (v < l) l = v;
        if (v > h) h = v;
    }
    if (any_bad) return minmax_slow(x, n, out_min, out_max);
    *out_min = l;
    *out_max = h;
    return 0;
}

SK_CLONES void sk_quantize_f32(const float *x, size_t n, float scale, float zero_point,
                               float qmin, float qmax, int8_t *q) {
    const v16f vs = splat(scale), vz = splat(zero_point), vlo = splat(qmin), vhi = splat(qmax);
    const v16f magic = splat(kRoundMagic);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f v = load16(x + i) / vs + vz;
        // Clamping before rounding equals rounding before clamping for integer bounds,
        // and keeps |v| small enough for the magic-number rounding.
        v = __builtin_elementwise_min(__builtin_elementwise_max(v, vlo), vhi);
        v = (v + magic) - magic;
        v16b b = __builtin_convertvector(__builtin_convertvector(v, v16i), v16b);
        memcpy(q + i, &b, sizeof b);
    }
    for (; i < n; i++) {
        float v = x[i] / scale + zero_point;
        v = v < qmin ? qmin : (v > qmax ? qmax : v);
        v = (v + kRoundMagic) - kRoundMagic;
        q[i] = (int8_t)(int32_t)v;
    }
}

static void quantize_error_portable(const float *x, size_t n, float scale, float zero_point,
                                    float qmin, float qmax, int8_t *q, sk_error_acc *acc) {
    double rr = 0, oo = 0, ee = 0, ro = 0;
    float mx = (float)acc->max_abs_err;
    for (size_t i = 0; i < n; i++) {
        float t = x[i] / scale + zero_point;
        t = t < qmin ? qmin : (t > qmax ? qmax : t);
        t = (t + kRoundMagic) - kRoundMagic;
        q[i] = (int8_t)(int32_t)t;
        float d = (t - zero_point) * scale, e = x[i] - d;
        rr += (double)x[i] * x[i]; oo += (double)d * d; ee += (double)e * e; ro += (double)x[i] * d;
        if (fabsf(e) > mx) mx = fabsf(e);
    }
    acc->sum_ref_sq += rr; acc->sum_out_sq += oo; acc->sum_err_sq += ee; acc->sum_dot += ro;
    acc->max_abs_err = mx; acc->count += n;
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define SK_HAVE_AVX2_PATHS 1

// Hand-written AVX2: the generic vector code must honour IEEE minNum, which costs
// extra compares and blends per element; here NaN/Inf is detected separately.
__attribute__((target("avx2,fma"))) static size_t minmax_avx2(const float *x, size_t n, float *out_min, float *out_max) {
    __m256 lo0 = _mm256_set1_ps(INFINITY), lo1 = lo0, hi0 = _mm256_set1_ps(-INFINITY), hi1 = hi0;
    __m256 bad = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        lo0 = _mm256_min_ps(lo0, a); hi0 = _mm256_max_ps(hi0, a);
        lo1 = _mm256_min_ps(lo1, b); hi1 = _mm256_max_ps(hi1, b);
        // v − v is +0 for finite v and NaN otherwise; OR keeps any NaN bits.
        bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_sub_ps(a, a), _mm256_sub_ps(b, b)));
    }
    float l[8], h[8], b[8];
    _mm256_storeu_ps(l, _mm256_min_ps(lo0, lo1));
    _mm256_storeu_ps(h, _mm256_max_ps(hi0, hi1));
    _mm256_storeu_ps(b, bad);
    float mn = INFINITY, mx = -INFINITY;
    int any_bad = 0;
    for (int k = 0; k < 8; k++) {
        if (l[k] < mn) mn = l[k];
        if (h[k] > mx) mx = h[k];
        if (b[k] != 0) any_bad = 1;
    }
    for (; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) any_bad = 1;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
    }
    if (any_bad) return minmax_slow(x, n, out_min, out_max);
    *out_min = mn;
    *out_max = mx;
    return 0;
}

// x/s by a reciprocal multiply, checked: x·(1/s) is within a few ulps of the
// correctly rounded x/s, so the rounded code can only differ where t lies within
// kTieGuard of a half-integer. Such vectors (about 1 in 60) are redone with true
// division, which keeps the codes bit-identical to torch.round(x / s + z).
static const float kTieGuard = 1.0f / 1024.0f;

__attribute__((target("avx2,fma"))) static void quantize_error_avx2(const float *x, size_t n, float scale, float zero_point,
                                                                     float qmin, float qmax, int8_t *q, sk_error_acc *acc) {
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zero_point), vr = _mm256_set1_ps(1.0f / scale);
    const __m256 vlo = _mm256_set1_ps(qmin), vhi = _mm256_set1_ps(qmax), magic = _mm256_set1_ps(kRoundMagic);
    const __m256 sign = _mm256_set1_ps(-0.0f), near_half = _mm256_set1_ps(0.5f - kTieGuard);
    enum { kBlock = 4096 };
    double rr = 0, oo = 0, ee = 0, ro = 0;
    float mxe = (float)acc->max_abs_err;
    size_t i = 0;
    while (i + 8 <= n) {
        size_t end = n - i > kBlock ? i + kBlock : n;
        __m256 srr = _mm256_setzero_ps(), soo = srr, see = srr, sro = srr, smx = srr;
        for (; i + 8 <= end; i += 8) {
            __m256 v = _mm256_loadu_ps(x + i);
            __m256 c = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(_mm256_mul_ps(v, vr), vz), vlo), vhi);
            __m256 t = _mm256_sub_ps(_mm256_add_ps(c, magic), magic);
            __m256 dist = _mm256_andnot_ps(sign, _mm256_sub_ps(c, t));
            if (_mm256_movemask_ps(_mm256_cmp_ps(dist, near_half, _CMP_GE_OQ))) {
                c = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(_mm256_div_ps(v, vs), vz), vlo), vhi);
                t = _mm256_sub_ps(_mm256_add_ps(c, magic), magic);
            }
            __m256i w = _mm256_cvttps_epi32(t);
            __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
            _mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(w16, w16));
            __m256 d = _mm256_mul_ps(_mm256_sub_ps(t, vz), vs);
            __m256 e = _mm256_sub_ps(v, d);
            srr = _mm256_fmadd_ps(v, v, srr); soo = _mm256_fmadd_ps(d, d, soo);
            see = _mm256_fmadd_ps(e, e, see); sro = _mm256_fmadd_ps(v, d, sro);
            smx = _mm256_max_ps(smx, _mm256_andnot_ps(sign, e));
        }
        float a[8], b[8], cc[8], dd[8], m[8];
        _mm256_storeu_ps(a, srr); _mm256_storeu_ps(b, soo); _mm256_storeu_ps(cc, see); _mm256_storeu_ps(dd, sro); _mm256_storeu_ps(m, smx);
        for (int k = 0; k < 8; k++) { rr += a[k]; oo += b[k]; ee += cc[k]; ro += dd[k]; if (m[k] > mxe) mxe = m[k]; }
        if (end == n) break;
    }
    acc->sum_ref_sq += rr; acc->sum_out_sq += oo; acc->sum_err_sq += ee; acc->sum_dot += ro;
    acc->max_abs_err = mxe; acc->count += i;
    if (i < n) quantize_error_portable(x + i, n - i, scale, zero_point, qmin, qmax, q + i, acc);
}

#endif

int sk_has_avx2_fma(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

size_t sk_minmax_f32(const float *x, size_t n, float *out_min, float *out_max) {
#ifdef SK_HAVE_AVX2_PATHS
    if (sk_has_avx2_fma()) return minmax_avx2(x, n, out_min, out_max);
#endif
    return minmax_portable(x, n, out_min, out_max);
}

void sk_quantize_error_f32(const float *x, size_t n, float scale, float zero_point,
                           float qmin, float qmax, int8_t *q, sk_error_acc *acc) {
#ifdef SK_HAVE_AVX2_PATHS
    if (sk_has_avx2_fma()) { quantize_error_avx2(x, n, scale, zero_point, qmin, qmax, q, acc); return; }
#endif
    quantize_error_portable(x, n, scale, zero_point, qmin, qmax, q, acc);
}

SK_CLONES void sk_dequantize_i8(const int8_t *q, size_t n, float scale, float zero_point, float *out) {
    const v16f vs = splat(scale), vz = splat(zero_point);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16b b;
        memcpy(&b, q + i, sizeof b);
        v16f v = __builtin_convertvector(__builtin_convertvector(b, v16i), v16f);
        store16(out + i, (v - vz) * vs);
    }
    for (; i < n; i++) out[i] = ((float)q[i] - zero_point) * scale;
}

SK_CLONES void sk_error_accumulate(const float *ref, const float *out, size_t n, sk_error_acc *acc) {
    // Float lanes over blocks of 4096, doubles across blocks: exact enough and vectorized.
    enum { kBlock = 4096 };
    size_t i = 0;
    double rr = 0, oo = 0, ee = 0, ro = 0;
    float mx = (float)acc->max_abs_err;
    while (i < n) {
        size_t end = n - i > kBlock ? i + kBlock : n;
        v16f srr = splat(0), soo = splat(0), see = splat(0), sro = splat(0), smx = splat(0);
        for (; i + 16 <= end; i += 16) {
            v16f a = load16(ref + i), b = load16(out + i), e = a - b;
            srr += a * a; soo += b * b; see += e * e; sro += a * b;
            smx = __builtin_elementwise_max(smx, __builtin_elementwise_abs(e));
        }
        for (int k = 0; k < 16; k++) {
            rr += srr[k]; oo += soo[k]; ee += see[k]; ro += sro[k];
            if (smx[k] > mx) mx = smx[k];
        }
        for (; i < end; i++) {
            float a = ref[i], b = out[i], e = a - b;
            rr += (double)a * a; oo += (double)b * b; ee += (double)e * e; ro += (double)a * b;
            if (fabsf(e) > mx) mx = fabsf(e);
        }
    }
    acc->sum_ref_sq += rr;
    acc->sum_out_sq += oo;
    acc->sum_err_sq += ee;
    acc->sum_dot += ro;
    acc->max_abs_err = mx;
    acc->count += n;
}

size_t sk_packed_words(size_t n, int bits) { return (n * (size_t)bits + 31) / 32; }

SK_CLONES void sk_pack_bits(const int8_t *q, size_t n, int bits, uint32_t *out) {
    const size_t words = sk_packed_words(n, bits);
    uint8_t *o = (uint8_t *)out;  // little-endian: byte k of the stream is byte k of the words
    memset(out, 0, words * 4);
    const int offset = 1 << (bits - 1);
    if (bits == 8) {
        for (size_t i = 0; i < n; i++) o[i] = (uint8_t)(q[i] + offset);
    } else if (bits == 4) {
        size_t pairs = n / 2;
        for (size_t j = 0; j < pairs; j++)
            o[j] = (uint8_t)((q[2 * j] + 8) | ((q[2 * j + 1] + 8) << 4));
        if (n & 1) o[pairs] = (uint8_t)(q[n - 1] + 8);
    } else if (bits == 2) {
        size_t quads = n / 4;
        for (size_t j = 0; j < quads; j++)
            o[j] = (uint8_t)((q[4 * j] + 2) | ((q[4 * j + 1] + 2) << 2) |
                             ((q[4 * j + 2] + 2) << 4) | ((q[4 * j + 3] + 2) << 6));
        for (size_t i = quads * 4; i < n; i++) o[quads] |= (uint8_t)((q[i] + 2) << (2 * (i - quads * 4)));
    } else {
        uint64_t acc = 0;
        int filled = 0;
        size_t w = 0;
        const uint64_t mask = (1u << bits) - 1;
        for (size_t i = 0; i < n; i++) {
            acc |= ((uint64_t)(q[i] + offset) & mask) << filled;
            filled += bits;
            if (filled >= 32) {
                out[w++] = (uint32_t)acc;
                acc >>= 32;
                filled -= 32;
            }
        }
        if (filled > 0) out[w] = (uint32_t)acc;
    }
}

SK_CLONES void sk_unpack_bits(const uint32_t *in, size_t n, int bits, int8_t *q) {
    const uint8_t *b = (const uint8_t *)in;
    const int offset = 1 << (bits - 1);
    if (bits == 8) {
        for (size_t i = 0; i < n; i++) q[i] = (int8_t)(b[i] - offset);
    } else if (bits == 4) {
        for (size_t i = 0; i < n; i++) q[i] = (int8_t)(((b[i >> 1] >> ((i & 1) * 4)) & 0xF) - 8);
    } else if (bits == 2) {
        for (size_t i = 0; i < n; i++) q[i] = (int8_t)(((b[i >> 2] >> ((i & 3) * 2)) & 0x3) - 2);
    } else {
        const uint32_t mask = (1u << bits) - 1;
        for (size_t i = 0; i < n; i++) {
            size_t bit = i * (size_t)bits, w = bit >> 5;
            unsigned shift = (unsigned)(bit & 31);
            uint64_t window = in[w];
            if (shift + (unsigned)bits > 32) window |= (uint64_t)in[w + 1] << 32;
            q[i] = (int8_t)((int32_t)((window >> shift) & mask) - offset);
        }
    }
}

SK_INLINE float bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
SK_INLINE uint32_t f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// Half ↔ single with integer arithmetic only (F. Giesen, "half_to_float_fast5" /
// "float_to_half_fast3_rtne"): exact, ties to even, vectorizes on any ISA.
SK_CLONES void sk_f16_to_f32(const void *src, size_t n, float *dst) {
    const uint8_t *s = (const uint8_t *)src;
    const float denorm_adjust = bits_to_f32(113u << 23);
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        uint32_t o = (uint32_t)(h & 0x7fff) << 13;
        uint32_t exp = o & (0x7c00u << 13);
        o += (127u - 15u) << 23;
        float f;
        if (exp == (0x7c00u << 13)) {
            o += (128u - 16u) << 23;  // Inf/NaN
            f = bits_to_f32(o);
        } else if (exp == 0) {
            o += 1u << 23;  // zero/subnormal: renormalize through the FPU
            f = bits_to_f32(o) - denorm_adjust;
        } else {
            f = bits_to_f32(o);
        }
        dst[i] = bits_to_f32(f32_to_bits(f) | ((uint32_t)(h & 0x8000) << 16));
    }
}

SK_CLONES void sk_f32_to_f16(const float *src, size_t n, void *dst) {
    uint8_t *d = (uint8_t *)dst;
    const uint32_t f32infty = 255u << 23, f16max = (127u + 16u) << 23;
    const uint32_t denorm_magic_bits = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    const float denorm_magic = bits_to_f32(denorm_magic_bits);
    for (size_t i = 0; i < n; i++) {
        uint32_t f = f32_to_bits(src[i]);
        uint32_t sign = f & 0x80000000u;
        f ^= sign;
        uint16_t o;
        if (f >= f16max) {
            o = f > f32infty ? 0x7e00 : 0x7c00;
        } else if (f < (113u << 23)) {
            float v = bits_to_f32(f) + denorm_magic;
            o = (uint16_t)(f32_to_bits(v) - denorm_magic_bits);
        } else {
            uint32_t mant_odd = (f >> 13) & 1;
            f += ((uint32_t)(15 - 127) << 23) + 0xfff;
            f += mant_odd;
            o = (uint16_t)(f >> 13);
        }
        o |= (uint16_t)(sign >> 16);
        memcpy(d + 2 * i, &o, 2);
    }
}

SK_CLONES void sk_bf16_to_f32(const void *src, size_t n, float *dst) {
    const uint8_t *s = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = bits_to_f32((uint32_t)h << 16);
    }
}

SK_CLONES void sk_f32_to_bf16(const float *src, size_t n, void *dst) {
    uint8_t *d = (uint8_t *)dst;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = f32_to_bits(src[i]);
        uint16_t o;
        if ((u & 0x7fffffffu) > 0x7f800000u) o = (uint16_t)((u >> 16) | 0x40);  // quiet NaN
        else o = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
        memcpy(d + 2 * i, &o, 2);
    }
}

// OCP 8-bit floats as PyTorch's float8_e4m3fn (bias 7, no Inf, S.1111.111 is NaN)
// and float8_e5m2 (bias 15, IEEE-like Inf/NaN).
void sk_f8e4m3_to_f32(const void *src, size_t n, float *dst) {
    const uint8_t *s = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = s[i];
        int e = (b >> 3) & 0xF, m = b & 7;
        float v;
        if (e == 15 && m == 7) v = NAN;
        else if (e == 0) v = ldexpf((float)m, -9);
        else v = ldexpf(1.0f + (float)m / 8.0f, e - 7);
        dst[i] = (b & 0x80) ? -v : v;
    }
}

void sk_f8e5m2_to_f32(const void *src, size_t n, float *dst) {
    const uint8_t *s = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = s[i];
        int e = (b >> 2) & 0x1F, m = b & 3;
        float v;
        if (e == 31) v = m == 0 ? INFINITY : NAN;
        else if (e == 0) v = ldexpf((float)m, -16);
        else v = ldexpf(1.0f + (float)m / 4.0f, e - 15);
        dst[i] = (b & 0x80) ? -v : v;
    }
}

void sk_load_f32(const void *src, size_t n, float *dst) { memcpy(dst, src, n * sizeof(float)); }

SK_CLONES void sk_f64_to_f32(const void *src, size_t n, float *dst) {
    const uint8_t *s = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++) {
        double d;
        memcpy(&d, s + 8 * i, 8);
        dst[i] = (float)d;
    }
}

#if defined(__GLIBC__)
#include <malloc.h>
void sk_reuse_large_allocations(void) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
}
void sk_return_freed_memory(void) { malloc_trim(0); }
#else
void sk_reuse_large_allocations(void) {}
void sk_return_freed_memory(void) {}
#endif

const char *sk_isa(void) {
#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2")) return "avx2";
    return "default";
#elif defined(__aarch64__)
    return "neon";
#else
    return "default";
#endif
}
