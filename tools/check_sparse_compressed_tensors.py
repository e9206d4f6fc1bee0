#!/usr/bin/env python3
"""Check a pruned `shrink quantize` output with compressed-tensors' own sparse compressors.

    check_sparse_compressed_tensors.py OUTDIR REFERENCE.safetensors [--reverse CTDIR]
    check_sparse_compressed_tensors.py --same A.safetensors B.safetensors

OUTDIR was written by `shrink quantize --prune ... ` without --bits: model.safetensors with
`<module>.compressed / .bitmask / .shape [/ .row_offsets]` per pruned weight and a config.json whose
quantization_config holds only the sparsity_config. REFERENCE is what `shrink dequantize` wrote for it.

Needs compressed-tensors 0.14.0 (the last release with the sparse compressors) first on PYTHONPATH
(tools/check_sparse_compressed_tensors.sh arranges it). What is checked, compressed-tensors doing the work:
  1. ModelCompressor.from_compression_config reads quantization_config as sparsity only, with the sparsity
     compressor of the declared format (BitmaskCompressor / Sparse24BitMaskCompressor).
  2. Every stored sparse tensor has the dtype and shape that compressor's compress_weight writes.
  3. The compressor's decompress (from the directory) yields the same tensor names as REFERENCE and equal
     values, bit for bit (torch.equal, -0.0 aside).
  4. Re-compressing each decompressed weight with compress_weight gives the stored tensors exactly, unless a
     kept weight is exactly 0 (compressed-tensors' mask is `value != 0`; Shrink stores the pruning mask):
     those are counted and the values, not the layout, are compared.
With --reverse CTDIR: writes CTDIR/model.safetensors as compressed-tensors compresses REFERENCE (the same
targets) and CTDIR/config.json (OUTDIR's), for `shrink dequantize` to read back.

Exit status: 0 all good, 1 a check failed, 2 the inputs could not be read.
"""

import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("TQDM_DISABLE", "1")

import torch
from safetensors import safe_open
from safetensors.torch import save_file

import compressed_tensors
from compressed_tensors.compressors import ModelCompressor
from compressed_tensors.compressors.sparse_compressors.sparse_24_bitmask import Sparse24BitMaskCompressor
from compressed_tensors.compressors.sparse_compressors.sparse_bitmask import BitmaskCompressor

torch.set_num_threads(1)


def load(path):
    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def same(a_path, b_path) -> int:
    """--same A B: the two safetensors files hold the same tensors, bit for bit."""
    a, b = load(a_path), load(b_path)
    bad = sorted(set(a) ^ set(b)) + [k for k in sorted(set(a) & set(b)) if a[k].dtype != b[k].dtype or not torch.equal(a[k], b[k])]
    for k in bad:
        print(f"FAILED  {k}: differs between {a_path} and {b_path}")
    print(f"{'ok' if not bad else 'FAILED'}      {len(a)} tensors of shrink's reading of compressed-tensors' files equal shrink's own")
    return 1 if bad else 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--same":
        return same(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("reference")
    ap.add_argument("--reverse")
    args = ap.parse_args()
    try:
        with open(os.path.join(args.outdir, "config.json")) as f:
            qc = json.load(f)["quantization_config"]
        stored = load(os.path.join(args.outdir, "model.safetensors"))
        reference = load(args.reference)
    except (OSError, KeyError, ValueError) as e:
        print(f"cannot read inputs: {e}", file=sys.stderr)
        return 2
    print(f"compressed-tensors {compressed_tensors.__version__}")
    failures = []

    mc = ModelCompressor.from_compression_config(qc)
    if mc is None or mc.quantization_config is not None or mc.sparsity_compressor is None:
        print("FAILED  quantization_config is not read as sparsity only")
        return 1
    fmt = mc.sparsity_config.format
    compressor = mc.sparsity_compressor
    want = {"sparse-bitmask": BitmaskCompressor, "sparse-24-bitmask": Sparse24BitMaskCompressor}.get(fmt)
    if want is None or not isinstance(compressor, want):
        print(f"FAILED  format {fmt!r} gives {type(compressor).__name__}")
        return 1
    targets = mc.sparsity_config.targets or []
    print(f"ok      config: {fmt}, structure {mc.sparsity_config.sparsity_structure}, "
          f"global sparsity {mc.sparsity_config.global_sparsity:.4f}, {len(targets)} targets")

    # 3. Decompression by the library, from the directory.
    dense = dict(compressor.decompress(args.outdir))
    if set(dense) != set(reference):
        failures.append(f"names differ: only ct {sorted(set(dense) - set(reference))[:3]}, "
                        f"only shrink {sorted(set(reference) - set(dense))[:3]}")
    kept_zeros_total = 0
    for module in targets:
        name = module + ".weight"
        if name not in dense or name not in reference:
            failures.append(f"{name}: missing after decompression")
            continue
        d, r = dense[name], reference[name]
        if d.dtype != r.dtype or d.shape != r.shape or not torch.equal(d, r):
            diff = (d.float() - r.float()).abs().max().item() if d.shape == r.shape else float("nan")
            failures.append(f"{name}: ct {d.dtype} {list(d.shape)} vs shrink {r.dtype} {list(r.shape)}, max diff {diff}")
            continue
        # 2 and 4. Layout against compress_weight of the same dense tensor.
        again = compressor.compress_weight(module, d)
        from compressed_tensors.utils import unpack_bitmasks
        mask = unpack_bitmasks(stored[module + ".bitmask"], list(d.shape))
        kept_zeros = int((mask & (d == 0)).sum())
        kept_zeros_total += kept_zeros
        for key, value in again.items():
            s = stored.get(key)
            if s is None:
                failures.append(f"{key}: not stored")
            elif s.dtype != value.dtype or list(s.shape) != list(value.shape):
                if kept_zeros == 0 or key.endswith(".bitmask") or key.endswith(".shape"):
                    failures.append(f"{key}: stored {s.dtype} {list(s.shape)}, compress_weight writes {value.dtype} {list(value.shape)}")
            elif kept_zeros == 0 and not torch.equal(s, value):
                failures.append(f"{key}: stored bytes differ from compress_weight's")
        density = mask.float().mean().item()
        print(f"ok      {name} {list(d.shape)} {d.dtype}: equal to shrink dequantize, density {density:.4f}"
              + (f", {kept_zeros} kept weights are 0" if kept_zeros else ", layout identical to compress_weight"))
    for name in reference:
        if name not in [m + ".weight" for m in targets] and name in dense and not torch.equal(dense[name], reference[name]):
            failures.append(f"{name}: passed-through tensor differs")

    if args.reverse:
        sd = {k: v for k, v in reference.items()}
        out = compressor.compress(sd, compression_targets=set(targets))
        os.makedirs(args.reverse, exist_ok=True)
        save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(args.reverse, "model.safetensors"), metadata={"format": "pt"})
        shutil.copy(os.path.join(args.outdir, "config.json"), os.path.join(args.reverse, "config.json"))
        print(f"ok      wrote compressed-tensors' compression of the reference to {args.reverse}")

    for f in failures:
        print("FAILED  " + f)
    print(f"sparse interop: {len(targets)} weights, {len(failures)} failures, {kept_zeros_total} kept zeros")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
