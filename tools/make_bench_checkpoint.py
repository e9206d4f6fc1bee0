#!/usr/bin/env python3
"""Write a deterministic FP32 benchmark checkpoint of transformer-like weights.

    make_bench_checkpoint.py OUT.safetensors --mb 256 [--seed 0] [--hidden 1024]

Layers look like a scaled-down Llama block (q/k/v/o [H, H], gate/up [I, H],
down [H, I], two 1-D RMSNorm weights) with I = 2.75 H rounded to a multiple of
128, so every 2-D tensor's column count is divisible by 128 (group sizes
32/64/128 all apply). Blocks are added until the file holds at least --mb MiB.
Values are N(0, 1/fan_in) with a sprinkling of large outliers, like trained
weights, so min-max scales are not all alike.

The file is streamed one tensor at a time (header first), so any size can be
written with little memory; each tensor's values come from its own seeded
generator, so the output is byte-identical for the same arguments.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np


def layout(hidden: int, target_bytes: int) -> list[tuple[str, tuple[int, ...]]]:
    inter = int(round(hidden * 2.75 / 128)) * 128
    block = [
        ("input_layernorm.weight", (hidden,)),
        ("self_attn.q_proj.weight", (hidden, hidden)),
        ("self_attn.k_proj.weight", (hidden, hidden)),
        ("self_attn.v_proj.weight", (hidden, hidden)),
        ("self_attn.o_proj.weight", (hidden, hidden)),
        ("post_attention_layernorm.weight", (hidden,)),
        ("mlp.gate_proj.weight", (inter, hidden)),
        ("mlp.up_proj.weight", (inter, hidden)),
        ("mlp.down_proj.weight", (hidden, inter)),
    ]
    per_block = sum(4 * int(np.prod(s)) for _, s in block)
    n_blocks = max(1, -(-target_bytes // per_block))
    return [(f"model.layers.{i}.{n}", s) for i in range(n_blocks) for n, s in block]


def values(seed: int, index: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng([seed, index])
    if len(shape) == 1:  # norm weights: around 1
        return (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    w = rng.standard_normal(shape, dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(shape[1]))
    # ~1 in 10^4 entries become 20x outliers, as trained LLM weights have.
    n_out = max(1, w.size // 10_000)
    flat = w.reshape(-1)
    idx = rng.integers(0, w.size, n_out)
    flat[idx] *= np.float32(20.0)
    return w


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--mb", type=int, default=256, help="minimum size in MiB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=1024, help="multiple of 128")
    args = parser.parse_args()
    if args.hidden % 128:
        parser.error("--hidden must be a multiple of 128")

    tensors = layout(args.hidden, args.mb * 2**20)
    header, offset = {}, 0
    for name, shape in tensors:
        nbytes = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header["__metadata__"] = {"format": "pt", "producer": "tools/make_bench_checkpoint.py",
                              "seed": str(args.seed)}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # keep the data section 8-byte aligned

    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for i, (_, shape) in enumerate(tensors):
            f.write(values(args.seed, i, shape).astype("<f4", copy=False).tobytes())
    os.replace(tmp, args.out)  # never leave a truncated file under the final name

    print(json.dumps({"out": args.out, "bytes": os.path.getsize(args.out), "tensors": len(tensors),
                      "blocks": len(tensors) // 9}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
