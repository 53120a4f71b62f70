# Sourced by demo.sh and test.sh (not run): each phase's output goes to its own log file and the
# terminal gets one progress line per phase; with VERBOSE=1 (--verbose) everything is shown as well.
#
#   phase TITLE LOG CMD...         run CMD, its output appended to LOG
#   build_phase TITLE LOG CMD...   the same for a cmake --build (ninja): the line counts N/M steps
#   phase_failed TITLE LOG         say which phase failed, show the end of its log, exit 1

VERBOSE=${VERBOSE:-0}
PHASES=${PHASES:-1}  # how many phases the script has, for "[n/N]"
_phase_n=0
if [ -t 1 ]; then _tty=1; else _tty=0; fi

# Seconds as "42 s" or "3 min 05 s".
elapsed() {
  local s=$1
  if [ "$s" -lt 60 ]; then echo "$s s"; else printf '%d min %02d s\n' $((s / 60)) $((s % 60)); fi
}

# Prints the start of phase TITLE; on a terminal the line is rewritten as the phase goes on.
_phase_begin() {
  _phase_n=$((_phase_n + 1))
  _phase_title=$1
  _phase_started=$SECONDS
  if [ "$VERBOSE" = 1 ]; then
    printf '==> [%d/%d] %s\n' "$_phase_n" "$PHASES" "$1"
  elif [ "$_tty" = 1 ]; then
    printf '[%d/%d] %s ...' "$_phase_n" "$PHASES" "$1"
  else
    printf '[%d/%d] %s ...\n' "$_phase_n" "$PHASES" "$1"
  fi
}

# On a terminal, replaces the current phase's line with TEXT.
_phase_show() {
  [ "$_tty" = 1 ] && [ "$VERBOSE" != 1 ] && printf '\r\033[K[%d/%d] %s' "$_phase_n" "$PHASES" "$1"
  return 0
}

# Ends the current phase's line on a terminal: "done in 12 s" (or OUTCOME, e.g. "failed").
_phase_end() {
  local took
  took=$(elapsed $((SECONDS - _phase_started)))
  if [ "$_tty" = 1 ] && [ "$VERBOSE" != 1 ]; then
    printf '\r\033[K[%d/%d] %s: %s in %s\n' "$_phase_n" "$PHASES" "$_phase_title" "${1:-done}" "$took"
  fi
  return 0
}

phase_failed() {
  [ "$_tty" = 1 ] && [ "$VERBOSE" != 1 ] && printf '\n'
  printf '\nFAILED: %s. The end of its log (%s):\n' "$1" "$2" >&2
  tail -n 40 "$2" | sed 's/^/  | /' >&2
  printf '\nEverything it printed is in %s; --verbose shows it as it happens.\n' "$2" >&2
  exit 1
}

# Runs CMD with its output appended to LOG (and shown when verbose); returns CMD's status.
run_logged() {
  local log=$1
  shift
  if [ "$VERBOSE" = 1 ]; then
    "$@" 2>&1 | tee -a "$log"
    return "${PIPESTATUS[0]}"
  fi
  "$@" >>"$log" 2>&1
}

phase() {
  local title=$1 log=$2
  shift 2
  : >"$log"
  _phase_begin "$title"
  run_logged "$log" "$@" || phase_failed "$title" "$log"
  _phase_end
}

# Like phase, for a build whose output has ninja's "[N/M] ..." lines: the progress line counts them.
build_phase() {
  local title=$1 log=$2 line status
  shift 2
  : >"$log"
  _phase_begin "$title"
  set +e
  "$@" 2>&1 | while IFS= read -r line; do
    printf '%s\n' "$line" >>"$log"
    if [ "$VERBOSE" = 1 ]; then
      printf '%s\n' "$line"
    elif [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]]; then
      _phase_show "$title ${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
    fi
  done
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" = 0 ] || phase_failed "$title" "$log"
  _phase_end
}

# What a `ctest -V` run of GoogleTest programs (its output in LOG) says, by scripts/ctest_summary.awk:
#   ctest_report failures|summary|count LOG
ctest_report() {
  awk -v mode="$1" -f "$(dirname "${BASH_SOURCE[0]}")/ctest_summary.awk" "$2"
}
