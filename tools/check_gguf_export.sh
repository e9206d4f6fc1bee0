#!/usr/bin/env bash
# llama.cpp runs Shrink's whole-model GGUF export (`shrink export gguf`) of the real SmolLM2-135M Q4_1 release
# (tools/fetch_real.sh; llama.cpp from tools/build_llama_cpp.sh), for TYPES (default q4_0 q8_0 q5_1 q4_k):
#   1. llama-perplexity on the export (first CHUNKS chunks of TEXT, ctx 512) is within 1% of
#      `shrink eval` of the same file (the residual is llama.cpp's 8-bit activations in its dot products);
#   2. llama-completion generates readable text from it (greedy, 48 tokens past any end-of-text; mostly ASCII words);
#   3. a compressed directory from `shrink quantize --bits 4 --group 32 --scale-dtype f16` exports as Q4_0 with every
#      quantized tensor written exactly from its codes, and llama-perplexity on it is within 1% of shrink eval;
#   4. low-rank factors (`shrink quantize --low-rank`) exported as a llama.cpp LoRA adapter beside the exact Q4_0 codes:
#      llama-perplexity --lora within 1% of Shrink's perplexity of the same compressed model;
#   5. every tensor whose type matches llama-quantize's holds the same bytes: --type q4_0 against Q4_0, and
#      --type q4_k --imatrix against --pure --imatrix Q4_K_S (ggml's quantizers, ported bit for bit).
# Prints one table row per type: file size, bits per weight, exact/re-quantized/fallback counts, both perplexities.
# Usage: tools/check_gguf_export.sh [path/to/shrink]     TYPES, CHUNKS (8), TEXT (data/text/persuasion.txt), THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
shrink="${1:-${SHRINK:-}}"
if [[ -z "$shrink" ]]; then
    swift build -c release --product shrink >&2
    shrink="$(swift build -c release --show-bin-path)/shrink"
fi
tools/fetch_real.sh >/dev/null
bin="$(tools/build_llama_cpp.sh | tail -1)"
py="${PYTHON_TOOLS:-$(tools/setup_venv.sh | tail -1)}"
chunks="${CHUNKS:-8}" text="${TEXT:-data/text/persuasion.txt}" threads="${THREADS:-2}"
types="${TYPES:-q4_0 q8_0 q5_1 q4_k}"
model=models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

failed=0
echo "| type | MB | bits/weight | exact | re-quantized | fell back | llama-perplexity | shrink eval | difference |"
echo "|---|---|---|---|---|---|---|---|---|"
for t in $types; do
    out="$work/$t.gguf"
    "$shrink" export gguf "$model" --type "$t" -o "$out" --json > "$work/$t.export.json"
    "$bin/llama-perplexity" -m "$out" -f "$text" -c 512 -b 512 --chunks "$chunks" -t "$threads" > "$work/$t.llama.log" 2>&1
    "$shrink" eval "$out" --text "$text" --ctx 512 --chunks "$chunks" --json > "$work/$t.eval.json"
    "$bin/llama-completion" -m "$out" -p "It is a truth universally acknowledged, that" -n 48 --ignore-eos --temp 0 --seed 1 -no-cnv \
        --no-display-prompt -t "$threads" > "$work/$t.completion.txt" 2> "$work/$t.completion.log" </dev/null
    "$py" - "$t" "$work/$t.export.json" "$work/$t.llama.log" "$work/$t.eval.json" "$work/$t.completion.txt" <<'PY' || failed=$((failed + 1))
import json, re, sys
t, export, log, ours, sample = sys.argv[1], json.load(open(sys.argv[2])), open(sys.argv[3]).read(), json.load(open(sys.argv[4])), open(sys.argv[5], errors="replace").read()
m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", log)
if not m: sys.exit(f"FAILED  {t}: llama-perplexity did not run the export:\n" + log[-2000:])
llama, ppl = float(m.group(1)), ours["perplexity"]["value"]
rel = ppl / llama - 1
print(f"| {t} | {export['bytes'] / 1e6:.1f} | {export['bits_per_weight']:.3f} | {export['exact']} | {export['requantized']} | "
      f"{export['fallbacks']} | {llama:.4f} | {ppl:.4f} | {100 * rel:+.3f}% |")
words = sample.replace("[end of text]", " ").split()
wordy = [w for w in words if re.fullmatch(r"[A-Za-z][A-Za-z'’-]*[.,;:!?\"”)]*", w)]
ascii_frac = sum(c.isascii() for c in sample) / max(1, len(sample))
print(f"  {t} sample: {' '.join(words)[:240]!r}", file=sys.stderr)
bad = []
if abs(rel) > 0.01: bad.append(f"shrink eval {ppl:.4f} vs llama-perplexity {llama:.4f}: more than 1% apart")
if len(words) < 20 or len(wordy) < 0.8 * len(words) or ascii_frac < 0.95:
    bad.append(f"llama-completion's text is not readable ({len(wordy)} of {len(words)} words, {100 * ascii_frac:.0f}% ASCII)")
