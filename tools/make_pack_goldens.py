#!/usr/bin/env python3
"""Write golden quantize/pack files for the Swift tests: Tests/Fixtures/pack/.

Every golden is produced by compressed-tensors 0.20.0 itself (the format Shrink
writes must load in vLLM/transformers, which use this library), not by our own
re-implementation:

  calculate_qparams(min, max, args)          min-max observer, per tensor / row / group
  forward.quantize(..., dtype=torch.int8)    -> codes
  PackedQuantizationCompressor.compress      -> weight_packed, weight_shape,
                                                (packed) weight_zero_point
  PackedQuantizationCompressor.decompress    -> dequantized

The script then re-derives everything with tools/ctref.py (plain NumPy) and
fails unless both agree bit for bit, so the formulas documented there are
verified, and checks unpack(pack(codes)) == codes with both implementations.

It also writes config_*.json: the config.json that ModelCompressor.update_config
writes for a few schemes, produced through the real model flow
(apply_quantization_config -> compress_model), as goldens for Shrink's writer.

Usage: tools/make_pack_goldens.py [--out Tests/Fixtures/pack]
"""

import argparse
import json
import os
import sys
import tempfile

# compress_model shows a tqdm bar per call; keep the output to the summary line.
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import torch
from safetensors.torch import save_file

import compressed_tensors
from compressed_tensors.compressors import ModelCompressor
from compressed_tensors.compressors.pack_quantized import (
    PackedQuantizationCompressor,
    pack_to_int32,
    unpack_from_int32,
)
from compressed_tensors.quantization import (
    QuantizationArgs,
    QuantizationConfig,
    QuantizationScheme,
    apply_quantization_config,
)
from compressed_tensors.quantization.lifecycle.forward import quantize
from compressed_tensors.quantization.utils import calculate_qparams

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctref  # noqa: E402

torch.set_num_threads(1)

SEED = 1234
ROWS, COLS = 24, 96
GROUP = 32
BITS = (2, 3, 4, 5, 6, 8)
STRATEGIES = (("tensor", None), ("channel", None), ("g32", GROUP))

# Rows with special content, so the goldens pin down the edge cases.
ZERO_ROW = 3  # all zeros: scale 0 -> eps; asymmetric zp is NaN -> 0
OUTLIER_ROW = 7  # one huge value dominates the row/tensor range
OUTLIER = (7, 50, 12.0)
POSITIVE_ROW = 11  # all > 0: min is clamped up to 0
NEGATIVE_ROW = 15  # all < 0: max is clamped down to 0
RAMP_ROW = 19  # evenly spaced values: lands many points on rounding ties
CONST_ROW = 21  # a single repeated value


def make_weight() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    w = rng.normal(0.0, 0.05, size=(ROWS, COLS)).astype(np.float32)
    w[ZERO_ROW] = 0.0
    r, c, v = OUTLIER
    w[r, c] = v
    w[POSITIVE_ROW] = np.abs(w[POSITIVE_ROW]) + np.float32(0.01)
    w[NEGATIVE_ROW] = -np.abs(w[NEGATIVE_ROW]) - np.float32(0.01)
    w[RAMP_ROW] = np.linspace(-1.0, 1.0, COLS, dtype=np.float32)
    w[CONST_ROW] = np.float32(0.3)
    return w


def observe(w: torch.Tensor, args: QuantizationArgs) -> tuple[torch.Tensor, torch.Tensor]:
    """Min-max observer, producing the shapes compressed-tensors initializes."""
    if args.strategy == "tensor":
        return torch.aminmax(w)  # 0-d; calculate_qparams reshapes to [1]
    if args.strategy == "channel":
        return w.amin(dim=-1, keepdim=True), w.amax(dim=-1, keepdim=True)
    if args.strategy == "group":
        g = w.unflatten(-1, (-1, args.group_size))
        return g.amin(dim=-1), g.amax(dim=-1)
    raise ValueError(args.strategy)


def ct_strategy(name: str) -> dict:
    return {"strategy": "group", "group_size": GROUP} if name == "g32" else {"strategy": name}


