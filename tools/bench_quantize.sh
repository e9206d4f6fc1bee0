#!/usr/bin/env bash
# The foundation benchmark (BENCHMARKS.md): quantize a ≥256 MB FP32 checkpoint
# to int8 per-channel and int4 group-64 with `shrink` and with the NumPy peer,
# in the same run, plus this machine's memory bandwidth and peak RSS of both.
#
# Usage: tools/bench_quantize.sh [MB]     (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-256}"
py="$(tools/setup_venv.sh 2>/dev/null | tail -1)"
mkdir -p bench-data
ckpt="bench-data/bench-${mb}.safetensors"
[[ -f "$ckpt" ]] || "$py" tools/make_bench_checkpoint.py "$ckpt" --mb "$mb" --seed 0 >&2
if [[ -z "${SHRINK:-}" ]]; then swift build -c release -Xswiftc -target-cpu -Xswiftc native >&2; fi
shrink="${SHRINK:-.build/release/shrink}"   # SHRINK=path: measure that binary (e.g. a before/after pair), no build

rss_kb() { grep "Maximum resident set size" "$1" | awk '{print $NF}'; }

for scheme in "int8-channel" "int4-g64"; do
    if [[ $scheme == int8-channel ]]; then sflags=(--bits 8); nflags=(--bits 8 --strategy channel);
    else sflags=(--bits 4 --group 64); nflags=(--bits 4 --group 64); fi
    rm -rf bench-data/out-shrink bench-data/out-numpy
    "$shrink" bench "$ckpt" "${sflags[@]}" --repeats 3 --scratch bench-data/scratch --json > "bench-data/shrink-$scheme.json"
    /usr/bin/time -v "$shrink" quantize "$ckpt" -o bench-data/out-shrink "${sflags[@]}" --quiet 2> "bench-data/shrink-$scheme.time" >/dev/null
    OMP_NUM_THREADS=2 /usr/bin/time -v "$py" tools/bench_numpy_quantize.py "$ckpt" "${nflags[@]}" --out bench-data/out-numpy \
        > "bench-data/numpy-$scheme.json" 2> "bench-data/numpy-$scheme.time"
    "$py" - "$scheme" "bench-data/shrink-$scheme.json" "bench-data/numpy-$scheme.json" \
        "$(rss_kb "bench-data/shrink-$scheme.time")" "$(rss_kb "bench-data/numpy-$scheme.time")" "$(stat -c %s "$ckpt")" <<'PY'
import json, sys
scheme, sj, nj, srss, nrss, size = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
q = sj["quantize"]
n_total, n_compute = nj["total"]["gb_per_s"], nj["compute"]["gb_per_s"]
print(f"| {scheme} | {q['input_bytes']/1e6:.0f} MB | {q['kernel_gb_per_second']:.2f} | {q['end_to_end_gb_per_second']:.2f} | "
      f"{n_compute:.3f} | {n_total:.3f} | {q['kernel_gb_per_second']/n_compute:.1f}× | {q['end_to_end_gb_per_second']/n_total:.1f}× | "
      f"{q['kernel_gb_per_second']/q['threads']:.2f} | {srss/1024:.0f} MiB | {nrss/1024:.0f} MiB | {size/2**20:.0f} MiB | "
      f"{sj['memory_one_thread']['read_gb_per_second']:.1f} / {sj['memory_all_threads']['read_gb_per_second']:.1f} | {q['isa']} |")
PY
done
