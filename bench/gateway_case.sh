# Sourced by gateway_syscalls.sh and gateway_instructions.sh (from the repository's root):
# one gateway_vs_biboumi.py case of parleyd alone, InspIRCd, in the background, for a tool
# that attaches to parleyd in its middle. $out is a temporary directory (removed at exit,
# with the bench stopped if it still runs) that holds bench.log.
out=$(mktemp -d)
bench=
trap '[[ -z $bench ]] || kill "$bench" 2> /dev/null; rm -rf "$out"' EXIT

# start_case PARLEYD CASE SECONDS [more gateway_vs_biboumi.py args]: returns once the bench
# starts parleyd; exits if the bench ends first.
start_case() {
  local bin=$1 case=$2 seconds=$3
  shift 3
  /usr/bin/python3 bench/gateway_vs_biboumi.py --parleyd "$bin" --repeat 1 --seconds "$seconds" --gateways parley \
    --cases "$case" --ircd inspircd "$@" > "$out/bench.log" 2>&1 &
  bench=$!
  for _ in $(seq 1 240); do
    grep -q "starting parley" "$out/bench.log" && return 0
    kill -0 "$bench" 2> /dev/null || { tail -5 "$out/bench.log"; exit 1; }  # it ended early
    sleep 0.5
  done
}

# end_case CASE: waits for the bench and prints its line for the case, or the log's end and
# false if there is none.
end_case() {
  wait "$bench" || true
  bench=
  grep "parley $1" "$out/bench.log" || { tail -5 "$out/bench.log"; return 1; }
}
