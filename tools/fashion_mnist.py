"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747) from the IDX files tools/fetch_real.sh unpacks
into data/fashion-mnist/, and Shrink's fixed validation split.

The split (the same as ShrinkFormats' `FashionMNIST.validationSplit`): a Fisher-Yates shuffle of the 60,000 train
indices driven by SplitMix64 (Steele, Lea & Flood 2014) seeded with 0x5EEDF45A; the last 5,000 shuffled indices are
validation, the first 55,000 train. Draw j = next() % (i + 1) for i = n-1 down to 1 (the modulo bias, < 2^-47, is
irrelevant to a split). The 10,000 t10k images are the test set, used only for final figures.
"""
import os
import struct

import numpy as np

FOLDER = "data/fashion-mnist"
SPLIT_SEED = 0x5EEDF45A
VALIDATION_COUNT = 5000
MASK64 = (1 << 64) - 1


def splitmix64(state):
    """One SplitMix64 step: (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def permutation(n, seed=SPLIT_SEED):
    order = list(range(n))
    state = seed
    for i in range(n - 1, 0, -1):
        state, r = splitmix64(state)
        j = r % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def split(n=60000):
    """(train indices, validation indices) into the 60,000 train images."""
    order = permutation(n)
    return order[: n - VALIDATION_COUNT], order[n - VALIDATION_COUNT:]


def read_idx(path, magic, rank):
    if not os.path.exists(path):
        raise SystemExit(f"{path}: missing; run tools/fetch_real.sh")
    with open(path, "rb") as f:
        data = f.read()
    got = struct.unpack(">I", data[:4])[0]
    if got != magic:
        raise SystemExit(f"{path}: magic {got:#010x}, expected {magic:#010x}")
    dims = struct.unpack(">" + "I" * rank, data[4: 4 + 4 * rank])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: {body.size} bytes of data for dims {dims}")
    return body.reshape(dims)


def load(part, folder=FOLDER):
    """(images u8 [n,28,28], labels u8 [n]) of part "train" or "t10k"."""
    images = read_idx(f"{folder}/{part}-images-idx3-ubyte", 0x00000803, 3)
    labels = read_idx(f"{folder}/{part}-labels-idx1-ubyte", 0x00000801, 1)
    if images.shape[0] != labels.shape[0]:
        raise SystemExit(f"{folder}/{part}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels
