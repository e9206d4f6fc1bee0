#!/usr/bin/env python3
"""PyTorch CPU peer for `shrink quantize --method gptq`: capture every linear
layer's input statistics on calibration puzzles, then GPTQ every layer, timed.
Prints one JSON object.

    bench_gptq.py MODEL_DIR --calib DATA.safetensors [--threads 2] [--bits 4 --group 128]
                  [--granularity group|channel|tensor] [--asym] [--act-order] [--block 128]
                  [--damp 0.01] [--calib-count 256] [--batch 256] [--indivisible error|channel|skip]

Capture: the model runs in eval mode for its full depth (`model.run(batch)`:
halt_max_steps supervision steps, every H/L cycle) on the first
--calib-count puzzles; a forward hook on every `CastedLinear` adds the
float32 XᵀX of its input rows (all positions, cycles, steps) to a float64
sum; H = 2·ΣXᵀX / rows. Each layer is quantized independently from the FP32
model's statistics (no sequential re-capture). Timings: `capture_seconds`
(model runs + accumulation) and `gptq_seconds` (sum of the `gptq()` calls
only: dead-column fix, damping, Cholesky in float64, the column loop).
Per layer: err = tr((W−Ŵ) H (W−Ŵ)ᵀ) / tr(W H Wᵀ) (the relative output error on
the captured inputs) and the same for round-to-nearest, both untimed.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import load_dataset  # noqa: E402
from gptq import gptq, hessian_output_error, rtn  # noqa: E402
from models import CastedLinear, load_model  # noqa: E402


def capture(model, ds, count: int, batch: int):
    """{weight name: (ΣxᵀX float64 [in, in], rows)} over every call of every CastedLinear."""
    stats = {}
    handles = []
    for mname, mod in model.named_modules():
        if isinstance(mod, CastedLinear):
            name = f"{mname}.weight"
            stats[name] = [torch.zeros(mod.weight.shape[1], mod.weight.shape[1], dtype=torch.float64), 0]

            def hook(module, inputs, output, name=name):
                x = inputs[0].detach().reshape(-1, module.weight.shape[1]).to(torch.float32)
                s = stats[name]
                s[0] += (x.T @ x).to(torch.float64)
                s[1] += x.shape[0]

            handles.append(mod.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            for start in range(0, count, batch):
                model.run(ds.batch(np.arange(start, min(count, start + batch))))
    finally:
        for h in handles:
            h.remove()
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--calib", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--granularity", choices=["group", "channel", "tensor"], default="group")
    ap.add_argument("--group", type=int, default=128)
    ap.add_argument("--asym", action="store_true")
    ap.add_argument("--act-order", action="store_true")
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--damp", type=float, default=0.01)
    ap.add_argument("--calib-count", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--indivisible", choices=["error", "channel", "skip"], default="error",
                    help="a layer whose input width the group does not divide: fail (as shrink), use per-channel, or skip it")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    model = load_model(a.model_dir)
    ds = load_dataset(a.calib)
    if ds.meta.get("split") == "test":
        sys.exit(f"--calib {a.calib} is a test split; calibrate on training data")
    count = min(a.calib_count, ds.n)

    t0 = time.perf_counter()
    stats = capture(model, ds, count, a.batch)
    capture_s = time.perf_counter() - t0

    weights = model.state_dict()
    layers = {}
    total = 0.0
    for name, (sxx, rows) in stats.items():
        W = weights[name].to(torch.float32)
        cols = W.shape[1]
        gran, group = a.granularity, (a.group if a.granularity == "group" else None)
        if gran == "group" and cols % a.group:
            if a.indivisible == "error":
                sys.exit(f"group {a.group} does not divide the {cols} columns of '{name}' (see --indivisible)")
            if a.indivisible == "skip":
                layers[name] = {"shape": list(W.shape), "skipped": f"group {a.group} does not divide {cols}"}
                continue
            gran, group = "channel", None
        H = sxx * (2.0 / rows) if rows else sxx
        t1 = time.perf_counter()
        q = gptq(W, H, bits=a.bits, granularity=gran, group=group, symmetric=not a.asym,
                 block_size=a.block, percdamp=a.damp, act_order=a.act_order)
        dt = time.perf_counter() - t1
        total += dt
        r = rtn(W, a.bits, gran, group, not a.asym)
        layers[name] = {"shape": list(W.shape), "granularity": gran if gran != "group" else f"group{group}",
                        "rows": rows, "error": hessian_output_error(W, q.dequantized, H),
                        "rtn_error": hessian_output_error(W, r.dequantized, H), "seconds": dt}

    print(json.dumps({
        "model": a.model_dir, "calib": a.calib, "puzzles": count, "threads": a.threads, "bits": a.bits,
        "granularity": a.granularity, "group": a.group if a.granularity == "group" else None,
        "symmetric": not a.asym, "act_order": a.act_order, "block_size": a.block, "percdamp": a.damp,
        "capture_seconds": capture_s, "gptq_seconds": total, "layers": layers, "torch": torch.__version__,
    }, indent=1))


if __name__ == "__main__":
    main()
