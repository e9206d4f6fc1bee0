#!/usr/bin/env bash
# Recursive-reasoner inference speed (BENCHMARKS.md): `shrink eval` against the
# PyTorch CPU reference on the same model, puzzles and thread count, in one run.
#
# Usage: tools/bench_eval.sh [THREADS] [PUZZLES]     (defaults 2 and 500)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"; limit="${2:-500}"
py="$(tools/setup_venv.sh 2>/dev/null | tail -1)"
if [[ -z "${SHRINK:-}" ]]; then swift build -c release -Xswiftc -target-cpu -Xswiftc native >&2; fi
shrink="${SHRINK:-.build/release/shrink}"   # SHRINK=path: measure that binary (e.g. a before/after pair), no build
echo "| model | puzzles | Shrink puzzles/s | PyTorch puzzles/s | ratio | exact (Shrink / PyTorch) |"
echo "|---|---|---|---|---|---|"
for entry in trm_mlp_sudoku6:sudoku6-hard-test trm_att_sudoku6:sudoku6-easy-test hrm_sudoku6:sudoku6-easy-test trm_att_maze7:maze7-test; do
    name="${entry%%:*}"; data="Fixtures/data/${entry##*:}.safetensors"; dir="Fixtures/models/$name"
    [[ -f "$dir/model.safetensors" ]] || continue
    s=$(SHRINK_THREADS=$threads "$shrink" eval "$dir" --data "$data" --limit "$limit" --json --quiet)
    s2=$(SHRINK_THREADS=$threads "$shrink" eval "$dir" --data "$data" --limit "$limit" --json --quiet)
    p=$(OMP_NUM_THREADS=$threads "$py" tools/reference/bench_eval.py "$dir" "$data" --threads "$threads" --limit "$limit")
    "$py" - "$name" "$s" "$s2" "$p" <<'PY'
import json, sys
name, s, s2, p = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
sp = max(s["puzzles_per_second"], s2["puzzles_per_second"])
print(f"| {name} | {s['puzzles']} | {sp:.1f} | {p['puzzles_per_s']:.1f} | {sp / p['puzzles_per_s']:.2f}× | "
      f"{100 * s['accuracy']['exact']['estimate']:.2f}% / {100 * p['exact']:.2f}% |")
PY
done
