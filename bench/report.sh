#!/usr/bin/env bash
# Turns the raw `metric value unit` lines of one bench/run into a markdown report.
# Usage: bench/report.sh RAW QUICK LOAD_AT_START ELAPSED_S SIZES
set -uo pipefail
export LC_ALL=C
RAW=$1 QUICK=$2 LOAD=$3 ELAPSED=$4 SIZES=$5
# The peer's data sits beside the repository (../shared), unless SLURM_PEER_DIR says otherwise; the
# report names it as given, relative to the repository by default, never by this machine's path.
PEER_SHOWN=${SLURM_PEER_DIR:-../shared/peers/slurm}
PEER=${SLURM_PEER_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared/peers/slurm}
SUMMARY=$PEER/results/SUMMARY.txt

v() { awk -v k="$1" '$1 == k { x = $2 } END { print (x == "" ? "NA" : x) }' "$RAW"; }
# The reference figure (median of the peer's recorded runs) for profile $1, metric $2.
ref() { [ -r "$SUMMARY" ] && awk -v p="$1" -v m="$2" '$1 == p && $2 == m { print $4 }' "$SUMMARY" | head -1; }
# Slurm's figure from this run, else the reference figure marked with a star.
peer() {
  local x; x=$(v "slurm_$1_$2")
  if [ "$x" != NA ]; then echo "$x"; else x=$(ref "$1" "${3:-$2}"); [ -n "$x" ] && echo "${x}*" || echo NA; fi
}
num() { echo "${1%\*}"; }
div() { awk -v a="$(num "$1")" -v b="$(num "$2")" -v f="${3:-%.2f}" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf f, a / b }'; }
le() { awk -v a="$(num "$1")" -v b="$2" 'BEGIN { if (a == "NA") print "not measured"; else print (a + 0 <= b + 0) ? "**met**" : "missed" }'; }
ge() { awk -v a="$(num "$1")" -v b="$2" 'BEGIN { if (a == "NA") print "not measured"; else print (a + 0 >= b + 0) ? "**met**" : "missed" }'; }

# The simulation targets are for 10,000 nodes and 1,000,000 tasks; smaller runs are not judged.
full_scale() {
  awk -v n="$(v sim_nodes)" -v t="$(v sim_tasks)" 'BEGIN { exit !(n >= 10000 && t >= 1000000) }' && return 0
  echo "not judged (smaller simulation)"; return 1
}
SLURM_ARRAY=$(awk '$1 ~ /^slurm_default_array_[0-9]+$/ { sub(/.*_/, "", $1); print $1 }' "$RAW" | tail -1)
tp=$(v drover_throughput)
sd=$(peer default "array_${SLURM_ARRAY:-1000}" array_1000); sh=$(peer htc "array_${SLURM_ARRAY:-1000}" array_1000)
spawn=$(v spawn_rate)
bpt=$(v head_bytes_per_queued_task)

cat <<MD
# Drover benchmark report ($(date -u +%F' '%H:%M) UTC$([ "$QUICK" = 1 ] && echo ", quick mode"))

**Machine:** $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo),
$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, Linux $(uname -r),
$(. /etc/os-release && echo "$PRETTY_NAME"). Load average at the start: $LOAD (the machine is shared;
figures are noisy). Run took ${ELAPSED} s. Sizes: $SIZES.

**Peer:** $(sbatch --version 2>/dev/null || echo "Slurm not installed"), one node declared with 8 CPUs
(see $PEER_SHOWN/README.md); profiles *default* and *htc* (its high-throughput guide, tuned).
Figures marked * were not measured in this run: they are the peer's recorded reference runs
(median of 3, N=1000, $PEER_SHOWN/results/SUMMARY.txt).

