"""Jane Austen's six novels (Debian r-cran-janeaustenr, R's rdb/rdx lazy-load format) as UTF-8 text files.

R stores each novel as a character vector, one element per printed line. The .rdx index (gzip-compressed, serialized
R list) gives each object's (offset, length) in the .rdb; each .rdb record is a 4-byte big-endian length followed by
a zlib stream of one serialized R object. PyPI `rdata` parses the serialization; R is not needed.

Writes <out>/<novel>.txt (lines joined with "\n", ending in "\n") and the fixed, documented split:
  calibration.txt = emma + mansfieldpark        (calibration only)
  evaluation.txt  = persuasion + northangerabbey (evaluation only)
  prideprejudice and sensesensibility are held back (neither split).
Usage: austen_text.py RDATA_BASE OUT_DIR   (RDATA_BASE is the path without .rdx/.rdb)
"""
import gzip
import os
import sys
import warnings
import zlib

import rdata

CALIBRATION = ["emma", "mansfieldpark"]
EVALUATION = ["persuasion", "northangerabbey"]


def parse(raw: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Unknown file type: assumed RDS": these are bare serializations
        return rdata.conversion.convert(rdata.parser.parse_data(raw))


def atomic_write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def main() -> None:
    base, out = sys.argv[1], sys.argv[2]
    index = parse(gzip.decompress(open(base + ".rdx", "rb").read()))
    rdb = open(base + ".rdb", "rb").read()
    novels = {}
    for name, (offset, length) in index["variables"].items():
        record = rdb[int(offset):int(offset) + int(length)]
        lines = parse(zlib.decompress(record[4:]))
        novels[str(name)] = "\n".join(str(line) for line in lines) + "\n"
    expected = set(CALIBRATION + EVALUATION + ["prideprejudice", "sensesensibility"])
    if set(novels) != expected:
        sys.exit(f"austen_text: {base}.rdx: expected novels {sorted(expected)}, found {sorted(novels)}")
    os.makedirs(out, exist_ok=True)
    for name, text in sorted(novels.items()):
        atomic_write(os.path.join(out, name + ".txt"), text)
    atomic_write(os.path.join(out, "calibration.txt"), "".join(novels[n] for n in CALIBRATION))
    # Written last: fetch_real.sh takes its presence as "done".
    atomic_write(os.path.join(out, "evaluation.txt"), "".join(novels[n] for n in EVALUATION))
    for name in sorted(novels):
        print(f"{name}: {len(novels[name]):,} characters", file=sys.stderr)


if __name__ == "__main__":
    main()
