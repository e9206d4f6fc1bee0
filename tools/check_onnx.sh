#!/usr/bin/env bash
# ONNX export check (issue 7): every fixture (TRM mlp_t, TRM attention, HRM) exported
# as FP32, INT8 per-channel QDQ, INT4 group QDQ and INT4 MatMulNBits (plus asymmetric
# INT4 with quantized embeddings; INT3/INT4 with low-rank factors, `--low-rank`) must pass onnx.checker (full_check), and onnxruntime
# (CPU) on the test set must agree with `shrink eval` of the same directory: logits
# within the tolerance in tools/check_onnx.py, >= 99.9% identical predicted cells,
# the same puzzle-exact accuracy. The tiny test fixtures are checked against their
# PyTorch goldens. Needs a release build (the debug build evaluates ~50x slower).
#
# Usage: tools/check_onnx.sh [path/to/shrink] [-- extra check_onnx.py flags]
#   ONNX_CHECK_LIMIT=1000 (default 256) puzzles per fixture; --bench adds latencies.
#   PYTHON_TOOLS=/path/to/python skips tools/setup_venv.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
shrink="${1:-}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
if [[ -z "$shrink" ]]; then
    swift build -c release --product shrink >&2
    shrink="$(swift build -c release --show-bin-path)/shrink"
fi
py="${PYTHON_TOOLS:-$(tools/setup_venv.sh | tail -1)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" tools/check_onnx.py "$shrink" "$work" --limit "${ONNX_CHECK_LIMIT:-256}" "$@"
