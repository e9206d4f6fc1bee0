#!/usr/bin/env python3
"""Quantize a checkpoint with compressed-tensors itself, in `shrink quantize`'s layout.

    ct_quantize.py CHECKPOINT.safetensors OUTDIR --bits 4 (--group 64 | --channel | --tensor) [--asym]

This is the reference for Shrink's Swift writer: it produces what
compressed-tensors 0.20.0 would write for the same weights (min-max
observer, calculate_qparams, PackedQuantizationCompressor.compress, and
ModelCompressor.update_config for config.json), so `shrink quantize` output
can be diffed against it tensor by tensor, and it exercises
check_compressed_tensors.py before the Swift side exists:

    OUTDIR/model.safetensors          packed modules + copied tensors
    OUTDIR/config.json                input config.json (if any) + quantization_config
    OUTDIR/shrink.json                small provenance stub
    OUTDIR/dequantized.safetensors    PackedQuantizationCompressor.decompress output
                                      (what `shrink dequantize` should produce)

Targets: every floating 2-D tensor named `<module>.weight` whose module name
does not end in "norm" (compressed-tensors never quantizes those) and whose
column count the group size divides; `--ignore REGEX` drops more. Like
compressed-tensors in a real run, all arithmetic is done in the weight's own
dtype (so a BF16 checkpoint gets BF16 scales).
"""

import argparse
import json
import os
import re
import shutil
import sys

os.environ.setdefault("TQDM_DISABLE", "1")

import torch
from safetensors import safe_open
from safetensors.torch import save_file

import compressed_tensors
from compressed_tensors.compressors import ModelCompressor
from compressed_tensors.compressors.pack_quantized import PackedQuantizationCompressor
from compressed_tensors.config import CompressionFormat
from compressed_tensors.quantization import (
    QuantizationArgs,
    QuantizationConfig,
    QuantizationScheme,
    QuantizationStatus,
)
from compressed_tensors.quantization.utils import calculate_qparams

torch.set_num_threads(1)


def observe(w: torch.Tensor, args: QuantizationArgs):
    """Min-max observer; output shapes match compressed-tensors' initialized qparams."""
    if args.strategy == "tensor":
        return torch.aminmax(w)
    if args.strategy == "channel":
        return w.amin(dim=-1, keepdim=True), w.amax(dim=-1, keepdim=True)
    g = w.unflatten(-1, (-1, args.group_size))
    return g.amin(dim=-1), g.amax(dim=-1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("outdir")
    parser.add_argument("--bits", type=int, required=True, choices=range(1, 9), metavar="1..8")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--group", type=int)
    how.add_argument("--channel", action="store_true")
    how.add_argument("--tensor", action="store_true")
    parser.add_argument("--asym", action="store_true", help="asymmetric (zero points)")
    parser.add_argument("--ignore", action="append", default=[], metavar="REGEX",
                        help="module names to leave unquantized (re.search)")
    args = parser.parse_args()

    strategy = {"strategy": "group", "group_size": args.group} if args.group else \
        {"strategy": "channel" if args.channel else "tensor"}
    qargs = QuantizationArgs(num_bits=args.bits, type="int", symmetric=not args.asym, **strategy)

    with safe_open(args.checkpoint, framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}

    def wanted(name: str, t: torch.Tensor) -> bool:
        module, _, param = name.rpartition(".")
        return (param == "weight" and t.ndim == 2 and t.is_floating_point()
                and not module.endswith("norm")
                and not any(re.search(p, module) for p in args.ignore)
                and (not args.group or t.shape[1] % args.group == 0))

    targets = [n.rpartition(".")[0] for n, t in tensors.items() if wanted(n, t)]
    scheme = QuantizationScheme(targets=targets, weights=qargs,
                                format=CompressionFormat.pack_quantized.value)

    out: dict[str, torch.Tensor] = {}
    dequant: dict[str, torch.Tensor] = {}
    for name, t in tensors.items():
        module = name.rpartition(".")[0]
        if module not in targets or not name.endswith(".weight"):
            out[name] = t
            dequant[name] = t
            continue
        scale, zp = calculate_qparams(*observe(t, qargs), qargs)
        compressed = PackedQuantizationCompressor.compress(
            {"weight": t, "weight_scale": scale, "weight_zero_point": zp}, scheme
        )
        for k, v in compressed.items():
            out[f"{module}.{k}"] = v.contiguous()
        dequant[name] = PackedQuantizationCompressor.decompress(compressed, scheme)["weight"]

    os.makedirs(args.outdir, exist_ok=True)
    save_file(out, os.path.join(args.outdir, "model.safetensors"), metadata={"format": "pt"})
    save_file(dequant, os.path.join(args.outdir, "dequantized.safetensors"), metadata={"format": "pt"})

    src_cfg = os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "config.json")
    if os.path.exists(src_cfg):
        shutil.copyfile(src_cfg, os.path.join(args.outdir, "config.json"))
    config = QuantizationConfig(
        config_groups={"group_0": scheme},
        format=CompressionFormat.pack_quantized.value,
        quantization_status=QuantizationStatus.COMPRESSED,
        ignore=[],
    )
    ModelCompressor(quantization_config=config).update_config(args.outdir)

    with open(os.path.join(args.outdir, "shrink.json"), "w") as f:
        json.dump({"producer": "tools/ct_quantize.py",
                   "compressed_tensors": compressed_tensors.__version__,
                   "source": os.path.basename(args.checkpoint),
                   "quantized": targets}, f, indent=2)
        f.write("\n")
    print(json.dumps({"outdir": args.outdir, "quantized": len(targets),
                      "copied": len(tensors) - len(targets)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
