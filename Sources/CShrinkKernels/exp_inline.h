#ifndef SK_EXP_INLINE_H
#define SK_EXP_INLINE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

// Cephes-style single-precision exp, branch-free so loops around it vectorize:
// x = n·ln2 + r, |r| ≤ ln2/2, exp(r) by a degree-6 polynomial, 2^n by exponent bits.
static inline __attribute__((always_inline)) float exp_inline(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    float t = x * 1.44269504088896341f;
    float n = (t + 12582912.0f) - 12582912.0f;  // round to nearest
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, 4);
    return p * s;
}

// s[t] = exp(s[t] − mx) for t < n, returning their sum (the body of a softmax row; the sum may be reassociated,
// so the loop vectorizes).
static inline __attribute__((always_inline)) float exp_shifted_sum(float *s, size_t n, float mx) {
    float sum = 0;
    {
#pragma clang fp reassociate(on)
        for (size_t t = 0; t < n; t++) {
            s[t] = exp_inline(s[t] - mx);
            sum += s[t];
        }
    }
    return sum;
}

#endif
