#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), builds everything in one Debug build dir `build`
# with ASan+UBSan and warnings as errors, and runs every test (unit, fuzz replay and
# libFuzzer, integration) with ctest. Exits with ctest's status; ctest's summary is the
# last thing printed. PARLEY_JOBS overrides the parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then bash scripts/setup.sh; else sudo bash scripts/setup.sh; fi

jobs="${PARLEY_JOBS:-$(nproc)}"
# ccache hits across clones (CI builds a fresh clone): hash paths relative to the tree.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARLEY_SANITIZE=ON -DPARLEY_WERROR=ON
cmake --build build -j "$jobs"

exec ctest --test-dir build --output-on-failure -j "$jobs"