if bad: sys.exit(f"FAILED  {t}: " + "; ".join(bad))
PY
done

# A compressed directory (`shrink quantize` of the same GGUF, symmetric int4 group-32 f16 scales, embedding included)
# exports its codes exactly as Q4_0: every tensor "exact", and llama-perplexity on it within 1% of shrink eval.
"$shrink" quantize "$model" -o "$work/int4g32" --bits 4 --group 32 --scale-dtype f16 --embeddings --quiet >/dev/null
"$shrink" export gguf "$work/int4g32" --type q4_0 -o "$work/int4g32.gguf" --json > "$work/int4g32.export.json"
"$bin/llama-perplexity" -m "$work/int4g32.gguf" -f "$text" -c 512 -b 512 --chunks "$chunks" -t "$threads" > "$work/int4g32.llama.log" 2>&1
"$shrink" eval "$work/int4g32.gguf" --text "$text" --ctx 512 --chunks "$chunks" --json > "$work/int4g32.eval.json"
"$py" - "$work/int4g32.export.json" "$work/int4g32.llama.log" "$work/int4g32.eval.json" <<'PY' || failed=$((failed + 1))
import json, re, sys
export, log, ours = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), json.load(open(sys.argv[3]))
m = re.search(r"Final estimate: PPL = ([0-9.]+)", log)
if not m: sys.exit("FAILED  int4 g32 → q4_0: llama-perplexity did not run the export:\n" + log[-2000:])
llama, ppl = float(m.group(1)), ours["perplexity"]["value"]
q = [t for t in export["tensors"] if t["source_format"].startswith("int4")]
print(f"| int4 g32 dir → q4_0 | {export['bytes'] / 1e6:.1f} | {export['bits_per_weight']:.3f} | {export['exact']} | {export['requantized']} | "
      f"{export['fallbacks']} | {llama:.4f} | {ppl:.4f} | {100 * (ppl / llama - 1):+.3f}% |")
bad = []
if len(q) < 200 or any(t["placement"] != "exact" or t["type"] != "q4_0" for t in q): bad.append("int4 g32 tensors were not all written exactly as q4_0")
if abs(ppl / llama - 1) > 0.01: bad.append(f"shrink eval {ppl:.4f} vs llama-perplexity {llama:.4f}: more than 1% apart")
if bad: sys.exit("FAILED  int4 g32 → q4_0: " + "; ".join(bad))
PY

# Low-rank factors as a llama.cpp LoRA adapter: `shrink quantize --low-rank 16` (int4 g32, f16 scales), exported as
# Q4_0 codes (exact, the Q8_0 embedding kept) plus `--lora-adapter`; llama-perplexity with `--lora` must be within 1%
# of Shrink's perplexity of the same compressed model (Ŵ + A·B, evaluated from an exact F32 export of it), and the
# adapter must buy back perplexity against the same Q4_0 file without it.
"$shrink" quantize "$model" -o "$work/lr16" --bits 4 --group 32 --scale-dtype f16 --low-rank 16 --low-rank-method svd --quiet >/dev/null
"$shrink" export gguf "$work/lr16" --type q4_0 --type-for token_embd=q8_0 -o "$work/lr16.gguf" --lora-adapter "$work/lr16.lora.gguf" \
    --json > "$work/lr16.export.json"
"$shrink" export gguf "$work/lr16" --type f32 -o "$work/lr16.f32.gguf" --quiet >/dev/null
"$bin/llama-perplexity" -m "$work/lr16.gguf" --lora "$work/lr16.lora.gguf" -f "$text" -c 512 -b 512 --chunks "$chunks" -t "$threads" \
    > "$work/lr16.llama.log" 2>&1
