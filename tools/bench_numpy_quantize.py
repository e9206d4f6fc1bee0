#!/usr/bin/env python3
"""NumPy baseline for `shrink quantize`: the script a user would write instead.

    bench_numpy_quantize.py CHECKPOINT --bits 8 --strategy channel [--out DIR]
    bench_numpy_quantize.py CHECKPOINT --bits 4 --group 64 [--out DIR]

For every 2-D floating tensor: symmetric min-max scales with compressed-tensors'
formula (tools/ctref.py), quantize with np.rint/np.clip, pack the codes into
int32 exactly like compressed-tensors (dense bit stream, LSB first), and (with
--out) write DIR/model.safetensors in the same layout `shrink quantize` uses
(`<p>.weight_packed`, `<p>.weight_scale`, `<p>.weight_shape`; other tensors
copied). Fully vectorized: no Python loop over elements.

The input is memory-mapped (header parsed here, data section via np.memmap),
then each tensor is materialized in RAM before the compute timer starts, so
"compute" excludes disk and page-fault time. Prints one JSON object:
  total:   wall seconds for the whole job (open -> output written) and
           input GB/s = input tensor bytes / wall seconds (GB = 1e9 bytes)
  compute: the same, counting only scale + quantize + pack time
Quantized tensors' bytes are the "input bytes" (copied tensors are excluded).
"""

import argparse
import json
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctref  # noqa: E402

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def open_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Zero-copy views of every tensor (BF16 exposed as uint16 bits), and dtypes."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dt = np.uint16 if info["dtype"] == "BF16" else DTYPES[info["dtype"]]
        out[name] = data[begin:end].view(np.dtype(dt).newbyteorder("<")).reshape(info["shape"])
    return out, {k: v["dtype"] for k, v in header.items()}


def to_float32(a: np.ndarray, dtype_name: str) -> np.ndarray:
    """A float32 copy in RAM (reads the mapped pages; F16/F64/BF16 are widened)."""
    if dtype_name == "BF16":  # bfloat16 is the top half of a float32
        return (a.astype(np.uint32) << 16).view(np.float32)
    return np.array(a, dtype=np.float32, copy=True)


def quantize_sym(w: np.ndarray, bits: int, group: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric min-max quantization; returns (codes int8, scale f32)."""
    rows, cols = w.shape
    blocks = w.reshape(rows, 1, cols) if group is None else w.reshape(rows, cols // group, group)
    scale, _ = ctref.qparams(blocks.min(axis=-1, keepdims=True), blocks.max(axis=-1, keepdims=True),
                             bits, symmetric=True)
    lo, hi = ctref.qrange(bits)
    q = np.divide(blocks, scale)  # true division, as compressed-tensors does
    np.clip(q, lo, hi, out=q)
    np.rint(q, out=q)  # round half to even, like torch.round
    shape = (rows, 1) if group is None else (rows, cols // group)
    return q.astype(np.int8).reshape(rows, cols), scale.reshape(shape)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--bits", type=int, required=True, choices=range(1, 9), metavar="1..8")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--strategy", choices=["channel"])
    how.add_argument("--group", type=int)
    parser.add_argument("--out", help="write DIR/model.safetensors")
    args = parser.parse_args()

    t0 = time.perf_counter()
    tensors, dtypes = open_safetensors(args.checkpoint)
    out: dict[str, np.ndarray] = {}
    in_bytes = 0
    compute = read = 0.0
    n_quantized = 0
    for name, view in tensors.items():
        module, _, param = name.rpartition(".")
        quantizable = (view.ndim == 2 and dtypes[name] in ("F32", "F16", "BF16", "F64")
                       and (args.group is None or view.shape[1] % args.group == 0))
        if not quantizable:
            out[name] = np.array(view)
            continue
        r0 = time.perf_counter()
        w = to_float32(view, dtypes[name])
        r1 = time.perf_counter()
        codes, scale = quantize_sym(w, args.bits, args.group)
        packed = ctref.pack_int32(codes, args.bits)
        r2 = time.perf_counter()
        read += r1 - r0
        compute += r2 - r1
        in_bytes += view.nbytes
        n_quantized += 1
        prefix = module if param == "weight" else name
        out[f"{prefix}.weight_packed"] = packed
        out[f"{prefix}.weight_scale"] = scale
        out[f"{prefix}.weight_shape"] = np.array(w.shape, dtype=np.int64)

    write = 0.0
    if args.out:
        from safetensors.numpy import save_file  # imported late: not part of the hot path

        w0 = time.perf_counter()
        os.makedirs(args.out, exist_ok=True)
        save_file(out, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
        write = time.perf_counter() - w0
    total = time.perf_counter() - t0

    gbs = lambda s: round(in_bytes / 1e9 / s, 3) if s > 0 else None  # noqa: E731
    print(json.dumps({
        "checkpoint": args.checkpoint,
        "bits": args.bits,
        "scheme": f"group{args.group}" if args.group else "channel",
        "quantized_tensors": n_quantized,
        "input_bytes": in_bytes,
        "total": {"seconds": round(total, 4), "gb_per_s": gbs(total)},
        "compute": {"seconds": round(compute, 4), "gb_per_s": gbs(compute)},
        "read_seconds": round(read, 4),
        "write_seconds": round(write, 4),
        "numpy": np.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
