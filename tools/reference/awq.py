"""AWQ reference in PyTorch (CPU): activation-aware per-input-channel scaling.

AWQ: Lin et al., "AWQ: Activation-aware Weight Quantization for LLM
Compression and Acceleration", arXiv 2306.00978. Follows the scale search of
the published implementation (mit-han-lab/llm-awq, `auto_scale._search_module_scale`)
for one linear layer; the weight-clipping search (`auto_clip`) is not part of it.

What `awq()` computes, for W [out, in] float32 and calibration inputs X [n, in]:

  a_j      = mean_n |X[n, j]|                                   (float64; or given as `mean_abs`)
  for alpha in {0, 1/20, ..., 19/20}:
    t_j    = max(a_j ** alpha, 1e-4)                            (float64; 0 ** 0 = 1)
    s_j    = float32( t_j / sqrt(max_j t_j * min_j t_j) )       (float64, then rounded once to float32)
    Ws     = W * s[None, :]                                     (float32: column j of W times s_j)
    codes, scale, zero = RTN(Ws)                                (min-max round-to-nearest, tools/ctref.py)
    Ws^    = (codes - zero) * scale                             (float32)
    W^     = Ws^ / s[None, :]                                   (float32, true division)
    err    = ||X W^T - X W^^T||_F^2 / ||X W^T||_F^2             (float64; or tr(E H E^T)/tr(W H W^T) with H)
  best alpha = first alpha with the smallest err (strict <, as the reference).

Folding (what a deployment does with the result; the reference computes
exactly these tensors):
  * The stored quantized tensor is Q(W·diag(s)): `codes`, `scale`,
    `zero_point` above, in the usual compressed-tensors layout. Dequantizing
    it gives Ws^ = W^·diag(s), NOT an approximation of W.
  * The per-input-channel vector s must be undone on the input side:
        y = x W^T ≈ (x · diag(1/s)) · Ws^^T.
    The reference implementation folds 1/s into the previous op
    (`prev_op.weight /= s`: RMSNorm weight, or the rows of the previous
    linear's weight, i.e. output channel j of the previous layer divided by s_j)
    so no extra op runs at inference. For layers whose input has no such
    scalable producer (e.g. Shrink's weightless rms_norm), keep s as a separate
    float32 vector [in] and divide the activation by it before the matmul, or
    equivalently use W^ = Ws^ / s (what `dequantized` returns) as the effective
    weight -- that W^ is what the error above is measured on.
  * s is normalised so that sqrt(max s · min s) = 1 (scales are centred around 1).
"""

from __future__ import annotations

import math
import os
import sys
from typing import List, NamedTuple, Optional

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gptq import hessian_output_error, layer_output_error, rtn  # noqa: E402

N_GRID = 20
MIN_SCALE = 1e-4


class AWQResult(NamedTuple):
    alpha: float
    s: torch.Tensor                 # float32 [in]: per-input-channel scale (W is multiplied by it)
    codes: torch.Tensor             # int8 [out, in]: codes of Q(W·diag(s))
    scale: torch.Tensor             # float32 [1] | [out, 1] | [out, in/g]
    zero_point: torch.Tensor        # int8, same shape as scale
    scaled_dequantized: torch.Tensor  # float32 [out, in]: Q(W·diag(s)) dequantized
    dequantized: torch.Tensor       # float32 [out, in]: Q(W·diag(s)) / s, the effective weight
    errors: List[float]             # relative output error per alpha (grid order)


def mean_abs(X) -> torch.Tensor:
    """mean |x| per input channel, float64."""
    return torch.as_tensor(X).to(torch.float64).abs().mean(0)


def awq_scales(a: torch.Tensor, alpha: float) -> torch.Tensor:
    """s (float32 [in]) for activation magnitudes a (float64 [in]) and exponent alpha."""
    t = torch.as_tensor(a, dtype=torch.float64).pow(alpha).clamp(min=MIN_SCALE)
    t = t / math.sqrt(float(t.max()) * float(t.min()))
    return t.to(torch.float32)


@torch.no_grad()
def awq(W, X=None, *, H=None, mean_abs_x=None, bits: int = 4, granularity: str = "group",
        group: Optional[int] = 128, symmetric: bool = True, n_grid: int = N_GRID) -> AWQResult:
    """Grid-search alpha; error measured with X (preferred) or with H = 2 X^T X / n.

    mean_abs_x (float64 [in]) defaults to mean |X| over the rows of X; it is
    required when only H is given.
    """
    W = torch.as_tensor(W).to(torch.float32)
    if X is None and H is None:
        raise ValueError("give X or H")
    if mean_abs_x is None:
        if X is None:
            raise ValueError("mean_abs_x is needed when X is not given")
        mean_abs_x = mean_abs(X)
    a = torch.as_tensor(mean_abs_x).to(torch.float64)

    def err(What):
        return layer_output_error(W, What, X) if X is not None else hessian_output_error(W, What, H)

    best = None
    errors = []
    for k in range(n_grid):
        alpha = k / n_grid
        s = awq_scales(a, alpha)
        q = rtn(W * s[None, :], bits, granularity, group, symmetric)
        What = q.dequantized / s[None, :]
        e = err(What)
        errors.append(e)
        if best is None or e < best[0]:
            best = (e, alpha, s, q, What)
    _, alpha, s, q, What = best
    return AWQResult(alpha, s, q.codes, q.scale, q.zero_point, q.dequantized, What, errors)
