#!/usr/bin/env bash
# Instructions parleyd executes per message in one gateway_vs_biboumi.py case, under
# callgrind: a count that does not move with the machine's load, where the CPU time per
# stanza swings by 30 % between rounds (bench/README.md, session 43). It counts work, not
# time: a cold cache costs more than an instruction, and the kernel is not counted.
#
# The bench runs the case for 40 s at --rate (default 200) with parleyd under callgrind
# (about ten times slower: still under a core at 200 msgs/s); 15 s in the counters are
# zeroed, 20 s later dumped. Messages in the window: the calls of Gateway::on_message (x2i,
# one per XMPP message) or Puppet::on_privmsg divided by the occupants (i2x, one per puppet
# that reads the line: the leader's, its followers' and the out-of-step ones' reads).
#   bench/gateway_instructions.sh PARLEYD x2i|i2x [more gateway_vs_biboumi.py args]
# Prints the instructions per message and the functions with the most, self and inclusive;
# CALLGRIND_KEEP=FILE keeps the dump.
set -euo pipefail
bin=$(realpath "$1")
case=$2
shift 2
command -v valgrind > /dev/null || { echo "valgrind is not installed (apt install valgrind)" >&2; exit 2; }
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat > "$out/parleyd" << EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$out/cg.%p "$bin" "\$@"
EOF
chmod +x "$out/parleyd"
occupants=10
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ ${args[i]} == --occupants ]] && occupants=${args[i + 1]}
done
has_rate=0
for a in "$@"; do [[ $a == --rate ]] && has_rate=1; done
rate=()
((has_rate)) || rate=(--rate 200)
/usr/bin/python3 bench/gateway_vs_biboumi.py --parleyd "$out/parleyd" --repeat 1 --seconds 40 --gateways parley \
  --cases "$case" --ircd inspircd "${rate[@]}" "$@" > "$out/bench.log" 2>&1 &
bench=$!
for _ in $(seq 1 240); do
  grep -q "starting parley" "$out/bench.log" && break
  sleep 0.5
done
sleep 15
pid=$(pgrep -f "callgrind-out-file=$out/" | head -1)
callgrind_control -z "$pid" > /dev/null
sleep 20
callgrind_control -d "$pid" > /dev/null
wait "$bench" || true
grep "parley $case" "$out/bench.log" || { tail -5 "$out/bench.log"; exit 1; }
dump=$(ls "$out"/cg.*.1 | head -1)
[[ -z ${CALLGRIND_KEEP:-} ]] || cp "$dump" "$CALLGRIND_KEEP"  # for callgrind_annotate --tree=caller
# Calls of the per-message function: the counts of its callers' lines ("<") in its own
# section ("*") of the caller tree.
calls() {
  callgrind_annotate --tree=caller --threshold=100 "$dump" 2>/dev/null | /usr/bin/python3 -c '
import re, sys
n = 0
for sec in sys.stdin.read().split("\n\n"):
    lines = sec.splitlines()
    if any("*  " in l and sys.argv[1] in l for l in lines):
        n += sum(int(m.group(1).replace(",", "")) for l in lines if "<" in l
                 for m in [re.search(r"\(([0-9,]+)x\)", l)] if m)
print(n)' "$1"
}
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
if [[ $case == x2i ]]; then
  msgs=$(calls "parley::adapters::gateway::Gateway::on_message(")
else
  msgs=$(($(calls "parley::adapters::gateway::Puppet::on_privmsg(") / occupants))
fi
((msgs > 0)) || { echo "no messages counted in the window" >&2; exit 1; }
echo "instructions: $total in $msgs messages: $((total / msgs)) per message"
echo "--- most instructions, self:"
callgrind_annotate --threshold=100 "$dump" 2>/dev/null | sed -n '/file:function/,$p' | grep -v "(100.0%)" |
  sed -n '3,27p' | cut -c1-160
echo "--- most instructions, inclusive:"
callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null | sed -n '/file:function/,$p' |
  sed -n '3,40p' | cut -c1-160
