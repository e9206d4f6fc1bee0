#!/usr/bin/env bash
# A sharded sweep on a real Slurm: installs Debian's slurmctld, slurmd, slurm-client and munge if missing, starts a
# one-node cluster on this machine (munged with a generated key; slurmctld and slurmd with SlurmUser=root,
# proctrack/linuxproc, task/none, select/cons_tres; state, spool, logs and pid files in a temporary folder),
# submits the sweep as a job array of SHARDS plus its afterok merge (tools/slurm/submit_sweep.sh), waits for them,
# checks the merged JSON equals the unsharded `shrink sweep` byte for byte apart from "seconds", and stops the
# daemons by their pid files. Needs root (the daemons run as root here); ~1–2 minutes on the tiny fixture.
# Usage: tools/slurm/check_slurm.sh [path/to/shrink]   (SHARDS=4, MODEL, DATA, SWEEP_ARGS to change the grid)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
shrink="$(cd "$(dirname "${1:-.build/release/shrink}")" && pwd)/$(basename "${1:-.build/release/shrink}")"
[[ -x "$shrink" ]] || { echo "check_slurm: $shrink is missing; build it (swift build -c release) or pass its path" >&2; exit 1; }
shards="${SHARDS:-4}"
model="${MODEL:-$root/Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb}" data="${DATA:-$root/Tests/Fixtures/tiny/trm-mlp-t-puzzle-emb/data.safetensors}"
sweep_args="${SWEEP_ARGS:---bits 8,4,2 --methods rtn,mse --granularities tensor,channel}"

if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null || ! command -v sbatch > /dev/null || ! command -v munged > /dev/null; then
    echo "check_slurm: installing slurmctld slurmd slurm-client munge (Debian)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurmctld slurmd slurm-client munge > /dev/null
fi

tmp="$(mktemp -d /tmp/shrink-slurm.XXXXXX)"
mkdir -p "$tmp"/{state,spool,munge,parts,log}
stop() {
    for p in "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munge/munged.pid"; do
        [[ -s "$p" ]] && kill "$(cat "$p")" 2>/dev/null || true
    done
    sleep 1
    rm -rf "$tmp"
}
trap stop EXIT

# munge: a fresh key, its own socket, pid file and logs.
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 0400 "$tmp/munge/munge.key"
munged --force --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.socket" --pid-file="$tmp/munge/munged.pid" \
    --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/munged.seed"

host="$(hostname -s)" cpus="$(nproc)" memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$tmp/slurm.conf" <<CONF
ClusterName=shrink-check
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/munge.socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SwitchType=switch/none
ReturnToService=2
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break; sleep 1; done
sinfo -h -o '%T' | grep -qE '^(idle|mixed|allocated)' || { echo "check_slurm: the node did not come up:" >&2; tail -5 "$tmp/log/slurmd.log" "$tmp/log/slurmctld.log" >&2; exit 1; }

read -r _ array _ merge < <(cd "$tmp" && SHRINK="$shrink" MODEL="$model" DATA="$data" PARTS="$tmp/parts" OUT="$tmp/merged.md" \
    SHARDS="$shards" SWEEP_ARGS="$sweep_args" "$root/tools/slurm/submit_sweep.sh")
echo "check_slurm: submitted array $array (shards 0..$((shards - 1))) and merge $merge (afterok)"
for _ in $(seq 600); do [[ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ]] && break; sleep 1; done
[[ -s "$tmp/merged.json" ]] || { echo "check_slurm: the merge wrote nothing:" >&2; tail -n 5 "$tmp"/*.out "$tmp/log/slurmctld.log" >&2; exit 1; }

# shellcheck disable=SC2086
"$shrink" sweep "$model" --data "$data" $sweep_args -o "$tmp/whole.md" --quiet > /dev/null
if diff <(grep -v '"seconds"' "$tmp/whole.json") <(grep -v '"seconds"' "$tmp/merged.json") > /dev/null \
    && diff <(grep -v '^wall time' "$tmp/whole.md") <(grep -v '^wall time' "$tmp/merged.md") > /dev/null; then
    echo "ok      Slurm: $shards-task array + afterok merge = the unsharded sweep ($(grep -c '"recipe"' "$tmp/merged.json") rows, byte-identical apart from the wall time)"
else
    echo "FAILED  Slurm: the merged sweep differs from the unsharded one" >&2
    diff <(grep -v '"seconds"' "$tmp/whole.json") <(grep -v '"seconds"' "$tmp/merged.json") | head -20 >&2
    exit 1
fi
