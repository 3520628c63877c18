#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), builds a Release parleyd into build-release with
# Ninja and ccache, and starts it on the embedded default config (config/parley.yaml:
# loopback listeners for every protocol, data in ./var). Extra arguments go to parleyd.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then bash scripts/setup.sh; else sudo bash scripts/setup.sh; fi

jobs="${PARLEY_JOBS:-$(nproc)}"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARLEY_TESTS=OFF -DPARLEY_BENCH=OFF
cmake --build build-release --target parleyd -j "$jobs"

exec build-release/parleyd --config config/parley.yaml "$@"
