#!/usr/bin/env bash
# Regenerates PRUNING_STUDY.md (issue 17's study for the recursive reasoners) and study/prune/<fixture>{,-lowrank}.{md,json}:
#   1. pruning: one `shrink sweep` per trained fixture, magnitude / Wanda / SparseGPT at sparsity 0.1 … 0.9 and
#      2:4, the pruned weights kept at full precision (stored sparse-bitmask / sparse-24-bitmask), every
#      supervision step, paired against FP32 on the same held-out puzzles (Wanda and SparseGPT calibrated on 256
#      training puzzles);
#   2. low rank: GPTQ at INT4/INT3/INT2 per channel with EoRA rank 0/4/8/16/32 compensation (the 6×6 and maze
#      fixtures; the 9×9 one is left out for time), so each rank's bytes can be set against one more bit;
#   3. structured pruning: `shrink prune --structured mlp` (magnitude and Wanda-sp) at 10/25/50% of every MLP's
#      channels and, on the attention fixtures, `--structured heads` at 25/50% of every layer's 4 heads (10% removes
#      none), then `shrink compare` against FP32 on the same held-out puzzles
#      (study/prune/structured/<fixture>[-heads]-<method>-<fraction>.json);
#   4. the LLM and the encoder (`llm`; needs tools/fetch_real.sh): SmolLM2-135M by `shrink sweep --text` (magnitude,
#      Wanda, SparseGPT at 50% and 2:4, stored sparse, 32 chunks of the evaluation novels, calibrated on 32 chunks of
#      the calibration novels; study/prune/llm/smollm2.{md,json}) and all-MiniLM-L6-v2 by `shrink quantize --prune`
#      then `shrink compare --sentences` on the first 2000 evaluation sentences (study/prune/llm/minilm-*.json);
#   5. the planner with and without ranks at the same budget (trm_mlp_sudoku6 on soc-8mb-sram, 70 KB over INT4/3/2,
#      110 KB over INT8…2): `shrink plan` without, then with `--ranks 8,16`;
#   6. tools/prune_study.py turns the sweeps, comparisons and plans into PRUNING_STUDY.md.
# Not run by CI (about an hour of CPU on 2 cores). PRUNE_LIMIT=N sets the puzzles per row (default 500).
#
# Usage: tools/prune_study.sh [FIXTURE ...]   (default: all)
#        tools/prune_study.sh --render        (no sweep: PRUNING_STUDY.md from the committed sweeps)
#        tools/prune_study.sh plans           (only the four plans)
#        tools/prune_study.sh structured      (only trm_mlp_sudoku6's structured pruning)
#        tools/prune_study.sh heads           (only the attention fixtures' head pruning)
#        tools/prune_study.sh llm             (only SmolLM2 and MiniLM; `smollm2` or `minilm` for one of them)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/datasets.sh
if [[ -z "${SHRINK:-}" ]]; then
    swift build -c release -Xswiftc -target-cpu -Xswiftc native --product shrink >&2
fi
shrink="${SHRINK:-.build/release/shrink}"   # SHRINK=path: use that binary, no build
limit="${PRUNE_LIMIT:-500}"
mkdir -p study/prune

sweeps() {  # fixture test-set train-set [lowrank]
    local name="$1" test="$2" train="$3" lowrank="${4:-yes}"
    ensure_train_set "$train"
    $shrink sweep "Fixtures/models/$name" --data "Fixtures/data/$test.safetensors" --calib "data/$train.safetensors" \
        --prune magnitude,wanda,sparsegpt --sparsity 0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,2:4 --bits none \
        --limit "$limit" -o "study/prune/$name.md" --quiet
    [[ "$lowrank" == yes ]] || return 0
    $shrink sweep "Fixtures/models/$name" --data "Fixtures/data/$test.safetensors" --calib "data/$train.safetensors" \
        --bits 4,3,2 --methods gptq --granularities channel --ranks 0,4,8,16,32 --low-rank-method eora \
        --limit "$limit" -o "study/prune/$name-lowrank.md" --quiet
}

structured() {  # fixture test-set train-set [mlp|heads]
    local name="$1" test="$2" train="$3" target="${4:-mlp}" out fractions=(0.1 0.25 0.5) tag="$1"
    if [[ "$target" == heads ]]; then fractions=(0.25 0.5); tag="$1-heads"; fi
    ensure_train_set "$train"
    mkdir -p study/prune/structured
    for m in magnitude wanda; do
        for f in "${fractions[@]}"; do
            out=".build-prune-study/$tag-$m-$f"   # git-ignored; a relative path, so the JSON is the same on every machine
            $shrink prune "Fixtures/models/$name" --structured "$target" --method "$m" --sparsity "$f" --calib "data/$train.safetensors" \
                -o "$out" --overwrite --quiet > /dev/null
            $shrink compare "Fixtures/models/$name" "$out" --data "Fixtures/data/$test.safetensors" --limit "$limit" --json \
                > "study/prune/structured/$tag-$m-$f.json.tmp"
            mv "study/prune/structured/$tag-$m-$f.json.tmp" "study/prune/structured/$tag-$m-$f.json"   # no torn JSON if interrupted
        done
    done
}