def make_case(w_np: np.ndarray, bits: int, strat: str, symmetric: bool) -> dict:
    w = torch.from_numpy(w_np)
    args = QuantizationArgs(num_bits=bits, type="int", symmetric=symmetric, **ct_strategy(strat))
    scheme = QuantizationScheme(targets=["Linear"], weights=args)

    mn, mx = observe(w, args)
    scale, zp = calculate_qparams(mn, mx, args)
    codes = quantize(x=w, scale=scale, zero_point=zp, args=args, dtype=torch.int8)

    compressed = PackedQuantizationCompressor.compress(
        {"weight": w, "weight_scale": scale, "weight_zero_point": zp}, scheme
    )
    packed = compressed["weight_packed"]
    dequant = PackedQuantizationCompressor.decompress(compressed, scheme)["weight"]

    # Round trip through compressed-tensors' own unpacker.
    assert torch.equal(unpack_from_int32(packed, bits, w.shape), codes)
    assert torch.equal(pack_to_int32(codes, bits), packed)

    # Independent NumPy derivation must agree bit for bit.
    group = GROUP if strat == "g32" else None
    kind = "group" if strat == "g32" else strat
    r_codes, r_scale, r_zp = ctref.quantize(w_np, bits, symmetric, kind, group)
    assert np.array_equal(r_codes, codes.numpy()), "codes differ from ctref"
    assert np.array_equal(r_scale.view(np.uint32), scale.numpy().view(np.uint32)), "scale"
    assert np.array_equal(ctref.pack_int32(r_codes, bits), packed.numpy()), "packing"
    assert np.array_equal(ctref.unpack_int32(packed.numpy(), bits, COLS), r_codes), "unpack"
    r_deq = ctref.dequantize(r_codes, r_scale, None if symmetric else r_zp, kind, group)
    assert np.array_equal(r_deq.view(np.uint32), dequant.numpy().view(np.uint32)), "dequant"

    out = {
        "weight": w,
        "codes": codes,
        "weight_packed": packed,
        "weight_scale": compressed["weight_scale"],
        "weight_shape": compressed["weight_shape"],
        "dequantized": dequant,
    }
    if not symmetric:
        stored_zp = compressed["weight_zero_point"]
        out["weight_zero_point"] = stored_zp
        if strat == "tensor":
            assert stored_zp.dtype == torch.int8 and tuple(stored_zp.shape) == (1,)
            assert np.array_equal(stored_zp.numpy(), r_zp)
        else:
            assert stored_zp.dtype == torch.int32
            assert np.array_equal(stored_zp.numpy(), ctref.pack_zero_point(r_zp, bits))
    else:
        assert "weight_zero_point" not in compressed
    return {k: v.contiguous() for k, v in out.items()}


class _TinyModel(torch.nn.Module):
    """Module names match Fixtures/default so the config goldens are realistic."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(4, 128)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(128, 256), torch.nn.Linear(256, 256)])
        self.head = torch.nn.Linear(256, 10)


def make_config(args: QuantizationArgs, targets: list[str]) -> dict:
    """Run the real llm-compressor-style save flow and return config.json."""
    torch.manual_seed(0)
    model = _TinyModel()
    scheme = QuantizationScheme(targets=targets, weights=args)
    config = QuantizationConfig(config_groups={"group_0": scheme}, quantization_status="frozen")
    apply_quantization_config(model, config, show_progress=False)
    for module in model.modules():
        if hasattr(module, "quantization_scheme"):
            a = module.quantization_scheme.weights
            mn, mx = observe(module.weight.data, a)
            scale, zp = calculate_qparams(mn, mx, a)
            module.weight_scale.data.copy_(scale)
            if hasattr(module, "weight_zero_point"):
                module.weight_zero_point.data.copy_(zp)
    compressor = ModelCompressor.from_pretrained_model(model)
    compressor.compress_model(model)
    with tempfile.TemporaryDirectory() as d:
        compressor.update_config(d)
        with open(os.path.join(d, "config.json")) as f:
            return json.load(f)


CONFIGS = {
    "config_w4_g64_sym.json": (
        dict(num_bits=4, type="int", symmetric=True, strategy="group", group_size=64),
        ["layers.0", "layers.1", "head"],
    ),
    "config_w8_channel_sym.json": (
        dict(num_bits=8, type="int", symmetric=True, strategy="channel"),
        ["layers.0", "layers.1", "head"],
    ),
    "config_w4_g32_asym_partial.json": (
        dict(num_bits=4, type="int", symmetric=False, strategy="group", group_size=32),
        ["layers.0", "layers.1"],  # head left out -> appears in "ignore"
    ),
}


README = """\
# Pack goldens

