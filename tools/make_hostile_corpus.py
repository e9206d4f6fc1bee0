#!/usr/bin/env python3
"""Write the safetensors reader's test corpus: hostile files and valid references.

    make_hostile_corpus.py [--root Tests/Fixtures]

Writes under --root:

  hostile/<case>.safetensors, hostile/<case>/   one malformed input per case
  hostile/cases.json                            [{file, stage, expected_error_substring_hint,
                                                  description}], stage "open" = the reader
                                                  must reject it, "quantize" = a valid file
                                                  that `shrink quantize` must refuse
  sharded/                                      valid index + 2 shards, 10 dtypes
  sharded_reference.safetensors                 the same tensors in one file
  dtypes.safetensors + dtypes.json              one tensor per dtype (incl. F8_E4M3,
                                                  F8_E5M2) with the decoded values and the
                                                  raw little-endian bits of every element

Malformed files are assembled by hand (struct + json) because the safetensors
library refuses to write them; valid files are written with the library, the
canonical producer. The script then checks its own work: every "open" case
must be rejected by safetensors itself (except the few the library accepts,
which are reported, since Shrink is meant to be stricter) and every valid file
must load with the expected values. Output is byte-identical across runs.
"""

import argparse
import json
import math
import os
import shutil
import struct
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

torch.set_num_threads(1)


# --------------------------------------------------------------------------
# Raw writers


def raw_file(header, data: bytes = b"", *, header_len: int | None = None, pad: bool = True) -> bytes:
    """8-byte LE header length + header + data. `header` may be bytes (used as
    is, for deliberately broken JSON) or an object (compact JSON)."""
    blob = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        blob += b" " * (-len(blob) % 8)
    n = len(blob) if header_len is None else header_len
    return struct.pack("<Q", n) + blob + data