heads() {
    structured trm_att_sudoku6 sudoku6-easy-test sudoku6-easy-train heads
    structured hrm_sudoku6 sudoku6-easy-test sudoku6-easy-train heads
    structured trm_att_maze7 maze7-test maze7-train heads
}

real_inputs() {
    for f in models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf models/minilm/model.safetensors data/text/evaluation.txt data/text/calibration.txt; do
        [[ -f "$f" ]] || { echo "$f is missing: run tools/fetch_real.sh" >&2; exit 1; }
    done
    mkdir -p study/prune/llm
}

smollm2() {
    real_inputs
    $shrink sweep models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --text data/text/evaluation.txt --chunks 32 \
        --prune magnitude,wanda,sparsegpt --sparsity 0.5,2:4 --bits none \
        --calib data/text/calibration.txt --calib-count 32 -o study/prune/llm/smollm2.md --quiet
}

minilm() {  # the first 2000 evaluation sentences (retrieval among them: 500 queries, 10 neighbours)
    local m s tag
    real_inputs
    for m in magnitude wanda sparsegpt; do
        for s in 0.5 2:4; do
            tag="minilm-$m-${s/:/-}"
            $shrink quantize models/minilm --prune "$m" --sparsity "$s" --calib data/text/calibration.txt \
                -o ".build-prune-study/$tag" --force --quiet > /dev/null
            $shrink compare models/minilm ".build-prune-study/$tag" --sentences data/text/evaluation.txt --limit 2000 --min-sentences 2000 --json \
                > "study/prune/llm/$tag.json.tmp"
            mv "study/prune/llm/$tag.json.tmp" "study/prune/llm/$tag.json"
        done
    done
}

plans() {  # budget bits
    local budget="$1" bits="$2"
    ensure_train_set sudoku6-hard-train
    for r in bits ranks; do
        local extra=(); [[ $r == ranks ]] && extra=(--ranks 8,16)
        $shrink plan Fixtures/models/trm_mlp_sudoku6 --device soc-8mb-sram --max-bytes "$budget" --calib data/sudoku6-hard-train.safetensors \
            --data Fixtures/data/sudoku6-hard-test.safetensors --limit "$limit" --bits "$bits" --methods rtn,gptq "${extra[@]+"${extra[@]}"}" \
            -o "study/prune/plan-$budget-$r.json" --quiet > /dev/null
    done
}

names=("$@")
if [[ "${names[0]:-}" == "--render" ]]; then names=(); fi
[[ ${#names[@]} -gt 0 || "${1:-}" == "--render" ]] || names=(trm_mlp_sudoku6 trm_att_sudoku6 hrm_sudoku6 trm_att_maze7 trm_mlp_sudoku9 plans llm)
for n in "${names[@]+"${names[@]}"}"; do
    case "$n" in
        trm_mlp_sudoku6) structured "$n" sudoku6-hard-test sudoku6-hard-train; sweeps "$n" sudoku6-hard-test sudoku6-hard-train ;;
        trm_att_sudoku6) structured "$n" sudoku6-easy-test sudoku6-easy-train; structured "$n" sudoku6-easy-test sudoku6-easy-train heads
                         sweeps "$n" sudoku6-easy-test sudoku6-easy-train ;;
        hrm_sudoku6)     structured "$n" sudoku6-easy-test sudoku6-easy-train; structured "$n" sudoku6-easy-test sudoku6-easy-train heads
                         sweeps "$n" sudoku6-easy-test sudoku6-easy-train ;;
        trm_att_maze7)   structured "$n" maze7-test maze7-train; structured "$n" maze7-test maze7-train heads; sweeps "$n" maze7-test maze7-train ;;
        trm_mlp_sudoku9) structured "$n" sudoku9-test sudoku9-train; sweeps "$n" sudoku9-test sudoku9-train no ;;
        structured)      structured trm_mlp_sudoku6 sudoku6-hard-test sudoku6-hard-train ;;
        heads)           heads ;;
        llm)             smollm2; minilm ;;
        smollm2)         smollm2 ;;
        minilm)          minilm ;;
        plans)           plans 70KB 4,3,2; plans 110KB 8,6,4,3,2 ;;
        *) echo "unknown fixture $n" >&2; exit 2 ;;
    esac
done
python3 tools/prune_study.py study/prune PRUNING_STUDY.md --command "tools/prune_study.sh" \
    --fixtures trm_mlp_sudoku6,trm_att_sudoku6,hrm_sudoku6,trm_att_maze7,trm_mlp_sudoku9
