#!/usr/bin/env bash
# Regenerates Tests/Fixtures/report/: small real outputs of `shrink compare` that the
# ShrinkReport tests render (the sweep, study and plan views render the committed
# study/*.json and plans/*.json instead).
#   compare_puzzles.json  trm_att_sudoku6 against its INT4 per-tensor RTN copy, 200 test puzzles
#   compare_text.json     the SmolLM2 Q4_1 release against llama-quantize's Q4_0 of it, 4 chunks of 512
#                         of data/text/evaluation.txt (needs tools/fetch_real.sh)
#   compare_vae.json      the TinyVAE fixture against its INT4 per-channel RTN copy, 200 Fashion-MNIST test images
#                         (needs tools/fetch_real.sh)
#   points_llama.json     llama-perplexity --kl-divergence of llama-quantize's Q4_0 and Q8_0 against the same base
#                         on the same 4 chunks: a "kind": "points" file for the KLD-against-bits view
# Usage: tools/report_fixtures.sh   (SHRINK=path: use that binary; default: build release)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${SHRINK:-}" ]]; then
    swift build -c release -Xswiftc -target-cpu -Xswiftc native >&2
fi
shrink="${SHRINK:-.build/release/shrink}"
out=Tests/Fixtures/report
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

"$shrink" quantize Fixtures/models/trm_att_sudoku6 -o "$work/int4" --bits 4 --granularity tensor --force >/dev/null
"$shrink" compare Fixtures/models/trm_att_sudoku6 "$work/int4" --data Fixtures/data/sudoku6-easy-test.safetensors \
    --limit 200 --json > "$work/compare_puzzles.json"
# Paths inside the JSON name the scratch folder: write the committed, stable names instead.
sed "s#$work/int4#out/trm_att_sudoku6-int4#g" "$work/compare_puzzles.json" > "$out/compare_puzzles.json"

images=data/fashion-mnist/t10k-images-idx3-ubyte
[[ -f "$images" ]] || { echo "missing $images: run tools/fetch_real.sh" >&2; exit 1; }
"$shrink" quantize Fixtures/models/vae_tiny64 -o "$work/vae-int4" --bits 4 --force >/dev/null
"$shrink" compare Fixtures/models/vae_tiny64 "$work/vae-int4" --data "$images" --limit 200 --json > "$work/compare_vae.json"
sed "s#$work/vae-int4#out/vae_tiny64-int4#g" "$work/compare_vae.json" > "$out/compare_vae.json"

model=models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
[[ -f "$model" ]] || { echo "missing $model: run tools/fetch_real.sh" >&2; exit 1; }
vendor/llama.cpp/build/bin/llama-quantize --allow-requantize "$model" "$work/q4_0.gguf" Q4_0 2 > "$work/quantize.log" 2>&1
"$shrink" compare "$model" "$work/q4_0.gguf" --text data/text/evaluation.txt --split test --ctx 512 --chunks 4 \
    --json > "$work/compare_text.json"
sed "s#$work/q4_0.gguf#q4_0.gguf#g" "$work/compare_text.json" > "$out/compare_text.json"
bin=vendor/llama.cpp/build/bin
"$bin/llama-quantize" --allow-requantize "$model" "$work/q8_0.gguf" Q8_0 2 >> "$work/quantize.log" 2>&1
"$bin/llama-perplexity" -m "$model" -f data/text/evaluation.txt -c 512 -b 512 --chunks 4 -t 2 \
    --kl-divergence-base "$work/base.kld" > "$work/base.log" 2>&1
for q in q4_0 q8_0; do
    "$bin/llama-perplexity" -m "$work/$q.gguf" -c 512 -b 512 --chunks 4 -t 2 \
        --kl-divergence-base "$work/base.kld" --kl-divergence > "$work/$q.log" 2>&1
done
# Bits per weight as Shrink counts them: tensor bytes × 8 / parameters (gguf-py), not the file's size.
.venv-tools/bin/python - "$work" > "$out/points_llama.json" <<'PY'
import json, re, sys
from gguf import GGUFReader
work = sys.argv[1]
points = []
for q in ["q4_0", "q8_0"]:
    log = open(f"{work}/{q}.log").read()
    m = re.search(r"Mean\s+KLD:\s+([0-9.]+)\s+±\s+([0-9.]+)", log)
    if not m: sys.exit(f"report_fixtures: no 'Mean KLD' in llama-perplexity's output for {q}:\n" + log[-2000:])
    r = GGUFReader(f"{work}/{q}.gguf")
    bpw = 8 * sum(int(t.n_bytes) for t in r.tensors) / sum(int(t.n_elements) for t in r.tensors)
    points.append({"label": q.upper(), "bits_per_weight": round(bpw, 6), "mean_kld": float(m.group(1)), "mean_kld_error": float(m.group(2))})
print(json.dumps({"kind": "points", "tool": "llama.cpp b10605", "base": "SmolLM2-135M-Instruct Q4_1 release",
                  "text": "data/text/evaluation.txt, 4 chunks of 512", "points": points}, indent=2, sort_keys=True))
PY
ls -l "$out"
