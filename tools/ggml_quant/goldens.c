// Goldens for Shrink's ggml quantizers (Sources/CShrinkKernels/ggml_quant.c), from llama.cpp's own library:
// ggml_quantize_chunk (no importance matrix = quantize_row_<type>_ref, what llama-quantize writes) of fixed,
// seeded rows, including edge cases. Built against vendor/llama.cpp's libggml-base.a by tools/ggml_quant/make_goldens.sh.
//
// Writes into the directory given as argv[1]:
//   inputs.f32       CASES rows of N little-endian floats (the cases below, in order)
//   <type>.bin       ggml_quantize_chunk(<type>, inputs, rows = CASES, n_per_row = N), for the 10 block types
//   importance.f32   N per-column importance weights (an imatrix: positive, spread over two decades, a few zeros)
//   <type>_imatrix.bin  the same with importance.f32 as quant_weights (quantize_row_<type>_impl)
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"

#define N 512
#define CASES 14

static uint64_t state = 0x5eed5eed12345678ull;
static uint64_t next_u64(void) {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float uniform(void) { return (float)((next_u64() >> 40) * (1.0 / 16777216.0)); }  // [0, 1)
static float gauss(void) {
    double u1 = ((next_u64() >> 11) + 1) * (1.0 / 9007199254740993.0), u2 = (next_u64() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

static const char *case_names[CASES] = {
    "gauss_1", "gauss_0.02", "zero", "const_0.5", "const_-3", "huge_1e4", "tiny_1e-6", "tiny_1e-9",
    "outlier", "uniform_pos", "uniform_neg", "half_zero", "integers", "ties_x.5",
};

static void fill(int c, float *x) {
    for (int i = 0; i < N; i++) {
        switch (c) {
        case 0: x[i] = gauss(); break;
        case 1: x[i] = 0.02f * gauss(); break;
        case 2: x[i] = 0; break;
        case 3: x[i] = 0.5f; break;
        case 4: x[i] = -3; break;
        case 5: x[i] = 1e4f * gauss(); break;
        case 6: x[i] = 1e-6f * gauss(); break;
        case 7: x[i] = 1e-9f * gauss(); break;
        case 8: x[i] = 0.02f * gauss(); break;
        case 9: x[i] = uniform(); break;
        case 10: x[i] = -uniform(); break;
        case 11: x[i] = (i / 16) % 2 ? 0.1f * gauss() : 0; break;
        case 12: x[i] = (float)((int)(next_u64() % 16) - 8); break;
        case 13: x[i] = 0.5f * (float)((int)(next_u64() % 33) - 16); break;
        }
    }
    if (c == 8) { x[37] = 5.0f; x[300] = -4.0f; }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUTDIR\n", argv[0]); return 2; }
    static float x[CASES * N];
    for (int c = 0; c < CASES; c++) fill(c, x + c * N);
    char path[4096];
    snprintf(path, sizeof path, "%s/inputs.f32", argv[1]);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof(float), CASES * N, f) != CASES * N || fclose(f)) { perror(path); return 1; }
    const enum ggml_type types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0,
                                    GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
    static float importance[N];
    for (int i = 0; i < N; i++) importance[i] = i % 97 == 5 ? 0.0f : 0.05f * expf(4.6f * uniform());
    snprintf(path, sizeof path, "%s/importance.f32", argv[1]);
    f = fopen(path, "wb");
    if (!f || fwrite(importance, sizeof(float), N, f) != N || fclose(f)) { perror(path); return 1; }
    for (int weighted = 0; weighted < 2; weighted++) {
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            size_t bytes = ggml_row_size(types[t], N) * CASES;
            void *y = calloc(1, bytes);
            size_t wrote = ggml_quantize_chunk(types[t], x, y, 0, CASES, N, weighted ? importance : NULL);
            if (wrote != bytes) { fprintf(stderr, "%s: wrote %zu of %zu bytes\n", ggml_type_name(types[t]), wrote, bytes); return 1; }
            snprintf(path, sizeof path, "%s/%s%s.bin", argv[1], ggml_type_name(types[t]), weighted ? "_imatrix" : "");
            f = fopen(path, "wb");
            if (!f || fwrite(y, 1, bytes, f) != bytes || fclose(f)) { perror(path); return 1; }
            free(y);
        }
    }
    for (int c = 0; c < CASES; c++) printf("%d %s\n", c, case_names[c]);
    return 0;
}
