"""GPTQ reference in PyTorch (CPU), independent of the Swift implementation.

GPTQ: Frantar, Ashkboos, Hoefler, Alistarh, "GPTQ: Accurate Post-Training
Quantization for Generative Pre-trained Transformers", arXiv 2210.17323,
Algorithm 1. The structure follows the published reference implementation
(IST-DASLab/gptq, `GPTQ.fasterquant`); this file is written from that
description, not copied.

Quantization grid (Shrink = compressed-tensors 0.20.0 min-max observer; the
parameters come from tools/ctref.py `qparams`):
  codes q in [qmin, qmax] = [-2^(b-1), 2^(b-1)-1]; lo = min(min, 0), hi = max(max, 0)
  symmetric  s = max(|lo|, |hi|) / ((2^b-1)/2), z = 0
  asymmetric s = (hi-lo)/(2^b-1), z = round_half_even(clamp(qmin - lo/s, qmin, qmax))
  s == 0 -> float32 eps (2^-23)
  q = clamp(round_half_even(x/s + z), qmin, qmax)   (float32, true division)
  x^ = (q - z) * s
Granularity: "tensor" (scale [1]), "channel" (one range per row of W [out, in],
scale [out, 1]), "group" (g consecutive input columns of a row, scale [out, in/g]).

Algorithm as implemented by `gptq()` (every step in float32 unless stated):
  1. Dead inputs: i with H_ii == 0 -> H_ii = 1 and W[:, i] = 0.
  2. Quantization parameters that do not depend on the updates are taken from
     this W (after step 1, before any update):
       tensor: one range over the whole W;  channel: one range per row;
       group with static groups (the default when act_order): one range per
       (row, group of g consecutive columns in natural order).
     (The published code takes tensor/channel ranges *before* zeroing dead
     columns; here, as in Shrink, always after. It only matters if W has
     non-zero weights on dead inputs.)
  3. act_order: permutation = columns by decreasing H_ii (stable: ties keep
     the lower index); W and H are permuted.
  4. Damping: H += percdamp * mean(diag(H)) * I (mean after step 1).
  5. U = upper Cholesky factor of H^-1: L = chol(H), H^-1 = cholesky_inverse(L),
     U = chol(H^-1, upper=True)  [H^-1 = U^T U]. Steps 4-5 run in
     `chol_dtype` (default float64); U is then cast to float32.
  6. Blocks of `block_size` columns [i1, i2): W1 = W[:, i1:i2] (copy).
     For each column i of the block (absolute index c = i1+i, original column perm[c]):
       - non-static groups only, when perm[c] starts a group (perm[c] % g == 0):
         the group's range is taken from the weights of columns c..c+g-1 at
         that moment. `group_rule="reference"` (default; what the published
         code and Shrink's GPTQ.swift do): from W, i.e. as updated by the lazy
         updates of *earlier blocks* but not by the error feedback of earlier
         columns of the current block. `group_rule="eager"`: from the truly
         current weights (all feedback of columns < c applied; block-size
         independent). With one block (in <= block_size) "reference" equals
         static groups.
       - q = quantize(W1[:, i]), x^ = dequantize(q), err = (W1[:, i] - x^) / U[c, c]
       - W1[:, j] -= err * U[c, j] for the later columns j of the block.
     After the block (lazy batch update): W[:, i2:] -= Err1 @ U[i1:i2, i2:].
  7. Codes / dequantized weights are un-permuted to natural column order.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple, Optional

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ctref  # noqa: E402  (tools/ctref.py: compressed-tensors formulas)


class Quantized(NamedTuple):
    codes: torch.Tensor            # int8 [out, in]
    scale: torch.Tensor            # float32 [1] | [out, 1] | [out, in/g]
    zero_point: torch.Tensor       # int8, same shape as scale (zeros when symmetric)
    dequantized: torch.Tensor      # float32 [out, in]
    perm: Optional[torch.Tensor]   # int64 [in] column order used (act_order), else None


def _check_granularity(granularity: str, group: Optional[int], cols: int) -> int:
    if granularity == "tensor" or granularity == "channel":
        return cols
    if granularity == "group":
        if not group or group < 1:
            raise ValueError("granularity 'group' needs group >= 1")
        if cols % group:
            raise ValueError(f"group {group} does not divide the {cols} columns")
        return group
    raise ValueError(f"granularity must be tensor|channel|group, got {granularity!r}")


def qparams(lo: torch.Tensor, hi: torch.Tensor, bits: int, symmetric: bool):
    """(scale float32, zero point float32) from per-block min/max via ctref."""
    s, z = ctref.qparams(lo.detach().cpu().numpy(), hi.detach().cpu().numpy(), bits, symmetric)
    return torch.from_numpy(np.ascontiguousarray(s)), torch.from_numpy(z.astype(np.float32))


def quantize_column(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, bits: int):
    """Codes (float32 holding integers) and dequantized values of x with scale s, zero z."""
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    q = torch.clamp(torch.round(x / s + z), qmin, qmax)   # torch.round = half to even
    return q, (q - z) * s


def rtn(W, bits: int, granularity: str = "channel", group: Optional[int] = None,
        symmetric: bool = True) -> Quantized:
    """Round-to-nearest min-max (exactly tools/ctref.py `quantize`/`dequantize`)."""
    w = torch.as_tensor(W, dtype=torch.float32).numpy()
    _check_granularity(granularity, group, w.shape[1])
    codes, s, z = ctref.quantize(w, bits, symmetric, granularity, group)
    deq = ctref.dequantize(codes, s, None if symmetric else z, granularity, group)
    return Quantized(torch.from_numpy(codes), torch.from_numpy(s), torch.from_numpy(z),
                     torch.from_numpy(deq), None)


@torch.no_grad()
def gptq(W, H, bits: int = 4, granularity: str = "group", group: Optional[int] = 128,
         symmetric: bool = True, block_size: int = 128, percdamp: float = 0.01,
         act_order: bool = False, static_groups: Optional[bool] = None,
         group_rule: str = "reference", chol_dtype: torch.dtype = torch.float64) -> Quantized:
    """GPTQ-quantize W [out, in] (float32) given H = 2 X^T X / n [in, in].

    static_groups defaults to act_order (act order with groups needs them, so
    that a group is g consecutive *original* columns and the [out, in/g] scale
    layout holds). See the module docstring for every step.
    """
    W = torch.as_tensor(W).to(torch.float32).clone()
    H = torch.as_tensor(H).to(chol_dtype).clone()
    rows, n = W.shape
    if H.shape != (n, n):
        raise ValueError(f"H must be [{n}, {n}], got {tuple(H.shape)}")
    if not torch.isfinite(W).all() or not torch.isfinite(H).all():
        raise ValueError("W and H must be finite")
    g = _check_granularity(granularity, group, n)
    is_group = granularity == "group"
    if static_groups is None:
        static_groups = act_order
    if act_order and is_group and not static_groups:
        raise ValueError("act_order with groups needs static_groups (the scale layout assumes natural-order groups)")
    if group_rule not in ("reference", "eager"):
        raise ValueError("group_rule must be 'reference' or 'eager'")

    # 1. dead inputs
    dead = torch.diagonal(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0

    # 2. parameters that do not depend on the updates
    G = n // g
    if granularity == "tensor":
        s0, z0 = qparams(W.min().reshape(1), W.max().reshape(1), bits, symmetric)
        scale = s0.reshape(1, 1).expand(rows, 1).clone()
        zero = z0.reshape(1, 1).expand(rows, 1).clone()
    elif granularity == "channel" or static_groups:
        blk = W.reshape(rows, G, g)
        scale, zero = qparams(blk.amin(-1), blk.amax(-1), bits, symmetric)   # [rows, G]
    else:
        scale = torch.zeros(rows, G, dtype=torch.float32)
        zero = torch.zeros(rows, G, dtype=torch.float32)

    # 3. act order
    if act_order:
        perm = torch.argsort(torch.diagonal(H), descending=True, stable=True)
        W = W[:, perm]
        H = H[perm][:, perm]
    else:
        perm = torch.arange(n)
    perm_list = perm.tolist()

    # 4-5. damping, U = chol(H^-1, upper)
    damp = percdamp * torch.mean(torch.diagonal(H))
    H.diagonal().add_(damp)
    L = torch.linalg.cholesky(H)
    Hinv = torch.cholesky_inverse(L)
    U = torch.linalg.cholesky(Hinv, upper=True).to(torch.float32)

    # 6. blocks
    codes = torch.zeros(rows, n, dtype=torch.float32)
    Q = torch.zeros(rows, n, dtype=torch.float32)
    B = max(1, int(block_size))
    for i1 in range(0, n, B):
        i2 = min(i1 + B, n)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Err1 = torch.zeros(rows, count, dtype=torch.float32)
        U1 = U[i1:i2, i1:i2]
        for i in range(count):
            c = i1 + i
            col = perm_list[c]
            gi = col // g
            if is_group and not static_groups and col % g == 0:
                # (no act_order here, so col == c and the group is columns c..c+g-1)
                if group_rule == "reference":
                    seg = W[:, c:c + g]
                else:
                    inb = W1[:, i:min(count, i + g)]
                    if c + g > i2:
                        rest = W[:, i2:c + g] - Err1[:, :i] @ U[i1:c, i2:c + g]
                        seg = torch.cat((inb, rest), dim=1)
                    else:
                        seg = inb
                scale[:, gi], zero[:, gi] = qparams(seg.amin(1), seg.amax(1), bits, symmetric)
            w = W1[:, i]
            q, deq = quantize_column(w, scale[:, gi], zero[:, gi], bits)
            codes[:, c] = q
            Q[:, c] = deq
            err = (w - deq) / U1[i, i]
            if i + 1 < count:
                W1[:, i + 1:] -= err.unsqueeze(1) * U1[i, i + 1:].unsqueeze(0)
            Err1[:, i] = err
        if i2 < n:
            W[:, i2:] -= Err1 @ U[i1:i2, i2:]

    # 7. natural order
    if act_order:
        inv = torch.argsort(perm)
        codes, Q = codes[:, inv], Q[:, inv]
    if granularity == "tensor":
        scale, zero = scale[:1, 0].clone(), zero[:1, 0].clone()
    return Quantized(codes.to(torch.int8).contiguous(), scale.contiguous(),
                     zero.to(torch.int8).contiguous(), Q.contiguous(), perm if act_order else None)


def hessian(X) -> torch.Tensor:
    """H = 2 X^T X / n in float64 (X [n, in])."""
    X = torch.as_tensor(X).to(torch.float64)
    return 2.0 * (X.T @ X) / X.shape[0]


def layer_output_error(W, What, X) -> float:
    """||X W^T - X What^T||_F^2 / ||X W^T||_F^2, in float64."""
    X = torch.as_tensor(X).to(torch.float64)
    W = torch.as_tensor(W).to(torch.float64)
    What = torch.as_tensor(What).to(torch.float64)
    ref = X @ W.T
    den = float((ref ** 2).sum())
    return float(((ref - X @ What.T) ** 2).sum()) / den if den > 0 else 0.0


def hessian_output_error(W, What, H) -> float:
    """tr((W-What) H (W-What)^T) / tr(W H W^T) in float64 (= layer_output_error for H = 2X^TX/n)."""
    H = torch.as_tensor(H).to(torch.float64)
    W = torch.as_tensor(W).to(torch.float64)
    E = W - torch.as_tensor(What).to(torch.float64)
    den = float(((W @ H) * W).sum())
    return float(((E @ H) * E).sum()) / den if den > 0 else 0.0
