#!/usr/bin/env bash
# Instructions parleyd executes per message in one gateway_vs_biboumi.py case, under
# callgrind: a count that does not move with the machine's load, where the CPU time per
# stanza swings by 30 % between rounds (bench/README.md, session 43). It counts work, not
# time: a cold cache costs more than an instruction, and the kernel is not counted.
#
# The bench runs the case for 40 s at --rate (default 200) with parleyd under callgrind
# (about ten times slower: still under a core at 200 msgs/s); 15 s after the bench starts
# parleyd the counters are zeroed, 20 s later dumped. Messages in the window: the calls of
# Gateway::on_message (x2i: one per XMPP message) or of Puppet::deliver_line divided by the
# occupants (i2x: each occupant's copy of an IRC line passes there once, whichever puppet
# read it). A count well under rate x 20 means the window began before the load did (a
# slow start under callgrind): the script says so.
#   bench/gateway_instructions.sh PARLEYD x2i|i2x [more gateway_vs_biboumi.py args]
# Prints the instructions per message and the functions with the most, self and inclusive;
# CALLGRIND_KEEP=FILE keeps the dump.
set -euo pipefail
bin=$(realpath "$1")
case=$2
shift 2
[[ $case == x2i || $case == i2x ]] || { echo "the case is x2i or i2x, not $case" >&2; exit 2; }
command -v valgrind > /dev/null || { echo "valgrind is not installed (apt install valgrind)" >&2; exit 2; }
keep=${CALLGRIND_KEEP:+$(realpath -m "$CALLGRIND_KEEP")}
cd "$(dirname "$0")/.."
source bench/gateway_case.sh
cat > "$out/parleyd" << EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$bin" "\$@"
EOF
chmod +x "$out/parleyd"
occupants=10 rate=200
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --occupants) occupants=${args[i + 1]:?} ;;
    --occupants=*) occupants=${args[i]#*=} ;;
    --rate) rate=${args[i + 1]:?} ;;
    --rate=*) rate=${args[i]#*=} ;;
    --quick | --seconds* | --repeat* | --cases* | --gateways*)
      echo "${args[i]%%=*} is this script's to set" >&2
      exit 2
      ;;
  esac
done
start_case "$out/parleyd" "$case" 40 --rate "$rate" "$@"
sleep 15
pid=$(pgrep -f "callgrind-out-file=$out/" | head -1)
callgrind_control -z "$pid" > /dev/null
sleep 20
callgrind_control -d "$pid" > /dev/null
end_case "$case" || exit 1
dump=$(ls "$out"/cg.*.1 | head -1)
[[ -z $keep ]] || cp "$dump" "$keep"  # for callgrind_annotate --tree=caller
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
  msgs=$(($(calls "parley::adapters::gateway::Puppet::deliver_line(") / occupants))
fi
((msgs > 0)) || { echo "no messages counted in the window" >&2; exit 1; }
expected=$(awk -v r="$rate" 'BEGIN { printf "%d", r * 20 }')
((msgs * 10 >= expected * 9)) ||
  echo "WARNING: $msgs messages in the window, not ~$expected: it began before the load, the gateway fell" \
    "behind, or the counted function was inlined at a call site"
echo "instructions: $total in $msgs messages: $((total / msgs)) per message"
echo "--- most instructions, self:"
callgrind_annotate --threshold=100 "$dump" 2>/dev/null | sed -n '/file:function/,$p' | grep -v "(100.0%)" |
  sed -n '3,27p' | cut -c1-160
echo "--- most instructions, inclusive:"
callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null | sed -n '/file:function/,$p' |
  sed -n '3,40p' | cut -c1-160
