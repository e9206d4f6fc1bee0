#!/usr/bin/env python3
"""PyTorch CPU peer for `shrink eval`: the same model on the same puzzles, full
depth, timed, with the same thread count. Prints one JSON object.

    bench_eval.py MODEL_DIR DATA.safetensors [--threads 2] [--batch 256] [--limit N] [--repeats 2]
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
from models import load_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load_model(a.model_dir)
    ds = load_dataset(a.data)
    n = min(ds.n, a.limit) if a.limit else ds.n
    best, exact = float("inf"), 0
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        exact = 0
        with torch.inference_mode():
            for start in range(0, n, a.batch):
                b = ds.batch(np.arange(start, min(n, start + a.batch)))
                res = model.run(b, steps=model.cfg.halt_max_steps)
                pred = res[-1]["logits"].argmax(-1)
                exact += int((pred == b["labels"]).all(-1).sum())
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"puzzles": n, "seconds": best, "puzzles_per_s": n / best, "threads": a.threads,
                      "exact": exact / n, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
