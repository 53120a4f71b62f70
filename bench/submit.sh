#!/usr/bin/env bash
# Submission: N sequential `drover submit` calls (each a new CLI process, as with sbatch), and one
# sweep of SWEEP tasks, each timed until the head node has committed it and answered.
# No compute nodes run, so nothing competes with the submissions.
# Usage: bench/submit.sh [N] [SWEEP]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${1:-1000}
SWEEP=${2:-100000}

cluster_up 1 8
"$DROVER" node offline compute-001 >/dev/null
work=$(mktemp -d /tmp/drover-bench-work-XXXXXX)
cd "$work"
log "submission: $N x drover submit"
t0=$(now_us)
for ((i = 0; i < N; i++)); do "$DROVER" submit -o /dev/null -- /bin/true >/dev/null; done
t1=$(now_us)
metric drover_submit_rate "$(rate "$N" $((t1 - t0)))" jobs/s
log "submission: one sweep of $SWEEP tasks"
a=$(now_us)
"$DROVER" submit --array "1-$SWEEP" -o /dev/null -- /bin/true >/dev/null
b=$(now_us)
metric drover_sweep_accept "$(ms_between "$a" "$b")" ms
cd / && rm -rf "$work"
