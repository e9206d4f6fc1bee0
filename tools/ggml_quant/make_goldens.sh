#!/usr/bin/env bash
# Regenerates Tests/Fixtures/ggml_quant/ (inputs.f32, importance.f32, <type>.bin, <type>_imatrix.bin, cases.txt) from llama.cpp's own quantizers:
# compiles tools/ggml_quant/goldens.c against vendor/llama.cpp's libggml-base.a (tools/build_llama_cpp.sh builds it).
# Usage: tools/ggml_quant/make_goldens.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/build_llama_cpp.sh >/dev/null
root=vendor/llama.cpp
out=Tests/Fixtures/ggml_quant
mkdir -p "$out"
bin="$(mktemp -d)/goldens"
cc -O2 -std=gnu11 -I"$root/ggml/include" tools/ggml_quant/goldens.c "$root/build/ggml/src/libggml-base.a" \
    -lstdc++ -lm -fopenmp -lpthread -o "$bin"
"$bin" "$out" > "$out/cases.txt"
echo "wrote $(ls "$out" | wc -l) files to $out"
