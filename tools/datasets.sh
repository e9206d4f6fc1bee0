# Sourced by tools/make_fixtures.sh and tools/run_study.sh: regenerates a
# fixture's training split in data/ (gitignored; same seeds → same bytes). The
# held-out test splits are committed in Fixtures/data.
#   ensure_train_set NAME   (NAME: sudoku6-hard-train | sudoku6-easy-train | maze7-train | sudoku9-train)
ensure_train_set() {
    local name="$1" shrink="${SHRINK:-.build/release/shrink}"
    [[ -f "data/$name.safetensors" ]] && return 0
    mkdir -p data
    case "$name" in
        sudoku6-hard-train) $shrink data sudoku --size 6 --count 60000 --split train --givens-min 12 --givens-max 15 --test-classes 8 --seed 0 -o "data/$name.safetensors" --quiet ;;
        sudoku6-easy-train) $shrink data sudoku --size 6 --count 60000 --split train --givens-min 18 --givens-max 22 --test-classes 8 --seed 0 -o "data/$name.safetensors" --quiet ;;
        sudoku9-train)      $shrink data sudoku --size 9 --count 100000 --split train --givens-min 34 --givens-max 40 --seed 0 -o "data/$name.safetensors" --quiet ;;
        maze7-train)        $shrink data maze --size 7 --count 8000 --split train --min-path 6 --test-fraction 0.15 --seed 0 -o "data/$name.safetensors" --quiet ;;
        *) echo "unknown training set $name" >&2; return 2 ;;
    esac
}
