#!/usr/bin/env bash
# 7B-class time and memory on this machine (issue 14, BENCHMARKS.md "7B class"): writes the
# synthetic Llama-2-7B-shaped checkpoint if absent (tools/make_synthetic_llama.py, ≈ 13.5 GB,
# never committed), then measures
#   1. the device's read rate: O_DIRECT (no page cache) and a buffered `cat` of every shard;
#   2. `shrink quantize DIR --bits 4 --group 128` twice (the second run finds what the page
#      cache kept), wall time, input GB/s and peak RSS from /usr/bin/time -v;
#   3. GPTQ's capture and solve at one decoder layer's shapes with 16 × 512 synthetic input
#      rows (`shrink bench DIR --gptq-layer 0 --calib-rows 8192`), per tensor time and peak RSS.
#
# Usage: tools/bench_7b.sh [DIR (default /tmp/shrink-llama7b)] [OUT (default /tmp/shrink-llama7b-q4)]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp/shrink-llama7b}"; out="${2:-/tmp/shrink-llama7b-q4}"
py=.venv-tools/bin/python
[[ -f "$dir/model.safetensors.index.json" ]] || nice -n 10 "$py" tools/make_synthetic_llama.py "$dir"
swift build -c release -Xswiftc -target-cpu -Xswiftc native --product shrink >&2
shrink=.build/release/shrink
bytes=$(du -cb "$dir"/*.safetensors | tail -1 | cut -f1)
shard=$(ls "$dir"/*.safetensors | head -2 | tail -1)
echo "input: $bytes bytes in $(ls "$dir"/*.safetensors | wc -l) shards"
echo "O_DIRECT read of $(basename "$shard"): $(dd if="$shard" of=/dev/null bs=16M iflag=direct 2>&1 | tail -1)"
t0=$(date +%s.%N); cat "$dir"/*.safetensors > /dev/null; t1=$(date +%s.%N)
echo "buffered cat of all shards: $(echo "$t1 - $t0" | bc) s, $(echo "$bytes / ($t1 - $t0) / 1000000000" | bc -l | cut -c1-5) GB/s"
for run in 1 2; do
  rm -rf "$out"
  /usr/bin/time -v "$shrink" quantize "$dir" --bits 4 --group 128 -o "$out" --quiet 2> /tmp/bench_7b_time.txt > /dev/null
  wall=$(grep "Elapsed" /tmp/bench_7b_time.txt | awk '{print $NF}')
  secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident" /tmp/bench_7b_time.txt | awk '{print $NF}')
  fsin=$(grep "File system inputs" /tmp/bench_7b_time.txt | awk '{print $NF}')
  echo "quantize run $run: ${secs} s, $(echo "$bytes / $secs / 1000000000" | bc -l | cut -c1-5) GB/s of input, peak RSS $((rss / 1024)) MiB, read from the device $((fsin / 2048)) MiB"
done
rm -rf "$out"
"$shrink" bench "$dir" --gptq-layer 0 --calib-rows 8192 --bits 4 --group 128 --json
