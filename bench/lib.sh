# Helpers shared by the benchmark scripts (sourced, not run).
# Every benchmark prints `metric value unit` lines on stdout and progress on stderr.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DROVER=${DROVER:-$BENCH_ROOT/build/drover}
export LC_ALL=C

log() { printf '[bench %(%T)T] %s\n' -1 "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
metric() { printf '%s %s %s\n' "$1" "$2" "$3"; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# ms between two now_us values, one decimal
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
# rate: count per second over microseconds
rate() { awk -v n="$1" -v us="$2" 'BEGIN { if (us > 0) printf "%.1f", n * 1e6 / us; else print "NA" }'; }
# median and p95 (nearest rank) of the numbers in file $1, printed as "median p95"
median_p95() {
  sort -n "$1" | awk '{ v[NR] = $1 } END { n = NR; if (n == 0) { print "NA NA"; exit }
    med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    r = int(0.95 * n); if (r < 0.95 * n) r++; if (r < 1) r = 1
    printf "%.1f %.1f\n", med, v[r] }'
}
# Resident memory of a process, KiB: current and peak
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

[ -x "$DROVER" ] || die "$DROVER is missing: build it first (ninja -C build drover)"

# A local cluster in its own DROVER_HOME, removed on exit:
#   cluster_up NODES CORES   (sets DROVER_HOME, HEAD_PID)
cluster_up() {
  export DROVER_HOME
  DROVER_HOME=$(mktemp -d "${TMPDIR:-/tmp}/drover-bench-XXXXXX")
  _cluster_home=$DROVER_HOME
  trap cluster_down EXIT
  "$DROVER" up --nodes "$1" --cores "$2" >"$DROVER_HOME/up.log" 2>&1 || { cat "$DROVER_HOME/up.log" >&2; die "drover up failed"; }
  HEAD_PID=$(cat "$DROVER_HOME"/stacks/local/instances/head-*/daemon.pid | tail -1)
  wait_nodes_online "$1" || die "the compute nodes did not come Online"
}
cluster_down() {
  [ -n "${_cluster_home:-}" ] || return 0
  if ! DROVER_HOME=$_cluster_home "$DROVER" down --purge >"${TMPDIR:-/tmp}/drover-bench-down.$$.log" 2>&1; then
    log "drover down failed ($(tail -1 "${TMPDIR:-/tmp}/drover-bench-down.$$.log")); stopping what it left"
  fi
  rm -f "${TMPDIR:-/tmp}/drover-bench-down.$$.log"
  stop_processes_under "$_cluster_home"
  rm -rf "$_cluster_home"
  _cluster_home=
}
# Every process whose command line names a path under directory $1 (the daemons of a DROVER_HOME:
# head and compute nodes name their state directories, the supervisor its home, PostgreSQL its data).
processes_under() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    [ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] || continue
    # An argument that is the home itself (the supervisor's --home) or a path under it.
    { tr '\0' '\n' <"$f"; } 2>/dev/null | awk -v h="$1" '$0 == h || index($0, h "/") == 1 { found = 1 } END { exit !found }' &&
      echo "$pid"
  done
  return 0
}
# Stops them: SIGTERM, up to 10 s to exit, then SIGKILL. Returns once none is left.
stop_processes_under() {
  local pids i
  pids=$(processes_under "$1")
  [ -n "$pids" ] || return 0
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pids=$(processes_under "$1")
    [ -n "$pids" ] || return 0
    sleep 0.1
  done
  log "still running after SIGTERM, killed: $pids"
  kill -KILL $pids 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do [ -n "$(processes_under "$1")" ] || return 0; sleep 0.1; done
}
# Waits (up to 60 s) until N nodes are Online.
wait_nodes_online() {
  local i
  for ((i = 0; i < 600; i++)); do
    [ "$("$DROVER" nodes --json 2>/dev/null | grep -o '"state":"Online"' | wc -l)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
