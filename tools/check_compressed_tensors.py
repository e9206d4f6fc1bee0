#!/usr/bin/env python3
"""Check a `shrink quantize` output directory with compressed-tensors' own code.

    check_compressed_tensors.py OUTDIR REFERENCE.safetensors [--rtol 1e-6]

OUTDIR holds model.safetensors (or model.safetensors.index.json + shards) with
`<module>.weight_packed / weight_scale / weight_shape [/ weight_zero_point]`
for quantized modules and unquantized tensors copied through, a config.json
with `quantization_config`, and shrink.json. REFERENCE is what
`shrink dequantize` wrote for the same directory.

What is checked, each with compressed-tensors 0.20.0 doing the reading:
  1. config.json's quantization_config validates as a QuantizationConfig, and
     each group's declared format is the one compressed-tensors itself infers
     for the scheme (vLLM trusts the declared one, so a mismatch would load
     the weights with the wrong compressor).
  2. Every quantized module's tensors have the dtypes and shapes
     PackedQuantizationCompressor.compress would have produced.
  3. Every module is decompressed with the registered compressor's
     `decompress` (PackedQuantizationCompressor for pack-quantized); the result
     must be bit-identical to the library's model-free
     CompressedTensorsDequantizer, which must find no orphan qparams.
  4. The dequantized state dict has the same tensor names and shapes as
     REFERENCE, and per tensor max|ct - ref| <= rtol * max|ref|.

Prints one line per tensor, then a summary. Exit status: 0 all good,
1 a check failed, 2 the inputs could not be read.
"""

import argparse
import json
import math
import os
import sys

os.environ.setdefault("TQDM_DISABLE", "1")

import torch
from safetensors import safe_open

from compressed_tensors.compressors import BaseCompressor
from compressed_tensors.compressors.format import infer_module_format
from compressed_tensors.config import CompressionFormat
from compressed_tensors.entrypoints.convert.converters.ct_dequantizer import (
    CompressedTensorsDequantizer,
)
from compressed_tensors.quantization import QuantizationConfig, QuantizationScheme
from compressed_tensors.utils.match import match_quantizable_tensors
from compressed_tensors.utils.safetensors_load import get_quantization_config

torch.set_num_threads(1)


class CheckFailed(Exception):
    pass


def load_safetensors(path: str) -> dict[str, torch.Tensor]:
    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def load_checkpoint(outdir: str) -> dict[str, torch.Tensor]:
    """model.safetensors, or the shards listed by model.safetensors.index.json."""
    single = os.path.join(outdir, "model.safetensors")
    index = os.path.join(outdir, "model.safetensors.index.json")
    if os.path.exists(single):
        return load_safetensors(single)
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        tensors: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            for name, t in load_safetensors(os.path.join(outdir, shard)).items():
                if weight_map.get(name) != shard:
                    raise CheckFailed(f"{shard}: tensor {name} not listed for this shard in the index")
                if name in tensors:
                    raise CheckFailed(f"tensor {name} appears in more than one shard")
                tensors[name] = t
        missing = set(weight_map) - set(tensors)
        if missing:
            raise CheckFailed(f"index lists tensors no shard contains: {sorted(missing)[:5]}")
        return tensors
    raise FileNotFoundError(f"no model.safetensors or model.safetensors.index.json in {outdir}")


def scheme_format(config: QuantizationConfig, scheme: QuantizationScheme) -> CompressionFormat:
    """Declared format (per group, else global) and agreement with inference."""
    inferred = infer_module_format(torch.nn.Linear, scheme)
    declared = scheme.format
    if declared is None and config.format != CompressionFormat.mixed_precision.value:
        declared = config.format
    if declared is None:
        raise CheckFailed("a config group has no format and the global format is mixed-precision")
    declared = CompressionFormat(declared)
    if declared != inferred:
        raise CheckFailed(
            f"declared format {declared.value!r} but compressed-tensors infers "
            f"{inferred.value!r} for scheme {scheme.weights}"
        )
    return declared


