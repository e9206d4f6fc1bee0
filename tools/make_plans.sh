#!/usr/bin/env bash
# Regenerates plans/*.json and plans/*.txt: the four fixtures on the three
# built-in devices, a tight --max-bytes plan per fixture on the microcontroller,
# a --min-exact depth ladder and a two-model stack on the SoC; then the table in
# plans/PLANS.md (between its <!-- table --> markers, tools/plans_table.py).
# The calibration sets (training splits, data/ is not committed) are regenerated
# by tools/datasets.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SHRINK=${SHRINK:-.build/release/shrink}
LIMIT=${LIMIT:-300}
mkdir -p plans
source tools/datasets.sh
run() {  # fixture task name extra-flags...   (task: the data set stem, e.g. sudoku6-hard)
    local fixture=$1 task=$2 name=$3; shift 3
    SHRINK="$SHRINK" ensure_train_set "$task-train"
    "$SHRINK" plan "Fixtures/models/$fixture" --calib "data/$task-train.safetensors" \
        --data "Fixtures/data/$task-test.safetensors" --limit "$LIMIT" --calib-count 16 --bits 8,4,3,2 \
        -o "plans/$name.json" -q "$@" > "plans/$name.txt"
    echo "plans/$name: $(head -1 "plans/$name.txt")"
}
for pair in trm_mlp_sudoku6:sudoku6-hard trm_att_sudoku6:sudoku6-easy hrm_sudoku6:sudoku6-easy trm_att_maze7:maze7; do
    fixture=${pair%%:*} level=${pair##*:}
    run "$fixture" "$level" "$fixture-mcu-4mb-120KB" --device mcu-4mb --max-bytes 120KB
    for device in mcu-4mb soc-8mb-sram jetson-orin-nano-8gb; do
        run "$fixture" "$level" "$fixture-$device" --device "$device"
    done
done
run trm_att_sudoku6 sudoku6-easy trm_att_sudoku6-soc-8mb-sram-150KB-min-exact-0.78 --device soc-8mb-sram --max-bytes 150KB --min-exact 0.78
# A stack: two models, one knapsack, one budget.
"$SHRINK" plan Fixtures/models/trm_att_sudoku6 Fixtures/models/hrm_sudoku6 --device soc-8mb-sram --max-bytes 250KB \
    --calib data/sudoku6-easy-train.safetensors --data Fixtures/data/sudoku6-easy-test.safetensors --limit "$LIMIT" \
    --calib-count 16 --bits 8,4,3,2 -o plans/stack-trm_att+hrm-soc-8mb-sram-250KB.json -q > plans/stack-trm_att+hrm-soc-8mb-sram-250KB.txt
echo "plans/stack-trm_att+hrm-soc-8mb-sram-250KB: $(head -1 plans/stack-trm_att+hrm-soc-8mb-sram-250KB.txt)"

python3 tools/plans_table.py plans/*.json > plans/.table.md
python3 - <<'PY'
import re
doc = open("plans/PLANS.md").read()
table = open("plans/.table.md").read()
new, n = re.subn(r"(<!-- table -->\n).*?(<!-- /table -->)", lambda m: m.group(1) + table + m.group(2), doc, flags=re.S)
assert n == 1, "plans/PLANS.md needs one <!-- table --> ... <!-- /table --> section"
open("plans/PLANS.md", "w").write(new)
PY
rm plans/.table.md
