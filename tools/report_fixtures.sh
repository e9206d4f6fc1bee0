#!/usr/bin/env bash
# Regenerates Tests/Fixtures/report/: small real outputs of `shrink compare` that the
# ShrinkReport tests render (the sweep, study and plan views render the committed
# study/*.json and plans/*.json instead).
#   compare_puzzles.json  trm_att_sudoku6 against its INT4 per-tensor RTN copy, 200 test puzzles
#   compare_text.json     the SmolLM2 Q4_1 release against llama-quantize's Q4_0 of it, 4 chunks of 512
#                         of data/text/evaluation.txt (needs tools/fetch_real.sh)
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

model=models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
[[ -f "$model" ]] || { echo "missing $model: run tools/fetch_real.sh" >&2; exit 1; }
vendor/llama.cpp/build/bin/llama-quantize --allow-requantize "$model" "$work/q4_0.gguf" Q4_0 2 > "$work/quantize.log" 2>&1
"$shrink" compare "$model" "$work/q4_0.gguf" --text data/text/evaluation.txt --split test --ctx 512 --chunks 4 \
    --json > "$work/compare_text.json"
sed "s#$work/q4_0.gguf#q4_0.gguf#g" "$work/compare_text.json" > "$out/compare_text.json"
ls -l "$out"
