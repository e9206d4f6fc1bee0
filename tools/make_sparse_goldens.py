#!/usr/bin/env python3
"""Write golden sparse files for the Swift tests: Tests/Fixtures/sparse/.

Produced by compressed-tensors 0.14.0's own sparse compressors (the last release with them;
tools/requirements-sparse.txt), run with it first on PYTHONPATH:

  PYTHONPATH=.build-tools/ct-sparse-0.14.0 .venv-tools/bin/python tools/make_sparse_goldens.py

bitmask.safetensors: `dense` f32 [6, 20] (about half zeros, one row all zero, a partial last bitmask byte) and
BitmaskCompressor.compress_weight("layer", dense): layer.compressed / .bitmask / .row_offsets / .shape.
sparse24.safetensors: `dense` f16 [4, 16], 2:4 sparse, and Sparse24BitMaskCompressor's layer.compressed /
.bitmask / .shape. Each file is decompressed again by the library and must give `dense` back exactly.
"""

import argparse
import os
import sys

import torch
from safetensors.torch import save_file

import compressed_tensors
from compressed_tensors.compressors.sparse_compressors.sparse_24_bitmask import Sparse24BitMaskCompressor
from compressed_tensors.compressors.sparse_compressors.sparse_bitmask import BitmaskCompressor
from compressed_tensors.config import BitmaskConfig, Sparse24BitMaskConfig


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/Fixtures/sparse")
    out = ap.parse_args().out
    assert compressed_tensors.__version__.startswith("0.14."), compressed_tensors.__version__
    g = torch.Generator().manual_seed(17)

    dense = torch.randn(6, 20, generator=g)
    dense[torch.rand(6, 20, generator=g) < 0.5] = 0
    dense[3] = 0
    c = BitmaskCompressor(config=BitmaskConfig())
    t = c.compress_weight("layer", dense)
    back = c.decompress_weight({k.split(".", 1)[1]: v for k, v in t.items()})
    assert torch.equal(back, dense)
    save_file({"dense": dense, **{k: v.contiguous() for k, v in t.items()}}, os.path.join(out, "bitmask.safetensors"))

    dense = torch.randn(4, 16, generator=g).to(torch.float16)
    groups = dense.view(-1, 4)
    drop = groups.abs().topk(2, dim=1, largest=False).indices
    groups.scatter_(1, drop, 0)
    c = Sparse24BitMaskCompressor(config=Sparse24BitMaskConfig())
    t = c.compress_weight("layer", dense)
    back = c.decompress_weight({k.split(".", 1)[1]: v for k, v in t.items()})
    assert torch.equal(back, dense)
    save_file({"dense": dense, **{k: v.contiguous() for k, v in t.items()}}, os.path.join(out, "sparse24.safetensors"))
    for name in ("bitmask", "sparse24"):
        print(f"wrote {out}/{name}.safetensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
