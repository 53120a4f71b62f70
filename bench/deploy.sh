#!/usr/bin/env bash
# Deployment: `drover up` of the default local cluster (the built-in template), from nothing until
# every compute node is Online. Usage: bench/deploy.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

export DROVER_HOME
DROVER_HOME=$(mktemp -d "${TMPDIR:-/tmp}/drover-bench-XXXXXX")
_cluster_home=$DROVER_HOME
trap cluster_down EXIT
log "deploy: drover up (default template)"
a=$(now_us)
"$DROVER" up >"$DROVER_HOME/up.log" 2>&1 || { cat "$DROVER_HOME/up.log" >&2; die "drover up failed"; }
nodes=$("$DROVER" nodes --json | grep -o '"name":' | wc -l)
wait_nodes_online "$nodes" || die "not every node came Online"
b=$(now_us)
metric drover_deploy "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')" s
metric drover_deploy_nodes "$nodes" nodes
