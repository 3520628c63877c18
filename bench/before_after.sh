#!/usr/bin/env bash
# parleyd now vs parleyd at an earlier commit, in one run (interleaved, median of
# BENCH_REPEAT runs per case): IRC fan-out CPU per delivered line, XMPP CPU per stanza,
# memory per idle IRC connection and XMPP session.
#   bench/before_after.sh BASE_COMMIT          (QUICK=1 for short runs)
# Builds BASE_COMMIT (Release, in a detached worktree under /tmp, ccache) unless
# PARLEYD_BASE already names a binary; "now" is build-bench/parleyd (or PARLEYD=).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
base=${1:?usage: bench/before_after.sh BASE_COMMIT}
if [[ -z "${PARLEYD_BASE:-}" ]]; then
  wt=/tmp/parley-base-$(git -C "$src" rev-parse --short "$base")
  [[ -d $wt ]] || git -C "$src" worktree add -q --detach "$wt" "$base"
  (cd "$wt" && export CCACHE_BASEDIR=$wt CCACHE_NOHASHDIR=1 &&
     cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARLEY_SANITIZE=OFF -DPARLEY_TESTS=OFF >/dev/null &&
     cmake --build build-bench -j2 --target parleyd >/dev/null)
  export PARLEYD_BASE=$wt/build-bench/parleyd
fi
echo "base: $base ($PARLEYD_BASE)   now: $(git -C "$src" rev-parse --short HEAD) (${PARLEYD:-$src/build-bench/parleyd})"
BENCH_CASES=${IRC_CASES:-idle,fan10,fan100,fan500} "$here/compare_irc.sh" parleyd parleyd-base
BENCH_CASES=${XMPP_CASES:-idle,o2o_max,room} "$here/compare_xmpp.sh" parleyd parleyd-base
