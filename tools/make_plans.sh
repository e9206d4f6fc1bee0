#!/usr/bin/env bash
# Regenerates plans/*.json and plans/*.txt: the three sudoku fixtures on the three
# built-in devices, plus a tight --max-bytes plan per fixture on the microcontroller.
# Needs the calibration sets (data/ is not committed):
#   shrink data sudoku --size 6 --count 2000 --split train --givens-min 12 --givens-max 15 --test-classes 8 --seed 0 -o data/sudoku6-hard-train.safetensors
#   shrink data sudoku --size 6 --count 2000 --split train --givens-min 18 --givens-max 22 --test-classes 8 --seed 0 -o data/sudoku6-easy-train.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
SHRINK=${SHRINK:-.build/release/shrink}
LIMIT=${LIMIT:-300}
mkdir -p plans
run() {  # fixture difficulty name extra-flags...
    local fixture=$1 level=$2 name=$3; shift 3
    "$SHRINK" plan "Fixtures/models/$fixture" --calib "data/sudoku6-$level-train.safetensors" \
        --data "Fixtures/data/sudoku6-$level-test.safetensors" --limit "$LIMIT" --calib-count 4 --bits 8,4,3,2 \
        -o "plans/$name.json" -q "$@" > "plans/$name.txt"
    echo "plans/$name: $(head -1 "plans/$name.txt")"
}
for pair in trm_mlp_sudoku6:hard trm_att_sudoku6:easy hrm_sudoku6:easy; do
    fixture=${pair%%:*} level=${pair##*:}
    run "$fixture" "$level" "$fixture-mcu-4mb-120KB" --device mcu-4mb --max-bytes 120KB
    for device in mcu-4mb soc-8mb-sram jetson-orin-nano-8gb; do
        run "$fixture" "$level" "$fixture-$device" --device "$device"
    done
done
