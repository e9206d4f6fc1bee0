#!/usr/bin/env python3
"""Checks Shrink's GGUF decoding against gguf-py 0.19.0, bit for bit.

usage: check_gguf_read.py FILE.gguf DECODED.safetensors
DECODED is `shrink dequantize FILE.gguf -o DECODED --dtype f32`. Every tensor of FILE must be
in DECODED with the row-major shape (GGUF dims reversed) and float32 values whose bits equal
gguf.quants.dequantize's. Prints one line per file; exits 1 on the first difference.
"""
import sys
from collections import Counter

import numpy as np
import gguf
from gguf.quants import dequantize
from safetensors.numpy import load_file


def main(path, decoded_path):
    r = gguf.GGUFReader(path)
    decoded = load_file(decoded_path)
    names = [t.name for t in r.tensors]
    if sorted(names) != sorted(decoded):
        missing = sorted(set(names) ^ set(decoded))
        print(f"FAIL {path}: tensor names differ: {missing[:5]}")
        return 1
    types = Counter()
    elements = 0
    for t in r.tensors:
        ref = dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32, copy=False)
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        ref = ref.reshape(shape)
        got = decoded[t.name]
        if got.dtype != np.float32 or got.shape != shape:
            print(f"FAIL {path}: {t.name}: Shrink gives {got.dtype} {got.shape}, gguf-py float32 {shape}")
            return 1
        diff = ref.view(np.uint32) != got.view(np.uint32)
        if diff.any():
            i = int(np.flatnonzero(diff)[0])
            print(f"FAIL {path}: {t.name} ({t.tensor_type.name}): {int(diff.sum())} of {ref.size} values differ; "
                  f"first at {i}: gguf-py {ref.flat[i]!r}, Shrink {got.flat[i]!r}")
            return 1
        types[t.tensor_type.name] += 1
        elements += ref.size
    summary = ", ".join(f"{k} {v}" for k, v in sorted(types.items()))
    print(f"ok {path}: {len(names)} tensors, {elements} values bit-identical to gguf-py ({summary})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
