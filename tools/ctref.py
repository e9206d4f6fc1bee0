"""NumPy re-implementation of compressed-tensors 0.20.0 integer weight quantization.

Two users:
  * make_pack_goldens.py cross-checks it bit-for-bit against the real
    compressed-tensors code, which pins down the exact arithmetic that Shrink's
    Swift implementation must reproduce;
  * bench_numpy_quantize.py uses it as "the NumPy script a user would write".

Only NumPy is imported here, so the benchmark does not pay for importing torch.

The arithmetic mirrors compressed_tensors.quantization.utils.calculate_qparams
and quantization.lifecycle.forward._quantize/_dequantize, all in float32:

  q_min, q_max  = -2^(b-1), 2^(b-1) - 1
  min, max      = min(x_min, 0), max(x_max, 0)      (0 is always representable)
  symmetric:    scale = max(|min|, |max|) / ((2^b - 1) / 2)     zp = 0
  asymmetric:   scale = (max - min) / (2^b - 1)
                zp    = round_half_even(clamp(q_min - min / scale, q_min, q_max))
                (computed with the scale *before* the eps fix below; for an
                all-zero block that is 0/0 = NaN, which casts to 0 on x86/ARM)
  scale == 0  -> scale = float32 eps (2^-23)
  quantize:     q = round_half_even(clamp(x / scale + zp, q_min, q_max))   (true division)
  dequantize:   x' = (float32(q) - float32(zp)) * scale

Packing (pack_to_int32): code + 2^(b-1) as an unsigned b-bit value; each row
is one dense little-endian bit stream (element i at bit i*b, LSB first) cut
into int32 words; ceil(cols*b/32) words per row. Zero points (asymmetric
channel/group) are packed the same way along dim 0 (i.e. per column).
"""

import numpy as np

F32_EPS = np.float32(np.finfo(np.float32).eps)


def qrange(bits: int) -> tuple[np.float32, np.float32]:
    return np.float32(-(2 ** (bits - 1))), np.float32(2 ** (bits - 1) - 1)


def blocks(w: np.ndarray, strategy: str, group: int | None) -> np.ndarray:
    """View w [rows, cols] as [..., block_len] so one scale covers the last axis."""
    rows, cols = w.shape
    if strategy == "tensor":
        return w.reshape(1, 1, rows * cols)
    if strategy == "channel":
        return w.reshape(rows, 1, cols)
    if strategy == "group":
        if cols % group:
            raise ValueError(f"{cols} columns not divisible by group {group}")
        return w.reshape(rows, cols // group, group)
    raise ValueError(strategy)


def scale_shape(rows: int, cols: int, strategy: str, group: int | None) -> tuple:
    """Shapes compressed-tensors stores: tensor [1], channel [rows,1], group [rows,G]."""
    return {"tensor": (1,), "channel": (rows, 1), "group": (rows, cols // (group or 1))}[strategy]


def qparams(
    xmin: np.ndarray, xmax: np.ndarray, bits: int, symmetric: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Scale (float32) and zero point (int8) from observed per-block min/max."""
    lo, hi = qrange(bits)
    xmin = np.minimum(xmin.astype(np.float32), np.float32(0))
    xmax = np.maximum(xmax.astype(np.float32), np.float32(0))
    if symmetric:
        scale = np.maximum(np.abs(xmin), np.abs(xmax)) / np.float32((2**bits - 1) / 2)
        zp = np.zeros(scale.shape, np.int8)
    else:
        scale = (xmax - xmin) / np.float32(2**bits - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            zpf = np.clip(lo - xmin / scale, lo, hi)
        # NaN (all-zero block) -> 0, matching what torch's cast does on x86/ARM.
        zp = np.nan_to_num(np.round(zpf), nan=0.0).astype(np.int8)
    scale = np.where(scale == 0, F32_EPS, scale).astype(np.float32)
    return scale, zp


def quantize(
    w: np.ndarray, bits: int, symmetric: bool, strategy: str, group: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (codes int8 [rows, cols], scale, zero_point) with stored shapes."""
    rows, cols = w.shape
    b = blocks(w, strategy, group)
    scale, zp = qparams(b.min(axis=-1, keepdims=True), b.max(axis=-1, keepdims=True), bits, symmetric)
    lo, hi = qrange(bits)
    scaled = b / scale
    if not symmetric:
        scaled = scaled + zp.astype(np.float32)
    codes = np.round(np.clip(scaled, lo, hi)).astype(np.int8).reshape(rows, cols)
    shape = scale_shape(rows, cols, strategy, group)
    return codes, scale.reshape(shape), zp.reshape(shape)


def dequantize(
    codes: np.ndarray, scale: np.ndarray, zp: np.ndarray | None, strategy: str, group: int | None = None
) -> np.ndarray:
    rows, cols = codes.shape
    b = blocks(codes, strategy, group).astype(np.float32)
    s = scale.reshape(b.shape[0], b.shape[1], 1)
    if zp is not None:
        b = b - zp.reshape(s.shape).astype(np.float32)
    return (b * s).reshape(rows, cols)


def pack_int32(codes: np.ndarray, bits: int) -> np.ndarray:
    """Dense LSB-first bit packing of int8 codes along the last axis (2-D input).

    Eight b-bit codes make exactly b bytes, so each run of 8 codes is OR-ed
    into one little-endian integer (code i shifted by i*b) whose low b bytes
    are the next b bytes of the row's bit stream. Rows are padded to a
    multiple of 32 codes (32 codes = b whole int32 words) and the stream is
    read back as int32, truncated to ceil(cols*b/32) words per row. The loop
    runs over the 8 positions of a run; each step is vectorized over the
    whole tensor, so there is no Python loop over elements.
    """
    rows, cols = codes.shape
    padded = -(-cols // 32) * 32
    # code + 2^(b-1) is in [0, 2^b); computing it in uint8 wraps correctly.
    u = codes.astype(np.int8, copy=False).view(np.uint8) + np.uint8(1 << (bits - 1))
    if padded != cols:
        u = np.pad(u, ((0, 0), (0, padded - cols)))
    u = u.reshape(rows, padded // 8, 8)
    acc = np.dtype("<u4") if bits <= 4 else np.dtype("<u8")  # 8*b bits must fit
    v = u[:, :, 0].astype(acc)
    for i in range(1, 8):
        v |= u[:, :, i].astype(acc) << acc.type(i * bits)
    stream = v.view(np.uint8).reshape(rows, padded // 8, acc.itemsize)[:, :, :bits]
    words = np.ascontiguousarray(stream).reshape(rows, -1).view("<i4")
    return words[:, : -(-cols * bits // 32)]


def unpack_int32(packed: np.ndarray, bits: int, cols: int) -> np.ndarray:
    """Inverse of pack_int32 (independent bit-stream reading, for cross-checks)."""
    rows = packed.shape[0]
    stream = packed.astype("<i4").view(np.uint8).reshape(rows, -1)
    bitsarr = np.unpackbits(stream, axis=1, bitorder="little")[:, : cols * bits]
    weights = (1 << np.arange(bits, dtype=np.int32))
    u = (bitsarr.reshape(rows, cols, bits).astype(np.int32) * weights).sum(axis=-1)
    return (u - (1 << (bits - 1))).astype(np.int8)


def pack_zero_point(zp: np.ndarray, bits: int) -> np.ndarray:
    """compressed-tensors packs [rows, G] zero points along dim 0 (packed_dim=0)."""
    return np.ascontiguousarray(pack_int32(np.ascontiguousarray(zp.T), bits).T)
