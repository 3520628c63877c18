#!/usr/bin/env bash
# System calls of parleyd in the middle of one gateway_vs_biboumi.py case: the bench runs the
# case for 20 s; 12 s in, `strace -c` attaches to every thread of the gateway for 5 s (strace
# slows it: read the counts, not the times). Divide the calls by the case's rate x 5 for calls
# per message.
#   bench/gateway_syscalls.sh PARLEYD i2x|x2i [more gateway_vs_biboumi.py args, e.g. --ircv3]
set -euo pipefail
bin=$(realpath "$1")
case=$2
shift 2
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
/usr/bin/python3 bench/gateway_vs_biboumi.py --parleyd "$bin" --repeat 1 --seconds 20 --gateways parley \
  --cases "$case" --ircd inspircd "$@" > "$out/bench.log" 2>&1 &
bench=$!
for _ in $(seq 1 240); do
  grep -q "starting parley" "$out/bench.log" && break
  sleep 0.5
done
sleep 12
pid=$(pgrep -n -f "^$bin")
args=()
for t in /proc/"$pid"/task/*; do args+=(-p "${t##*/}"); done
timeout -s INT 5 strace -c -o "$out/strace.txt" "${args[@]}" 2>/dev/null || true
wait "$bench" || true
grep "parley $case" "$out/bench.log" || tail -5 "$out/bench.log"
cat "$out/strace.txt"
