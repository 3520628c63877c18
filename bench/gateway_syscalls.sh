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
source bench/gateway_case.sh
start_case "$bin" "$case" 20 "$@"
sleep 12
pid=$(pgrep -n -f "^$bin")
args=()
for t in /proc/"$pid"/task/*; do args+=(-p "${t##*/}"); done
timeout -s INT 5 strace -c -o "$out/strace.txt" "${args[@]}" 2>/dev/null || true
end_case "$case" || true
cat "$out/strace.txt"
