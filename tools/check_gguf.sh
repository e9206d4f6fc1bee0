#!/usr/bin/env bash
# Exports each sudoku fixture (FP32, and an INT4 compressed copy) as GGUF in every
# type and checks it with the gguf Python package (tools/check_gguf.py).
# Needs the tools venv (.venv-tools) and a built shrink (swift build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv-tools/bin/python}
SHRINK=${SHRINK:-$(swift build --show-bin-path)/shrink}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for fixture in trm_mlp_sudoku6 trm_att_sudoku6 hrm_sudoku6 trm_att_maze7; do
  model=Fixtures/models/$fixture
  "$SHRINK" quantize "$model" -o "$tmp/$fixture-int4" --bits 4 --granularity channel --quiet > /dev/null
  for dir in "$model" "$tmp/$fixture-int4"; do
    for type in q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k f16 f32; do
      out="$tmp/$(basename "$dir")-$type.gguf"
      "$SHRINK" export gguf "$dir" -o "$out" --type "$type" --verify-dump "$out.dump.safetensors" --quiet > /dev/null
      "$PY" tools/check_gguf.py "$out" "$dir" "$out.dump.safetensors"
    done
  done
done
