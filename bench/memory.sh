#!/usr/bin/env bash
# Head node memory holding a large queue: a head node with no compute nodes, one sweep of TASKS
# tasks (all Queued). Reports the head node's resident memory before and after, its peak, and the
# growth per queued task. Usage: bench/memory.sh [TASKS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TASKS=${1:-1000000}

dir=$(mktemp -d /tmp/drover-bench-head-XXXXXX)
"$DROVER" headnode --state-dir "$dir" --port 0 --log-level warn >"$dir/head.log" 2>&1 &
head=$!
trap 'kill $head 2>/dev/null; wait $head 2>/dev/null; rm -rf "$dir"' EXIT
for ((i = 0; i < 300; i++)); do [ -S "$dir/headnode.sock" ] && [ -s "$dir/headnode.url" ] && break; sleep 0.1; done
[ -S "$dir/headnode.sock" ] || die "the head node did not start (see $dir/head.log)"
export DROVER_SOCKET=$dir/headnode.sock
"$DROVER" queue >/dev/null
sleep 0.5
before=$(rss_kib "$head")
log "memory: one sweep of $TASKS tasks, no compute nodes"
a=$(now_us)
"$DROVER" submit --array "1-$TASKS" -o /dev/null -- /bin/true >/dev/null
b=$(now_us)
"$DROVER" queue >/dev/null
sleep 0.5
after=$(rss_kib "$head")
peak=$(hwm_kib "$head")
metric head_rss_idle "$before" KiB
metric head_rss_queued "$after" KiB
metric head_rss_peak "$peak" KiB
metric head_bytes_per_queued_task "$(awk -v a="$before" -v b="$after" -v n="$TASKS" 'BEGIN { printf "%.1f", (b - a) * 1024 / n }')" B
metric head_peak_bytes_per_queued_task "$(awk -v a="$before" -v b="$peak" -v n="$TASKS" 'BEGIN { printf "%.1f", (b - a) * 1024 / n }')" B
metric drover_sweep_accept_${TASKS} "$(ms_between "$a" "$b")" ms
