#!/usr/bin/env bash
# Tests/Fixtures/tiny/trm-mlp-t-pruned: the tiny TRM-MLP fixture with half of every SwiGLU's channels removed by
# `shrink prune --structured mlp` (config intermediate_size / intermediate_size_t), and the PyTorch reference's
# golden outputs on it (tools/reference/goldens.py), so the parity test checks a structurally pruned model against
# PyTorch like every other fixture.
# Usage: tools/make_pruned_fixture.sh   (needs .venv-tools: tools/setup_venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product shrink >&2
src=Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb out=Tests/Fixtures/tiny/trm-mlp-t-pruned
.build/debug/shrink prune "$src" --structured mlp --method magnitude --sparsity 0.5 -o "$out" --overwrite --quiet
cp "$src/data.safetensors" "$out/data.safetensors"
.venv-tools/bin/python tools/reference/goldens.py "$out" "$out/data.safetensors" -o "$out/golden.safetensors" --batch 3
echo "wrote $out"
