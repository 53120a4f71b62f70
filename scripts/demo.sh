#!/usr/bin/env bash
# Drover's main job, from a fresh machine: install, build, deploy the default local cluster, and
# run a sample workload on it (a parametric sweep and an interactive run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --parallel "$(nproc)" --target drover
DROVER=$PWD/build/drover

echo "== drover plan / up: the default stack, examples/local.yaml (database, head node, 2 compute nodes)"
"$DROVER" plan
"$DROVER" up
"$DROVER" status

work=$(mktemp -d /tmp/drover-demo-XXXXXX)
cd "$work"
echo "== drover submit: a 100-task parametric sweep (the index replaces *)"
job=$("$DROVER" submit -J squares --array 1-100 -o 'square.%a' -- sh -c 'echo "* squared is $((* \* *))"')
echo "job $job submitted"
"$DROVER" job wait "$job"
"$DROVER" job show "$job" > job.txt && head -9 job.txt
echo "square.7: $(cat square.7)"
echo "== drover run: streams output and returns the exit code"
"$DROVER" run -n 2 -- sh -c 'echo "hello from task $DROVER_TASK_ID on $DROVER_NODE"'
echo "== drover nodes"
"$DROVER" nodes
echo "== drover queue --all"
"$DROVER" queue --all > queue.txt && tail -5 queue.txt
echo
echo "The cluster keeps running; 'build/drover down' stops it. Outputs are in $work."
