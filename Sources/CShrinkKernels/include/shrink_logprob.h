#ifndef SHRINK_LOGPROB_H
#define SHRINK_LOGPROB_H

#include <stddef.h>
#include <stdint.h>

/// A row of logits reduced for log-softmax: log Σ exp(x) = max + log(sum_exp).
typedef struct {
    float max;
    /// The first index holding `max`.
    uint32_t argmax;
    /// Σ exp(x_i − max), each term in float, summed in double (as llama-perplexity's log_softmax does).
    double sum_exp;
} sk_logsumexp_t;

void sk_logsumexp_row(const float *x, size_t n, sk_logsumexp_t *out);

/// KL(p_base ‖ q) of one position from two rows of logits and their reductions, in nats, summing only the entries
/// with log p_base > cutoff (llama-perplexity uses −16).
double sk_kl_divergence_row(const float *base, const sk_logsumexp_t *b, const float *q, const sk_logsumexp_t *qs,
                            size_t n, float cutoff);

/// Scalar references of the two (plain loops, libm expf), which the fast versions are tested against.
void sk_logsumexp_row_reference(const float *x, size_t n, sk_logsumexp_t *out);
double sk_kl_divergence_row_reference(const float *base, const sk_logsumexp_t *b, const float *q, const sk_logsumexp_t *qs,
                                      size_t n, float cutoff);

#endif
