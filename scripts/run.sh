#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), builds a Release parleyd into build-release
# (scripts/build_release.sh: LTO and profile-guided, ~10 min from scratch on 2 cores;
# PARLEY_PGO=0 for a plain Release build, ~4 min), and starts it on the embedded default
# config (config/parley.yaml: loopback listeners for every protocol, data in ./var). Extra
# arguments go to parleyd.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then bash scripts/setup.sh; else sudo bash scripts/setup.sh; fi

bash scripts/build_release.sh

exec build-release/parleyd --config config/parley.yaml "$@"
