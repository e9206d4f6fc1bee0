#!/usr/bin/env bash
# Shrink's GGUF reader against gguf-py 0.19.0, bit for bit, on real files:
#   - the SmolLM2-135M release (Q4_1, Q8_0, F32) and what llama.cpp's llama-quantize makes of it
#     in every type Shrink reads (its 576-wide rows are not whole k-quant super-blocks, so those
#     fall back to other types: each file holds several);
#   - a tiny random llama written by gguf-py (tools/make_tiny_llama_gguf.py, rows of 256) and
#     llama-quantize --pure of it in every type, so every 2-D weight takes that type, k-quants too;
#   - the committed gguf-py goldens (Tests/Fixtures/gguf/types.gguf, all 13 types).
# Each file goes through `shrink dequantize --dtype f32` and tools/check_gguf_read.py compares
# every tensor.
# Needs: tools/fetch_real.sh (models/), llama.cpp (built here by tools/build_llama_cpp.sh on first use), the tools
# venv, and a built shrink (swift build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv-tools/bin/python}
SHRINK=${SHRINK:-$(swift build --show-bin-path)/shrink}
QUANTIZE=${QUANTIZE:-$(tools/build_llama_cpp.sh | tail -1)/llama-quantize}
SRC=models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$SRC" ] || { echo "missing $SRC: run tools/fetch_real.sh" >&2; exit 1; }
[ -x "$QUANTIZE" ] || { echo "missing $QUANTIZE: run tools/build_llama_cpp.sh" >&2; exit 1; }
TYPES=${GGUF_TYPES:-"Q4_0 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K F16 BF16"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {
  "$SHRINK" dequantize "$1" -o "$tmp/decoded.safetensors" --dtype f32 --quiet > /dev/null
  "$PY" tools/check_gguf_read.py "$1" "$tmp/decoded.safetensors"
  rm -f "$tmp/decoded.safetensors"
}

check Tests/Fixtures/gguf/types.gguf
"$PY" tools/make_tiny_llama_gguf.py "$tmp/tiny.gguf"
check "$tmp/tiny.gguf"
for type in $TYPES; do
  "$QUANTIZE" --pure "$tmp/tiny.gguf" "$tmp/tiny-$type.gguf" "$type" 2 > "$tmp/quantize.log" 2>&1 || { cat "$tmp/quantize.log" >&2; exit 1; }
  check "$tmp/tiny-$type.gguf"
done
check "$SRC"
for type in $TYPES; do
  out="$tmp/smollm2-$type.gguf"
  "$QUANTIZE" --allow-requantize "$SRC" "$out" "$type" 2 > "$tmp/quantize.log" 2>&1 || { cat "$tmp/quantize.log" >&2; exit 1; }
  check "$out"
  rm -f "$out"
done
