#!/usr/bin/env bash
# Interop checks: what Shrink writes must load, unchanged, in the runtimes that
# read it, and agree with Shrink's own results:
#   - compressed-tensors 0.20.0 decompresses `shrink quantize` outputs of the
#     bundled default model (every bit width and granularity, symmetric and
#     asymmetric, f16/bf16 scales) and must agree with `shrink dequantize`;
#   - the gguf package reads `shrink export gguf` files (tools/check_gguf.sh), and Shrink decodes
#     real GGUF files (SmolLM2 and its llama-quantize variants) as gguf-py does (tools/check_gguf_read.sh);
#   - onnx.checker and onnxruntime run `shrink export onnx` graphs (tools/check_onnx.sh);
#   - the system C compiler builds and runs `shrink export c` (tools/check_c.sh);
#   - PyTorch's FLOP counter agrees with the committed FLOP goldens (tools/check_flops.sh);
#   - llama-perplexity agrees with `shrink eval/compare --text` on the real SmolLM2 GGUF (tools/check_llama.sh; builds
#     llama.cpp into vendor/ on first use, ~7 minutes);
#   - headless Chromium draws `shrink report` pages at 1280 and 800 px without overlaps or console errors
#     (tools/check_report_browser.sh; installs Debian's chromium on first use; ~1 minute).
#   - a real one-node Slurm cluster runs a sharded sweep as a job array plus an afterok merge, and the merge equals
#     the unsharded sweep (tools/slurm/check_slurm.sh; installs Debian's slurm and munge on first use; ~15 s);
#   - llama.cpp runs `shrink export gguf` of SmolLM2 (Q4_0, Q8_0, Q5_1, Q4_K): llama-perplexity within 1% of
#     `shrink eval` on the same file, readable llama-completion text, llama-quantize's bytes (tools/check_gguf_export.sh).
#   - compressed-tensors 0.14.0's sparse compressors decompress `shrink quantize --prune` outputs bit-exactly as
#     `shrink dequantize` does, and Shrink reads their compression back (tools/check_sparse_compressed_tensors.sh).
# Needs the tools venv (created on first use, ~1 minute) and a release build
# (made here; the debug build evaluates puzzles ~50x slower). CI runs smaller
# puzzle counts than the defaults of the individual scripts (see below).
#
# Usage: tools/check_interop.sh [path/to/shrink]
set -euo pipefail
cd "$(dirname "$0")/.."
shrink="${1:-}"
if [[ -z "$shrink" ]]; then
    swift build -c release --product shrink >&2
    shrink="$(swift build -c release --show-bin-path)/shrink"
fi
py="$(tools/setup_venv.sh | tail -1)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
check() {
    local name="$1" rtol="$2"; shift 2
    if "$shrink" quantize Fixtures/default/model.safetensors -o "$work/$name" --embeddings --quiet "$@" >/dev/null \
        && "$shrink" dequantize "$work/$name" -o "$work/$name.safetensors" --quiet >/dev/null \
        && "$py" tools/check_compressed_tensors.py "$work/$name" "$work/$name.safetensors" --rtol "$rtol" > "$work/$name.log" 2>&1; then
        passed=$((passed + 1)); echo "ok      compressed-tensors loads $name"
    else
        failed=$((failed + 1)); echo "FAILED  compressed-tensors loads $name"; tail -5 "$work/$name.log" 2>/dev/null || true
    fi
}

# With f32 scales both sides compute (q − z)·s in f32: identical. With half
# scales compressed-tensors computes in the scale's dtype and Shrink in f32, so
# they may differ by one ulp of that dtype (2^-10 for f16, 2^-7 for bf16).
check w8-channel 1e-6 --bits 8
check w4-g64 1e-6 --bits 4 --group 64
check w4-g32-asym 1e-6 --bits 4 --group 32 --asym
check w3-g128 1e-6 --bits 3 --group 128
check w5-channel-asym 1e-6 --bits 5 --asym
check w6-tensor 1e-6 --bits 6 --granularity tensor
check w2-tensor-asym 1e-6 --bits 2 --granularity tensor --asym
check w7-g64-f16scales 0.0009765625 --bits 7 --group 64 --scale-dtype f16
check w4-g64-bf16scales 0.0078125 --bits 4 --group 64 --scale-dtype bf16 --asym

# The ggml minimum grid (--grid ggml) stores float minima compressed-tensors has no field for: its config must make
# compressed-tensors refuse the directory (an unknown format), never decompress codes without their minima.
if "$shrink" quantize Fixtures/default/model.safetensors -o "$work/ggml-minimum" --bits 4 --group 32 --grid ggml --quiet >/dev/null \
    && "$py" -c 'import sys
from compressed_tensors.quantization import QuantizationConfig
from compressed_tensors.utils.safetensors_load import get_quantization_config
try:
    QuantizationConfig.model_validate(get_quantization_config(sys.argv[1] + "/config.json"))
except Exception as e:
    sys.exit(0 if "shrink-ggml-minimum" in str(e) else 1)
sys.exit(1)' "$work/ggml-minimum"; then
    passed=$((passed + 1)); echo "ok      compressed-tensors refuses the ggml minimum grid (shrink-ggml-minimum)"
else
    failed=$((failed + 1)); echo "FAILED  compressed-tensors refuses the ggml minimum grid (shrink-ggml-minimum)"
fi

echo "interop: $passed passed, $failed failed"
[[ $failed -eq 0 ]]

export SHRINK="$shrink" PYTHON="$py" PYTHON_TOOLS="$py"
tools/check_gguf.sh
tools/check_gguf_read.sh
ONNX_CHECK_LIMIT="${ONNX_CHECK_LIMIT:-128}" tools/check_onnx.sh "$shrink"
PUZZLES="${PUZZLES:-200}" SANITIZE_PUZZLES="${SANITIZE_PUZZLES:-5}" tools/check_c.sh
tools/check_flops.sh
CHUNKS="${LLAMA_CHUNKS:-8}" tools/check_llama.sh "$shrink"
SHRINK="$shrink" tools/check_report_browser.sh
tools/slurm/check_slurm.sh "$shrink"
CHUNKS="${LLAMA_CHUNKS:-8}" tools/check_gguf_export.sh "$shrink"
tools/check_sparse_compressed_tensors.sh "$shrink"
