#!/bin/sh
# The PSYC codec benchmark (bench_psyc_codec.cpp) against the codec of BASE and of the
# working tree, built the same way (-O3, as CMake's Release) and run one after the other,
# twice, in one go: a before/after on the same machine under the same load.
#
#   bench/psyc_codec_before_after.sh BASE_COMMIT [seconds_per_case]
#
# Only the codec's own sources are built (packet, parser, render, list), the benchmark
# itself always from the working tree, so the two differ in the codec alone.
set -eu
base=${1:?usage: $0 BASE_COMMIT [seconds_per_case]}
secs=${2:-0.5}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/psyc-codec-ba.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
CXX=${CXX:-c++}
files="packet.cpp parser.cpp render.cpp list.cpp"

mkdir -p "$tmp/before"
git -C "$src" archive "$base" protocols/psyc | tar -x -C "$tmp/before"
build() {  # $1: tree holding protocols/psyc, $2: output
  set --  "$1" "$2"
  objs=""
  for f in $files; do objs="$objs $1/protocols/psyc/$f"; done
  # shellcheck disable=SC2086
  $CXX -std=c++20 -O3 -DNDEBUG -I"$1" -o "$2" "$src/bench/bench_psyc_codec.cpp" $objs
}
echo "building before ($base) and after (working tree)..."
build "$tmp/before" "$tmp/bench_before"
build "$src" "$tmp/bench_after"
for round in 1 2; do
  echo "== round $round: before ($(git -C "$src" rev-parse --short "$base"))"
  "$tmp/bench_before" "$secs"
  echo "== round $round: after (working tree)"
  "$tmp/bench_after" "$secs"
done
