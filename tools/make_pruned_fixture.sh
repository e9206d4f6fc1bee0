#!/usr/bin/env bash
# The structurally pruned tiny fixtures and the PyTorch reference's golden outputs on them (tools/reference/goldens.py),
# so the parity test checks structurally pruned models against PyTorch like every other fixture:
# - Tests/Fixtures/tiny/trm-mlp-t-pruned: the tiny TRM-MLP with half of every SwiGLU's channels removed by
#   `shrink prune --structured mlp` (config intermediate_size / intermediate_size_t);
# - Tests/Fixtures/tiny/hrm-rope-pruned: the tiny HRM with half of every attention layer's heads removed
#   (`--structured heads`: num_heads 2 → 1, head_dim 8 written), then half of every SwiGLU's channels, so the
#   two compose (its pruning.json records the second step).
# Usage: tools/make_pruned_fixture.sh   (needs .venv-tools: tools/setup_venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product shrink >&2
shrink=.build/debug/shrink
golden() { cp "$1/data.safetensors" "$2/data.safetensors"
           .venv-tools/bin/python tools/reference/goldens.py "$2" "$2/data.safetensors" -o "$2/golden.safetensors" --batch 3
           echo "wrote $2"; }

src=Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb out=Tests/Fixtures/tiny/trm-mlp-t-pruned
$shrink prune "$src" --structured mlp --method magnitude --sparsity 0.5 -o "$out" --overwrite --quiet
golden "$src" "$out"

src=Tests/Fixtures/tiny/hrm-rope out=Tests/Fixtures/tiny/hrm-rope-pruned
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
$shrink prune "$src" --structured heads --method magnitude --sparsity 0.5 -o "$scratch/heads" --quiet
cp "$src/data.safetensors" "$scratch/heads/"
$shrink prune "$scratch/heads" --structured mlp --method magnitude --sparsity 0.5 -o "$out" --overwrite --quiet
sed -i "s|\"source\" : \"$scratch/heads\"|\"source\" : \"$src, heads pruned by magnitude at 0.5\"|" "$out/pruning.json"
golden "$src" "$out"
