// Log-softmax reductions for language-model scoring, matching llama.cpp's tools/perplexity/perplexity.cpp
// (log_softmax, and the KL-divergence loop of the --kl-divergence mode): max in float, exp terms in float,
// their sum in double; the KLD skips entries with log p_base ≤ cutoff.
#include "shrink_logprob.h"
#include "exp_inline.h"

#include <math.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define SK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SK_CLONES
#endif

static void max_argmax(const float *x, size_t n, float *max, uint32_t *argmax) {
    float m = x[0];
    {
#pragma clang fp reassociate(on)
        for (size_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    }
    uint32_t a = 0;
    while (a < n && x[a] != m) a++;
    *max = m;
    *argmax = a;
}

SK_CLONES void sk_logsumexp_row(const float *x, size_t n, sk_logsumexp_t *out) {
    max_argmax(x, n, &out->max, &out->argmax);
    const float m = out->max;
    double sum = 0;
    {
#pragma clang fp reassociate(on)
        for (size_t i = 0; i < n; i++) sum += (double)exp_inline(x[i] - m);
    }
    out->sum_exp = sum;
}

SK_CLONES double sk_kl_divergence_row(const float *base, const sk_logsumexp_t *b, const float *q, const sk_logsumexp_t *qs,
                                      size_t n, float cutoff) {
    const float shift_b = b->max + (float)log(b->sum_exp), shift_q = qs->max + (float)log(qs->sum_exp);
    double sum = 0;
    {
#pragma clang fp reassociate(on)
        for (size_t i = 0; i < n; i++) {
            float lb = base[i] - shift_b, lq = q[i] - shift_q;
            float term = exp_inline(lb) * (lb - lq);
            sum += lb > cutoff ? (double)term : 0.0;
        }
    }
    return sum;
}

void sk_logsumexp_row_reference(const float *x, size_t n, sk_logsumexp_t *out) {
    float m = x[0];
    uint32_t a = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > m) { m = x[i]; a = (uint32_t)i; }
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += expf(x[i] - m);
    out->max = m;
    out->argmax = a;
    out->sum_exp = sum;
}

double sk_kl_divergence_row_reference(const float *base, const sk_logsumexp_t *b, const float *q, const sk_logsumexp_t *qs,
                                      size_t n, float cutoff) {
    const float shift_b = b->max + (float)log(b->sum_exp), shift_q = qs->max + (float)log(qs->sum_exp);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        float lb = base[i] - shift_b;
        if (lb > cutoff) sum += expf(lb) * (lb - (q[i] - shift_q));
    }
    return sum;
}
