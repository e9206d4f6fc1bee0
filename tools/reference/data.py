"""Shrink puzzle datasets (safetensors) and training-time augmentation.

File format (written by the Swift generator into Fixtures/data/):
    inputs              int32 [N, L]
    labels              int32 [N, L]
    puzzle_identifiers  int32 [N]
    __metadata__        string -> string; at least vocab_size, seq_len.
                        Optional: task ("sudoku"|"maze"; else guessed from the
                        file name), ignore_label_id (label value to ignore, e.g.
                        a pad id; mapped to -100 here), box_rows/box_cols
                        (or box_columns; Sudoku box shape), height/width (or
                        size; maze grid), digit_token_offset (token id of
                        digit 1; default vocab_size - n), num_puzzle_identifiers.
                        A value that parses as JSON is parsed.

Augmentation (training only, per sample, fresh every batch):
  sudoku: digit relabelling (random permutation of the n digit tokens, applied
          to inputs and labels), band permutation, row-within-band permutation,
          stack permutation, column-within-stack permutation, and transposition
          with probability 1/2 only when boxes are square (6x6 has 2x3 boxes:
          no transposition).
  maze:   one of the 8 dihedral transforms (4 rotations x optional flip) of the
          square grid, same for inputs and labels; tokens unchanged. Non-square
          grids use the 4 transforms that keep the shape.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
import torch
from safetensors import safe_open

IGNORE_LABEL_ID = -100


@dataclass
class PuzzleDataset:
    path: str
    inputs: np.ndarray              # int32 [N, L]
    labels: np.ndarray              # int32 [N, L], ignored positions = -100
    puzzle_identifiers: np.ndarray  # int32 [N]
    meta: Dict[str, object]

    @property
    def n(self) -> int:
        return self.inputs.shape[0]

    @property
    def seq_len(self) -> int:
        return int(self.meta["seq_len"])

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def task(self) -> str:
        return str(self.meta["task"])

    @property
    def num_puzzle_identifiers(self) -> int:
        return int(self.meta.get("num_puzzle_identifiers", int(self.puzzle_identifiers.max()) + 1))

    def batch(self, idx) -> Dict[str, torch.Tensor]:
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(self.inputs[idx])),
            "labels": torch.from_numpy(np.ascontiguousarray(self.labels[idx])),
            "puzzle_identifiers": torch.from_numpy(np.ascontiguousarray(self.puzzle_identifiers[idx])),
        }


def _parse_meta(raw: Optional[Dict[str, str]]) -> Dict[str, object]:
    meta = {}
    for k, v in (raw or {}).items():
        try:
            meta[k] = json.loads(v)
        except (json.JSONDecodeError, TypeError):
            meta[k] = v
    return meta


def load_dataset(path: str) -> PuzzleDataset:
    with safe_open(path, framework="numpy") as f:
        meta = _parse_meta(f.metadata())
        keys = set(f.keys())
        missing = {"inputs", "labels", "puzzle_identifiers"} - keys
        if missing:
            raise ValueError(f"{path}: missing tensors {sorted(missing)}")
        inputs = f.get_tensor("inputs").astype(np.int32)
        labels = f.get_tensor("labels").astype(np.int32)
        pids = f.get_tensor("puzzle_identifiers").astype(np.int32)
    if inputs.shape != labels.shape or inputs.ndim != 2 or pids.shape != (inputs.shape[0],):
        raise ValueError(f"{path}: bad shapes inputs {inputs.shape} labels {labels.shape} ids {pids.shape}")
    meta.setdefault("seq_len", inputs.shape[1])
    if "vocab_size" not in meta:
        raise ValueError(f"{path}: metadata lacks vocab_size")
    if int(meta["seq_len"]) != inputs.shape[1]:
        raise ValueError(f"{path}: metadata seq_len {meta['seq_len']} != {inputs.shape[1]}")
    if "task" not in meta:
        name = os.path.basename(path).lower()
        meta["task"] = "sudoku" if "sudoku" in name else "maze" if "maze" in name else "unknown"
    labels = np.where(labels < 0, IGNORE_LABEL_ID, labels)
    if "ignore_label_id" in meta and meta["ignore_label_id"] is not None:
        labels = np.where(labels == int(meta["ignore_label_id"]), IGNORE_LABEL_ID, labels)
    if inputs.max() >= int(meta["vocab_size"]) or labels.max() >= int(meta["vocab_size"]):
        raise ValueError(f"{path}: token id >= vocab_size {meta['vocab_size']}")
    return PuzzleDataset(path, inputs, labels, pids, meta)


# --------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------

_DEFAULT_BOX = {4: (2, 2), 6: (2, 3), 8: (2, 4), 9: (3, 3), 12: (3, 4), 16: (4, 4)}


def _rand_perms(rng: np.random.Generator, shape, k: int) -> np.ndarray:
    return np.argsort(rng.random(shape + (k,)), axis=-1)


class SudokuAugmenter:
    def __init__(self, ds: PuzzleDataset):
        n = int(round(math.sqrt(ds.seq_len)))
        if n * n != ds.seq_len:
            raise ValueError(f"sudoku seq_len {ds.seq_len} is not a square")
        self.n = n
        self.box_rows = int(ds.meta.get("box_rows", _DEFAULT_BOX.get(n, (0, 0))[0]))
        self.box_cols = int(ds.meta.get("box_cols", ds.meta.get("box_columns", _DEFAULT_BOX.get(n, (0, 0))[1])))
        if self.box_rows * self.box_cols != n:
            raise ValueError(f"sudoku {n}x{n}: set box_rows/box_cols in the metadata")
        self.first = int(ds.meta.get("digit_token_offset", ds.vocab_size - n))
        lab = ds.labels[ds.labels != IGNORE_LABEL_ID]
        if lab.size and (lab.min() < self.first or lab.max() >= self.first + n):
            raise ValueError(f"sudoku labels outside digit tokens [{self.first}, {self.first + n}); "
                             "set digit_token_offset in the metadata")
        self.vocab = ds.vocab_size

    def __call__(self, inputs: np.ndarray, labels: np.ndarray, rng: np.random.Generator):
        B, n, br, bc = inputs.shape[0], self.n, self.box_rows, self.box_cols
        nb, ns = n // br, n // bc                         # bands (of br rows), stacks (of bc cols)
        bands = _rand_perms(rng, (B,), nb)                # [B, nb]
        rows_in = _rand_perms(rng, (B, nb), br)           # [B, nb, br]
        row_map = (bands[:, :, None] * br + rows_in).reshape(B, n)
        stacks = _rand_perms(rng, (B,), ns)
        cols_in = _rand_perms(rng, (B, ns), bc)
        col_map = (stacks[:, :, None] * bc + cols_in).reshape(B, n)
        src = row_map[:, :, None] * n + col_map[:, None, :]           # [B, n, n]: new (r,c) <- old src
        if br == bc:
            tr = rng.random(B) < 0.5
            src = np.where(tr[:, None, None], src.transpose(0, 2, 1), src)
        src = src.reshape(B, n * n)
        inputs = np.take_along_axis(inputs, src, axis=1)
        labels = np.take_along_axis(labels, src, axis=1)
        # digit relabelling through a per-sample lookup table
        lut = np.broadcast_to(np.arange(self.vocab), (B, self.vocab)).copy()
        lut[:, self.first:self.first + n] = self.first + _rand_perms(rng, (B,), n)
        inputs = np.take_along_axis(lut, inputs, axis=1)
        ign = labels == IGNORE_LABEL_ID
        labels = np.where(ign, IGNORE_LABEL_ID, np.take_along_axis(lut, np.where(ign, 0, labels), axis=1))
        return inputs.astype(np.int32), labels.astype(np.int32)


class MazeAugmenter:
    def __init__(self, ds: PuzzleDataset):
        h = int(ds.meta.get("height", ds.meta.get("size", int(round(math.sqrt(ds.seq_len))))))
        w = int(ds.meta.get("width", ds.seq_len // h))
        if h * w != ds.seq_len:
            raise ValueError(f"maze seq_len {ds.seq_len} != height*width; set height/width metadata")
        g = np.arange(h * w).reshape(h, w)
        maps = [g, np.flipud(g), np.fliplr(g), np.rot90(g, 2)]
        if h == w:
            maps += [g.T, np.rot90(g, 1), np.rot90(g, 3), np.rot90(g, 2).T]
        self.maps = np.stack([m.reshape(-1) for m in maps])           # [T, L]

    def __call__(self, inputs, labels, rng):
        src = self.maps[rng.integers(0, len(self.maps), inputs.shape[0])]
        return np.take_along_axis(inputs, src, 1), np.take_along_axis(labels, src, 1)


def make_augmenter(ds: PuzzleDataset):
    if ds.task == "sudoku":
        return SudokuAugmenter(ds)
    if ds.task == "maze":
        return MazeAugmenter(ds)
    raise ValueError(f"no augmentation known for task {ds.task!r}")


class BatchSampler:
    """Endless shuffled epochs of fixed-size batches, optionally augmented."""

    def __init__(self, ds: PuzzleDataset, batch_size: int, seed: int, augment: bool):
        self.ds, self.bs = ds, batch_size
        self.rng = np.random.default_rng(seed)
        self.aug = make_augmenter(ds) if augment else None
        self.order, self.pos, self.epoch = self.rng.permutation(ds.n), 0, 0

    def next(self) -> Dict[str, torch.Tensor]:
        if self.pos + self.bs > self.ds.n:
            self.order, self.pos = self.rng.permutation(self.ds.n), 0
            self.epoch += 1
        idx = self.order[self.pos:self.pos + self.bs]
        self.pos += self.bs
        inputs, labels = self.ds.inputs[idx], self.ds.labels[idx]
        if self.aug is not None:
            inputs, labels = self.aug(inputs, labels, self.rng)
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.int32)),
            "labels": torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int32)),
            "puzzle_identifiers": torch.from_numpy(self.ds.puzzle_identifiers[idx].copy()),
        }