Generated by `tools/make_pack_goldens.py` with compressed-tensors {ct_version}
and torch {torch_version} (CPU). Do not edit by hand; regenerate with

    tools/setup_venv.sh && .venv-tools/bin/python tools/make_pack_goldens.py

## `b{{bits}}_{{tensor|channel|g32}}_{{sym|asym}}.safetensors`

bits in {{2,3,4,5,6,8}}; strategy per tensor, per output channel (row), or per
group of 32 consecutive input elements; symmetric or asymmetric. One input:
`weight` F32 [24, 96], seed {seed}, N(0, 0.05) with special rows:
row {zero} all zeros, row {out_r} an outlier {out_v} at column {out_c}, row {pos} all
positive, row {neg} all negative, row {ramp} linspace(-1, 1), row {const} constant 0.3.

| tensor | dtype | shape | meaning |
|---|---|---|---|
| `weight` | F32 | [24, 96] | input |
| `codes` | I8 | [24, 96] | quantized codes in [-2^(b-1), 2^(b-1)-1], before packing |
| `weight_packed` | I32 | [24, ceil(96*b/32)] | `pack_to_int32(codes)` |
| `weight_scale` | F32 | tensor [1], channel [24, 1], g32 [24, 3] | |
| `weight_zero_point` | asym only | tensor: I8 [1]; channel/g32: I32, zero points packed along dim 0 (`packed_dim=0`): [ceil(24*b/32), 1 or 3] | |
| `weight_shape` | I64 | [2] | [24, 96] |
| `dequantized` | F32 | [24, 96] | `PackedQuantizationCompressor.decompress` output |

Pipeline (all compressed-tensors code): min-max per block ->
`quantization.utils.calculate_qparams` -> `lifecycle.forward.quantize(dtype=int8)`
-> `PackedQuantizationCompressor.compress` / `.decompress`. The script checks
the results bit for bit against the NumPy restatement in `tools/ctref.py`,
whose docstring lists the exact formulas, and checks unpack(pack(codes)) == codes.

## `config_*.json`

The `config.json` that `ModelCompressor.update_config` writes after the real
save flow (`apply_quantization_config` -> calibrate -> `compress_model`) on a
model with the same module names as `Fixtures/default`.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(repo, "Tests", "Fixtures", "pack"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    w = make_weight()
    # One key only: safetensors serializes __metadata__ from a Rust HashMap,
    # so with two or more keys their order (and the file bytes) vary per run.
    metadata = {"producer": f"tools/make_pack_goldens.py, compressed-tensors {compressed_tensors.__version__}"}
    names = []
    for bits in BITS:
        for strat, _ in STRATEGIES:
            for symmetric in (True, False):
                tensors = make_case(w, bits, strat, symmetric)
                name = f"b{bits}_{strat}_{'sym' if symmetric else 'asym'}.safetensors"
                save_file(tensors, os.path.join(args.out, name), metadata=metadata)
                names.append(name)

    for name, (qargs, targets) in CONFIGS.items():
        cfg = make_config(QuantizationArgs(**qargs), targets)
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
            f.write("\n")
        names.append(name)

    r, c, v = OUTLIER
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(README.format(
            ct_version=compressed_tensors.__version__,
            torch_version=torch.__version__.split("+")[0],
            seed=SEED, zero=ZERO_ROW, out_r=r, out_c=c, out_v=v, pos=POSITIVE_ROW,
            neg=NEGATIVE_ROW, ramp=RAMP_ROW, const=CONST_ROW,
        ))

    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(json.dumps({"out": args.out, "files": len(names) + 1, "bytes": total}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
