#!/usr/bin/env python3
"""Goldens for Shrink's GGUF reader (Tests/ShrinkFormatsTests/GGUFReaderTests.swift).

Writes, with gguf-py 0.19.0 (the reference):
  Tests/Fixtures/gguf/types.gguf      GGUF v3 by gguf.GGUFWriter: one tensor per ggml type Shrink
                                      reads, plus metadata of every value type (nested arrays too)
  Tests/Fixtures/gguf/types_v2.gguf   the same bytes with version 2 (v2 and v3 share the layout)
  Tests/Fixtures/gguf/types_dequantized.safetensors
                                      gguf.quants.dequantize of every tensor, row-major (float32)

Tensors: for the types gguf-py can quantize (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, BF16, F16) the
quantizer's output on normal data ("<type>"), and for every block type random block bytes
with finite random fp16 scale fields ("<type>_bits"), which reach every bit pattern of the
codes and scales (gguf-py has no k-quant quantizer). Rows are 512 elements, so k-quants hold
two super-blocks per row. Deterministic (fixed seed).
Run: .venv-tools/bin/python tools/make_gguf_goldens.py
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.quants import dequantize, quantize
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "gguf")
ROWS, COLS = 3, 512

# fp16 fields of each block layout (ggml-common.h): byte offsets of d (and dmin / m).
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def random_blocks(rng, qtype, rows, cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n = rows * cols // block
    b = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        # Scales over several binades, both signs, and some subnormal halves.
        h = (rng.standard_normal(n) * np.float32(2.0) ** rng.integers(-20, 4, n)).astype(np.float16)
        b[:, off:off + 2] = h.view(np.uint8).reshape(n, 2)
    return b.reshape(rows, cols // block * size)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261201)
    tensors = {}  # name -> (stored array, qtype)

    x = (rng.standard_normal((ROWS, COLS)) * 0.05).astype(np.float32)
    x[0, :8] = [0.0, -0.0, 1e-30, -3.5, 65504.0, 1e-7, 7.0, -7.0]
    for qt in [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]:
        tensors[qt.name.lower()] = (quantize(x, qt), qt)
    for qt in HALF_FIELDS:
        tensors[qt.name.lower() + "_bits"] = (random_blocks(rng, qt, ROWS, COLS), qt)

    f32 = rng.standard_normal((2, 3, 5)).astype(np.float32)
    f32.flat[:6] = [0.0, -0.0, np.inf, -np.inf, 1e-45, -3.4e38]
    tensors["f32"] = (f32, T.F32)
    tensors["f16"] = (quantize(x[:2, :64], T.F16), T.F16)
    bits = rng.integers(0, 1 << 16, size=(4, 64), dtype=np.uint16)
    bits[(bits & 0x7C00) == 0x7C00] &= 0xFC00  # no NaN halves: numpy may quiet them in conversion
    tensors["f16_bits"] = (bits.view(np.float16), T.F16)
    tensors["bf16"] = (quantize(x[:2, :64], T.BF16), T.BF16)
    bbits = rng.integers(0, 1 << 16, size=(2, 32), dtype=np.uint16)
    bbits[(bbits & 0x7F80) == 0x7F80] &= 0xFF80  # no NaN bfloat16
    tensors["bf16_bits"] = (bbits.view(np.uint8).reshape(2, 64), T.BF16)

    path = os.path.join(OUT, "types.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint8("test.uint8", 200)
    w.add_int8("test.int8", -100)
    w.add_uint16("test.uint16", 60000)
    w.add_int16("test.int16", -30000)
    w.add_uint32("test.uint32", 4000000000)
    w.add_int32("test.int32", -2000000000)
    w.add_uint64("test.uint64", 18000000000000000000)
    w.add_int64("test.int64", -9000000000000000000)
    w.add_float32("test.float32", 0.1)
    w.add_float64("test.float64", -2.5e-300)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo ✓")
    w.add_array("test.strings", ["a", "", "ġthe"])
    w.add_key_value("test.int32s", [1, -2, 3], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("test.float32s", [0.5, -1.25], V.ARRAY, sub_type=V.FLOAT32)
    w.add_array("test.nested", [[1, 2], [3]])
    w.add_uint32("llama.context_length", 2048)
    w.add_float32("llama.rope.freq_base", 100000.0)
    for name, (arr, qt) in tensors.items():
        w.add_tensor(name, arr, raw_dtype=qt if qt not in (T.F32, T.F16) else None)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    with open(path, "rb") as f:
        data = bytearray(f.read())
    assert data[4:8] == (3).to_bytes(4, "little")
    data[4:8] = (2).to_bytes(4, "little")
    with open(os.path.join(OUT, "types_v2.gguf"), "wb") as f:
        f.write(data)

    # The reference values: read back with gguf-py's reader, dequantize with gguf.quants.
    r = gguf.GGUFReader(path)
    golden = {}
    for t in r.tensors:
        vals = dequantize(np.asarray(t.data), t.tensor_type)
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        golden[t.name] = np.ascontiguousarray(vals.reshape(shape).astype(np.float32, copy=False))
        assert t.tensor_type == tensors[t.name][1]
    save_file(golden, os.path.join(OUT, "types_dequantized.safetensors"))
    print(f"wrote {len(golden)} tensors; {sum(v.nbytes for v in golden.values())} golden bytes")


if __name__ == "__main__":
    sys.exit(main())
