#!/usr/bin/env bash
# Builds the Debian package build-release/parley_<version>_amd64.deb with CPack from a
# Release build (Debian's hardening flags from dpkg-buildflags), then runs lintian on it if
# lintian is installed (scripts/setup.sh installs it).
# Contents: cmake/Packaging.cmake and packaging/. Extra arguments go to the cmake configure.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${PARLEY_JOBS:-$(nproc)}"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# -g and -O2 are left out: CMake's Release flags (-O3 -DNDEBUG) decide, and CPack strips.
cxxflags="$(dpkg-buildflags --get CXXFLAGS | sed 's/-g //; s/-O2//') $(dpkg-buildflags --get CPPFLAGS)"
ldflags="$(dpkg-buildflags --get LDFLAGS) -Wl,-z,now"
# parleyd is profile-guided as scripts/run.sh's is (PARLEY_PGO=0: not), both builds with these flags.
bash scripts/build_release.sh -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" "$@"
cmake --build build-release --target parley_package_files -j "$jobs"
(cd build-release && cpack -G DEB)

deb="$(ls -t build-release/parley_*_amd64.deb | head -n 1)"
dpkg-deb --info "$deb" >/dev/null
if command -v lintian >/dev/null; then
  lintian --fail-on error "$deb"
else
  echo "package.sh: lintian not installed; skipped the lintian check" >&2
fi
echo "$deb"
