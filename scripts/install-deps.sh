#!/usr/bin/env bash
# Installs every Debian 12 package Drover needs to build, test and run.
# postgresql-15 is the server the PostgreSQL store's tests start (initdb, pg_ctl); the head node
# itself needs only the client libraries.
# Safe to re-run: apt-get skips what is already present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev sqlite3
  libpqxx-dev libpq-dev postgresql-15
  libcli11-dev libspdlog-dev libfmt-dev libsodium-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev
  openssl procps iproute2 curl
  openmpi-bin libopenmpi-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
