// GPTQ linear algebra: see shrink_gptq.h. The blocked algorithms follow LAPACK's
// dpotrf (right-looking, lower) and dtrtri (lower, non-unit); the register-tiled
// update imitates gemm.c (6×8 doubles: 12 accumulators, 2 panel loads and 6
// broadcasts per k) with the packed panel of one k-chunk kept in L1.
#include "shrink_gptq.h"
#include "shrink_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

// Scalar parts round exactly as written (no fused multiply-add), like the Swift
// reference the tests compare against; the vector kernels use FMA explicitly.
#pragma STDC FP_CONTRACT OFF

enum { DR = 6, DN = 8, KC = 256, MC = 96 };

void sk_dpack_rows(const double *b, size_t ldb, size_t ncols, size_t k, double *out) {
    size_t panels = (ncols + DN - 1) / DN;
    for (size_t p = 0; p < panels; p++) {
        double *dst = out + p * DN * k;
        for (size_t j = 0; j < DN; j++) {
            size_t col = p * DN + j;
            if (col < ncols) {
                const double *src = b + col * ldb;
                for (size_t kk = 0; kk < k; kk++) dst[kk * DN + j] = src[kk];
            } else {
                for (size_t kk = 0; kk < k; kk++) dst[kk * DN + j] = 0;
            }
        }
    }
}

void sk_dpack_cols(const double *b, size_t ldb, size_t k, size_t ncols, double *out) {
    size_t panels = (ncols + DN - 1) / DN;
    for (size_t p = 0; p < panels; p++) {
        double *dst = out + p * DN * k;
        size_t c0 = p * DN, w = ncols - c0 < DN ? ncols - c0 : DN;
        for (size_t kk = 0; kk < k; kk++) {
            const double *src = b + kk * ldb + c0;
            size_t j = 0;
            for (; j < w; j++) dst[kk * DN + j] = src[j];
            for (; j < DN; j++) dst[kk * DN + j] = 0;
        }
    }
}

static void dmicro_portable(const double *a, size_t lda, size_t rows, const double *b, size_t k, double acc[DR][DN]) {
    for (size_t r = 0; r < DR; r++)
        for (size_t j = 0; j < DN; j++) acc[r][j] = 0;
    for (size_t kk = 0; kk < k; kk++) {
        const double *bk = b + kk * DN;
        for (size_t r = 0; r < rows; r++) {
            double x = a[r * lda + kk];
            for (size_t j = 0; j < DN; j++) acc[r][j] += x * bk[j];
        }
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define SK_GPTQ_AVX2 1

__attribute__((target("avx2,fma"))) static void dmicro_avx2(const double *a, size_t lda, size_t rows, const double *b, size_t k,
                                                             double acc[DR][DN]) {
    __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256d c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const double *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    // Rows past the edge read row 0 again; their results are discarded.
    if (rows < 2) a1 = a0;
    if (rows < 3) a2 = a0;
    if (rows < 4) a3 = a0;
    if (rows < 5) a4 = a0;
    if (rows < 6) a5 = a0;
    for (size_t kk = 0; kk < k; kk++) {
        __m256d b0 = _mm256_loadu_pd(b + kk * DN), b1 = _mm256_loadu_pd(b + kk * DN + 4);
        __m256d x;
        x = _mm256_broadcast_sd(a0 + kk); c00 = _mm256_fmadd_pd(x, b0, c00); c01 = _mm256_fmadd_pd(x, b1, c01);
        x = _mm256_broadcast_sd(a1 + kk); c10 = _mm256_fmadd_pd(x, b0, c10); c11 = _mm256_fmadd_pd(x, b1, c11);
        x = _mm256_broadcast_sd(a2 + kk); c20 = _mm256_fmadd_pd(x, b0, c20); c21 = _mm256_fmadd_pd(x, b1, c21);
        x = _mm256_broadcast_sd(a3 + kk); c30 = _mm256_fmadd_pd(x, b0, c30); c31 = _mm256_fmadd_pd(x, b1, c31);
        x = _mm256_broadcast_sd(a4 + kk); c40 = _mm256_fmadd_pd(x, b0, c40); c41 = _mm256_fmadd_pd(x, b1, c41);
        x = _mm256_broadcast_sd(a5 + kk); c50 = _mm256_fmadd_pd(x, b0, c50); c51 = _mm256_fmadd_pd(x, b1, c51);
    }
    _mm256_storeu_pd(acc[0], c00); _mm256_storeu_pd(acc[0] + 4, c01);
    _mm256_storeu_pd(acc[1], c10); _mm256_storeu_pd(acc[1] + 4, c11);
    _mm256_storeu_pd(acc[2], c20); _mm256_storeu_pd(acc[2] + 4, c21);
    _mm256_storeu_pd(acc[3], c30); _mm256_storeu_pd(acc[3] + 4, c31);
    _mm256_storeu_pd(acc[4], c40); _mm256_storeu_pd(acc[4] + 4, c41);
    _mm256_storeu_pd(acc[5], c50); _mm256_storeu_pd(acc[5] + 4, c51);
}

__attribute__((target("avx2,fma"))) static double ddot_avx2(const double *x, const double *y, size_t n) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i), s0);
        s1 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 4), _mm256_loadu_pd(y + i + 4), s1);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}
