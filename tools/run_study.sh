#!/usr/bin/env bash
# Regenerates STUDY.md and study/<fixture>.{md,json}: one `shrink sweep` per
# trained fixture (bits 8,6,4,3,2 × rtn/mse/gptq × per-tensor/per-channel ×
# every supervision step, plus FP32 and INT8 at one outer cycle (H_cycles 1);
# 1,000 held-out puzzles, GPTQ calibrated on 256 training puzzles), then
# `shrink study` turns the sweeps into findings and `shrink report` draws them
# into study/report.html (one self-contained page; STUDY.md links it).
# Not run by CI (about an hour of CPU on 2 cores).
#
# Usage: tools/run_study.sh [FIXTURE ...]   (default: all; STUDY.md always covers every study/*.json)
#        tools/run_study.sh --render        (no sweep: STUDY.md and study/report.html from the committed sweeps)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/datasets.sh
if [[ -z "${SHRINK:-}" ]]; then
    swift build -c release -Xswiftc -target-cpu -Xswiftc native >&2
fi
shrink="${SHRINK:-.build/release/shrink}"   # SHRINK=path: use that binary, no build
mkdir -p study

sweep() {  # fixture test-set train-set [bits methods]
    local name="$1" test="$2" train="$3" bits="${4:-8,6,4,3,2}" methods="${5:-rtn,mse,gptq}"
    ensure_train_set "$train"
    $shrink sweep "Fixtures/models/$name" --data "Fixtures/data/$test.safetensors" --calib "data/$train.safetensors" \
        --bits "$bits" --methods "$methods" --granularities tensor,channel --h-cycles 1 --cycle-bits 8 --limit 1000 \
        -o "study/$name.md"
}

names=("$@")
if [[ "${names[0]:-}" == "--render" ]]; then names=(); render_only=1; else render_only=0; fi
[[ ${#names[@]} -gt 0 || $render_only == 1 ]] || names=(trm_mlp_sudoku6 trm_att_sudoku6 hrm_sudoku6 trm_att_maze7 trm_mlp_sudoku9)
for n in "${names[@]+"${names[@]}"}"; do
    case "$n" in
        trm_mlp_sudoku6) sweep "$n" sudoku6-hard-test sudoku6-hard-train ;;
        trm_att_sudoku6) sweep "$n" sudoku6-easy-test sudoku6-easy-train ;;
        hrm_sudoku6)     sweep "$n" sudoku6-easy-test sudoku6-easy-train ;;
        trm_att_maze7)   sweep "$n" maze7-test maze7-train ;;
        # 3× the FLOPs per puzzle of the 6×6 models: a smaller grid (no INT6, no MSE clipping).
        trm_mlp_sudoku9) sweep "$n" sudoku9-test sudoku9-train 8,4,3,2 rtn,gptq ;;
        *) echo "unknown fixture $n" >&2; exit 2 ;;
    esac
done
$shrink report study/*.json -o study/report.html --title "What survives compression: the study" >&2
$shrink study study/*.json -o STUDY.md --command "tools/run_study.sh" --notes study/NOTES.md
# The plots' link, under the opening paragraph.
awk 'NR == 4 { print ""; print "Plots of every sweep (exact accuracy against bits per weight, by supervision step, the Pareto frontier of bytes against exact accuracy, carry fidelity against exact accuracy), with the table behind each: [study/report.html](study/report.html) (one self-contained page, opens offline)." } { print }' \
    STUDY.md > STUDY.md.tmp && mv STUDY.md.tmp STUDY.md
