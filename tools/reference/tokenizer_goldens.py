#!/usr/bin/env python3
"""Tokenizer goldens for Shrink's Swift tokenizers, made by Hugging Face `tokenizers` 0.23.3 (and llama.cpp).

Writes Tests/Fixtures/tokenizers/{minilm,smollm2}.json:
  - per text file (data/text/*.txt, whole files, not a sample): the number of units, the token count and the
    sha256 of the little-endian int32 id stream (all units' ids concatenated in order);
  - a few short strings with their full ids (digits, contractions, accents, curly quotes, whitespace runs, newlines).

MiniLM (all-MiniLM-L6-v2, WordPiece): the tokenizer.json exactly as shipped (its truncation to 128), padding off
(Shrink pads in the batcher). Two units, each encoded on its own with [CLS] ... [SEP]:
  - "lines": every line (split on "\n") that is not whitespace-only, without its "\n";
  - "paragraphs": every maximal run of such lines, joined by "\n" (long enough to exercise truncation).

SmolLM2 (byte-level BPE, GGUF tokenizer.ggml.pre = smollm): the whole file as one text, no BOS, special tokens not
parsed (llama-perplexity: common_tokenize(ctx, text, add_special=true, parse_special=false), BOS added separately).
Reference: a tokenizers.Tokenizer built from the GGUF's tokens and merges with SmolLM2's pre-tokenizer
(Sequence[Digits(individual_digits), ByteLevel(add_prefix_space=false)]), cross-checked against
transformers.AutoTokenizer(gguf_file=...) on the short strings and against llama.cpp's llama-tokenize on the files
when vendor/llama.cpp/build/bin/llama-tokenize exists (disagreements are reported, and recorded in the JSON).

Usage: .venv-tools/bin/python tools/reference/tokenizer_goldens.py [--only minilm|smollm2]
Needs models/ and data/text/ (run tools/fetch_real.sh).
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEXT_FILES = ["evaluation.txt", "calibration.txt", "emma.txt", "mansfieldpark.txt", "persuasion.txt",
              "northangerabbey.txt", "prideprejudice.txt", "sensesensibility.txt"]
OUT_DIR = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")
GGUF = os.path.join(ROOT, "models", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
LLAMA_TOKENIZE = os.path.join(ROOT, "vendor", "llama.cpp", "build", "bin", "llama-tokenize")

SHORT_STRINGS = [
    "Hello, world!",
    "It's 1818; they'd say: I'm sure you'll've heard -- no?",
    "Numbers: 0 7 42 1760 3.14159 1,000,000 and 12345678901234567890.",
    "Caf\u00e9 na\u00efve fa\u00e7ade r\u00e9sum\u00e9 \u00c9LITE \u00fcber Stra\u00dfe",
    "\u201cCurly quotes,\u201d she said, \u2018and apostrophes\u2019 \u2014 dashes\u2026",
    "  leading spaces, trailing spaces   ",
    "tabs\tand\t\ttabs, runs     of spaces",
    "line one\nline two\n\n\nafter three newlines\n",
    "\n\n  \n",
    "UPPER lower MiXeD CamelCaseWord",
    "don't DON'T Don't o'clock 'quoted' ''double''",
    "a-b_c.d,e;f:g!h?i(j)k[l]m{n}o<p>q@r#s$t%u^v&w*x+y=z|~`/\\",
    "\u4e2d\u6587\u5b57 \u65e5\u672c\u8a9e\u3067\u3059 \ud55c\uad6d\uc5b4",
    "\u00bd \u00b2 \u0660\u0661\u0662 \u2163",
    "emoji \U0001F600\U0001F44D\U0001F3FD and symbols \u20ac100 \u00a9 \u2122",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x" * 120,
    "Mr. Darcy's \u00ab\u00a0French\u00a0\u00bb guillemets and a\u00a0no-break space",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "",
]


def sha_of(ids):
    return hashlib.sha256(struct.pack("<%di" % len(ids), *ids)).hexdigest()


def read_text(name):
    path = os.path.join(ROOT, "data", "text", name)
    if not os.path.exists(path):
        sys.exit(f"{path} missing: run tools/fetch_real.sh")
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


def minilm_units(text):
    lines = [l for l in text.split("\n") if l.strip() != ""]
    paragraphs, current = [], []
    for l in text.split("\n"):
        if l.strip() == "":
            if current:
                paragraphs.append("\n".join(current))
            current = []
        else:
            current.append(l)
    if current:
        paragraphs.append("\n".join(current))
    return {"lines": lines, "paragraphs": paragraphs}


def minilm():
    from tokenizers import Tokenizer
    import tokenizers
    path = os.path.join(ROOT, "models", "minilm", "tokenizer.json")
    tok = Tokenizer.from_file(path)
    tok.no_padding()
    untruncated = Tokenizer.from_file(path)
    untruncated.no_padding()
    untruncated.no_truncation()
    out = {"source": f"tokenizers {tokenizers.__version__}, models/minilm/tokenizer.json (truncation 128, padding off)",
           "units": {"lines": "every line split on \\n that is not whitespace-only, without the \\n",
                     "paragraphs": "maximal runs of such lines joined by \\n"},
           "files": {}, "strings": []}
    for name in TEXT_FILES:
        text = read_text(name)
        entry = {}
        for unit, pieces in minilm_units(text).items():
            encs = tok.encode_batch(pieces, add_special_tokens=True)
            full = untruncated.encode_batch(pieces, add_special_tokens=True)
            ids = [i for e in encs for i in e.ids]
            entry[unit] = {"count": len(pieces), "tokens": len(ids), "sha256": sha_of(ids),
                           "truncated": sum(1 for e, f in zip(encs, full) if len(f.ids) > len(e.ids))}
        out["files"][name] = entry
        print(f"minilm {name}: " + ", ".join(f"{u} {v['count']} -> {v['tokens']} tokens ({v['truncated']} truncated)"
                                              for u, v in entry.items()))
    for s in SHORT_STRINGS:
        e = tok.encode(s)
        out["strings"].append({"text": s, "ids": e.ids, "decoded": tok.decode(e.ids)})
    # Explicit truncation lengths, as encode(_:maxLength:) takes them.
    long = "The quick brown fox jumps over the lazy dog. " * 10
    out["truncation"] = []
    for n in (8, 32, 64):
        t = Tokenizer.from_file(path)
        t.no_padding()
        t.enable_truncation(n)
        out["truncation"].append({"text": long, "max_length": n, "ids": t.encode(long).ids})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["minilm", "smollm2"])
    args = ap.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    jobs = {"minilm": minilm}
    if "smollm2" in globals():
        jobs["smollm2"] = globals()["smollm2"]
    for name, job in jobs.items():
        if args.only and args.only != name:
            continue
        result = job()
        with open(os.path.join(OUT_DIR, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(result, f, ensure_ascii=False, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
