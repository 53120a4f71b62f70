#!/usr/bin/env bash
# Installs what Drover needs, builds it, and runs every test, then the README's demo. Exits non-zero
# on any failure. Prints one line per phase; what failed, with its output; and, last, the summary.
# The install, build, test and demo output goes to logs under $BUILD_DIR/logs/.
#   scripts/test.sh [--verbose]     --verbose also shows everything the phases print
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
  case $arg in
    -v | --verbose) VERBOSE=1 ;;
    -h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (--verbose, --help)" >&2; exit 2 ;;
  esac
done
PHASES=4
source scripts/progress.sh
BUILD_DIR=${BUILD_DIR:-build}
LOGS=$BUILD_DIR/logs
mkdir -p "$LOGS"
started=$SECONDS

phase "installing packages" "$LOGS/test-install.log" bash scripts/install-deps.sh
build_phase "building everything" "$LOGS/test-build.log" bash -c \
  "cmake -S . -B '$BUILD_DIR' -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON && cmake --build '$BUILD_DIR' --parallel $(nproc)"

# The PostgreSQL store's tests start a throwaway server; here they must run, never skip.
export DROVER_REQUIRE_POSTGRES=1
# As root every test can run (cgroups, other users, namespaces, MPI): a skip would be lost coverage
# or a detection bug, so it fails instead. Only the test of running without root still skips.
if [ "$(id -u)" = 0 ]; then export DROVER_NO_SKIPS=1; fi

# The unit and integration tests (the latter start real head and compute node processes on loopback).
# A failure does not stop the run: the demo still runs, and the summary says what failed.
tests_log=$LOGS/test-ctest.log
: >"$tests_log"
_phase_begin "running the unit and integration tests"
tests_ok=1
run_logged "$tests_log" ctest --test-dir "$BUILD_DIR" -V --timeout 1500 || tests_ok=0
_phase_end "$([ "$tests_ok" = 1 ] && echo done || echo failed)"

# The README's main command, end to end, in a throw-away DROVER_HOME.
demo_log=$LOGS/test-demo.log
: >"$demo_log"
demo_home=$(mktemp -d /tmp/drover-demo-home-XXXXXX)
trap 'DROVER_HOME=$demo_home "$BUILD_DIR/drover" down --purge >/dev/null 2>&1 || true; rm -rf "$demo_home"' EXIT
_phase_begin "running the demo (scripts/demo.sh)"
demo_ok=1
DROVER_HOME=$demo_home run_logged "$demo_log" bash scripts/demo.sh || demo_ok=0
_phase_end "$([ "$demo_ok" = 1 ] && echo done || echo failed)"

# What failed, with its output; then, last, the summary.
ctest_report failures "$tests_log"
if [ "$demo_ok" = 0 ]; then
  printf '\n--- the demo (scripts/demo.sh) ---\n'
  tail -n 40 "$demo_log" | sed 's/^/  | /'
fi
failed=$(ctest_report count "$tests_log")
[ "$tests_ok" = 1 ] || [ "$failed" -gt 0 ] || failed=1  # ctest failed, yet no test did
printf '\nTest summary (logs: %s, %s):\n' "$tests_log" "$demo_log"
ctest_report summary "$tests_log"
printf '%-12s %s\n' demo "$([ "$demo_ok" = 1 ] && echo passed || echo FAILED)"
if [ "$failed" -gt 0 ] || [ "$demo_ok" = 0 ]; then
  echo "FAILED: $failed test(s)$([ "$demo_ok" = 0 ] && echo " and the demo"), after $(elapsed $((SECONDS - started)))."
  exit 1
fi
echo "All tests and the demo passed, in $(elapsed $((SECONDS - started)))."
