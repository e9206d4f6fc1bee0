#!/usr/bin/env python3
"""The peer for `shrink bench FILE.gguf`: gguf-py 0.19.0's gguf.quants.dequantize (NumPy) on every
tensor of a GGUF file, best of --repeats, grouped by ggml type. Prints decoded float32 GB/s per type.

usage: bench_gguf_dequantize.py FILE.gguf... [--repeats 3]
"""
import argparse
import time
from collections import defaultdict

import numpy as np
import gguf
from gguf.quants import dequantize


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    for path in a.files:
        r = gguf.GGUFReader(path)
        groups = defaultdict(list)
        for t in r.tensors:
            groups[t.tensor_type.name].append(np.asarray(t.data))
        for name, arrays in sorted(groups.items()):
            best = float("inf")
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                n = sum(dequantize(x, gguf.GGMLQuantizationType[name]).size for x in arrays)
                best = min(best, time.perf_counter() - t0)
            print(f"{path}\t{name}\t{len(arrays)} tensors\t{n} elements\t{n * 4 / best / 1e9:.3f} GB/s")


if __name__ == "__main__":
    main()
