#!/usr/bin/env bash
# Fuzzes every parser Shrink reads files with (FUZZING.md): one libFuzzer target per format in Fuzz/, built with
# Swift's own `-sanitize=fuzzer,address` (libFuzzer + AddressSanitizer, swiftc 6.3 on Linux) into .build/fuzz, only
# when SHRINK_FUZZ=1 (a normal `swift build` / `swift test` never sees the targets).
#
# Each target starts from its committed seeds (Fuzz/Corpus/<Target>) plus the crash regressions
# (Tests/Fixtures/fuzz/<Target>), grows a working corpus in .build/fuzz/corpus/<Target>, and runs a fixed number of
# executions. A crash, hang (> 10 s), out-of-memory (> 2 GB; leaks with FUZZ_LEAKS=1) or sanitizer report fails the target; the input is
# saved in .build/fuzz/crashes/<Target>/. One line per target (executions, edges, seconds) goes to stdout and to
# .build/fuzz/results.tsv.
#
# Usage: tools/fuzz.sh [--runs N] [--smoke] [--no-build] [Target ...]
#   --runs N   executions per target (default 1000000, the bar in FUZZING.md)
#   --smoke    replay the seed and regression corpora only, then 10^4 executions (the CI pass; a few minutes)
#   Targets default to all of Fuzz/Fuzz*.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1000000 build=1 targets=()
while (($#)); do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --smoke) runs=10000; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if ((${#targets[@]} == 0)); then
    for d in Fuzz/Fuzz*/; do targets+=("$(basename "$d")"); done
fi

# Largest input per target: a few seeds' worth, so mutations stay fast.
max_len() {
    case "$1" in
        FuzzGGUF|FuzzGGUFTokenizer) echo 32768 ;;
        FuzzSafetensors|FuzzPuzzleDataset|FuzzGGMLBlocks|FuzzTokenizerJSON) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

out=.build/fuzz
flags=(-c release --build-path "$out/build" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
       -Xcc -fsanitize=fuzzer-no-link,address)
if ((build)); then
    for t in "${targets[@]}"; do SHRINK_FUZZ=1 swift build "${flags[@]}" --product "$t" >&2; done
fi
bin="$(SHRINK_FUZZ=1 swift build "${flags[@]}" --show-bin-path)"

export SWIFT_BACKTRACE=enable=no  # let libFuzzer and ASan report (and save) the crashing input
# Leak checking re-runs every new input under malloc tracking and costs ~10x the executions; the parsers' memory
# is Swift-managed, so it is off unless FUZZ_LEAKS=1.
leaks="${FUZZ_LEAKS:-0}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=$leaks:allocator_may_return_null=1:malloc_context_size=2}"  # short allocation stacks: 2x faster
mkdir -p "$out"
results="$out/results.tsv"
[[ -f "$results" ]] || printf 'target\truns\texecutions\tedges\tfeatures\tcorpus\tseconds\tresult\n' > "$results"
failed=0
for t in "${targets[@]}"; do
    corpus="$out/corpus/$t" crashes="$out/crashes/$t" log="$out/$t.log"
    mkdir -p "$corpus" "$crashes"
    seeds=()
    for d in "Fuzz/Corpus/$t" "Tests/Fixtures/fuzz/$t"; do [[ -d "$d" ]] && seeds+=("$d"); done
    start=$(date +%s)
    set +e
    "$bin/$t" "$corpus" "${seeds[@]}" -runs="$runs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -detect_leaks="$leaks" -print_final_stats=1 -artifact_prefix="$crashes/" > "$log" 2>&1
    rc=$?
    set -e
    seconds=$(($(date +%s) - start))
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    edges=$(grep -oE '(INITED|DONE|pulse|NEW|REDUCE) +cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
    features=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
    size=$(find "$corpus" -type f | wc -l)
    if ((rc == 0)); then result=ok; else result="FAILED (rc $rc, see $log)"; failed=$((failed + 1)); fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$runs" "${executions:-?}" "${edges:-?}" "${features:-?}" "$size" "$seconds" "$result" \
        | tee -a "$results"
done
((failed == 0)) || { echo "$failed fuzz target(s) failed" >&2; exit 1; }
