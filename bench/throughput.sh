#!/usr/bin/env bash
# Throughput of trivial tasks on a local Drover cluster: one head node, one compute node offering
# SLOTS cores, TASKS one-core tasks running /bin/true. Prints "metric value unit" lines.
# Usage: bench/throughput.sh [TASKS] [SLOTS]    (build/drover must exist)
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${1:-10000}
SLOTS=${2:-8}
DROVER=$PWD/build/drover
export DROVER_HOME=$(mktemp -d /tmp/drover-bench-XXXXXX)
trap '"$DROVER" down --purge >/dev/null 2>&1 || true; rm -rf "$DROVER_HOME"' EXIT

start=$(date +%s.%N)
"$DROVER" up --nodes 1 --cores "$SLOTS" >/dev/null
up=$(date +%s.%N)
work=$(mktemp -d /tmp/drover-bench-work-XXXXXX)
cd "$work"
t0=$(date +%s.%N)
job=$("$DROVER" submit --array "1-$TASKS" -o /dev/null -- /bin/true)
t1=$(date +%s.%N)
"$DROVER" job wait "$job"
t2=$(date +%s.%N)
rss=$(ps -o rss= -p "$(cat "$DROVER_HOME"/stacks/local/instances/head-*/daemon.pid | tail -1)")
rm -rf "$work"
awk -v s="$start" -v u="$up" -v a="$t0" -v b="$t1" -v c="$t2" -v n="$TASKS" -v rss="$rss" 'BEGIN {
  printf "deploy_seconds %.3f s\n", u - s;
  printf "sweep_accept_ms %.1f ms\n", (b - a) * 1000;
  printf "throughput %.1f tasks/s\n", n / (c - a);
  printf "wall_seconds %.3f s\n", c - a;
  printf "head_rss %d KiB\n", rss;
}'