#endif

static double ddot_portable(const double *x, const double *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

static double ddot(const double *x, const double *y, size_t n) {
#ifdef SK_GPTQ_AVX2
    if (sk_has_avx2_fma()) return ddot_avx2(x, y, n);
#endif
    return ddot_portable(x, y, n);
}

void sk_dgemm_packed(double *c, size_t ldc, const double *a, size_t lda, size_t m, size_t k,
                     const double *bp, size_t panel_stride, size_t ncols, double alpha, int accumulate,
                     int triangle, size_t tri_base) {
    void (*micro)(const double *, size_t, size_t, const double *, size_t, double[DR][DN]) = dmicro_portable;
#ifdef SK_GPTQ_AVX2
    if (sk_has_avx2_fma()) micro = dmicro_avx2;
#endif
    double acc[DR][DN];
    for (size_t b0 = 0; b0 < m; b0 += MC) {
        size_t b1 = m - b0 < MC ? m : b0 + MC;
        size_t cols = ncols, kmax = k;
        if (triangle == 1 && tri_base + b1 < cols) cols = tri_base + b1;
        if (triangle == 2 && tri_base + b1 < kmax) kmax = tri_base + b1;
        size_t panels = (cols + DN - 1) / DN;
        for (size_t k0 = 0; k0 < kmax; k0 += KC) {
            size_t kc = kmax - k0 < KC ? kmax - k0 : KC;
            int add = accumulate || k0 > 0;
            for (size_t p = 0; p < panels; p++) {
                const double *panel = bp + p * panel_stride + k0 * DN;
                size_t c0 = p * DN, w = cols - c0 < DN ? cols - c0 : DN;
                for (size_t r0 = b0; r0 < b1; r0 += DR) {
                    size_t rows = b1 - r0 < DR ? b1 - r0 : DR;
                    // Rows of a lower-triangular A past their diagonal contribute zeros;
                    // a whole tile beyond every row's diagonal is skipped.
                    if (triangle == 2 && k0 > tri_base + r0 + rows - 1) {
                        if (!add) {
                            for (size_t r = 0; r < rows; r++) memset(c + (r0 + r) * ldc + c0, 0, w * sizeof(double));
                        }
                        continue;
                    }
                    micro(a + r0 * lda + k0, lda, rows, panel, kc, acc);
                    for (size_t r = 0; r < rows; r++) {
                        double *out = c + (r0 + r) * ldc + c0;
                        for (size_t j = 0; j < w; j++) {
                            double v = alpha * acc[r][j];
                            out[j] = add ? out[j] + v : v;
                        }
                    }
                }
            }
        }
    }
}

int sk_dpotrf_lower(double *a, size_t lda, size_t nb) {
    for (size_t j = 0; j < nb; j++) {
        double *rj = a + j * lda;
        double d = rj[j] - ddot(rj, rj, j);
        if (!(d > 0) || !isfinite(d)) return (int)j + 1;
        double l = sqrt(d);
        rj[j] = l;
        for (size_t i = j + 1; i < nb; i++) {
            double *ri = a + i * lda;
            ri[j] = (ri[j] - ddot(ri, rj, j)) / l;
        }
    }
    return 0;
}

void sk_dtrsm_lower_t(const double *l, size_t ldl, size_t nb, double *b, size_t ldb, size_t rows) {
    for (size_t r = 0; r < rows; r++) {
        double *x = b + r * ldb;
        for (size_t c = 0; c < nb; c++) {
            const double *lc = l + c * ldl;
            x[c] = (x[c] - ddot(x, lc, c)) / lc[c];
        }
    }
}

void sk_dtrsm_lower_neg(const double *l, size_t ldl, size_t nb, double *b, size_t ldb, size_t rows) {
    // Lᵀ's rows are L's columns: transpose the small block once so each step is a contiguous dot.
    double *lt = malloc(nb * nb * sizeof(double));
    if (!lt) {
        for (size_t r = 0; r < rows; r++) {
            double *x = b + r * ldb;
            for (size_t c = nb; c-- > 0;) {
                double s = -x[c];
                for (size_t k = c + 1; k < nb; k++) s -= x[k] * l[k * ldl + c];
                x[c] = s / l[c * ldl + c];
            }
        }
        return;
    }
    for (size_t c = 0; c < nb; c++)
        for (size_t k = c; k < nb; k++) lt[c * nb + k] = l[k * ldl + c];
    for (size_t r = 0; r < rows; r++) {
        double *x = b + r * ldb;
        for (size_t c = nb; c-- > 0;) {
            const double *row = lt + c * nb;
            x[c] = (-x[c] - ddot(x + c + 1, row + c + 1, nb - c - 1)) / row[c];
        }
    }
    free(lt);
}

void sk_dtrti2_lower(double *a, size_t lda, size_t nb) {
    for (size_t j = nb; j-- > 0;) {
        a[j * lda + j] = 1.0 / a[j * lda + j];
        double ajj = -a[j * lda + j];
        // x = A[j+1:, j] := T · x with T = the already inverted A[j+1:, j+1:]; bottom up keeps x's inputs intact.
        for (size_t i = nb; i-- > j + 1;) {
            double s = 0;
            for (size_t k = j + 1; k <= i; k++) s += a[i * lda + k] * a[k * lda + j];
            a[i * lda + j] = s * ajj;
        }
    }
}

void sk_dzero_upper(double *a, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) memset(a + i * n + i + 1, 0, (n - i - 1) * sizeof(double));
}

