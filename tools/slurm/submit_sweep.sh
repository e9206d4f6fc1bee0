#!/usr/bin/env bash
# Submits a sharded `shrink sweep` to Slurm: a job array of SHARDS tasks (tools/slurm/sweep.sbatch), then the merge
# (tools/slurm/merge.sbatch) with --dependency=afterok on the whole array. Prints the two job ids.
# Usage: SHRINK=… MODEL=… DATA=… PARTS=… OUT=… SHARDS=N [SWEEP_ARGS="…"] [SBATCH_ARGS="…"] tools/slurm/submit_sweep.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${SHRINK:?}" "${MODEL:?}" "${DATA:?}" "${PARTS:?}" "${OUT:?}" "${SHARDS:?}"
export SHRINK MODEL DATA PARTS OUT SHARDS SWEEP_ARGS="${SWEEP_ARGS:-}"
# shellcheck disable=SC2086  # SBATCH_ARGS is a list of flags
array=$(sbatch --parsable --array=0-$((SHARDS - 1)) --export=ALL ${SBATCH_ARGS:-} "$here/sweep.sbatch")
# shellcheck disable=SC2086
merge=$(sbatch --parsable --dependency=afterok:"${array%%;*}" --export=ALL ${SBATCH_ARGS:-} "$here/merge.sbatch")
echo "array ${array%%;*} merge ${merge%%;*}"
