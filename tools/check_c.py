"""Compares the exported C's predictions with `shrink eval --predictions` of the same model.

Usage: check_c.py to-bin DATA.safetensors N OUT.bin    (the first N puzzles as int32 records: identifier, tokens)
       check_c.py compare DATA.safetensors C_OUT.bin SHRINK_PRED.safetensors LABEL
Prints cell agreement, identical puzzles and puzzle-exact accuracy of both; exits 1
when agreement < 99.9% of cells or the exact accuracies differ.
"""
import sys

import numpy as np
from safetensors.numpy import load_file


def main():
    if sys.argv[1] == "to-bin":
        data, n, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        d = load_file(data)
        ids = d["puzzle_identifiers"][:n].astype("<i4").reshape(-1, 1)
        np.concatenate([ids, d["inputs"][:n].astype("<i4")], axis=1).tofile(out)
        return
    data, c_out, pred, label = sys.argv[2:6]
    d = load_file(data)
    shrink = load_file(pred)["predictions"]
    n, L = shrink.shape
    c = np.fromfile(c_out, dtype="<i4").reshape(n, L)
    labels = d["labels"][:n]
    mask = labels != -100
    agree = (c == shrink).mean()
    same_puzzles = (c == shrink).all(axis=1).mean()
    exact_c = ((c == labels) | ~mask).all(axis=1).mean()
    exact_s = ((shrink == labels) | ~mask).all(axis=1).mean()
    ok = agree >= 0.999 and exact_c == exact_s
    print(f"{'ok' if ok else 'FAIL'} {label}: {n} puzzles, cells agree {100 * agree:.3f}%, identical puzzles {100 * same_puzzles:.1f}%, "
          f"puzzle-exact C {100 * exact_c:.2f}% vs shrink eval {100 * exact_s:.2f}%")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
