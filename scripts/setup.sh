#!/usr/bin/env bash
# Installs everything Parley needs on Debian 12 (run as root). Idempotent: packages that
# are already present are skipped, so a second run costs a few seconds.
set -euo pipefail

build_deps=(
  build-essential cmake ninja-build ccache pkg-config clang-14 libclang-rt-14-dev
  libboost1.74-dev libboost-system1.74-dev
  libssl-dev openssl libpugixml-dev libre-dev libyaml-cpp-dev doctest-dev
  libgsasl-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libcli11-dev libsystemd-dev
)
# Real peers and clients used by the integration tests and benchmarks.
test_peers=(
  python3 python3-slixmpp python3-websocket ngircd inspircd irssi tmux procps iproute2 netcat-openbsd
  lintian util-linux
)

missing=()
for p in "${build_deps[@]}" "${test_peers[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # Daemons pulled in as test peers must not start system-wide services during install.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  rm -f /usr/sbin/policy-rc.d
fi
