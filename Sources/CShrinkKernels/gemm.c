#include "shrink_gemm.h"
#include "shrink_kernels.h"

#include <string.h>

enum { NR = 16, MR = 6 };

size_t sk_gemm_packed_count(size_t n, size_t k) { return (n + NR - 1) / NR * NR * k; }

void sk_gemm_pack(const float *w, size_t n, size_t k, size_t ldw, float *packed) {
    size_t panels = (n + NR - 1) / NR;
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * NR * k;
        for (size_t kk = 0; kk < k; kk++) {
            for (size_t j = 0; j < NR; j++) {
                size_t col = p * NR + j;
                dst[kk * NR + j] = col < n ? w[col * ldw + kk] : 0.0f;
            }
        }
    }
}

// Reference micro-kernel: acc[MR][NR] = X[rows, k] · panel. Portable; the
// compiler vectorizes the j loop.
static void micro_portable(const float *x, size_t ldx, size_t rows, const float *panel, size_t k, float acc[MR][NR]) {
    for (size_t r = 0; r < MR; r++)
        for (size_t j = 0; j < NR; j++) acc[r][j] = 0;
    for (size_t kk = 0; kk < k; kk++) {
        const float *b = panel + kk * NR;
        for (size_t r = 0; r < rows; r++) {
            float a = x[r * ldx + kk];
            for (size_t j = 0; j < NR; j++) acc[r][j] += a * b[j];
        }
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define SK_GEMM_AVX2 1

// 6×16 register tile: 12 accumulators, 2 panel loads and 6 broadcasts per k.
__attribute__((target("avx2,fma"))) static void micro_avx2(const float *x, size_t ldx, size_t rows, const float *panel, size_t k,
                                                            float acc[MR][NR]) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx, *x4 = x + 4 * ldx, *x5 = x + 5 * ldx;
    // Rows past the edge read row 0 again; their results are discarded.
    if (rows < 2) x1 = x0;
    if (rows < 3) x2 = x0;
    if (rows < 4) x3 = x0;
    if (rows < 5) x4 = x0;
    if (rows < 6) x5 = x0;
    for (size_t kk = 0; kk < k; kk++) {
        __m256 b0 = _mm256_loadu_ps(panel + kk * NR), b1 = _mm256_loadu_ps(panel + kk * NR + 8);
        __m256 a;
        a = _mm256_broadcast_ss(x0 + kk); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(x1 + kk); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(x2 + kk); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(x3 + kk); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(x4 + kk); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(x5 + kk); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
    }
    _mm256_storeu_ps(acc[0], c00); _mm256_storeu_ps(acc[0] + 8, c01);
    _mm256_storeu_ps(acc[1], c10); _mm256_storeu_ps(acc[1] + 8, c11);
    _mm256_storeu_ps(acc[2], c20); _mm256_storeu_ps(acc[2] + 8, c21);
    _mm256_storeu_ps(acc[3], c30); _mm256_storeu_ps(acc[3] + 8, c31);
    _mm256_storeu_ps(acc[4], c40); _mm256_storeu_ps(acc[4] + 8, c41);
    _mm256_storeu_ps(acc[5], c50); _mm256_storeu_ps(acc[5] + 8, c51);
}

// Adds bias (or not) and stores/accumulates a full 6×16 tile straight from registers.
__attribute__((target("avx2,fma"))) static void full_tile_avx2(const float *x, size_t ldx, const float *panel, size_t k,
                                                                const float *bias, float *y, size_t ldy, int accumulate) {
    __m256 c[MR][2];
    for (int r = 0; r < MR; r++) { c[r][0] = _mm256_setzero_ps(); c[r][1] = _mm256_setzero_ps(); }
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx, *x4 = x + 4 * ldx, *x5 = x + 5 * ldx;
    for (size_t kk = 0; kk < k; kk++) {
        __m256 b0 = _mm256_loadu_ps(panel + kk * NR), b1 = _mm256_loadu_ps(panel + kk * NR + 8);
        __m256 a;
        a = _mm256_broadcast_ss(x0 + kk); c[0][0] = _mm256_fmadd_ps(a, b0, c[0][0]); c[0][1] = _mm256_fmadd_ps(a, b1, c[0][1]);
        a = _mm256_broadcast_ss(x1 + kk); c[1][0] = _mm256_fmadd_ps(a, b0, c[1][0]); c[1][1] = _mm256_fmadd_ps(a, b1, c[1][1]);
        a = _mm256_broadcast_ss(x2 + kk); c[2][0] = _mm256_fmadd_ps(a, b0, c[2][0]); c[2][1] = _mm256_fmadd_ps(a, b1, c[2][1]);
        a = _mm256_broadcast_ss(x3 + kk); c[3][0] = _mm256_fmadd_ps(a, b0, c[3][0]); c[3][1] = _mm256_fmadd_ps(a, b1, c[3][1]);
        a = _mm256_broadcast_ss(x4 + kk); c[4][0] = _mm256_fmadd_ps(a, b0, c[4][0]); c[4][1] = _mm256_fmadd_ps(a, b1, c[4][1]);
        a = _mm256_broadcast_ss(x5 + kk); c[5][0] = _mm256_fmadd_ps(a, b0, c[5][0]); c[5][1] = _mm256_fmadd_ps(a, b1, c[5][1]);
    }
    __m256 bb0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps(), bb1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < MR; r++) {
        float *out = y + r * ldy;
        __m256 v0 = _mm256_add_ps(c[r][0], bb0), v1 = _mm256_add_ps(c[r][1], bb1);
        if (accumulate) { v0 = _mm256_add_ps(v0, _mm256_loadu_ps(out)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(out + 8)); }
        _mm256_storeu_ps(out, v0);
        _mm256_storeu_ps(out + 8, v1);
    }
}

#endif

void sk_gemm(const float *x, size_t m, size_t k, size_t ldx, const float *packed, size_t n,
             const float *bias, float *y, size_t ldy, int accumulate) {
    size_t panels = (n + NR - 1) / NR;
    void (*micro)(const float *, size_t, size_t, const float *, size_t, float[MR][NR]) = micro_portable;
    int fast = 0;
#ifdef SK_GEMM_AVX2
    if (sk_has_avx2_fma()) { micro = micro_avx2; fast = 1; }
#endif
    float acc[MR][NR];
    // Blocks of 72 rows of X stay in L2 while every packed panel (16·k floats, in
    // L1) passes over them.
    enum { MC = 72 };
    for (size_t b0 = 0; b0 < m; b0 += MC) {
        size_t b1 = m - b0 < MC ? m : b0 + MC;
        for (size_t p = 0; p < panels; p++) {
            const float *panel = packed + p * NR * k;
            size_t c0 = p * NR, cols = n - c0 < NR ? n - c0 : NR;
            for (size_t r0 = b0; r0 < b1; r0 += MR) {
                size_t rows = b1 - r0 < MR ? b1 - r0 : MR;
#ifdef SK_GEMM_AVX2
                if (fast && rows == MR && cols == NR) {
                    full_tile_avx2(x + r0 * ldx, ldx, panel, k, bias ? bias + c0 : NULL, y + r0 * ldy + c0, ldy, accumulate);
                    continue;
                }
#endif
                micro(x + r0 * ldx, ldx, rows, panel, k, acc);
                for (size_t r = 0; r < rows; r++) {
                    float *out = y + (r0 + r) * ldy + c0;
                    for (size_t j = 0; j < cols; j++) {
                        float v = acc[r][j] + (bias ? bias[c0 + j] : 0.0f);
                        out[j] = accumulate ? out[j] + v : v;
                    }
                }
            }
        }
    }
}
