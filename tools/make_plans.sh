#!/usr/bin/env bash
# Regenerates plans/*.json and plans/*.txt: the four fixtures on the three
# built-in devices, plus a tight --max-bytes plan per fixture on the microcontroller.
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