def check_pack_layout(module: str, sd: dict[str, torch.Tensor], scheme: QuantizationScheme) -> None:
    """Dtypes/shapes exactly as PackedQuantizationCompressor.compress writes them."""
    w = scheme.weights
    bits = w.num_bits
    shape_t = sd["weight_shape"]
    if shape_t.dtype != torch.int64 or shape_t.ndim != 1:
        raise CheckFailed(f"{module}.weight_shape: want 1-D int64, got {shape_t.dtype} {list(shape_t.shape)}")
    shape = [int(v) for v in shape_t.tolist()]
    if len(shape) != 2 or min(shape) <= 0:
        raise CheckFailed(f"{module}.weight_shape: want 2 positive dims, got {shape}")
    rows, cols = shape

    packed = sd["weight_packed"]
    want = [rows, math.ceil(cols * bits / 32)]
    if packed.dtype != torch.int32 or list(packed.shape) != want:
        raise CheckFailed(f"{module}.weight_packed: want int32 {want}, got {packed.dtype} {list(packed.shape)}")

    groups = {"tensor": None, "channel": 1}.get(w.strategy)
    if w.strategy == "group":
        if cols % w.group_size:
            raise CheckFailed(f"{module}: {cols} columns not divisible by group_size {w.group_size}")
        groups = cols // w.group_size
    elif w.strategy not in ("tensor", "channel"):
        raise CheckFailed(f"{module}: strategy {w.strategy} not expected from shrink")
    scale_shape = [1] if groups is None else [rows, groups]
    scale = sd["weight_scale"]
    if not scale.is_floating_point() or list(scale.shape) != scale_shape:
        raise CheckFailed(f"{module}.weight_scale: want float {scale_shape}, got {scale.dtype} {list(scale.shape)}")
    if not torch.isfinite(scale).all() or (scale <= 0).any():
        raise CheckFailed(f"{module}.weight_scale: non-finite or non-positive values")

    zp = sd.get("weight_zero_point")
    if w.symmetric:
        if zp is not None:
            raise CheckFailed(f"{module}.weight_zero_point present for a symmetric scheme")
    elif groups is None:
        if zp is None or zp.dtype != torch.int8 or list(zp.shape) != [1]:
            raise CheckFailed(f"{module}.weight_zero_point: want int8 [1] for asymmetric tensor strategy")
    else:
        want = [math.ceil(rows * bits / 32), groups]
        if zp is None or zp.dtype != torch.int32 or list(zp.shape) != want:
            got = None if zp is None else (zp.dtype, list(zp.shape))
            raise CheckFailed(f"{module}.weight_zero_point: want int32 {want} (packed along dim 0), got {got}")


def decompress_all(tensors: dict[str, torch.Tensor], config: QuantizationConfig):
    """Decompress every targeted module; return (state dict, {module: description})."""
    remaining = dict(tensors)
    out: dict[str, torch.Tensor] = {}
    described: dict[str, str] = {}
    for group_name, scheme in config.config_groups.items():
        fmt = scheme_format(config, scheme)
        compressor = BaseCompressor.get_value_from_registry(fmt.value)
        names = compressor.compression_param_names(scheme)
        matches = list(match_quantizable_tensors(
            remaining, ignore=config.ignore, targets=scheme.targets, param_targets=[names[0]]
        ))
        if not matches:
            raise CheckFailed(f"config group {group_name} matches no tensors in the checkpoint")
        for module, _ in matches:
            missing = [n for n in names if f"{module}.{n}" not in remaining]
            if missing:
                raise CheckFailed(f"{module}: missing {missing}")
            sd = {n: remaining.pop(f"{module}.{n}") for n in names}
            if fmt == CompressionFormat.pack_quantized:
                check_pack_layout(module, sd, scheme)
            out[f"{module}.weight"] = compressor.decompress(sd, scheme)["weight"]
            w = scheme.weights
            described[f"{module}.weight"] = (
                f"{fmt.value} int{w.num_bits} {w.strategy}"
                + (f"{w.group_size}" if w.strategy == "group" else "")
                + (" sym" if w.symmetric else " asym")
            )
    # Anything still looking like a qparam was not claimed by any group.
    orphans = [n for n in remaining if n.rpartition(".")[2].startswith("weight_")]
    if orphans:
        raise CheckFailed(
            f"quantization params not covered by any config group (or a zero point "
            f"stored for a symmetric scheme): {orphans[:5]}"
        )
    out.update(remaining)
    return out, described


