#!/usr/bin/env bash
# Exports each sudoku fixture at INT8 and INT4 (per-channel RTN) and at INT3 group 32 with
# rank-8 low-rank factors (`--low-rank 8 --low-rank-method svd`) as C, builds it with
# the system compiler at -O2 -Wall -Wextra -Werror and again with
# -fsanitize=address,undefined, runs it on the test set and compares the predictions
# with `shrink eval` of the same compressed model (tools/check_c.py). Prints the
# sections' sizes (size -A: .text, .rodata, .bss = arena) and, when
# arm-none-eabi-gcc is installed, the Cortex-M7 build's arm-none-eabi-size.
# PUZZLES (default 1000) puzzles each; SANITIZE_PUZZLES (default 20) under the sanitizers;
# ONLY=label,label (e.g. ONLY=int3-g32-lr8) runs just those variants.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv-tools/bin/python}
SHRINK=${SHRINK:-$(swift build --show-bin-path)/shrink}
CC=${CC:-cc}
PUZZLES=${PUZZLES:-1000}
SANITIZE_PUZZLES=${SANITIZE_PUZZLES:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
# label:shrink quantize flags. int3-g32-lr8 adds rank-8 low-rank factors (F16 A, B; the runtime adds A·(B·x)); mlp_t's
# gate_up_proj (36 inputs) has no group of 32 and stays float.
VARIANTS=("int8:--bits 8 --granularity channel" "int4:--bits 4 --granularity channel"
          "int3-g32-lr8:--bits 3 --group 32 --keep mlp_t\.gate_up --low-rank 8 --low-rank-method svd")
# fixture:test-set[:steps]. The maze model runs its 4 well-conditioned steps: past step 4 it
# amplifies rounding (PyTorch FP32 vs FP64 differ by 49% at step 8), so two correct FP32
# programs (C with libm, Swift with its kernels) legitimately disagree on some late-step outcomes.
for spec in trm_mlp_sudoku6:sudoku6-hard-test trm_att_sudoku6:sudoku6-easy-test hrm_sudoku6:sudoku6-easy-test trm_att_maze7:maze7-test:4; do
  IFS=: read -r fixture set steps <<< "$spec"
  data=Fixtures/data/$set.safetensors
  stepflag=(); [[ -n "${steps:-}" ]] && stepflag=(--steps "$steps")
  "$PY" tools/check_c.py to-bin "$data" "$PUZZLES" "$tmp/$fixture.in"
  for variant in "${VARIANTS[@]}"; do
    IFS=: read -r label qflags <<< "$variant"
    [[ -n "${ONLY:-}" && ",$ONLY," != *",$label,"* ]] && continue
    q="$tmp/$fixture-$label"
    c="$q-c"
    # shellcheck disable=SC2086  # qflags is a word list
    "$SHRINK" quantize "Fixtures/models/$fixture" -o "$q" $qflags --quiet > /dev/null
    "$SHRINK" export c "$q" -o "$c" "${stepflag[@]}" --quiet > /dev/null
    "$CC" -std=c99 -O2 -Wall -Wextra -Werror -I"$c" -c "$c/model.c" -o "$c/model.o"
    "$CC" -std=c99 -O2 -Wall -Wextra -Werror -I"$c" -c "$c/weights.c" -o "$c/weights.o"
    "$CC" -std=c99 -O2 -Wall -Wextra -Werror -I"$c" tools/c_driver.c "$c/model.o" "$c/weights.o" -lm -o "$c/run"
    "$CC" -std=c99 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all -I"$c" \
      tools/c_driver.c "$c/model.c" "$c/weights.c" -lm -o "$c/run-san"
    "$c/run-san" "$tmp/$fixture.in" "$c/san.out" "$SANITIZE_PUZZLES"
    "$c/run" "$tmp/$fixture.in" "$c/c.out" "$PUZZLES"
    "$SHRINK" eval "$q" --data "$data" --limit "$PUZZLES" "${stepflag[@]}" --predictions "$c/shrink.safetensors" --quiet > /dev/null
    "$PY" tools/check_c.py compare "$data" "$c/c.out" "$c/shrink.safetensors" "$fixture $label" || status=1
    cmp -s <(head -c $(stat -c %s "$c/san.out") "$c/c.out") "$c/san.out" || { echo "FAIL $fixture $label: sanitizer build predicts differently"; status=1; }
    size -A "$c/model.o" "$c/weights.o" | awk -v label="$fixture $label host" '
      $1 ~ /^\.text/ {t += $2} $1 ~ /^\.rodata/ || $1 ~ /^\.data\.rel\.ro/ {r += $2} $1 == ".bss" {b += $2}
      END {printf "  size %s: .text %d  .rodata %d  .text+.rodata %d  .bss (arena) %d\n", label, t, r, t + r, b}'
    if command -v arm-none-eabi-gcc > /dev/null; then
      arm-none-eabi-gcc -std=c99 -mcpu=cortex-m7 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard -O2 -Wall -Wextra -Werror -I"$c" -c "$c/model.c" -o "$c/model-m7.o"
      arm-none-eabi-gcc -std=c99 -mcpu=cortex-m7 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard -O2 -Wall -Wextra -Werror -I"$c" -c "$c/weights.c" -o "$c/weights-m7.o"
      arm-none-eabi-size "$c/model-m7.o" "$c/weights-m7.o" | awk -v label="$fixture $label cortex-m7" '
        NR > 1 {t += $1; d += $2; b += $3} END {printf "  arm-none-eabi-size %s: text %d  data %d  bss %d\n", label, t, d, b}'
    fi
  done
done
exit $status
