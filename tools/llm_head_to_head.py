#!/usr/bin/env python3
"""Table writer of the LLM head-to-head (issue 14): reads what tools/llm_head_to_head.sh ran and writes
LLM_HEAD_TO_HEAD.md (the tables) and LLM_HEAD_TO_HEAD.json (every row, for the HTML report).

Inputs (written by the shell driver into its cache folder):
  manifest.tsv   one line per judged file: tool, recipe, file, llama_log, shrink_json, quantize_log
                 ("-" where a judge or log does not apply)
  minilm.tsv     one line per MiniLM variant: recipe, bits, method, granularity, directory, compare_json, log
  run.json       the run's settings (texts, chunks, context, imatrix settings, llama.cpp build, shrink version)

JSON schema (LLM_HEAD_TO_HEAD.json):
  {
    "settings": {...run.json..., "scored_tokens": str,
                 "not_judged": [{"tool", "recipe", "judge"}],   # files a judge had not judged when the tables were written
                 "recipes": [{"name", "kind", "output", "ok", "last_log_line", "command"}]},
    "points": [                       # one per (file, judge): the scatter points of the HTML report
      {"tool": "llama.cpp" | "llama.cpp+imatrix" | "shrink",
       "recipe": str,                 # llama.cpp: the ftype name (Q4_K_M ...); shrink: the recipe's name
       "file": str,                   # path relative to the repository (a .gguf file or a compressed directory)
       "bytes": int,                  # the file's size on disk (a directory: the sum of its files)
       "tensor_bytes": int,           # bytes of the tensors' data as stored (what bits_per_weight counts)
       "bits_per_weight": float,      # 8 * tensor_bytes / parameters (llama.cpp's "BPW"; norms and embeddings included)
       "parameters": int,             # elements of every tensor of the source model
       "layer_bits_per_weight": float, # the same over the 210 2-D layer weights only (the embedding and norms left out):
                                      # what a type's name refers to (Q4_0 = 4.5); the goal's "≤ 4.5 bits per weight"
       "tensor_types": {type: count}, # GGUF: from its header (gguf-py's type names and block sizes); a directory: its shrink.json
       "fallbacks": str | null,       # llama-quantize's "N of M tensor(s) required fallback" line
       "judge": "llama-perplexity" | "shrink",
       "ppl": float, "ppl_error": float,
       "ppl_base": float,             # the judge's PPL of the original (the Q4_1 release) on the same tokens
       "mean_kld": float, "mean_kld_error": float,
       "p99_kld": float,              # 99th percentile of the per-token KLD
       "same_top_p": float, "same_top_p_error": float,   # fractions (0..1), not percent
       "tokens": int}                 # scored tokens
    ],
    "minilm": [
      {"recipe": str, "bits": int, "method": "rtn" | "gptq", "granularity": "channel" | "g64",
       "directory": str, "weight_bytes": int, "original_bytes": int, "embedding_cosine": float, "embedding_cosine_lower": float,
       "embedding_cosine_upper": float, "p99_distance": float, "retrieval_agreement": float,
       "retrieval_agreement_lower": float, "retrieval_agreement_upper": float, "identical_sets": int,
       "queries": int, "sentences": int, "error": str | null}
    ]
  }

Usage: llm_head_to_head.py CACHE_DIR SOURCE_GGUF OUT.md OUT.json
"""
import collections
import json
import os
import re
import struct
import sys

import gguf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL_BPW = 4.5  # the goal applies at every size at or below this many bits per weight
SIZE_TOLERANCE = 0.02  # "the same file size": tensor bytes within ±2%


CACHE_DIR = None  # the cache folder of this run (main sets it)


def rel(path):
    """A path as the tables print it: under the cache as `.build-h2h/…` (the default cache, wherever this run's was),
    else relative to the repository; never a machine's absolute path."""
    full = os.path.abspath(path)
    if CACHE_DIR and (full == CACHE_DIR or full.startswith(CACHE_DIR + os.sep)):
        return os.path.join(".build-h2h", os.path.relpath(full, CACHE_DIR))
    return os.path.relpath(full, REPO)


