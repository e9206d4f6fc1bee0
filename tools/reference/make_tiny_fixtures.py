#!/usr/bin/env python3
"""Tiny *untrained* reasoners covering every architecture option the Swift port
implements (RoPE / learned positions / none, puzzle-embedding prefix, mlp_t, HRM),
with golden outputs, for the parity tests in Tests/Fixtures/tiny/. The trained
fixtures (Fixtures/models) cover realistic weights; these cover the options the
trained ones do not use. Deterministic: fixed seeds, byte-identical reruns.

    .venv-tools/bin/python tools/reference/make_tiny_fixtures.py
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from models import Config, RecursiveModel  # noqa: E402
from train import save_model  # noqa: E402

root = os.path.abspath(os.path.join(here, "..", ".."))
out_root = os.path.join(root, "Tests", "Fixtures", "tiny")

VARIANTS = {
    "trm-rope-puzzle-emb": dict(arch="trm", mlp_t=False, pos_encodings="rope", puzzle_emb_ndim=24, num_puzzle_identifiers=5),
    "trm-learned": dict(arch="trm", mlp_t=False, pos_encodings="learned"),
    "trm-mlp-t-puzzle-emb": dict(arch="trm", mlp_t=True, pos_encodings="none", puzzle_emb_ndim=16, num_puzzle_identifiers=3),
    "hrm-rope": dict(arch="hrm", mlp_t=False, pos_encodings="rope", H_layers=1),
}


def tiny_data(seq_len, vocab, n, seed, ids):
    g = np.random.default_rng(seed)
    return {
        "inputs": torch.tensor(g.integers(0, vocab, size=(n, seq_len)), dtype=torch.int32),
        "labels": torch.tensor(g.integers(0, vocab, size=(n, seq_len)), dtype=torch.int32),
        "puzzle_identifiers": torch.tensor(g.integers(0, ids, size=(n,)), dtype=torch.int32),
    }


def main():
    torch.set_num_threads(1)
    for i, (name, opts) in enumerate(sorted(VARIANTS.items())):
        torch.manual_seed(100 + i)
        cfg = Config(seq_len=12, vocab_size=7, hidden_size=16, num_heads=2, L_layers=1, H_cycles=2, L_cycles=2,
                     halt_max_steps=2, expansion=2.0, **opts)
        model = RecursiveModel(cfg)
        with torch.no_grad():  # q_head starts at zero upstream; give it values so Q parity means something
            model.inner.q_head.weight.normal_(0, 0.5)
            if cfg.puzzle_emb_ndim:
                model.inner.puzzle_emb.weights.normal_(0, 1)
        out = os.path.join(out_root, name)
        os.makedirs(out, exist_ok=True)
        save_model(out, cfg, {k: v.contiguous() for k, v in model.state_dict().items()})
        data = tiny_data(cfg.seq_len, cfg.vocab_size, 3, 7 + i, max(1, cfg.num_puzzle_identifiers))
        from safetensors.torch import save_file
        data_path = os.path.join(out, "data.safetensors")
        save_file(data, data_path, metadata={"vocab_size": str(cfg.vocab_size), "seq_len": str(cfg.seq_len), "task": "random"})
        subprocess.run([sys.executable, os.path.join(here, "goldens.py"), out, data_path, "-o", os.path.join(out, "golden.safetensors"),
                        "--batch", "3"], check=True)
        print("wrote", out)


if __name__ == "__main__":
    main()
