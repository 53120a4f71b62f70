#!/usr/bin/env bash
# The peer: Slurm on this machine, measured by its own benchmark (SLURM_PEER_DIR, default
# ../shared/peers/slurm relative to the repository; see its README.md). Sets Slurm up with PROFILE
# (default | htc), runs bench.sh and stops Slurm again, whatever happens. Needs root.
# Usage: bench/slurm.sh PROFILE [ARRAY_N] [SUBMIT_N] [LAT_RUNS]
#   ARRAY_N   tasks in one `sbatch --array` (the throughput workload; default 1000)
#   SUBMIT_N  sequential sbatch calls, also run as jobs (default 200)
# Metrics are printed as slurm_<profile>_<metric>.
set -uo pipefail
export LC_ALL=C
PEER=${SLURM_PEER_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared/peers/slurm}
PROFILE=${1:?usage: slurm.sh default|htc [ARRAY_N] [SUBMIT_N] [LAT_RUNS]}
ARRAY_N=${2:-1000}
SUBMIT_N=${3:-200}
LAT_RUNS=${4:-50}
log() { printf '[bench %(%T)T] %s\n' -1 "$*" >&2; }
[ "$(id -u)" = 0 ] || { log "slurm: needs root; skipped"; exit 0; }
[ -x "$PEER/setup.sh" ] || { log "slurm: no peer in $PEER; skipped"; exit 0; }

trap '"$PEER/stop.sh" >/dev/null 2>&1' EXIT
log "slurm ($PROFILE): setting up"
"$PEER/setup.sh" "$PROFILE" >/tmp/slurm-setup-$PROFILE.log 2>&1 || { log "slurm setup failed: see /tmp/slurm-setup-$PROFILE.log"; exit 1; }
prefix() { awk -v p="slurm_${PROFILE}_" '!/^#/ && NF >= 3 { print p $1, $2, $3 }'; }
log "slurm ($PROFILE): $SUBMIT_N sbatch + drain, $LAT_RUNS srun"
PHASES="tp lat" LAT_RUNS=$LAT_RUNS "$PEER/bench.sh" "$SUBMIT_N" | prefix
log "slurm ($PROFILE): one array of $ARRAY_N tasks"
PHASES="array" "$PEER/bench.sh" "$ARRAY_N" | prefix