def compare(name: str, ct: torch.Tensor, ref: torch.Tensor, rtol: float) -> tuple[bool, str]:
    if list(ct.shape) != list(ref.shape):
        return False, f"shape {list(ct.shape)} != reference {list(ref.shape)}"
    note = ""
    if ct.dtype != ref.dtype:
        # Compare in the dtype the user asked `shrink dequantize` for, the
        # same cast compressed-tensors' own dequantizer applies at the end.
        note = f" (ct {str(ct.dtype)[6:]} cast to {str(ref.dtype)[6:]})"
        ct = ct.to(ref.dtype)
    a, b = ct.double(), ref.double()
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        same = torch.equal(a.nan_to_num(), b.nan_to_num()) and torch.equal(a.isnan(), b.isnan())
        return same, "non-finite values" + ("" if same else " that differ") + note
    diff = (a - b).abs().max().item() if a.numel() else 0.0
    scale = b.abs().max().item() if b.numel() else 0.0
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
    return rel <= rtol, f"max_abs_diff {diff:.3e}  rel {rel:.3e}{note}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", help="directory written by `shrink quantize`")
    parser.add_argument("reference", help="safetensors written by `shrink dequantize`")
    parser.add_argument("--rtol", type=float, default=1e-6, help="max |diff| / max |ref| per tensor")
    args = parser.parse_args()

    try:
        cfg_path = os.path.join(args.outdir, "config.json")
        qdict = get_quantization_config(cfg_path)
        if qdict is None:
            raise CheckFailed(f"{cfg_path} has no quantization_config")
        if qdict.get("quant_method") != "compressed-tensors":
            raise CheckFailed(f"quant_method is {qdict.get('quant_method')!r}, not 'compressed-tensors'")
        config = QuantizationConfig.model_validate(qdict)
        tensors = load_checkpoint(args.outdir)
        reference = load_safetensors(args.reference)
        shrink_json = os.path.join(args.outdir, "shrink.json")
        if os.path.exists(shrink_json):
            with open(shrink_json) as f:
                json.load(f)  # must at least be valid JSON
        else:
            print("warning: no shrink.json in output directory", file=sys.stderr)
    except CheckFailed as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # unreadable input: report, distinct exit status
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2

    try:
        ours, described = decompress_all(tensors, config)
        # Second opinion: the library's own model-free dequantizer, including
        # its check for orphaned qparams. It re-infers formats itself.
        lib = CompressedTensorsDequantizer(args.outdir, dtype=torch.float64).validate(dict(tensors))
        if set(lib) != set(ours):
            raise CheckFailed(f"CompressedTensorsDequantizer produced different tensor names: "
                              f"{sorted(set(lib) ^ set(ours))[:5]}")
        for name in described:
            if not torch.equal(lib[name], ours[name].to(torch.float64)):
                raise CheckFailed(f"{name}: CompressedTensorsDequantizer disagrees with decompress()")
    except CheckFailed as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1

    ok = True
    for name in sorted(set(ours) | set(reference)):
        if name not in reference:
            ok = False
            print(f"FAIL  {name}: missing from reference")
            continue
        if name not in ours:
            ok = False
            print(f"FAIL  {name}: in reference but not in {args.outdir}")
            continue
        good, msg = compare(name, ours[name], reference[name], args.rtol)
        ok &= good
        kind = described.get(name, "copied")
        print(f"{'ok  ' if good else 'FAIL'}  {name:40s} {kind:32s} {msg}")

    n_q = len(described)
    print(f"{'PASS' if ok else 'FAIL'}: {n_q} quantized, {len(ours) - n_q} copied, rtol {args.rtol:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
