#!/usr/bin/env bash
# Builds one fuzz target with clang's libFuzzer (+ASan+UBSan) and runs it for a bounded
# time over its seed corpus. The main build uses gcc, whose Asio 1.74 coroutine support
# clang 14 does not share, so a fuzz target lists the pure codec sources it needs on a line
#   // fuzz-sources: protocols/irc/irc_message.cpp ...
# and only those are compiled here (codecs are pure: no Asio, no core).
# usage: run_libfuzzer.sh SOURCE_ROOT BUILD_DIR NAME SECONDS
set -euo pipefail
root=$1 out=$2/fuzz-clang name=$3 seconds=$4
src="$root/tests/fuzz/fuzz_$name.cpp"
mkdir -p "$out/work-$name"
sources=$(sed -n 's|^// fuzz-sources:||p' "$src" | tr '\n' ' ')
extra=$(sed -n 's|^// fuzz-libs:||p' "$src" | tr '\n' ' ')
bin="$out/fuzz_$name"
cxx=$(command -v clang++-14 || command -v clang++)
srcs=()
for s in $sources; do srcs+=("$root/$s"); done
"$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" "$src" "${srcs[@]}" $extra -o "$bin"
corpus="$root/tests/fuzz/corpus/$name"
# -max_total_time bounds the run; a crash, leak or timeout makes libFuzzer exit non-zero.
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  "$out/work-$name" "$corpus" 2>&1 | tail -n 25
exit "${PIPESTATUS[0]}"