def gguf_tensors(path):
    """(name, ggml type name, shape, bytes) of every tensor of a GGUF v2/v3 file, from its header alone (gguf-py's
    GGUFReader parses every metadata array into numpy objects, which on a 49152-token vocabulary takes seconds per
    file); the block sizes are gguf-py's GGML_QUANT_SIZES."""
    with open(path, "rb") as f:
        def u(fmt):
            return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))[0]
        if f.read(4) != b"GGUF":
            raise SystemExit(f"llm_head_to_head: {path} is not a GGUF file")
        version = u("I")
        if version not in (2, 3):
            raise SystemExit(f"llm_head_to_head: {path}: GGUF version {version}, not 2 or 3")
        n_tensors, n_kv = u("Q"), u("Q")
        scalar = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

        def skip(vtype):
            if vtype == 8:
                f.seek(u("Q"), 1)
            elif vtype == 9:
                item, count = u("I"), u("Q")
                if item in scalar:
                    f.seek(scalar[item] * count, 1)
                else:
                    for _ in range(count):
                        skip(item)
            else:
                f.seek(scalar[vtype], 1)
        for _ in range(n_kv):
            f.seek(u("Q"), 1)
            skip(u("I"))
        out = []
        for _ in range(n_tensors):
            name = f.read(u("Q")).decode()
            dims = [u("Q") for _ in range(u("I"))]
            t = gguf.GGMLQuantizationType(u("I"))
            u("Q")
            block, size = gguf.GGML_QUANT_SIZES[t]
            n = 1
            for d in dims:
                n *= d
            out.append((name, t.name, dims, n // block * size, n))
        return out


def gguf_contents(path):
    """Tensor bytes, parameters, the count of tensors per ggml type, and the bits per weight of the 2-D layer
    weights (every 2-D tensor but the token embedding)."""
    tensors = gguf_tensors(path)
    types = collections.Counter(t[1] for t in tensors)
    layers = [t for t in tensors if len(t[2]) == 2 and t[0] != "token_embd.weight"]
    return {"tensor_bytes": sum(t[3] for t in tensors), "parameters": sum(t[4] for t in tensors),
            "layer_bits_per_weight": 8 * sum(t[3] for t in layers) / sum(t[4] for t in layers),
            "tensor_types": dict(sorted(types.items()))}


def directory_bytes(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if os.path.isfile(os.path.join(path, f)))


def directory_contents(path):
    """The same for a `shrink quantize` output, from its shrink.json (one record per tensor)."""
    recipe = json.load(open(os.path.join(path, "shrink.json")))
    counts = collections.Counter()
    layer_bytes = layer_elements = 0
    for t in recipe["tensors"]:
        if t["action"] == "quantized":
            g = f"g{t['group_size']}" if t.get("strategy") == "group" else t.get("strategy", "")
            counts[f"int{t['bits']} {g} {t.get('method', '')}".strip()] += 1
        else:
            counts[t["dtype"]] += 1
        if len(t["shape"]) == 2 and "embed" not in t["name"]:
            layer_bytes += t["bytes_after"]
            layer_elements += t["shape"][0] * t["shape"][1]
    return {"tensor_bytes": recipe["totals"]["bytes_after"], "parameters": recipe["source"]["parameters"],
            "layer_bits_per_weight": 8 * layer_bytes / layer_elements if layer_elements else None,
            "tensor_types": dict(sorted(counts.items()))}


def fallback_line(log):
    if not log or log == "-" or not os.path.exists(log):
        return None
    m = re.search(r"(\d+) of (\d+) tensor\(s\) required fallback", open(log, errors="replace").read())
    return f"{m.group(1)} of {m.group(2)} tensors fell back" if m else None


def parse_llama(log):
    """llama-perplexity --kl-divergence's summary (tools/perplexity/perplexity.cpp, kl_divergence())."""
    text = open(log, errors="replace").read()

    def grab(pattern, scale=1.0):
        m = re.search(pattern, text)
        if not m:
            raise SystemExit(f"llm_head_to_head: '{pattern}' not found in {log}; rerun tools/llm_head_to_head.sh (delete the log)")
        return [float(g) * scale for g in m.groups()]

    ppl, ppl_err = grab(r"Mean PPL\(Q\)\s+:\s+([0-9.]+) ± +([0-9.]+)")
    base, _ = grab(r"Mean PPL\(base\)\s+:\s+([0-9.]+) ± +([0-9.]+)")
    kld, kld_err = grab(r"Mean\s+KLD:\s+(-?[0-9.]+) ± +([0-9.]+)")
    (p99,) = grab(r"99\.0%\s+KLD:\s+(-?[0-9.]+)")
    top, top_err = grab(r"Same top p:\s+([0-9.]+) ± +([0-9.]+) %", 0.01)
    chunks = re.findall(r"^\s*(\d+)\s+[0-9.]+ ±", text, re.M)
    m = re.search(r"computing over (\d+) chunks, n_ctx=(\d+)", text)
    tokens = int(m.group(1)) * (int(m.group(2)) - 1 - int(m.group(2)) // 2) if m else None
    return {"judge": "llama-perplexity", "ppl": ppl, "ppl_error": ppl_err, "ppl_base": base, "mean_kld": kld,
            "mean_kld_error": kld_err, "p99_kld": p99, "same_top_p": top, "same_top_p_error": top_err, "tokens": tokens}


def parse_shrink(path):
    r = json.load(open(path))
    return {"judge": "shrink", "ppl": r["compressed"]["perplexity"]["value"], "ppl_error": r["compressed"]["perplexity"]["error"],
            "ppl_base": r["original"]["perplexity"]["value"], "mean_kld": r["kld"]["value"], "mean_kld_error": r["kld"]["error"],
            "p99_kld": r["kld_distribution"]["p99"], "same_top_p": r["same_top"]["value"], "same_top_p_error": r["same_top"]["error"],
            "tokens": r["tokens"], "weight_bytes": r["compressed"]["weight_bytes"]}


def read_tsv(path, width):
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != width:
            raise SystemExit(f"llm_head_to_head: {path}: expected {width} tab-separated fields, got {len(parts)}: {line!r}")
        rows.append(parts)
    return rows


def llm_points(cache, source):
    """The judged points, and (tool, recipe, judge) of every file a judge has not judged yet."""
    points, missing = [], []
    for tool, recipe, path, llama_log, shrink_json, quantize_log in read_tsv(os.path.join(cache, "manifest.tsv"), 6):
        if path.endswith(".gguf"):
            contents = gguf_contents(path)
            size = os.path.getsize(path)
        else:
            contents = directory_contents(path)
            size = directory_bytes(path)
        base = {"tool": tool, "recipe": recipe, "file": rel(path), "bytes": size, "fallbacks": fallback_line(quantize_log), **contents}
        judged = []
        if llama_log != "-":
            judged.append(parse_llama(llama_log))
        elif path.endswith(".gguf"):
            missing.append((tool, recipe, "llama-perplexity"))
        if shrink_json != "-":
            judged.append(parse_shrink(shrink_json))
        else:
            missing.append((tool, recipe, "shrink"))
        for j in judged:
            j.pop("weight_bytes", None)
            p = dict(base, **j)
            p["bits_per_weight"] = 8 * p["tensor_bytes"] / p["parameters"]
            points.append(p)
    return points, missing


def minilm_rows(cache):
    rows = []
    for recipe, bits, method, gran, directory, compare_json, log in read_tsv(os.path.join(cache, "minilm.tsv"), 7):
        row = {"recipe": recipe, "bits": int(bits), "method": method, "granularity": gran, "directory": rel(directory), "error": None}
        if compare_json == "-" or not os.path.exists(compare_json) or os.path.getsize(compare_json) == 0:
            tail = open(log, errors="replace").read().strip().splitlines()[-1:] if os.path.exists(log) else ["no log"]
            row["error"] = tail[0] if tail else "failed without a message"
        else:
            r = json.load(open(compare_json))
            ec, ra = r["embedding_cosine"], r["retrieval_agreement"]
            row.update(weight_bytes=r["compressed"]["weight_bytes"], embedding_cosine=ec["estimate"], embedding_cosine_lower=ec["lower"],
                       embedding_cosine_upper=ec["upper"], p99_distance=r["embedding_distance"]["p99"],
                       retrieval_agreement=ra["estimate"], retrieval_agreement_lower=ra["lower"], retrieval_agreement_upper=ra["upper"],
                       identical_sets=r["identical_neighbour_sets"], queries=r["queries"], sentences=r["sentences"],
                       original_bytes=r["original"]["weight_bytes"])
        rows.append(row)
    return rows


def fmt_types(types):
    return ", ".join(f"{k} {v}" for k, v in sorted(types.items(), key=lambda kv: -kv[1]))


def mib(n):
    return f"{n / 2**20:.2f}"


def goal_rows(points):
    """Each llama.cpp+imatrix file whose layer weights are at ≤ GOAL_BPW bits, against every Shrink file within
    ±SIZE_TOLERANCE of its tensor bytes, judged by the same judge (the nearest Shrink file when none is that close)."""
    rows = []
    for judge in ("shrink", "llama-perplexity"):
        ours = [p for p in points if p["tool"] == "shrink" and p["judge"] == judge]
        peers = [p for p in points if p["tool"] == "llama.cpp+imatrix" and p["judge"] == judge
                 and p["layer_bits_per_weight"] <= GOAL_BPW * (1 + SIZE_TOLERANCE)]
        for peer in sorted(peers, key=lambda p: p["tensor_bytes"]):
            if not ours:
                rows.append((judge, None, peer, None))
                continue
            close = [s for s in ours if abs(s["tensor_bytes"] / peer["tensor_bytes"] - 1) <= SIZE_TOLERANCE]
            for s in sorted(close or [min(ours, key=lambda s: abs(s["tensor_bytes"] / peer["tensor_bytes"] - 1))], key=lambda s: s["mean_kld"]):
                rows.append((judge, s, peer, s["tensor_bytes"] / peer["tensor_bytes"] - 1))
    return rows


def write_markdown(settings, points, minilm, out):
    s = settings
    L = []
    L.append("# LLM head-to-head: Shrink vs llama.cpp's `llama-quantize`")
    L.append("")
    L.append("Generated by `tools/llm_head_to_head.sh` (tables by `tools/llm_head_to_head.py`); do not edit by hand.")
    L.append(f"Run {s['date']} on {s['machine']}; llama.cpp {s['llama_build']}; shrink {s['shrink_version']}.")
    L.append("")
    L.append("## Setup")
    L.append("")
    L.append(f"- **Source and original**: `{s['source']}` (the Q4_1 release of SmolLM2-135M-Instruct). Every file below is made from it, "
             "and every KLD is against it, dequantized (the only weights we have; there is no F16/F32 release in the package lists).")
    L.append(f"- **llama.cpp files**: `llama-quantize --allow-requantize` to each type, once without and once with an importance matrix "
             f"from `llama-imatrix` on `{s['calibration']}` ({s['imatrix_chunks']} chunks × {s['imatrix_ctx']} tokens; the calibration novels, Emma + Mansfield Park).")
    L.append(f"- **Judged on** the first {s['chunks']} chunks × {s['ctx']} tokens of `{s['evaluation']}` (the evaluation novels; these chunks are "
             f"the start of Persuasion), {s['scored_tokens']} scored tokens per file (the second half of each chunk, as llama-perplexity scores).")
    L.append("  - **llama-perplexity**: `--kl-divergence-base` computed once from the source, then `--kl-divergence` per file. Its base "
             "log-probabilities are stored as uint16 with a per-token scale, and its Q4/Q5/Q8 dot products quantize activations to 8 bits.")
    L.append("  - **shrink**: `shrink compare SOURCE FILE --text … --chunks N --split test --json`: the same statistics with exact f32 "
             "log-probabilities of both models (weights dequantized, f32 arithmetic). It also judges compressed directories, which llama.cpp cannot load.")
    L.append("- **bits/weight** = 8 × (bytes of all tensor data) / (elements of all tensors), norms and the tied 49152×576 embedding included "
             "(llama.cpp's BPW). **MiB** is the file on disk (a GGUF also carries the tokenizer, ≈ 1.8 MB).")
    L.append(f"- **This machine**: {s['machine']} by several agents at once (load average 20–30 during the run), so nothing here "
             "measures speed. It set the sizes of the run: the imatrix over 20 chunks (the 32-chunk run was still going after 50 minutes; its "
             "periodic save after 20 chunks is what a `--chunks 20` run writes), 8 evaluation chunks, GPTQ statistics over 8 calibration chunks, "
             "1000 MiniLM sentences. Rerun with CHUNKS, IMATRIX_CHUNKS, MINILM_SENTENCES (and `--calib-count` in the recipes) for larger samples.")
    L.append("- **p99 KLD** is the 99th percentile of the per-token KLD; **same top** is the fraction of tokens whose argmax agrees with the original's.")
    L.append("")

    by_key = {}
    for p in points:
        by_key[(p["tool"], p["recipe"], p["judge"])] = p
    llama_recipes = [p["recipe"] for p in points if p["tool"] == "llama.cpp" and p["judge"] == "llama-perplexity"]

    L.append("## llama.cpp: every type, without and with the importance matrix")
    L.append("")
    L.append("| type | imatrix | MiB | bits/weight | layer bits/weight | tensors per type | PPL (llama) | mean KLD (llama) | p99 KLD (llama) | same top (llama) | PPL (shrink) | mean KLD (shrink) | p99 KLD (shrink) | same top (shrink) |")
    L.append("|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for recipe in llama_recipes:
        for tool in ("llama.cpp", "llama.cpp+imatrix"):
            a, b = by_key.get((tool, recipe, "llama-perplexity")), by_key.get((tool, recipe, "shrink"))
            p = a or b
            if not p:
                continue
            def cells(j):
                if not j:
                    return ["—"] * 4
                return [f"{j['ppl']:.3f}", f"{j['mean_kld']:.5f}", f"{j['p99_kld']:.4f}", f"{100 * j['same_top_p']:.2f}%"]
            types = fmt_types(p["tensor_types"]) + (f" ({p['fallbacks']})" if p.get("fallbacks") else "")
            L.append(f"| {recipe} | {'yes' if tool.endswith('imatrix') else 'no'} | {mib(p['bytes'])} | {p['bits_per_weight']:.3f} | {p['layer_bits_per_weight']:.3f} | {types} | "
                     + " | ".join(cells(a) + cells(b)) + " |")
    same = collections.defaultdict(list)
    for p in points:
        if p["tool"].startswith("llama.cpp") and p["judge"] == "llama-perplexity":
            same[(p["tool"], p["tensor_bytes"], json.dumps(p["tensor_types"], sort_keys=True))].append(p["recipe"])
    for (tool, _, _), names in sorted(same.items()):
        if len(names) > 1:
            L.append("")
            L.append(f"{tool}: {' and '.join(names)} hold the same tensor types and bytes. Rows of 576 are not a multiple of 256, so "
                     "llama-quantize falls back to Q4_0/Q5_0/Q8_0 for every K-quant tensor but ffn_down (rows of 1536).")
    base_ppl = collections.defaultdict(set)
    for p in points:
        base_ppl[p["judge"]].add(round(p["ppl_base"], 3))
    L.append("")
    L.append("PPL of the source itself on these tokens: " + "; ".join(f"{j} {', '.join(f'{v:.3f}' for v in sorted(vs))}" for j, vs in sorted(base_ppl.items()))
             + " (shrink's judge takes models/smollm2-hf, the same weights in F32, as the original of a compressed directory).")
    o = gguf_contents(s["source"])
    L.append(f"The source: {mib(os.path.getsize(s['source']))} MiB, {8 * o['tensor_bytes'] / o['parameters']:.3f} bits/weight "
             f"(layers {o['layer_bits_per_weight']:.3f}), {fmt_types(o['tensor_types'])}, {o['parameters']:,} parameters.")
    L.append("")

    L.append("## Shrink's recipes")
    L.append("")
    shrink_points = [p for p in points if p["tool"] == "shrink"]
    if not shrink_points:
        L.append("No Shrink recipe output has been judged yet.")
    else:
        L.append("| recipe | file | MiB | bits/weight | layer bits/weight | tensors per type | judge | PPL | mean KLD | p99 KLD | same top |")
        L.append("|---|---|--:|--:|--:|---|---|--:|--:|--:|--:|")
        for p in sorted(shrink_points, key=lambda p: (-p["bits_per_weight"], p["recipe"], p["judge"])):
            L.append(f"| {p['recipe']} | `{os.path.basename(p['file'])}` | {mib(p['bytes'])} | {p['bits_per_weight']:.3f} | {p['layer_bits_per_weight']:.3f} | {fmt_types(p['tensor_types'])} | "
                     f"{p['judge']} | {p['ppl']:.3f} | {p['mean_kld']:.5f} | {p['p99_kld']:.4f} | {100 * p['same_top_p']:.2f}% |")
        L.append("")
        for r in s.get("recipes", []):
            L.append(f"- `{r['name']}`: `{r['command']}`")
    L.append("")

    L.append(f"## The goal: lower mean KLD than llama.cpp with imatrix at every size ≤ {GOAL_BPW} bits per weight")
    L.append("")
    L.append(f"Sizes are read on the layer weights (a type's nominal bits: Q4_0 = 4.5). Over all tensors every llama.cpp file here is above "
             f"{GOAL_BPW} bits/weight, because llama-quantize keeps the tied 49152×576 embedding (21% of the parameters) at Q8_0 for every type. "
             f"Each llama.cpp+imatrix file with layer weights at ≤ {GOAL_BPW} bits (+{100 * SIZE_TOLERANCE:.0f}%: with an imatrix, Q4_0 keeps 3 tensors at Q4_1) is set against every Shrink file whose tensor bytes are within "
             f"±{100 * SIZE_TOLERANCE:.0f}% of its own (else the nearest, marked), by the same judge.")
    L.append("")
    rows = goal_rows(points)
    if not rows:
        L.append("No llama.cpp+imatrix file at or below this size was judged.")
    else:
        L.append("| judge | llama.cpp+imatrix | layer bits/weight | MiB | mean KLD | (without imatrix) | Shrink recipe | MiB | size Δ | mean KLD | Shrink lower? |")
        L.append("|---|---|--:|--:|--:|--:|---|--:|--:|--:|---|")
        for judge, a, b, ratio in rows:
            plain = by_key.get(("llama.cpp", b["recipe"], judge))
            head = (f"| {judge} | {b['recipe']} | {b['layer_bits_per_weight']:.3f} | {mib(b['bytes'])} | {b['mean_kld']:.5f} | "
                    f"{plain['mean_kld']:.5f} | " if plain else "— | ")
            if a is None:
                L.append(head + "— | | | | no Shrink file judged by this judge |")
                continue
            matched = abs(ratio) <= SIZE_TOLERANCE
            verdict = ("**yes**" if a["mean_kld"] < b["mean_kld"] else "**no**") if matched else "sizes differ by more than 2%"
            L.append(head + f"{a['recipe']} | {mib(a['bytes'])} | {100 * ratio:+.1f}% | {a['mean_kld']:.5f} | {verdict} |")
        wins = [r for r in rows if r[1] is not None and abs(r[3]) <= SIZE_TOLERANCE]
        if wins:
            L.append("")
            by_peer = collections.OrderedDict()
            for judge, a, b, r in wins:
                by_peer.setdefault((judge, b["recipe"]), []).append(a["mean_kld"] < b["mean_kld"])
            L.append("Summary: " + "; ".join(f"{peer} ({judge}): {'met' if any(v) else 'not met'} (best Shrink file "
                                             f"{'below' if any(v) else 'above'} llama.cpp+imatrix)" for (judge, peer), v in by_peer.items()) + ".")
    L.append("")

    L.append("## Not measured in this run")
    L.append("")
    gaps = [f"{m['tool']} {m['recipe']} ({m['judge']})" for m in s.get("not_judged", [])]
    gaps += [f"recipe {r['name']}: {'failed: ' + r['last_log_line'] if r['last_log_line'] else 'not made yet'}"
             for r in s.get("recipes", []) if not r["ok"]]
    L.append("Everything listed above was measured." if not gaps else
             "Judged files are cached; these were still missing when the tables were written (rerun the script to fill them in): "
             + "; ".join(gaps) + ".")
    L.append("")
    L.append("## MiniLM (all-MiniLM-L6-v2, from FP32)")
    L.append("")
    if not minilm:
        L.append("Not run.")
    else:
        done = [r for r in minilm if r["error"] is None]
        if done:
            r0 = done[0]
            L.append(f"`shrink compare models/minilm DIR --sentences {s.get('minilm_sentences_file', '?')}`: {r0['sentences']} sentences of the evaluation novels "
                     f"(the first {r0['sentences']}), embedding cosine against FP32 (mean over sentences, bootstrap 95% interval), "
                     f"and top-{s.get('minilm_neighbours', 10)} retrieval agreement: for {r0['queries']} query sentences, |NN₁₀(FP32) ∩ NN₁₀(compressed)| / 10 among all "
                     f"{r0['sentences']} sentences. GPTQ is calibrated on sentences of `{s['calibration']}` ({s.get('minilm_calib_count', '?')} sentences). "
                     f"FP32 weights: {mib(r0['original_bytes'])} MiB. Only the 37 2-D linear weights (6 layers × 6 and the pooler) are quantized; the embedding tables (47 MB of F32) and LayerNorms are kept, so the weights column is dominated by them.")
            L.append("")
        L.append("| bits | granularity | method | weights MiB | embedding cosine [95%] | p99 of 1 − cos | top-10 retrieval agreement [95%] | identical top-10 sets |")
        L.append("|--:|---|---|--:|---|--:|---|--:|")
        for r in sorted(minilm, key=lambda r: (-r["bits"], r["granularity"], r["method"])):
            if r["error"]:
                L.append(f"| {r['bits']} | {r['granularity']} | {r['method']} | — | failed: {r['error'][:160]} | | | |")
            else:
                L.append(f"| {r['bits']} | {r['granularity']} | {r['method']} | {mib(r['weight_bytes'])} | {r['embedding_cosine']:.5f} "
                         f"[{r['embedding_cosine_lower']:.5f}, {r['embedding_cosine_upper']:.5f}] | {r['p99_distance']:.2e} | "
                         f"{r['retrieval_agreement']:.4f} [{r['retrieval_agreement_lower']:.4f}, {r['retrieval_agreement_upper']:.4f}] | "
                         f"{r['identical_sets']}/{r['queries']} |")
    L.append("")
    open(out, "w").write("\n".join(L))


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__.split("Usage: ")[1])
    global CACHE_DIR
    cache, source, out_md, out_json = sys.argv[1:]
    CACHE_DIR = os.path.abspath(cache)
    settings = json.load(open(os.path.join(cache, "run.json")))
    for r in settings.get("recipes", []):
        r["output"] = rel(r["output"])
    points, missing = llm_points(cache, source)
    minilm = minilm_rows(cache)
    tokens = {p["tokens"] for p in points if p.get("tokens")}
    settings["scored_tokens"] = ", ".join(str(t) for t in sorted(tokens)) or "?"
    settings["not_judged"] = [{"tool": t, "recipe": r, "judge": j} for t, r, j in missing]
    write_markdown(settings, points, minilm, out_md)
    json.dump({"settings": settings, "points": points, "minilm": minilm}, open(out_json, "w"), indent=1, sort_keys=True)
    open(out_json, "a").write("\n")
    print(f"wrote {out_md} ({len(points)} points, {len(minilm)} MiniLM rows) and {out_json}")


if __name__ == "__main__":
    main()
