#!/usr/bin/env bash
# Builds the Release parleyd in build-release (Ninja, LTO), profile-guided (cmake/Pgo.cmake):
#   1. build-pgo: the same build, instrumented;
#   2. scripts/pgo_train.sh runs it through the gateway bench, which writes the profile;
#   3. build-release is built with that profile.
# PARLEY_PGO=0 builds without a profile (one build, no training). An instrumented binary
# that did not change since its training is not trained again, so a second run with nothing
# changed takes seconds. If training fails the build goes on without a profile.
# Extra arguments go to both cmake configures (scripts/package.sh passes Debian's flags:
# the two builds must be compiled alike, or the profile does not match).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${PARLEY_JOBS:-$(nproc)}"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# The flags are always given (empty unless the arguments set them), so that neither directory
# keeps what an earlier configure left in its cache (package.sh's, say) and the two match.
# (Flags that differ between the two runs of scripts/package.sh and scripts/run.sh mean that
# switching between them rebuilds and retrains: correct, and ~10 min.)
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DPARLEY_TESTS=OFF -DPARLEY_BENCH=OFF
        -DPARLEY_LTO=ON -DPARLEY_SANITIZE=OFF -DPARLEY_WERROR=OFF
        -DCMAKE_C_FLAGS= -DCMAKE_CXX_FLAGS= -DCMAKE_EXE_LINKER_FLAGS= "$@")
release() { cmake -S . -B build-release "${common[@]}" "$@" >/dev/null; }
without_profile() {
  release -DPARLEY_PGO= -DPARLEY_PGO_DIR=
  exec cmake --build build-release --target parleyd -j "$jobs"
}

if [ "${PARLEY_PGO:-1}" = 0 ]; then without_profile; fi

profile="$PWD/build-pgo/profile"
echo "build_release: instrumented build (build-pgo)"
cmake -S . -B build-pgo "${common[@]}" -DPARLEY_PGO=generate -DPARLEY_PGO_DIR="$profile" >/dev/null
cmake --build build-pgo --target parleyd -j "$jobs"
# The profile is as old as the instrumented binary it was measured with: a new one (sources
# or flags changed) is trained again. Objects of build-release that did not change keep the
# profile they were built with, which still matches their code.
if [ ! -e "$profile/trained" ] || [ build-pgo/parleyd -nt "$profile/trained" ]; then
  rm -rf "$profile"
  echo "build_release: training (scripts/pgo_train.sh, ~1.5 min)"
  if ! bash scripts/pgo_train.sh build-pgo/parleyd > build-pgo/training.log 2>&1 ||
     ! compgen -G "$profile/*.gcda" >/dev/null; then
    echo "build_release: training failed (build-pgo/training.log); building without a profile" >&2
    tail -n 5 build-pgo/training.log >&2 || true
    without_profile
  fi
  touch "$profile/trained"
fi
echo "build_release: profile-guided build (build-release)"
release -DPARLEY_PGO=use -DPARLEY_PGO_DIR="$profile"
exec cmake --build build-release --target parleyd -j "$jobs"
