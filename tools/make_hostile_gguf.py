#!/usr/bin/env python3
"""Write the GGUF reader's hostile corpus: one malformed file per case.

    make_hostile_gguf.py [--root Tests/Fixtures]

Writes --root/hostile/gguf/<case>.gguf and --root/hostile/gguf/cases.json
([{file, stage, expected_error_substring_hint, description}], stage "open": the reader must
refuse the file with a one-line error naming it). The files are assembled byte by byte
(struct), from the layout of ggml docs/gguf.md, because gguf-py's writer refuses to write
them. Each starts from one valid base file (2 tensors: F32 [4] and Q8_0 [32, 2]; metadata
general.architecture and general.alignment), which the script first checks gguf-py reads.
It then reports which broken files gguf-py 0.19.0 itself accepts (Shrink is meant to be
stricter: it validates everything at open). Output is byte-identical across runs.
"""
import argparse
import json
import os
import struct
import sys

# gguf.md gguf_metadata_value_type
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
GGML_F32, GGML_Q8_0 = 0, 8


def s(text) -> bytes:
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload: bytes) -> bytes:
    return s(key) + struct.pack("<I", vtype) + payload


def u32v(v):
    return struct.pack("<I", v)


def tinfo(name, dims, ggml_type, offset, n_dims=None) -> bytes:
    out = s(name) + struct.pack("<I", len(dims) if n_dims is None else n_dims)
    out += b"".join(struct.pack("<Q", d) for d in dims)
    return out + struct.pack("<IQ", ggml_type, offset)


BASE_KVS = [kv("general.architecture", STR, s("llama")), kv("general.alignment", U32, u32v(32))]
F32_DATA = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
Q8_DATA = (struct.pack("<e", 0.25) + bytes(range(32))) * 2  # 2 blocks of 34 bytes
BASE_TENSORS = [("a", [4], GGML_F32, 0), ("b", [32, 2], GGML_Q8_0, 32)]


def gguf(kvs=None, tensors=None, data=None, version=3, magic=b"GGUF", n_tensors=None, n_kvs=None, alignment=32,
         raw_infos=None) -> bytes:
    kvs = BASE_KVS if kvs is None else kvs
    tensors = BASE_TENSORS if tensors is None else tensors
    infos = raw_infos if raw_infos is not None else b"".join(tinfo(*t) for t in tensors)
    head = magic + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                               len(kvs) if n_kvs is None else n_kvs)
    head += b"".join(kvs) + infos
    head += b"\0" * (-len(head) % alignment)
    if data is None:
        data = F32_DATA + b"\0" * 16 + Q8_DATA
    return head + data


def header_end(blob_kvs=None, tensors=None) -> int:
    """Offset where the tensor infos end in gguf(kvs, tensors)."""
    kvs = BASE_KVS if blob_kvs is None else blob_kvs
    tensors = BASE_TENSORS if tensors is None else tensors
    return 24 + sum(len(k) for k in kvs) + sum(len(tinfo(*t)) for t in tensors)


