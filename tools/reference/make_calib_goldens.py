#!/usr/bin/env python3
"""Writes Tests/Fixtures/calib/: GPTQ and AWQ goldens on one fixed layer.

    .venv-tools/bin/python tools/reference/make_calib_goldens.py [--out Tests/Fixtures/calib]

Deterministic: NumPy PCG64 with fixed seeds for the data, single-threaded
torch, safetensors metadata with one key ("params", a JSON string), README
generated from the same numbers. Reruns are byte-identical on one machine.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from awq import awq, mean_abs  # noqa: E402
from gptq import gptq, hessian, layer_output_error, rtn  # noqa: E402

SEED = 20250611
OUT, IN, N = 48, 128, 512
OUTLIER_W_COLS = [3, 40, 90, 121]        # input channels whose weights are 6x larger
LOUD_X_COLS = [10, 20, 40, 55, 64, 90, 100, 127]   # input channels 10x larger
DEAD_X_COL = 77                          # input channel that is always 0 (H_ii = 0)

CASES = [
    # name, method, params
    ("gptq_w4_g32_sym", "gptq", dict(bits=4, granularity="group", group=32, symmetric=True,
                                     block_size=64, percdamp=0.01, act_order=False)),
    ("gptq_w3_channel_asym", "gptq", dict(bits=3, granularity="channel", group=None, symmetric=False,
                                          block_size=128, percdamp=0.01, act_order=False)),
    ("gptq_w4_channel_sym_actorder", "gptq", dict(bits=4, granularity="channel", group=None, symmetric=True,
                                                  block_size=32, percdamp=0.01, act_order=True)),
    ("gptq_w4_g32_sym_actorder", "gptq", dict(bits=4, granularity="group", group=32, symmetric=True,
                                              block_size=128, percdamp=0.01, act_order=True)),
    ("awq_w4_g32_sym", "awq", dict(bits=4, granularity="group", group=32, symmetric=True)),
]


def make_layer():
    rng = np.random.default_rng(SEED)
    # Inputs: isotropic part + 8 shared latent factors (correlated channels),
    # per-channel offsets and magnitudes, some channels 10x, one dead channel.
    z = rng.standard_normal((N, IN))
    latent = rng.standard_normal((N, 8)) @ rng.standard_normal((8, IN))
    offset = 0.2 * rng.standard_normal(IN)
    mag = np.exp(0.3 * rng.standard_normal(IN))
    mag[LOUD_X_COLS] *= 10.0
    x = (z + 0.7 * latent + offset) * mag
    x[:, DEAD_X_COL] = 0.0
    # Weights: N(0, 1/in) clipped at 2 sigma, some input channels 6x.
    w = np.clip(rng.standard_normal((OUT, IN)), -2.0, 2.0) / np.sqrt(IN)
    w[:, OUTLIER_W_COLS] *= 6.0
    return w.astype(np.float32), x.astype(np.float32)


def f64(v):
    return np.array([v], dtype=np.float64)


def meta(d):
    return {"params": json.dumps(d, sort_keys=True, separators=(",", ":"))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/Fixtures/calib")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(a.out, exist_ok=True)

    w, x = make_layer()
    H = hessian(x)                  # float64 2 X^T X / n
    ma = mean_abs(x)                # float64 mean |x|
    save_file({"W": w, "X": x, "H": H.numpy(), "mean_abs": ma.numpy()},
              os.path.join(a.out, "layer.safetensors"),
              metadata=meta({"seed": SEED, "out": OUT, "in": IN, "n": N, "outlier_w_cols": OUTLIER_W_COLS,
                             "loud_x_cols": LOUD_X_COLS, "dead_x_col": DEAD_X_COL,
                             "H": "2 * X64^T X64 / n in float64", "mean_abs": "mean |X| per column, float64"}))

    rows = []
    for name, method, p in CASES:
        r = rtn(w, p["bits"], p["granularity"], p["group"], p["symmetric"])
        rtn_err = layer_output_error(w, r.dequantized, x)
        tensors = {}
        info = {"case": name, "method": method, **p}
        if method == "gptq":
            q = gptq(w, H, **p)
            err = layer_output_error(w, q.dequantized, x)
            info.update(static_groups=bool(p["act_order"] and p["granularity"] == "group"),
                        group_rule="reference", chol_dtype="float64", damp="percdamp*mean(diag(H)) after dead-column fix")
            if q.perm is not None:
                tensors["perm"] = q.perm.numpy().astype(np.int64)
            extra = ""
            if p["granularity"] == "group" and not p["act_order"]:
                eager = gptq(w, H, group_rule="eager", **p)
                extra = f"eager group rule: {layer_output_error(w, eager.dequantized, x):.6e}"
        else:
            q = awq(w, x, mean_abs_x=ma, bits=p["bits"], granularity=p["granularity"], group=p["group"],
                    symmetric=p["symmetric"])
            err = layer_output_error(w, q.dequantized, x)
            tensors.update(s=q.s.numpy(), alpha=f64(q.alpha), alpha_errors=np.array(q.errors, dtype=np.float64),
                           scaled_dequantized=q.scaled_dequantized.numpy())
            info.update(n_grid=20, min_scale=1e-4)
            extra = f"best alpha {q.alpha:.2f}"
        tensors.update(codes=q.codes.numpy(), scale=q.scale.numpy(), dequantized=q.dequantized.numpy(),
                       error=f64(err), rtn_error=f64(rtn_err))
        if not p["symmetric"]:
            tensors["zero_point"] = q.zero_point.numpy()
        info.update(error=err, rtn_error=rtn_err)
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, os.path.join(a.out, f"{name}.safetensors"),
                  metadata=meta(info))
        rows.append((name, p, err, rtn_err, extra))
        print(f"{name:32s} err {err:.6e}  rtn {rtn_err:.6e}  ratio {err / rtn_err:.3f}  {extra}")

    write_readme(a.out, rows)


def write_readme(out, rows):
    def gran(p):
        return f"group {p['group']}" if p["granularity"] == "group" else p["granularity"]

    lines = [
        "# Calibration goldens (GPTQ, AWQ)",
        "",
        "Generated by `tools/reference/make_calib_goldens.py` (PyTorch reference: `tools/reference/gptq.py`,",
        "`tools/reference/awq.py`; quantization grid = `tools/ctref.py`, compressed-tensors 0.20.0 min-max).",
        "Do not edit; rerun the script (byte-identical on one machine).",
        "",
        "## layer.safetensors",
        "",
        f"* `W` float32 [{OUT}, {IN}]: N(0, 1/{IN}) clipped at ±2σ; input channels {OUTLIER_W_COLS} ×6.",
        f"* `X` float32 [{N}, {IN}]: (N(0,1) + 0.7·(8 shared latent factors) + per-channel offset) × per-channel",
        f"  magnitude exp(0.3·N(0,1)); channels {LOUD_X_COLS} ×10; channel {DEAD_X_COL} is all zero (dead: H_ii = 0).",
        f"* `H` float64 [{IN}, {IN}] = 2·XᵀX/n computed in float64 from `X`. The GPTQ goldens were made from this `H`.",
        "* `mean_abs` float64 [in] = mean |X| per channel (AWQ activation magnitude).",
        f"* NumPy PCG64 seed {SEED}.",
        "",
        "## Cases (one file each)",
        "",
        "Every file: `codes` int8 [48, 128], `scale` float32 ([48, 1] channel, [48, 4] group 32), `zero_point` int8",
        "(asymmetric only), `dequantized` float32 [48, 128], `error` and `rtn_error` float64 [1].",
        "error = ‖XWᵀ − XŴᵀ‖²_F / ‖XWᵀ‖²_F in float64 on `X`; rtn_error = the same for plain min-max",
        "round-to-nearest with the same scheme. Metadata key `params` repeats the parameters as JSON.",
        "",
        "| case | bits | granularity | sym | act order | block | GPTQ/AWQ error | RTN error | ratio | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, p, err, rerr, extra in rows:
        lines.append(f"| `{name}` | {p['bits']} | {gran(p)} | {'yes' if p['symmetric'] else 'no'} | "
                     f"{'yes' if p.get('act_order') else 'no' if 'act_order' in p else '–'} | "
                     f"{p.get('block_size', '–')} | {err:.4e} | {rerr:.4e} | {err / rerr:.3f} | {extra} |")
    lines += [
        "",
        "## GPTQ parameters (all GPTQ cases)",
        "",
        "* Dead input (H_ii = 0, channel 77 here): H_ii := 1 and W[:, i] := 0 before anything else;",
        "  all fixed ranges (channel, tensor, static groups) are taken after this zeroing.",
        "* Damping: H += 0.01 · mean(diag H) · I (mean after the dead fix, in the permuted order — same value).",
        "* Cholesky in float64: L = chol(H), H⁻¹ = cholesky_inverse(L), U = chol(H⁻¹, upper) [H⁻¹ = UᵀU];",
        "  U is cast to float32; everything else (updates, quantization) is float32.",
        "* Per column c: q = clamp(round_half_even(w/s + z)), ŵ = (q − z)·s, err = (w − ŵ)/U[c,c],",
        "  w_j −= err·U[c,j] for the later columns of the block; after a block W[:, i2:] −= Err·U[i1:i2, i2:].",
        "* Block sizes are deliberately not all 128: with in = 128 a single block never exercises the lazy",
        "  update, so `gptq_w4_g32_sym` uses 64 and `gptq_w4_channel_sym_actorder` uses 32.",
        "* Groups without act order: a group's range is computed when the loop reaches its first column, from",
        "  W as updated by the lazy updates of *earlier blocks* (not by earlier columns of the same block) — the",
        "  published GPTQ code and Shrink's GPTQ.swift. In `gptq_w4_g32_sym` (block 64) groups 0 and 1 therefore",
        "  use the original W and groups 2 and 3 W after block 0. The 'eager' note is the error when instead",
        "  every earlier column's feedback is applied first (`group_rule=\"eager\"`); not stored.",
        "* act order: columns by decreasing H_ii, ties by lower index (stable sort); `perm` int64 [128] is the",
        "  processing order (perm[k] = original column processed k-th). With groups: static groups = ranges of",
        "  the 4 natural-order groups of the (dead-zeroed) original W, fixed before any update.",
        "",
        "## AWQ parameters",
        "",
        "* a = `mean_abs`; for α = k/20, k = 0…19: t = max(a^α, 1e-4) (float64), s = float32(t / sqrt(max t · min t)).",
        "* Ws = W·diag(s) in float32; Q = min-max RTN of Ws (group 32 sym); Ŵ = deq(Q) / s (float32 true division).",
        "* Error per α on `X` (float64) → `alpha_errors` [20]; best α = first minimum (strict <) → `alpha`, `s`.",
        "* Stored: `codes`/`scale` = Q(W·diag(s)); `scaled_dequantized` = deq(Q(W·diag(s))); `dequantized` = that / s",
        "  (the effective weight; deploying it needs 1/s folded into the previous op or applied to x).",
        "",
        "## Comparing an implementation",
        "",
        "Exact arithmetic differs across implementations only by float32 summation order in the error feedback,",
        "but symmetric min-max puts the group's most negative value exactly on a rounding tie (x/s = −(2^b−1)/2),",
        "so a few codes can flip (−8 vs −7) and the flip propagates through the feedback. Compare `error` with a",
        "relative tolerance (a few 1e-3) and require most codes equal (e.g. ≥ 98 %), rather than bit-exactness.",
        "AWQ: `s`, `alpha` and RTN codes are exact given the same float32 `s`; `alpha_errors` to ~1e-9 relative.",
        "",
    ]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
