#!/usr/bin/env bash
# parleyd vs Prosody vs ejabberd, side by side (see bench/README.md).
#   bench/compare_xmpp.sh [parleyd|prosody|ejabberd ...]     QUICK=1 for short runs
# Needs: build-bench/parleyd and build-bench/bench/loadgen/parley_loadgen (Release),
# Prosody and ejabberd from scripts/bench-setup.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec /usr/bin/python3 "$here/compare_xmpp.py" "$@"
