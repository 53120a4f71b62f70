#!/usr/bin/env bash
# Latency of one trivial task: wall time of `drover run -- true` (submit, run, wait, exit code) on a
# local cluster with one compute node offering 8 slots. Usage: bench/latency.sh [RUNS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-50}

cluster_up 1 8
samples=$(mktemp)
"$DROVER" run -- true  # warm the page cache and the connection paths
log "latency: $RUNS x drover run -- true"
for ((i = 0; i < RUNS; i++)); do
  a=$(now_us)
  "$DROVER" run -- true
  b=$(now_us)
  echo $(((b - a))) >>"$samples"
done
read -r med p95 < <(awk '{ print $1 / 1000 }' "$samples" | median_p95 /dev/stdin)
rm -f "$samples"
metric drover_run_median "$med" ms
metric drover_run_p95 "$p95" ms