"$bin/llama-perplexity" -m "$work/lr16.gguf" -f "$text" -c 512 -b 512 --chunks "$chunks" -t "$threads" > "$work/lr16.base.log" 2>&1
"$shrink" eval "$work/lr16.f32.gguf" --text "$text" --ctx 512 --chunks "$chunks" --json > "$work/lr16.eval.json"
rm -f "$work/lr16.f32.gguf"
"$py" - "$work/lr16.export.json" "$work/lr16.llama.log" "$work/lr16.base.log" "$work/lr16.eval.json" <<'PY' || failed=$((failed + 1))
import json, re, sys
export, log, base, ours = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), open(sys.argv[3]).read(), json.load(open(sys.argv[4]))
m, b = re.search(r"Final estimate: PPL = ([0-9.]+)", log), re.search(r"Final estimate: PPL = ([0-9.]+)", base)
if not m or not b: sys.exit("FAILED  int4 g32 + rank 16 → q4_0 + LoRA adapter: llama-perplexity did not run it:\n" + (log if not m else base)[-2000:])
llama, without, ppl = float(m.group(1)), float(b.group(1)), ours["perplexity"]["value"]
adapter = export.get("lora_adapter") or {}
print(f"| int4 g32 + rank 16 → q4_0 + LoRA adapter ({adapter.get('bytes', 0) / 1e6:.1f} MB) | {export['bytes'] / 1e6:.1f} | "
      f"{export['bits_per_weight']:.3f} | {export['exact']} | {export['requantized']} | {export['fallbacks']} | {llama:.4f} "
      f"(without the adapter {without:.4f}) | {ppl:.4f} | {100 * (ppl / llama - 1):+.3f}% |")
bad = []
if adapter.get("weights", 0) != 210: bad.append(f"the adapter holds {adapter.get('weights')} weights' factors, not the 210 block linears")
if export["requantized"] != 0: bad.append(f"{export['requantized']} tensors were re-quantized; Ŵ's codes should be written exactly")
if abs(ppl / llama - 1) > 0.01: bad.append(f"shrink eval {ppl:.4f} vs llama-perplexity --lora {llama:.4f}: more than 1% apart")
if not llama < without: bad.append(f"the adapter did not lower perplexity ({without:.4f} → {llama:.4f})")
if bad: sys.exit("FAILED  int4 g32 + rank 16 → q4_0 + LoRA adapter: " + "; ".join(bad))
PY

# Bit-exactness with llama-quantize on the tensors both put in the same type: Q4_0 (llama.cpp keeps its own types for
# token_embd), and --pure Q4_K_S (every tensor Q4_K or llama.cpp's fallback) with an importance matrix from
# llama-imatrix on IMATRIX_CHUNKS chunks of a calibration novel (Emma; never the evaluation text).
"$bin/llama-quantize" --allow-requantize "$model" "$work/lq_q4_0.gguf" Q4_0 2 > "$work/quantize.log" 2>&1
[[ -f "$work/q4_0.gguf" ]] || "$shrink" export gguf "$model" --type q4_0 -o "$work/q4_0.gguf" --quiet >/dev/null
"$bin/llama-imatrix" -m "$model" -f data/text/emma.txt --chunks "${IMATRIX_CHUNKS:-2}" -c 512 -t "$threads" \
    -o "$work/imatrix.gguf" > "$work/imatrix.log" 2>&1
"$bin/llama-quantize" --allow-requantize --pure --imatrix "$work/imatrix.gguf" "$model" "$work/lq_q4_k_im.gguf" Q4_K_S 2 \
    > "$work/quantize_im.log" 2>&1
"$shrink" export gguf "$model" --type q4_k --imatrix "$work/imatrix.gguf" -o "$work/q4_k_im.gguf" --quiet >/dev/null
"$py" - "$work/q4_0.gguf" "$work/lq_q4_0.gguf" "$work/q4_k_im.gguf" "$work/lq_q4_k_im.gguf" <<'PY' || failed=$((failed + 1))
import sys
import numpy as np
from gguf import GGUFReader
bad = []
for label, a, b, least in [("q4_0 vs llama-quantize Q4_0", sys.argv[1], sys.argv[2], 200),
                           ("q4_k --imatrix vs llama-quantize --pure --imatrix Q4_K_S", sys.argv[3], sys.argv[4], 272)]:
    ours, theirs = GGUFReader(a), GGUFReader(b)
    by_name = {t.name: t for t in theirs.tensors}
    same, differ, other = 0, [], 0
    for t in ours.tensors:
        u = by_name[t.name]
        if t.tensor_type != u.tensor_type: other += 1; continue
        if np.array_equal(np.asarray(t.data).view(np.uint8), np.asarray(u.data).view(np.uint8)): same += 1
        else: differ.append(t.name)
    print(f"{label}: {same} tensors byte-identical, {len(differ)} differ, {other} of another type")
    if differ or same < least: bad.append(f"{label}: bytes differ ({', '.join(differ[:5])}) or too few compared ({same})")
if bad: sys.exit("FAILED  " + "; ".join(bad))
PY
[[ $failed -eq 0 ]] && echo "ok      llama.cpp runs shrink export gguf ($types): perplexity within 1%, readable text, llama-quantize's bytes (with and without an imatrix)"
[[ $failed -eq 0 ]]
