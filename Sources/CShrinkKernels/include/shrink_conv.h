// Kernels of a convolutional VAE forward pass (float32): 2-D convolution as im2col + the packed SGEMM
// (shrink_gemm.h), GroupNorm, SiLU, nearest-neighbour 2x upsampling and the sigmoid. The fast kernels work on
// channels-last images ([h·w, c], "HWC"); each has a scalar reference (`_ref`) in PyTorch's channels-first
// layout ([c, h, w], "CHW"), in double precision with libm exp, that the tests compare them against.
#ifndef SHRINK_CONV_H
#define SHRINK_CONV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output side of a convolution: (in + 2·pad − k) / stride + 1 (0 when the kernel does not fit).
size_t sk_conv_out_size(size_t in, size_t k, size_t stride, size_t pad);

/// cols [ho·wo, k·k·c]: row (oy, ox) holds the k×k window at (oy·stride − pad, ox·stride − pad) of the HWC image
/// x [h·w, c], ordered (ky, kx, channel), zeros outside the image. With the weight reordered to
/// [cout, ky, kx, cin], cols·Wᵀ + b is the convolution, channels-last.
void sk_im2col_hwc(const float *x, size_t h, size_t w, size_t c, size_t k, size_t stride, size_t pad, float *cols);

/// dst [cout, k, k, cin] = src [cout, cin, k, k] (PyTorch's Conv2d weight) reordered for sk_im2col_hwc.
void sk_conv_weight_to_hwc(const float *src, size_t cout, size_t cin, size_t k, float *dst);

/// torch.nn.functional.conv2d on one CHW image: y [cout, ho, wo] = Σ w[o, i, ky, kx]·x[i, oy·s − p + ky, ox·s − p + kx]
/// + b[o] (zero padding; b may be NULL), summed in double.
void sk_conv2d_chw_ref(const float *x, size_t cin, size_t h, size_t w, const float *weight, const float *bias,
                       size_t cout, size_t k, size_t stride, size_t pad, float *y);

/// torch.nn.GroupNorm (Wu & He 2018) on one HWC image x [hw, c], in place allowed: each of `groups` groups of
/// c/groups consecutive channels is normalised over its channels and all positions with the biased variance,
/// then y = x̂·gamma[ch] + beta[ch]; followed by SiLU when `silu` is non-zero.
void sk_group_norm_hwc(const float *x, size_t hw, size_t c, size_t groups, float eps, const float *gamma,
                       const float *beta, int silu, float *y);
/// The same on one CHW image x [c, hw], in double, two passes.
void sk_group_norm_chw_ref(const float *x, size_t hw, size_t c, size_t groups, float eps, const float *gamma,
                           const float *beta, int silu, float *y);

/// x ← x·σ(x) (SiLU, Elfwing et al. 2018) in place.
void sk_silu(float *x, size_t n);
void sk_silu_ref(float *x, size_t n);

/// x ← 1 / (1 + e^−x) in place.
void sk_sigmoid(float *x, size_t n);
void sk_sigmoid_ref(float *x, size_t n);

/// y [2h·2w, c] = nearest-neighbour 2x upsampling of the HWC image x [h·w, c].
void sk_upsample_nearest2x_hwc(const float *x, size_t h, size_t w, size_t c, float *y);
/// torch.nn.functional.interpolate(mode="nearest") of a CHW image to [c, oh, ow]: source index
/// floor(o · in / out) per axis (PyTorch's "nearest", not "nearest-exact").
void sk_upsample_nearest_chw_ref(const float *x, size_t c, size_t h, size_t w, size_t oh, size_t ow, float *y);

#ifdef __cplusplus
}
#endif
#endif
