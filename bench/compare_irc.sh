#!/usr/bin/env bash
# parleyd vs ngircd vs InspIRCd, side by side (see bench/README.md).
#   bench/compare_irc.sh [parleyd|ngircd|inspircd ...]     QUICK=1 for short runs
# Needs: build-bench/parleyd and build-bench/bench/loadgen/parley_loadgen (Release),
# ngircd and inspircd installed (scripts/setup.sh or scripts/bench-setup.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec /usr/bin/python3 "$here/compare_irc.py" "$@"
