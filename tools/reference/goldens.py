#!/usr/bin/env python3
"""Golden outputs of a trained reference model for the Swift parity test.

    python tools/reference/goldens.py MODEL_DIR DATA.safetensors -o golden.safetensors \
        [--batch 8] [--steps K] [--trace-steps T] [--threads 1]

Runs the first --batch puzzles of DATA (no augmentation) in evaluation mode for
K supervision steps (default halt_max_steps) from the initial carry, and saves
(S = steps, T = traced steps <= S, B = batch, L = seq_len, P = puzzle_emb_len +
seq_len, D = hidden_size, V = vocab_size, Hc = H_cycles, Lc = L_cycles):

  inputs               int32 [B, L]      labels int32 [B, L] (ignored = -100)
  puzzle_identifiers   int32 [B]
  input_embeddings     f32 [B, P, D]     x (ARCHITECTURE.md section 5)
  rope.cos, rope.sin   f32 [P, D/num_heads]   only when RoPE is used
  debug.block0.input   f32 [B, P, D]     input of layer 0 in the very first L update
  debug.block0.mixed   f32 [B, P, D]     after the token-mixing sub-layer (+residual, norm)
  debug.block0.output  f32 [B, P, D]     output of layer 0
  logits               f32 [S, B, L, V]
  q_halt_logits        f32 [S, B]        q_continue_logits f32 [S, B]
  predictions          int32 [S, B, L]   argmax of logits
  z_H, z_L             f32 [S, B, P, D]  carry after each supervision step
  trace.z_L            f32 [T, Hc, Lc, B, P, D]   after every L update
  trace.z_H            f32 [T, Hc, B, P, D]       after every H update

Metadata: one key, "golden": JSON with config, model_sha256, data file, steps, traced_steps, batch, torch.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import load_dataset  # noqa: E402
from models import load_model, rms_norm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("data")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=0, help="supervision steps (default halt_max_steps)")
    ap.add_argument("--trace-steps", type=int, default=-1, help="steps with full z_H/z_L trace (default all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--float64", action="store_true",
                    help="compute in float64 (stored as float32): the exact function, for models whose later steps "
                         "amplify float32 rounding (see --steps)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    model = load_model(a.model_dir)
    if a.float64:
        model = model.double()
    cfg = model.cfg
    ds = load_dataset(a.data)
    if ds.seq_len != cfg.seq_len or ds.vocab_size != cfg.vocab_size:
        raise SystemExit("dataset does not match the model config")
    b = ds.batch(np.arange(min(a.batch, ds.n)))
    S = a.steps or cfg.halt_max_steps
    T = S if a.trace_steps < 0 else min(a.trace_steps, S)

    with torch.no_grad():
        inner = model.inner
        x = inner.input_embeddings(b["inputs"], b["puzzle_identifiers"])
        res = model.run(b, steps=S, trace=T > 0)
        # first block of the first L update, sub-layer by sub-layer
        Bn = x.shape[0]
        z_H0 = inner.H_init.expand(Bn, cfg.total_len, cfg.hidden_size)
        z_L0 = inner.L_init.expand(Bn, cfg.total_len, cfg.hidden_size)
        h = z_L0 + (z_H0 + x)
        blk = inner.L_level.layers[0]
        cs = (inner.rope_cos, inner.rope_sin) if inner.rope_cos is not None else None
        if cfg.mlp_t:
            ht = h.transpose(1, 2)
            mixed = rms_norm(ht + blk.mlp_t(ht), cfg.rms_norm_eps).transpose(1, 2)
        else:
            mixed = rms_norm(h + blk.self_attn(h, cs), cfg.rms_norm_eps)
        out0 = blk(h, cs)

    t = {
        "inputs": b["inputs"].int(), "labels": b["labels"].int(),
        "puzzle_identifiers": b["puzzle_identifiers"].int(),
        "input_embeddings": x,
        "debug.block0.input": h.contiguous(), "debug.block0.mixed": mixed.contiguous(),
        "debug.block0.output": out0,
        "logits": torch.stack([r["logits"] for r in res]),
        "q_halt_logits": torch.stack([r["q_halt_logits"] for r in res]),
        "q_continue_logits": torch.stack([r["q_continue_logits"] for r in res]),
        "predictions": torch.stack([r["logits"].argmax(-1) for r in res]).int(),
        "z_H": torch.stack([r["z_H"] for r in res]),
        "z_L": torch.stack([r["z_L"] for r in res]),
    }
    if cs is not None:
        t["rope.cos"], t["rope.sin"] = cs
    if T > 0:
        Hc, Lc = cfg.H_cycles, cfg.L_cycles
        zl, zh = [], []
        for r in res[:T]:
            d = dict(r["trace"])
            zl.append(torch.stack([torch.stack([d[f"h{h}.l{l}.z_L"] for l in range(Lc)]) for h in range(Hc)]))
            zh.append(torch.stack([d[f"h{h}.z_H"] for h in range(Hc)]))
        t["trace.z_L"] = torch.stack(zl)
        t["trace.z_H"] = torch.stack(zh)
    t = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in t.items()}

    with open(os.path.join(a.model_dir, "model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    # A single metadata key (JSON): several keys would be written in hash-map
    # order and the file would not be byte-stable.
    meta = {"golden": json.dumps({"config": cfg.to_dict(), "model_sha256": sha, "data": os.path.basename(a.data),
                                  "steps": S, "traced_steps": T, "float64": a.float64, "batch": int(b["inputs"].shape[0]),
                                  "torch": torch.__version__}, sort_keys=True)}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    save_file(t, a.out, metadata=meta)
    right = (t["predictions"] == t["labels"].unsqueeze(0)) | (t["labels"].unsqueeze(0) == -100)
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes): steps={S} traced={T} batch={b['inputs'].shape[0]}; "
          f"exact per step: {right.all(-1).float().mean(-1).tolist()}")


if __name__ == "__main__":
    main()