void sk_dreflect_anti(double *a, size_t n) {
    // Pair (i, j), i ≥ j, with (n−1−j, n−1−i); each pair once: i + j < n − 1.
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j <= i && i + j + 1 < n; j++) {
            double *p = a + i * n + j, *q = a + (n - 1 - j) * n + (n - 1 - i);
            double t = *p; *p = *q; *q = t;
        }
    }
}

void sk_d2f_inplace(double *a, size_t count) {
    float *f = (float *)a;
    // Float i (bytes 4i..4i+3) never overwrites a double not yet read (bytes 8j, j ≥ i).
    for (size_t i = 0; i < count; i++) {
        double v = a[i];
        f[i] = (float)v;
    }
}

void *sk_big_alloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void sk_big_trim(void *p, size_t bytes, size_t keep) {
    size_t page = 4096;
    size_t start = (keep + page - 1) / page * page;
    if (start < bytes) madvise((char *)p + start, bytes - start, MADV_DONTNEED);
}

void sk_big_free(void *p, size_t bytes) {
    if (p) munmap(p, bytes == 0 ? 1 : bytes);
}

// Magic-number rounding (ties to even under the default rounding mode), as kernels.c:
// exact for |v| < 2^22, which clamped codes always are.
static inline float round_even(float v) {
    const float magic = 12582912.0f;  // 1.5 · 2^23
    float t = v + magic;
    return t - magic;
}

