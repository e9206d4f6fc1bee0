#!/usr/bin/env python3
"""Tokenizer goldens for Shrink's Swift tokenizers, made by Hugging Face `tokenizers` 0.23.3 (and llama.cpp).

Writes Tests/Fixtures/tokenizers/{minilm,smollm2,bpe_tiny}.json:
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

Tiny tokenizer.json fixtures (bpe_tiny_{gpt2,smollm,qwen2}.json, trained on emma.txt) test the tokenizer.json BPE
path against tokenizers on the whole evaluation.txt: bpe_tiny.json.

Usage: .venv-tools/bin/python tools/reference/tokenizer_goldens.py [--only minilm|smollm2|bpe_tiny]
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


def fuzz_strings(n=100, seed=13):
    """Deterministic random strings over the pieces the pre-tokenizers treat specially: apostrophe contractions in
    both cases, runs of spaces, tabs, CR/LF, non-breaking and ideographic spaces, letters with and without accents
    (composed and combining), ASCII and non-ASCII numbers, punctuation and symbols, CJK, emoji, control characters."""
    import random
    pieces = [" ", "  ", "   ", "\n", "\n\n", "\r\n", "\t", "'", "'s", "'S", "'t", "'re", "'RE", "'ve", "'ll", "'d", "'m",
              "a", "Z", "the", "Elliot", "don", "caf\u00e9", "e\u0301", "\u00c9", "\u00df", "\u0130", "1", "42", "1760", "\u00b2",
              "\u00bd", "\u0663", "\u2163", "!", ".", ",", "--", "...", "\u2014", "\u201c", "\u201d", "\u2019", "$", "^", "`",
              "(", ")", "\u00a0", "\u3000", "\u2009", "\u4e2d", "\u6587", "\U0001F600", "\x00", "\x04", "\u200b", "\ufeff",
              "\u0085", "[UNK]", "[CLS]", "<|im_end|>", "<tool_call>", "##", "#"]
    rnd = random.Random(seed)
    return ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 24))) for _ in range(n)]


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
    out["fuzz"] = [{"text": f, "ids": tok.encode(f).ids} for f in fuzz_strings()]
    # Explicit truncation lengths, as encode(_:maxLength:) takes them.
    long = "The quick brown fox jumps over the lazy dog. " * 10
    out["truncation"] = []
    for n in (8, 32, 64):
        t = Tokenizer.from_file(path)
        t.no_padding()
        t.enable_truncation(n)
        out["truncation"].append({"text": long, "max_length": n, "ids": t.encode(long).ids})
    return out



def gguf_vocab(path):
    """tokens, merges, token types, bos/eos/add_bos from GGUF metadata, read with gguf-py."""
    import gguf
    r = gguf.GGUFReader(path)
    def arr(key):
        f = r.fields[key]
        if f.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [int(f.parts[i][0]) for i in f.data]
    def scalar(key):
        f = r.fields.get(key)
        if f is None:
            return None
        v = f.parts[f.data[0]]
        return bytes(v).decode("utf-8") if f.types[0] == gguf.GGUFValueType.STRING else v.tolist()[0]
    return {"tokens": arr("tokenizer.ggml.tokens"), "merges": arr("tokenizer.ggml.merges"),
            "types": arr("tokenizer.ggml.token_type"), "model": scalar("tokenizer.ggml.model"),
            "pre": scalar("tokenizer.ggml.pre"), "bos": scalar("tokenizer.ggml.bos_token_id"),
            "eos": scalar("tokenizer.ggml.eos_token_id"), "add_bos": scalar("tokenizer.ggml.add_bos_token")}


def byte_level_bpe(tokens, merges, pre):
    """A tokenizers.Tokenizer with the GGUF vocabulary and SmolLM2's (or GPT-2's) pre-tokenizer; no added tokens,
    so special tokens in the text are spelled with ordinary tokens, as llama.cpp's parse_special=false does."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level]) if pre == "smollm" else byte_level
    tok.decoder = decoders.ByteLevel()
    return tok


def llama_tokenize(text):
    """llama.cpp's ids for the text, whole (stdin, no escape processing; `-f` would drop one trailing newline), with
    special tokens not parsed as llama-perplexity does (llama-tokenize parses them unless told not to)."""
    if not os.path.exists(LLAMA_TOKENIZE):
        return None
    out = subprocess.run([LLAMA_TOKENIZE, "-m", GGUF, "--stdin", "--no-escape", "--no-parse-special", "--ids",
                          "--no-bos", "--log-disable"],
                         input=text.encode("utf-8"), capture_output=True, check=True).stdout.decode()
    return json.loads(out.strip().splitlines()[-1])


