#!/usr/bin/env bash
# Throughput of trivial tasks: one head node and one compute node offering SLOTS cores; one sweep of
# TASKS one-core tasks running /bin/true, timed from the submission until the last task Finished.
# Usage: bench/throughput.sh [TASKS] [SLOTS]      Prints `metric value unit` lines.
# The cluster's state (database, agent state) lives under $TMPDIR (default /tmp); METRIC names the
# figures (default drover_throughput).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TASKS=${1:-10000}
SLOTS=${2:-8}
METRIC=${METRIC:-drover_throughput}

cluster_up 1 "$SLOTS"
work=$(mktemp -d /tmp/drover-bench-work-XXXXXX)
cd "$work"
log "throughput: $TASKS tasks on $SLOTS slots"
t0=$(now_us)
job=$("$DROVER" submit --array "1-$TASKS" -o /dev/null -e /dev/null -- /bin/true)
"$DROVER" job wait "$job" >/dev/null || die "the sweep did not finish: some tasks failed"
t1=$(now_us)
cd / && rm -rf "$work"
metric "$METRIC" "$(rate "$TASKS" $((t1 - t0)))" tasks/s
metric "${METRIC}_wall" "$(ms_between "$t0" "$t1")" ms
metric "${METRIC}_head_rss" "$(rss_kib "$HEAD_PID")" KiB