| benchmark | Drover | Slurm default | Slurm htc | Drover ÷ Slurm (default / htc) |
|---|---|---|---|---|
| throughput, one-core /bin/true tasks on 8 slots (tasks/s; Drover $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^TP_TASKS=/) { sub(/TP_TASKS=/, "", $i); print $i } }' <<<"$SIZES") tasks, Slurm one array of ${SLURM_ARRAY:-1000}) | $tp | $sd | $sh | $(div "$tp" "$sd" %.0f)× / $(div "$tp" "$sh" %.0f)× |
| same, cluster state on tmpfs (no disk cost; diagnostic) | $(v drover_throughput_tmpfs) | | | |
| fork/exec limit of this machine at concurrency 8 (processes/s) | $spawn | | | Drover at $(div "$tp" "$spawn" %.2f) of it |
| \`drover run -- true\` vs \`srun true\`, median (ms) | $(v drover_run_median) | $(peer default latency_median) | $(peer htc latency_median) | $(div "$(v drover_run_median)" "$(peer default latency_median)") / $(div "$(v drover_run_median)" "$(peer htc latency_median)") |
| same, p95 (ms) | $(v drover_run_p95) | $(peer default latency_p95) | $(peer htc latency_p95) | |
| sequential submissions, one CLI process each (jobs/s) | $(v drover_submit_rate) | $(peer default submit_rate) | $(peer htc submit_rate) | $(div "$(v drover_submit_rate)" "$(peer default submit_rate)") / $(div "$(v drover_submit_rate)" "$(peer htc submit_rate)") |
| one sweep of $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^SWEEP_N=/) { sub(/SWEEP_N=/, "", $i); print $i } }' <<<"$SIZES") tasks accepted and committed (ms) | $(v drover_sweep_accept) | | | |
| a 4 KiB write + fdatasync on this disk, median / p95 (ms) | $(v fdatasync_median) / $(v fdatasync_p95) | | | |
| head node memory per queued sweep task (bytes) | $bpt | | | |
| head node resident memory with $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^MEM_TASKS=/) { sub(/MEM_TASKS=/, "", $i); print $i } }' <<<"$SIZES") queued tasks (KiB; peak) | $(v head_rss_queued) ($(v head_rss_peak)) | | | |
| head node RSS after the throughput run / slurmctld peak during its run (KiB) | $(v drover_throughput_head_rss) | $(peer default slurmctld_peak_rss) | $(peer htc slurmctld_peak_rss) | |
| \`drover up\` of the default cluster until every node is Online (s) | $(v drover_deploy) | | | |

**Simulation** ($(v sim_nodes) simulated nodes, one sweep of $(v sim_tasks) tasks of $(v sim_task_ms) ms each; a real head node
and the real join, mutual-TLS WebSocket and agent protocol):

| figure | value |
|---|---|
| joins through /api/v1/join (nodes/s) | $(v sim_join_rate) |
| mutual-TLS connections + hello (nodes/s; head CPU per connection, ms) | $(v sim_connect_rate) ($(v head_cpu_per_connection_ms)) |
| head node RSS with every node connected (MiB; KiB per node) | $(v head_rss_connected) ($(v head_rss_per_connected_node_kib)) |
| sweep accepted (ms) | $(v sim_sweep_accept_ms) |
| dispatch rate, whole sweep / median 1 s window / best 5 s (tasks/s) | $(v sim_dispatch_rate) / $(v sim_dispatch_rate_median_1s) / $(v sim_dispatch_rate_best_5s) |
| rate the slots would allow (tasks/s) | $(v sim_slot_limited_rate) |
| scheduling passes: count, p50, p99, max (ms) | $(v sched_passes), $(v sched_pass_p50_ms), $(v sched_pass_p99_ms), $(v sched_pass_max_ms) |
| head node CPU during the sweep (s; % of one core) | $(v head_cpu_run) ($(v head_cpu_run_util)) |
| simulator CPU during the sweep (s) | $(v sim_cpu_run) |
| head node RSS peak during the sweep (MiB) | $(v head_rss_peak_run) |
| lost connections | $(v sim_disconnects) |
| the same sweep with 1 s tasks (the head node's ceiling): dispatch whole sweep / median 1 s window (tasks/s); pass p50 / p99 / max (ms); head CPU % | $(v short_sim_dispatch_rate) / $(v short_sim_dispatch_rate_median_1s); $(v short_sched_pass_p50_ms) / $(v short_sched_pass_p99_ms) / $(v short_sched_pass_max_ms); $(v short_head_cpu_run_util) |

**Targets:**

| target | figure | result |
|---|---|---|
| throughput ≥ 50% of the fork/exec limit | $(div "$tp" "$spawn" %.2f) | $(ge "$(div "$tp" "$spawn" %.3f)" 0.5) |
| \`drover run -- true\` median ≤ 10 ms | $(v drover_run_median) ms | $(le "$(v drover_run_median)" 10) |
| 100,000-task sweep accepted ≤ 1 s | $(v drover_sweep_accept) ms | $(le "$(v drover_sweep_accept)" 1000) |
| ≤ 1 KiB head memory per queued sweep task | $bpt B | $(le "$bpt" 1024) |
| simulated 10,000 nodes / 1,000,000 tasks: pass p99 ≤ 100 ms | $(v sched_pass_p99_ms) ms | $(full_scale && le "$(v sched_pass_p99_ms)" 100) |
| simulated 10,000 nodes / 1,000,000 tasks: dispatch ≥ 20,000 tasks/s | $(v sim_dispatch_rate) tasks/s | $(full_scale && ge "$(v sim_dispatch_rate)" 20000) |

<details><summary>every figure of this run</summary>

\`\`\`
$(cat "$RAW")
\`\`\`
</details>
MD
