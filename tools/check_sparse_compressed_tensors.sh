#!/usr/bin/env bash
# Sparse interop (issue 17): compressed-tensors' own sparse compressors (0.14.0, the last release that ships
# them; tools/requirements-sparse.txt) decompress what `shrink quantize --prune` writes without --bits
# (sparse-bitmask, sparse-24-bitmask) bit-exactly equal to `shrink dequantize`; compressed-tensors compresses the
# same dense weights and `shrink dequantize` reads its files back with identical tensors; and pruned-then-quantized
# outputs (pack-quantized, the mask in the zero codes, sparsity_config format "dense") still pass the
# compressed-tensors 0.20.0 check of tools/check_compressed_tensors.py.
#
# Usage: tools/check_sparse_compressed_tensors.sh [path/to/shrink]
set -euo pipefail
cd "$(dirname "$0")/.."
shrink="${1:-}"
if [[ -z "$shrink" ]]; then
    swift build -c release --product shrink >&2
    shrink="$(swift build -c release --show-bin-path)/shrink"
fi
py="$(tools/setup_venv.sh | tail -1)"
ct=".build-tools/ct-sparse-0.14.0"
if [[ ! -f "$ct/compressed_tensors/compressors/sparse_compressors/sparse_bitmask.py" ]]; then
    rm -rf "$ct"
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps --target "$ct" -r tools/requirements-sparse.txt >&2
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
result() {
    if [[ $1 -eq 0 ]]; then passed=$((passed + 1)); echo "ok      $2"; else failed=$((failed + 1)); echo "FAILED  $2"; tail -5 "$3" 2>/dev/null || true; fi
}

# sparse NAME MODEL ARGS...: Shrink writes, compressed-tensors decompresses; compressed-tensors compresses, Shrink reads.
sparse() {
    local name="$1" model="$2"; shift 2
    local d="$work/$name"
    local rc=0
    "$shrink" quantize "$model" -o "$d" --quiet "$@" >/dev/null \
        && "$shrink" dequantize "$d" -o "$d.safetensors" --quiet >/dev/null \
        && PYTHONPATH="$ct" "$py" tools/check_sparse_compressed_tensors.py "$d" "$d.safetensors" --reverse "$d-ct" > "$d.log" 2>&1 \
        && "$shrink" dequantize "$d-ct" -o "$d-ct.safetensors" --quiet >/dev/null \
        && PYTHONPATH="$ct" "$py" tools/check_sparse_compressed_tensors.py --same "$d.safetensors" "$d-ct.safetensors" >> "$d.log" 2>&1 || rc=1
    result $rc "compressed-tensors 0.14.0 reads and writes $name" "$d.log"
}

# quantized NAME ARGS...: pruned, then pack-quantized; compressed-tensors 0.20.0 decompresses it exactly.
quantized() {
    local name="$1"; shift
    local d="$work/$name"
    local rc=0
    "$shrink" quantize Fixtures/default/model.safetensors -o "$d" --embeddings --quiet "$@" >/dev/null \
        && "$shrink" dequantize "$d" -o "$d.safetensors" --quiet >/dev/null \
        && "$py" tools/check_compressed_tensors.py "$d" "$d.safetensors" --rtol 1e-6 > "$d.log" 2>&1 || rc=1
    result $rc "compressed-tensors 0.20.0 loads $name" "$d.log"
}

trm=Fixtures/models/trm_mlp_sudoku6
calib=Fixtures/data/sudoku6-train.safetensors
sparse magnitude-0.5 Fixtures/default/model.safetensors --prune magnitude --sparsity 0.5 --embeddings
sparse magnitude-2of4 Fixtures/default/model.safetensors --prune magnitude --sparsity 2:4 --embeddings
sparse magnitude-4of8 Fixtures/default/model.safetensors --prune magnitude --sparsity 4:8
sparse magnitude-global-0.7 Fixtures/default/model.safetensors --prune magnitude --sparsity 0.7 --sparsity-scope global
sparse wanda-0.5-trm "$trm" --prune wanda --sparsity 0.5 --calib "$calib" --calib-count 64
sparse sparsegpt-2of4-trm "$trm" --prune sparsegpt --sparsity 2:4 --calib "$calib" --calib-count 64
quantized magnitude-2of4-w4-g64 --prune magnitude --sparsity 2:4 --bits 4 --group 64
quantized magnitude-0.5-w8-asym --prune magnitude --sparsity 0.5 --bits 8 --asym

echo "sparse interop: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
