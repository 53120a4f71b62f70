#!/usr/bin/env bash
# Installs what Drover needs, builds it, and runs every test. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
# The PostgreSQL store's tests start a throwaway server; here they must run, never skip.
export DROVER_REQUIRE_POSTGRES=1
# The integration tests start real head and compute node processes on loopback.
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 1500

# The README's main command, end to end, in a throw-away DROVER_HOME.
demo_home=$(mktemp -d /tmp/drover-demo-home-XXXXXX)
trap 'DROVER_HOME=$demo_home "$BUILD_DIR/drover" down --purge >/dev/null 2>&1 || true; rm -rf "$demo_home"' EXIT
DROVER_HOME=$demo_home bash scripts/demo.sh
