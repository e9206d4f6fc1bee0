#!/usr/bin/env bash
# Language-model throughput, one run, same threads, same text, ctx 512, same chunks on every side:
#   Shrink (`shrink eval --text`) on the SmolLM2 Q4_1 release; llama-perplexity on the same file and on the F16 and
#   Q4_0 files llama-quantize makes from it; PyTorch FP32 (transformers loading the GGUF). Peak RSS of each.
# Prints a markdown table for BENCHMARKS.md. Run on a quiet machine.
# Usage: tools/bench_llm.sh      CHUNKS (default 40), TEXT (default data/text/persuasion.txt), THREADS (default 2),
#                                SHRINK (default: a release build made here)
set -euo pipefail
cd "$(dirname "$0")/.."
chunks="${CHUNKS:-40}" text="${TEXT:-data/text/persuasion.txt}" threads="${THREADS:-2}"
shrink="${SHRINK:-}"
if [[ -z "$shrink" ]]; then
    swift build -c release -Xswiftc -target-cpu -Xswiftc native --product shrink >&2
    shrink="$(swift build -c release --show-bin-path)/shrink"
fi
tools/fetch_real.sh
bin="$(tools/build_llama_cpp.sh | tail -1)"
py="$(tools/setup_venv.sh | tail -1)"
model=models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in F16 Q4_0; do "$bin/llama-quantize" --allow-requantize "$model" "$work/$t.gguf" "$t" 2 > /dev/null 2>&1; done

# row NAME JSON TOKENS_PER_SECOND_KEY PPL_KEY RSS: one table row from a JSON report (dotted keys).
row() {
    "$py" - "$@" <<'PY'
import json, sys
name, path, tps, ppl, rss = sys.argv[1:6]
r = json.load(open(path))
get = lambda key: float(__import__("functools").reduce(lambda d, k: d[k], key.split("."), r))
print(f"| {name} | {get(tps):.0f} | {get(ppl):.2f} | {rss} |")
PY
}
rss() { grep "Maximum resident" "$1" | awk '{printf "%.0f", $6 / 1024}'; }
echo "| peer | tokens/s | PPL ($chunks chunks) | peak RSS (MB) |"
echo "|---|---|---|---|"
/usr/bin/time -v "$shrink" eval "$model" --text "$text" --ctx 512 --chunks "$chunks" --json > "$work/shrink.json" 2> "$work/shrink.time"
row "Shrink on the Q4_1 release" "$work/shrink.json" tokens_per_second perplexity.value "$(rss "$work/shrink.time")"
for f in "$model:Q4_1 release" "$work/F16.gguf:F16 (llama-quantize)" "$work/Q4_0.gguf:Q4_0 (llama-quantize)"; do
    file="${f%%:*}" name="${f#*:}"
    /usr/bin/time -v "$bin/llama-perplexity" -m "$file" -f "$text" -c 512 -b 512 --chunks "$chunks" -t "$threads" > "$work/l.log" 2>&1
    "$py" - "$work/l.log" "$name" "$(rss "$work/l.log")" <<'PY'
import re, sys
log = open(sys.argv[1]).read()
ppl = re.search(r"Final estimate: PPL = ([0-9.]+)", log).group(1)
# The log's timestamps (minutes.seconds.milliseconds.microseconds): from "calculating perplexity over N chunks" to "Final estimate" is the
# evaluation alone, without loading and tokenizing (as Shrink's tokens/s counts only the chunks).
def stamp(pattern):
    m = re.search(r"(\d+)\.(\d+)\.(\d+)\.(\d+) I [^\n]*" + pattern, log)
    return int(m.group(1)) * 60 + int(m.group(2)) + int(m.group(3)) / 1e3 + int(m.group(4)) / 1e6
n = int(re.search(r"calculating perplexity over (\d+) chunks, n_ctx=(\d+)", log).group(1))
tps = n * 512 / (stamp("Final estimate") - stamp("calculating perplexity"))
print(f"| llama-perplexity on {sys.argv[2]} | {tps:.0f} | {float(ppl):.2f} | {sys.argv[3]} |")
PY
done
/usr/bin/time -v "$py" tools/bench_torch_perplexity.py "$model" "$text" --ctx 512 --chunks "$chunks" --threads "$threads" \
    > "$work/torch.json" 2> "$work/torch.time"
row "$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["peer"])' "$work/torch.json")" "$work/torch.json" \
    tokens_per_second perplexity "$(rss "$work/torch.time")"