def f32(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def entry(dtype: str, shape: list, begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# --------------------------------------------------------------------------
# Hostile single files. Each: name -> (bytes, stage, hint, description)

FOUR_F32 = f32(1.0, 2.0, 3.0, 4.0)


def hostile_files() -> dict[str, tuple[bytes, str, str, str]]:
    ok_header = {"x": entry("F32", [4], 0, 16)}
    cases = {
        "empty": (b"", "open", "too small",
                  "zero-byte file: not even a header length"),
        "five_bytes": (b"\x10\x00\x00\x00\x00", "open", "too small",
                       "5 bytes: shorter than the 8-byte header length field"),
        "header_len_exceeds_file": (
            raw_file(ok_header, FOUR_F32, header_len=4096), "open", "header length",
            "header length field (4096) is larger than the whole file"),
        "header_len_huge": (
            struct.pack("<Q", 2**62) + b'{"x":1}', "open", "header length",
            "header length 2^62: must be rejected before any allocation"),
        "header_len_zero": (
            raw_file(b"", b"", header_len=0, pad=False), "open", "header",
            "header length 0: an empty header is not a JSON object"),
        "header_not_json": (
            raw_file(b"this is not json at all", FOUR_F32), "open", "JSON",
            "header bytes are not JSON"),
        "header_invalid_utf8": (
            raw_file(b'{"x\xff\xfe":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', FOUR_F32),
            "open", "UTF-8", "header contains bytes that are not valid UTF-8"),
        "header_json_array": (
            raw_file([{"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}], FOUR_F32), "open", "object",
            "header is valid JSON but an array, not an object"),
        "tensor_entry_not_object": (
            raw_file({"x": [0, 16]}, FOUR_F32), "open", "x",
            "a tensor entry is an array instead of {dtype, shape, data_offsets}"),
        "missing_dtype": (
            raw_file({"x": {"shape": [4], "data_offsets": [0, 16]}}, FOUR_F32), "open", "dtype",
            "tensor entry without a dtype field"),
        "unknown_dtype": (
            raw_file({"x": entry("F7", [4], 0, 16)}, FOUR_F32), "open", "F7",
            "dtype \"F7\" does not exist"),
        "negative_dim": (
            raw_file({"x": entry("F32", [-1, 4], 0, 16)}, FOUR_F32), "open", "shape",
            "shape [-1, 4] has a negative dimension"),
        "fractional_dim": (
            raw_file({"x": entry("F32", [2.5, 4], 0, 16)}, FOUR_F32), "open", "shape",
            "shape [2.5, 4] has a non-integer dimension"),
        "shape_product_overflow": (
            raw_file({"x": entry("F32", [2**32, 2**32], 0, 16)}, FOUR_F32), "open", "overflow",
            "each dim fits in Int64 but the element count 2^64 does not"),
        "byte_size_overflow": (
            raw_file({"x": entry("F32", [2**31, 2**31], 0, 16)}, FOUR_F32), "open", "overflow",
            "element count 2^62 fits in Int64 but times 4 bytes (2^64) does not"),
        "offsets_out_of_bounds": (
            raw_file({"x": entry("F32", [100], 0, 400)}, FOUR_F32), "open", "offset",
            "data_offsets [0, 400] point past the 16-byte data section"),
        "offsets_wrong_arity": (
            raw_file({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0]}}, FOUR_F32), "open", "offset",
            "data_offsets has one element instead of two"),
        "reversed_offsets": (
            raw_file({"x": entry("F32", [4], 16, 0)}, FOUR_F32), "open", "offset",
            "data_offsets [16, 0]: end before begin"),
        "overlapping_tensors": (
            raw_file({"a": entry("F32", [4], 0, 16), "b": entry("F32", [4], 8, 24)},
                     f32(1, 2, 3, 4, 5, 6)), "open", "overlap",
            "a = [0, 16) and b = [8, 24) share bytes 8..16"),
        "gap_in_data": (
            raw_file({"a": entry("F32", [4], 0, 16), "b": entry("F32", [4], 20, 36)},
                     f32(1, 2, 3, 4, 0, 5, 6, 7, 8)), "open", "gap",
            "bytes 16..20 of the data section belong to no tensor"),
        "trailing_bytes": (
            raw_file(ok_header, FOUR_F32 + b"\x00" * 4), "open", "trailing",
            "4 bytes after the last tensor's data (offsets must cover the data section exactly)"),
        "size_mismatch": (
            raw_file({"x": entry("F32", [4], 0, 12)}, f32(1, 2, 3)), "open", "size",
            "shape [4] of F32 needs 16 bytes but data_offsets span 12"),
        "duplicate_names": (
            raw_file(b'{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
                     b'"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', FOUR_F32),
            "open", "duplicate",
            "header JSON has the key \"x\" twice with identical entries, so the duplicate is the "
            "only fault (a dictionary-based decoder silently keeps one; the Rust library accepts it)"),
        "metadata_non_string": (
            raw_file({"__metadata__": {"format": "pt", "step": 3, "nested": {"a": "b"}},
                      "x": entry("F32", [4], 0, 16)}, FOUR_F32), "open", "metadata",
            "__metadata__ values must all be strings; here a number and an object"),
        "metadata_not_object": (
            raw_file({"__metadata__": "pt", "x": entry("F32", [4], 0, 16)}, FOUR_F32), "open", "metadata",
            "__metadata__ is a string, not an object"),
    }
    # Valid files whose values must stop quantization. [2, 32] F32 so that
    # channel and group-32 quantization would otherwise apply.
    base = torch.linspace(-1, 1, 64, dtype=torch.float32).reshape(2, 32)
    for name, bad, hint in (("nan_weight", float("nan"), "NaN"), ("inf_weight", float("inf"), "Inf"),
                            ("neg_inf_weight", float("-inf"), "Inf")):
        t = base.clone()
        t[1, 7] = bad
        cases[name] = (save_bytes({"layer.weight": t}), "quantize", hint,
                       f"valid file; layer.weight [2, 32] F32 has {bad} at [1, 7]: quantize must refuse")
    return cases


def save_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save
    return save(tensors, metadata={"format": "pt"})


# --------------------------------------------------------------------------
# Valid references


def sharded_tensors() -> dict[str, torch.Tensor]:
    """Known values in ten dtypes, including each type's awkward extremes."""
    return {
        "model.embed.weight": (torch.arange(32, dtype=torch.float32).reshape(4, 8) - 16) / 8,
        "model.layers.0.attn.weight": (torch.arange(64, dtype=torch.float32).reshape(8, 8) / 64 - 0.5).half(),
        "model.layers.0.mlp.weight": (torch.arange(48, dtype=torch.float32).reshape(6, 8) / 4 - 6).bfloat16(),
        "model.layers.0.norm.weight": torch.tensor([1.0, -0.0, 1e-300, -2.5e300, math.pi], dtype=torch.float64),
        "model.position_ids": torch.tensor([0, 1, -1, 2**62, -(2**63), 2**63 - 1], dtype=torch.int64),
        "model.layers.1.index": torch.tensor([[0, -1, 2**31 - 1], [-(2**31), 7, 8]], dtype=torch.int32),
        "model.layers.1.small": torch.tensor([0, 1, -1, 32767, -32768], dtype=torch.int16),
        "model.layers.1.codes": torch.tensor([0, 1, -1, 127, -128, 42], dtype=torch.int8),
        "model.layers.1.bytes": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        "model.layers.1.mask": torch.tensor([[True, False, True], [False, False, True]]),
    }


SHARD_OF = {  # which shard each tensor goes to: both shards hold mixed dtypes
    "model.embed.weight": 1, "model.layers.0.attn.weight": 1, "model.layers.0.mlp.weight": 1,
    "model.layers.0.norm.weight": 1, "model.position_ids": 1,
    "model.layers.1.index": 2, "model.layers.1.small": 2, "model.layers.1.codes": 2,
    "model.layers.1.bytes": 2, "model.layers.1.mask": 2,
}


def write_sharded(directory: str, tensors: dict[str, torch.Tensor]) -> None:
    os.makedirs(directory, exist_ok=True)
    names = {i: f"model-0000{i}-of-00002.safetensors" for i in (1, 2)}
    weight_map = {}
    for i, fname in names.items():
        part = {k: v for k, v in tensors.items() if SHARD_OF[k] == i}
        save_file(part, os.path.join(directory, fname), metadata={"format": "pt"})
        weight_map.update({k: fname for k in part})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    write_json(os.path.join(directory, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))})


def dtype_tensors() -> dict[str, torch.Tensor]:
    """One tensor per safetensors dtype, named after it, with edge values."""
    inf, nan = float("inf"), float("nan")
    return {
        "F64": torch.tensor([0.0, -0.0, 1.0, -1.5, 1e308, 5e-324, inf, -inf, nan], dtype=torch.float64),
        "F32": torch.tensor([0.0, -0.0, 1.0, -1.5, 3.4028234663852886e38, 1.401298464324817e-45,
                             1.1754943508222875e-38, inf, -inf, nan], dtype=torch.float32),
        "F16": torch.tensor([0.0, -0.0, 1.0, -1.5, 65504.0, 2**-14, 2**-24, 0.1, inf, -inf, nan],
                            dtype=torch.float16),
        "BF16": torch.tensor([0.0, -0.0, 1.0, -1.5, 3.3895313892515355e38, 2**-126, 2**-133, 0.1,
                              inf, -inf, nan], dtype=torch.bfloat16),
        # E4M3 ("fn"): no infinities, 0x7f/0xff are NaN, max 448.
        "F8_E4M3": torch.tensor([0.0, -0.0, 1.0, -1.5, 448.0, -448.0, 2**-6, 2**-9, 0.1, nan],
                                dtype=torch.float8_e4m3fn),
        # E5M2: IEEE-like, has infinities, max 57344.
        "F8_E5M2": torch.tensor([0.0, -0.0, 1.0, -1.5, 57344.0, -57344.0, 2**-14, 2**-16, 0.1, inf, -inf, nan],
                                dtype=torch.float8_e5m2),
        "I64": torch.tensor([0, 1, -1, 2**63 - 1, -(2**63)], dtype=torch.int64),
        "I32": torch.tensor([0, 1, -1, 2**31 - 1, -(2**31)], dtype=torch.int32),
        "I16": torch.tensor([0, 1, -1, 2**15 - 1, -(2**15)], dtype=torch.int16),
        "I8": torch.tensor([0, 1, -1, 127, -128], dtype=torch.int8),
        "U64": torch.tensor([0, 1, 2**63], dtype=torch.uint64),
        "U32": torch.tensor([0, 1, 2**32 - 1], dtype=torch.uint32),
        "U16": torch.tensor([0, 1, 2**16 - 1], dtype=torch.uint16),
        "U8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "BOOL": torch.tensor([True, False, True]),
        # A 2-D tensor so the reader's row-major handling is checked too.
        "F32_2d": torch.arange(6, dtype=torch.float32).reshape(2, 3),
    }


def describe_values(t: torch.Tensor) -> dict:
    """Decoded values plus each element's raw little-endian bits as hex."""
    flat = t.reshape(-1)
    width = t.element_size()
    if t.dtype == torch.bool:
        bits = flat.view(torch.uint8)
        values = [bool(v) for v in flat.tolist()]
    else:
        int_view = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[width]
        bits = flat.view(int_view)
        if t.is_floating_point():
            values = [float_json(v) for v in flat.double().tolist()]
        else:
            values = [int(v) for v in flat.tolist()]
    mask = (1 << (8 * width)) - 1
    return {"shape": list(t.shape), "values": values,
            "bits": [f"0x{(int(b) & mask):0{2 * width}x}" for b in bits.tolist()]}


def float_json(v: float):
    """JSON has no NaN/Inf/-0: spell them as strings; other floats as numbers."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1, v) < 0:
        return "-0.0"
    return v


def write_json(path: str, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# --------------------------------------------------------------------------


def library_rejects(path: str) -> str | None:
    """Error text if the reference safetensors implementation refuses the file."""
    try:
        with safe_open(path, framework="pt") as f:
            for k in f.keys():
                f.get_tensor(k)
    except Exception as e:  # the library's exception types vary by case
        return f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--root", default=os.path.join(repo, "Tests", "Fixtures"))
    args = parser.parse_args()
    hostile = os.path.join(args.root, "hostile")
    shutil.rmtree(hostile, ignore_errors=True)  # stale cases must not linger
    os.makedirs(hostile)

    cases = []
    library_accepts = []
    for name, (data, stage, hint, desc) in hostile_files().items():
        fname = f"{name}.safetensors"
        path = os.path.join(hostile, fname)
        with open(path, "wb") as f:
            f.write(data)
        assert len(data) <= 600, (name, len(data))
        cases.append({"file": fname, "stage": stage, "expected_error_substring_hint": hint,
                      "description": desc})
        rejected = library_rejects(path)
        if stage == "open" and rejected is None:
            library_accepts.append(name)
        if stage == "quantize":
            assert rejected is None, f"{name} should be a valid file: {rejected}"

    # Sharded hostile cases: directories with an index.
    shard = lambda t: save_bytes(t)  # noqa: E731
    d = os.path.join(hostile, "shard_missing")
    os.makedirs(d)
    with open(os.path.join(d, "model-00001-of-00002.safetensors"), "wb") as f:
        f.write(shard({"a.weight": torch.ones(2, 32)}))
    write_json(os.path.join(d, "model.safetensors.index.json"), {
        "metadata": {"total_size": 512},
        "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                       "b.weight": "model-00002-of-00002.safetensors"}})
    cases.append({"file": "shard_missing/", "stage": "open", "expected_error_substring_hint": "missing",
                  "description": "index maps b.weight to model-00002-of-00002.safetensors, which does not exist"})

    d = os.path.join(hostile, "shard_dup")
    os.makedirs(d)
    for i in (1, 2):
        with open(os.path.join(d, f"model-0000{i}-of-00002.safetensors"), "wb") as f:
            f.write(shard({"shared.weight": torch.full((2, 32), float(i)),
                           f"only{i}.weight": torch.zeros(2, 32)}))
    # Raw text: weight_map names shared.weight twice, once per shard.
    index = (b'{\n  "metadata": {"total_size": 768},\n  "weight_map": {\n'
             b'    "only1.weight": "model-00001-of-00002.safetensors",\n'
             b'    "only2.weight": "model-00002-of-00002.safetensors",\n'
             b'    "shared.weight": "model-00001-of-00002.safetensors",\n'
             b'    "shared.weight": "model-00002-of-00002.safetensors"\n  }\n}\n')
    with open(os.path.join(d, "model.safetensors.index.json"), "wb") as f:
        f.write(index)
    cases.append({"file": "shard_dup/", "stage": "open", "expected_error_substring_hint": "duplicate",
                  "description": "shared.weight is stored in both shards and the index lists it twice "
                                 "(duplicate JSON key, mapping to different shards)"})
    write_json(os.path.join(hostile, "cases.json"), cases)

    # Valid sharded checkpoint and its single-file twin.
    tensors = sharded_tensors()
    sharded = os.path.join(args.root, "sharded")
    shutil.rmtree(sharded, ignore_errors=True)
    write_sharded(sharded, tensors)
    ref = os.path.join(args.root, "sharded_reference.safetensors")
    save_file(tensors, ref, metadata={"format": "pt"})

    # One tensor per dtype, with the expected decoding.
    dtypes = dtype_tensors()
    dpath = os.path.join(args.root, "dtypes.safetensors")
    save_file(dtypes, dpath, metadata={"format": "pt"})
    with safe_open(dpath, framework="pt") as f:
        stored = {k: f.get_tensor(k) for k in f.keys()}
    expected = {}
    with open(dpath, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        on_disk = json.loads(fh.read(n))
    for name, t in dtypes.items():
        assert torch.equal(stored[name].view(torch.uint8), t.view(torch.uint8)), name
        expected[name] = {"dtype": on_disk[name]["dtype"], **describe_values(t)}
    write_json(os.path.join(args.root, "dtypes.json"), expected)

    # Self-checks on the valid files.
    for path in [ref, dpath] + [os.path.join(sharded, p) for p in os.listdir(sharded) if p.endswith(".safetensors")]:
        assert library_rejects(path) is None, path
    with safe_open(ref, framework="pt") as f:
        assert all(torch.equal(f.get_tensor(k).view(torch.uint8), tensors[k].view(torch.uint8)) for k in tensors)

    print(json.dumps({"hostile_cases": len(cases), "safetensors_library_accepts": library_accepts,
                      "dtypes": sorted(expected), "sharded_tensors": len(tensors)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