def smollm2():
    import tokenizers
    v = gguf_vocab(GGUF)
    tok = byte_level_bpe(v["tokens"], v["merges"], v["pre"])
    out = {"source": f"tokenizers {tokenizers.__version__}: BPE from the GGUF's tokens and merges, "
                     "pre-tokenizer Sequence[Digits(individual_digits), ByteLevel(add_prefix_space=false)]; "
                     "whole file as one text, no BOS, special tokens not parsed",
           "gguf": {"model": v["model"], "pre": v["pre"], "tokens": len(v["tokens"]), "merges": len(v["merges"]),
                    "bos": v["bos"], "eos": v["eos"], "add_bos": v["add_bos"]},
           "files": {}, "strings": [], "llama_cpp": {}}
    for name in TEXT_FILES:
        text = read_text(name)
        ids = tok.encode(text).ids
        out["files"][name] = {"bytes": len(text.encode("utf-8")), "tokens": len(ids), "sha256": sha_of(ids)}
        ref = llama_tokenize(text)
        if ref is not None:
            same = ref == ids
            first = next((i for i, (a, b) in enumerate(zip(ref, ids)) if a != b), None if len(ref) == len(ids) else min(len(ref), len(ids)))
            out["llama_cpp"][name] = {"tokens": len(ref), "sha256": sha_of(ref), "equal": same, "first_difference": first}
        print(f"smollm2 {name}: {len(ids)} tokens" + ("" if ref is None else f", llama.cpp {len(ref)} ({'equal' if ref == ids else 'DIFFERENT'})"))
    try:
        from transformers import AutoTokenizer
        hf = AutoTokenizer.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF))
    except Exception as e:  # recorded, not fatal: the tokenizers build above is the reference
        hf, out["transformers_gguf"] = None, f"could not load: {e}"
    agree = 0
    for s in SHORT_STRINGS:
        ids = tok.encode(s).ids
        entry = {"text": s, "ids": ids, "decoded": tok.decode(ids)}
        ref = llama_tokenize(s)
        if ref is not None:
            entry["llama_cpp_equal"] = ref == ids
            if ref != ids:
                entry["llama_cpp_ids"] = ref
        if hf is not None:
            t = hf.encode(s, add_special_tokens=False)
            if t != ids:
                entry["transformers_gguf_ids"] = t
            agree += t == ids
        out["strings"].append(entry)
    # Where llama.cpp and tokenizers disagree on a fuzz string, both are kept: Shrink follows llama.cpp for GGUF.
    out["fuzz"] = []
    fuzz_llama = 0
    for f in fuzz_strings():
        ids = tok.encode(f).ids
        ref = llama_tokenize(f)
        out["fuzz"].append({"text": f, "ids": ids} if ref is None or ref == ids else {"text": f, "ids": ids, "llama_cpp_ids": ref})
        if ref is not None and ref == ids:
            fuzz_llama += 1
        elif ref is not None:
            print("llama.cpp differs on", repr(f), ids, ref)
    out["llama_cpp_fuzz"] = f"{fuzz_llama}/{len(out['fuzz'])} fuzz strings equal"
    print("llama.cpp on fuzz strings:", out["llama_cpp_fuzz"])
    if hf is not None:
        out["transformers_gguf"] = f"{agree}/{len(SHORT_STRINGS)} short strings equal"
        print("transformers gguf_file tokenizer:", out["transformers_gguf"])
    return out



QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def tiny_bpe():
    """Three small byte-level BPE tokenizer.json files trained on emma.txt (calibration text), one per
    pre-tokenizer Shrink reads from JSON, committed as fixtures for the tokenizer.json path; goldens on the whole
    evaluation.txt and the short strings, with special tokens not parsed (encode_special_tokens) as Shrink does."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, normalizers, processors, trainers, Regex
    import tokenizers
    emma = read_text("emma.txt")
    out = {"source": f"tokenizers {tokenizers.__version__}, trained by BpeTrainer(vocab_size=1000) on emma.txt",
           "tokenizers": {}}
    for kind in ["gpt2", "smollm", "qwen2"]:
        tok = Tokenizer(models.BPE())
        if kind == "gpt2":
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        elif kind == "smollm":
            tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
        else:
            tok.normalizer = normalizers.NFC()
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>"], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator([emma], trainer=trainer)
        tok.add_tokens(["<tool_call>"])
        if kind == "qwen2":
            tok.post_processor = processors.TemplateProcessing(single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", 0)])
        else:
            tok.post_processor = processors.ByteLevel(trim_offsets=False)
        name = f"bpe_tiny_{kind}.json"
        tok.save(os.path.join(OUT_DIR, name), pretty=False)
        tok = Tokenizer.from_file(os.path.join(OUT_DIR, name))
        tok.encode_special_tokens = True
        text = read_text("evaluation.txt")
        ids = tok.encode(text, add_special_tokens=False).ids
        strings = [s for s in SHORT_STRINGS] + ["a <tool_call> and <|endoftext|> inside"]
        out["tokenizers"][kind] = {
            "file": name, "vocabulary": tok.get_vocab_size(),
            "files": {"evaluation.txt": {"tokens": len(ids), "sha256": sha_of(ids)}},
            "strings": [{"text": s, "ids": tok.encode(s, add_special_tokens=False).ids,
                         "decoded": tok.decode(tok.encode(s, add_special_tokens=False).ids, skip_special_tokens=True)}
                        for s in strings],
            "fuzz": [{"text": f, "ids": tok.encode(f, add_special_tokens=False).ids} for f in fuzz_strings()]}
        print(f"tiny {kind}: evaluation.txt {len(ids)} tokens")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["minilm", "smollm2", "bpe_tiny"])
    args = ap.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    jobs = {"minilm": minilm, "smollm2": smollm2, "bpe_tiny": tiny_bpe}
    for name, job in jobs.items():
        if args.only and args.only != name:
            continue
        result = job()
        with open(os.path.join(OUT_DIR, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(result, f, ensure_ascii=False, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