// One weight on `grid` (see sk_gptq_block): its level t (returned through *level) and x̂.
static inline float quantize_one(float v, float s, float z, int grid, float qmin, float qmax, float *level) {
    float t, dq;
    if (grid == 0) {
        t = v / s + z;
        t = t < qmin ? qmin : (t > qmax ? qmax : t);
        t = round_even(t);
        dq = (t - z) * s;
    } else {
        t = s > 0 ? (v - z) / s : 0.0f;
        t = t < qmin ? qmin : (t > qmax ? qmax : t);
        t = round_even(t);
        float p = t * s;
        dq = p + z;
    }
    *level = t;
    return dq;
}

void sk_gptq_block(float *w, size_t rows, size_t ldw, size_t count, const float *ublk,
                   const float *scale, const float *zero, int grid, float qmin, float qmax,
                   float code_offset, int8_t *codes, size_t ldcodes, float *negerr) {
    for (size_t r = 0; r < rows; r++) {
        float *x = w + r * ldw;
        const float *s = scale + r * count, *z = zero + r * count;
        float *e = negerr + r * count;
        int8_t *q = codes + r * ldcodes;
        for (size_t k = 0; k < count; k++) {
            float v = x[k], t;
            float dq = quantize_one(v, s[k], z[k], grid, qmin, qmax, &t);
            q[k] = (int8_t)(t + code_offset);
            const float *u = ublk + k * count;
            float err = (v - dq) / u[k];
            e[k] = -err;
            for (size_t j = k + 1; j < count; j++) {
                float d = err * u[j];
                x[j] = x[j] - d;
            }
        }
    }
}

void sk_quantize_affine_f32(const float *x, size_t n, float d, float m, float qmax, float code_offset,
                            int8_t *q, float *out) {
    for (size_t i = 0; i < n; i++) {
        float t = d > 0 ? (x[i] - m) / d : 0.0f;
        t = t < 0 ? 0 : (t > qmax ? qmax : t);
        t = round_even(t);
        q[i] = (int8_t)(t + code_offset);
        float p = t * d;
        out[i] = p + m;
    }
}

void sk_sparsegpt_block(float *w, size_t rows, size_t ldw, size_t count, const float *ublk,
                        uint8_t *pruned, size_t ldp, int prune_m, int prune_k, int quantize,
                        const float *scale, const float *zero, int grid, float qmin, float qmax,
                        float code_offset, int8_t *codes, size_t ldcodes, float *negerr) {
    float sc[64];
    for (size_t r = 0; r < rows; r++) {
        float *x = w + r * ldw;
        uint8_t *p = pruned + r * ldp;
        float *e = negerr + r * count;
        for (size_t k = 0; k < count; k++) {
            if (prune_m > 0 && k % (size_t)prune_m == 0) {
                // OBS scores of the next M columns as updated so far: w² / [H⁻¹]_jj (U_jj² = [H⁻¹]_jj in the
                // reference's Cholesky form); the prune_k smallest go, ties to the lower column.
                size_t m = (size_t)prune_m;
                for (size_t j = 0; j < m; j++) {
                    float d = ublk[(k + j) * count + k + j];
                    float v = x[k + j];
                    float num = v * v, den = d * d;
                    sc[j] = num / den;
                    p[k + j] = 0;
                }
                for (int t = 0; t < prune_k; t++) {
                    size_t best = m;
                    for (size_t j = 0; j < m; j++)
                        if (!p[k + j] && (best == m || sc[j] < sc[best])) best = j;
                    p[k + best] = 1;
                }
            }
            float v = x[k], q;
            const float *u = ublk + k * count;
            if (quantize) {
                const float *s = scale + r * count, *z = zero + r * count;
                float t;
                q = quantize_one(p[k] ? 0.0f : v, s[k], z[k], grid, qmin, qmax, &t);
                codes[r * ldcodes + k] = (int8_t)(t + code_offset);
            } else {
                q = p[k] ? 0.0f : v;
            }
            float err = (v - q) / u[k];
            e[k] = -err;
            for (size_t j = k + 1; j < count; j++) {
                float d = err * u[j];
                x[j] = x[j] - d;
            }
            x[k] = q;
        }
    }
}
