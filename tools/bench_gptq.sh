#!/usr/bin/env bash
# GPTQ speed and quality (BENCHMARKS.md): Shrink against the PyTorch CPU reference
# (tools/reference/bench_gptq.py) on the same model, calibration puzzles, layers
# and thread count, in one run.
#
# Usage: tools/bench_gptq.sh MODEL_DIR CALIB.safetensors [THREADS] [extra flags: --bits 4 --group 32]
set -euo pipefail
cd "$(dirname "$0")/.."
model="$1"; calib="$2"; threads="${3:-2}"; shift 3 || true
flags=("$@"); [[ ${#flags[@]} -gt 0 ]] || flags=(--bits 4 --group 32)
py="$(tools/setup_venv.sh 2>/dev/null | tail -1)"
swift build -c release -Xswiftc -target-cpu -Xswiftc native >&2
s=$(SHRINK_THREADS=$threads .build/release/shrink bench "$model" --gptq-calib "$calib" "${flags[@]}" --json --quiet)
p=$(OMP_NUM_THREADS=$threads "$py" tools/reference/bench_gptq.py "$model" --calib "$calib" --threads "$threads" "${flags[@]}" --indivisible channel)
"$py" - "$s" "$p" <<'PY'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"| layer | Shrink error | PyTorch error | ratio |")
print(f"|---|---|---|---|")
worst = 0
for l in s["layers"]:
    q = p["layers"][l["name"]]
    r = l["error"] / q["error"] if q["error"] else 1
    worst = max(worst, abs(r - 1))
    print(f"| {l['name']} | {l['error']:.4e} | {q['error']:.4e} | {r:.4f} |")
print()
print(f"GPTQ time: Shrink {s['gptq_seconds']:.3f} s, PyTorch {p['gptq_seconds']:.3f} s → {p['gptq_seconds'] / s['gptq_seconds']:.1f}× faster; "
      f"capture: Shrink {s['capture_seconds']:.2f} s, PyTorch {p['capture_seconds']:.2f} s; "
      f"largest relative error difference {100 * worst:.2f}% ({len(s['layers'])} layers, {s['threads']} threads)")
PY
