"""Reads a GGUF written by `shrink export gguf` with the `gguf` package and checks it.

Usage: check_gguf.py MODEL.gguf MODEL_DIR DUMP.safetensors

- header: version 3, general.architecture and every scalar config.json field as
  `<arch>.<field>`, general.alignment 32;
- every tensor: gguf.quants.dequantize of the stored bytes equals Shrink's own
  dequantization (the dump) bit for bit;
- where gguf.quants implements quantize for the type (F32, F16, Q8_0, Q4_0, Q4_1),
  quantizing the FP32 source (dump's '<name>:source') gives byte-identical blocks.
Prints one summary line; exits 1 on any mismatch.
"""
import json
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType
from gguf import quants
from safetensors.numpy import load_file

QUANTIZE_IMPLEMENTED = {GGMLQuantizationType.F32, GGMLQuantizationType.F16, GGMLQuantizationType.Q8_0,
                        GGMLQuantizationType.Q4_0, GGMLQuantizationType.Q4_1}


def field_value(reader, key):
    f = reader.fields[key]
    return f.contents()


def main():
    path, model_dir, dump_path = sys.argv[1:4]
    reader = GGUFReader(path)
    dump = load_file(dump_path)
    config = json.load(open(f"{model_dir}/config.json"))
    failures = []

    version = int(reader.fields["GGUF.version"].parts[-1][0])
    if version != 3:
        failures.append(f"version {version}")
    arch = field_value(reader, "general.architecture")
    if arch != config.get("arch", "trm"):
        failures.append(f"general.architecture {arch!r}")
    if field_value(reader, "general.alignment") != 32:
        failures.append("general.alignment")
    checked_keys = 0
    for key, value in config.items():
        if isinstance(value, (dict, list)) or value is None:
            continue
        got = field_value(reader, f"{arch}.{key}")
        if got != value:
            failures.append(f"metadata {arch}.{key}: {got!r} != {value!r}")
        checked_keys += 1

    by_type = {}
    identical_blocks = 0
    for t in reader.tensors:
        name = t.name
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))  # ggml order → PyTorch order
        mine = dump[name]
        if mine.shape != shape:
            failures.append(f"{name}: shape {shape} vs Shrink's {mine.shape}")
            continue
        theirs = quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(shape).astype(np.float32)
        if not np.array_equal(theirs.view(np.uint32), mine.view(np.uint32)):
            diff = np.abs(theirs - mine).max()
            failures.append(f"{name} ({t.tensor_type.name}): gguf dequantization differs from Shrink's (max |diff| {diff})")
        by_type[t.tensor_type.name] = by_type.get(t.tensor_type.name, 0) + 1
        if t.tensor_type in QUANTIZE_IMPLEMENTED:
            source = dump[name + ":source"]
            ref = quants.quantize(source, t.tensor_type)
            stored = np.asarray(t.data).reshape(ref.shape) if t.tensor_type not in (GGMLQuantizationType.F32, GGMLQuantizationType.F16) else np.asarray(t.data).reshape(ref.shape)
            if not np.array_equal(ref.view(np.uint8), stored.view(np.uint8)):
                failures.append(f"{name} ({t.tensor_type.name}): gguf.quants.quantize gives different bytes than Shrink")
            else:
                identical_blocks += 1
    if failures:
        print(f"FAIL {path}:")
        for f in failures:
            print("  " + f)
        sys.exit(1)
    types = ", ".join(f"{k}×{v}" for k, v in sorted(by_type.items()))
    print(f"ok {path}: v3, {arch}, {checked_keys} config keys, {len(reader.tensors)} tensors ({types}) dequantize bit-identical; "
          f"{identical_blocks} re-quantized byte-identical by gguf.quants")


if __name__ == "__main__":
    main()
