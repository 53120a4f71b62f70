#!/usr/bin/env bash
# Drover's main job, from a fresh machine: install, build, deploy the default local cluster, and
# run a sample workload on it (a parametric sweep and an interactive run). Prints one line per phase
# and a summary; the install, build and deploy output goes to logs under build/logs/.
#   scripts/demo.sh [--verbose]     --verbose also shows everything the phases print
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
  case $arg in
    -v | --verbose) VERBOSE=1 ;;
    -h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument '$arg' (--verbose, --help)" >&2; exit 2 ;;
  esac
done
PHASES=4
source scripts/progress.sh
LOGS=build/logs
mkdir -p "$LOGS"
DROVER=$PWD/build/drover
started=$SECONDS

phase "installing packages" "$LOGS/demo-install.log" bash scripts/install-deps.sh
build_phase "building drover" "$LOGS/demo-build.log" bash -c \
  "cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build --parallel $(nproc) --target drover"

deploy_started=$SECONDS
phase "deploying the default stack (examples/local.yaml)" "$LOGS/demo-deploy.log" \
  bash -c '"$1" plan && "$1" up && "$1" status' deploy "$DROVER"
deploy_took=$((SECONDS - deploy_started))

work=$(mktemp -d /tmp/drover-demo-XXXXXX)
tasks_log=$PWD/$LOGS/demo-tasks.log
# The sample workload: a 100-task sweep (the index replaces *), then an interactive run of 2 tasks.
workload() (
  cd "$work"
  echo "== drover submit: a 100-task parametric sweep"
  job=$("$DROVER" submit -J squares --array 1-100 -o 'square.%a' -- sh -c 'echo "* squared is $((* \* *))"')
  echo "$job" >job.id
  "$DROVER" job wait "$job"
  "$DROVER" job show "$job" | tee job.txt
  echo "== drover run: streams output and returns the exit code"
  "$DROVER" run -n 2 -- sh -c 'echo "hello from task $DROVER_TASK_ID on $DROVER_NODE"' | tee run.txt
  echo "== drover nodes"
  "$DROVER" nodes | tee nodes.txt
  echo "== drover queue --all"
  "$DROVER" queue --all | tee queue.txt
)
phase "running tasks (a 100-task sweep, then drover run -n 2)" "$tasks_log" workload

job=$(cat "$work/job.id")
state=$(awk '$1 == "State:" { print $2; exit }' "$work/job.txt")
tasks=$(awk '$1 == "Tasks:" { $1 = ""; sub(/^ /, ""); print; exit }' "$work/job.txt")
online=$(awk '$2 == "Online"' "$work/nodes.txt" | wc -l)
cat <<EOF

Drover is running: the stack 'local' (a database, a head node, $online compute nodes Online) under
${DROVER_HOME:-$HOME/.drover}, deployed in $(elapsed "$deploy_took"); the demo took $(elapsed $((SECONDS - started))) in all.
  sweep:    job $job $state ($tasks)
            outputs in $work/square.1 ... square.100; square.7 says "$(cat "$work/square.7")"
  run -n 2: $(paste -sd ';' "$work/run.txt" | sed 's/;/; /g')
  logs:     $LOGS/demo-install.log, demo-build.log, demo-deploy.log, demo-tasks.log

Next, try:
  build/drover status                    the stack: resources, instances, recent events
  build/drover queue --all               every job and its state
  build/drover job show $job --tasks
  build/drover submit --array 1-10 -o 'out.%a' -- sh -c 'echo task *'
  build/drover run -n 2 -- hostname      waits, streams the output, exits with the task's code
  build/drover down                      stops the cluster; its database, with every job, is kept
EOF