def cases():
    base = gguf()
    first_kv_end = 24 + len(BASE_KVS[0])
    yield "empty", b"", "ends in the header", "zero-byte file"
    yield "bad_magic", b"GGUX" + base[4:], "not a GGUF file", "magic is GGUX"
    yield "safetensors_renamed", struct.pack("<Q", 2) + b"{}", "not a GGUF file", "a safetensors file named .gguf"
    yield "version_1", gguf(version=1), "version 1", "GGUF v1 (32-bit counts), not supported"
    yield "version_99", gguf(version=99), "version 99", "a future version"
    yield "big_endian", b"GGUF" + struct.pack(">I", 3) + base[8:], "big-endian", "version 3 stored big-endian (gguf-py can write such files)"
    yield "truncated_header", base[:14], "ends in the header", "cut inside the tensor count"
    yield "truncated_metadata_key", base[:24 + 8 + 5], "claims length", "cut inside the first key's bytes"
    yield "truncated_metadata_value", base[:24 + 8 + 20 + 4 + 8 + 2], "claims length", \
        "cut inside the first value (the string \"llama\"): its length is more than what is left"
    yield "truncated_value_u32", base[:first_kv_end + len(BASE_KVS[1]) - 2], "ends in the value of metadata key 'general.alignment'", \
        "cut inside a uint32 value"
    yield "truncated_tensor_info", base[:24 + sum(map(len, BASE_KVS)) + 8 + 1 + 4 + 3], "ends in the tensor info 'a'", \
        "cut inside the first tensor's dimensions"
    yield "truncated_data", base[:len(base) - 10], "run past the data region", "the last tensor's data cut short"
    yield "truncated_before_data", base[:header_end()], "run past the data region", "file ends where the data region should start"
    yield "huge_tensor_count", gguf(n_tensors=1 << 62), "tensor count", "tensor count 2^62"
    yield "huge_key_count", gguf(n_kvs=(1 << 64) - 1), "metadata key count", "metadata key count 2^64 - 1"
    yield "huge_key_length", gguf(kvs=[struct.pack("<Q", 1 << 63) + b"abc"]), "claims length", "a key string of length 2^63"
    yield "huge_string_value", gguf(kvs=[s("general.name") + struct.pack("<IQ", STR, (1 << 40))]), "claims length", \
        "a string value of length 2^40"
    yield "huge_array_length", gguf(kvs=[s("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARR, STR, 1 << 40)]), "claims length", \
        "an array of 2^40 strings"
    yield "huge_tensor_name", gguf(raw_infos=struct.pack("<Q", 1 << 50) + b"x" * 8, tensors=BASE_TENSORS), "claims length", \
        "a tensor name of length 2^50"
    yield "unknown_value_type", gguf(kvs=[kv("general.name", 13, b"\0" * 8)]), "unknown value type 13", "value type 13"
    yield "unknown_array_element_type", gguf(kvs=[kv("x.list", ARR, struct.pack("<IQ", 99, 1) + b"\0" * 8)]), \
        "unknown value type 99", "array element type 99"
    yield "bad_bool", gguf(kvs=[kv("x.flag", BOOL, b"\x02")]), "bool byte is 2", "a bool stored as 2"
    yield "invalid_utf8_key", gguf(kvs=[kv(b"general.\xff\xfe", U32, u32v(1))]), "not valid UTF-8", "a key with bytes ff fe"
    yield "invalid_utf8_value", gguf(kvs=[kv("general.name", STR, s(b"\xc3\x28"))]), "not valid UTF-8", "an invalid 2-byte sequence"
    deep = struct.pack("<IQ", U8, 1) + b"\x07"
    for _ in range(5):
        deep = struct.pack("<IQ", ARR, 1) + deep
    yield "array_nested_too_deep", gguf(kvs=[kv("x.deep", ARR, deep)]), "nested deeper", \
        "arrays nested 6 levels"
    yield "duplicate_key", gguf(kvs=BASE_KVS + [kv("general.architecture", STR, s("bert"))]), "appears twice", \
        "general.architecture twice"
    yield "alignment_not_power_of_two", gguf(kvs=[kv("general.alignment", U32, u32v(24))], alignment=24), "power of two", \
        "general.alignment = 24"
    yield "alignment_zero", gguf(kvs=[kv("general.alignment", U32, u32v(0))]), "power of two", "general.alignment = 0"
    yield "alignment_wrong_type", gguf(kvs=[kv("general.alignment", STR, s("32"))]), "power of two", "general.alignment is a string"
    yield "zero_dim", gguf(tensors=[("a", [4, 0], GGML_F32, 0)], data=b"\0" * 32), "include a zero", "dims [4, 0]"
    yield "dims_overflow", gguf(tensors=[("a", [1 << 32, 1 << 32, 1 << 32], GGML_F32, 0)], data=b"\0" * 32), "overflows", \
        "dims [2^32, 2^32, 2^32]"
    yield "bytes_overflow", gguf(tensors=[("a", [1 << 31, 1 << 31], GGML_F32, 0)], data=b"\0" * 32), "overflows", \
        "2^62 elements: the count fits, 4 bytes each does not"
    yield "dim_above_int64", gguf(tensors=[("a", [1 << 63], GGML_F32, 0)], data=b"\0" * 32), "overflows", "dims [2^63]"
    yield "no_dims", gguf(raw_infos=tinfo("a", [], GGML_F32, 0), tensors=[("a", [], GGML_F32, 0)]), "dimensions; GGUF tensors have 1 to 4", \
        "a tensor with 0 dimensions"
    yield "too_many_dims", gguf(raw_infos=tinfo("a", [1] * 5, GGML_F32, 0), tensors=[("a", [1] * 5, GGML_F32, 0)]), \
        "dimensions; GGUF tensors have 1 to 4", "5 dimensions (GGML_MAX_DIMS is 4)"
    yield "huge_dim_count", gguf(raw_infos=s("a") + struct.pack("<I", 1 << 30), tensors=[("a", [1], GGML_F32, 0)]), \
        "dimensions; GGUF tensors have 1 to 4", "dimension count 2^30"
    yield "unknown_tensor_type", gguf(tensors=[("a", [4], 99, 0), BASE_TENSORS[1]]), "unknown or unsupported ggml type 99", "type 99"
    yield "unsupported_tensor_type", gguf(tensors=[("a", [256], 16, 0), BASE_TENSORS[1]]), "unknown or unsupported ggml type 16", \
        "IQ2_XXS (16), a real type Shrink does not read"
    yield "row_not_whole_blocks", gguf(tensors=[BASE_TENSORS[0], ("b", [33, 2], GGML_Q8_0, 32)]), "whole number", \
        "a Q8_0 row of 33 elements"
    yield "offset_out_of_bounds", gguf(tensors=[BASE_TENSORS[0], ("b", [32, 2], GGML_Q8_0, 1 << 20)]), "run past the data region", \
        "data offset 1 MiB in a small file"
    yield "offset_huge", gguf(tensors=[BASE_TENSORS[0], ("b", [32, 2], GGML_Q8_0, (1 << 64) - 32)]), "run past the data region", \
        "data offset 2^64 - 32"
    yield "offset_wraps", gguf(tensors=[BASE_TENSORS[0], ("b", [32, 2], GGML_Q8_0, (1 << 63) - 32)]), "run past the data region", \
        "offset + size overflows a signed 64-bit integer"
    yield "offset_misaligned", gguf(tensors=[BASE_TENSORS[0], ("b", [32, 2], GGML_Q8_0, 16)]), "not a multiple of the alignment", \
        "data offset 16 with alignment 32"
    yield "overlapping_tensors", gguf(tensors=[("a", [32], GGML_F32, 0), ("b", [32, 2], GGML_Q8_0, 64)], data=b"\0" * 160), "overlap", \
        "a (128 bytes at 0) and b (at 64) overlap"
    yield "duplicate_tensor_name", gguf(tensors=[BASE_TENSORS[0], ("a", [32, 2], GGML_Q8_0, 32)]), "described twice", \
        "two tensors named 'a'"
    yield "invalid_utf8_tensor_name", gguf(tensors=[(b"\x80", [4], GGML_F32, 0), BASE_TENSORS[1]]), "not valid UTF-8", \
        "a tensor name that is a lone continuation byte"


def gguf_py_accepts(path) -> bool:
    try:
        import gguf
        from gguf.quants import dequantize
        import numpy as np
        r = gguf.GGUFReader(path)
        for t in r.tensors:
            dequantize(np.asarray(t.data), t.tensor_type)
        return True
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures"))
    args = ap.parse_args()
    out = os.path.join(args.root, "hostile", "gguf")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    base = os.path.join(out, "_base.gguf")
    with open(base, "wb") as f:
        f.write(gguf())
    assert gguf_py_accepts(base), "the base file must be valid"
    os.remove(base)

    listing, accepted = [], []
    for name, blob, hint, desc in cases():
        file = name + ".gguf"
        with open(os.path.join(out, file), "wb") as f:
            f.write(blob)
        listing.append({"file": file, "stage": "open", "expected_error_substring_hint": hint, "description": desc})
        if gguf_py_accepts(os.path.join(out, file)):
            accepted.append(name)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(listing, f, indent=2)
        f.write("\n")
    print(f"wrote {len(listing)} cases to {out}")
    if accepted:
        print(f"gguf-py 0.19.0 reads {len(accepted)} of them without error (Shrink refuses them): {', '.join(accepted)}")


if __name__ == "__main__":
    sys.exit(main())
