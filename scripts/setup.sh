#!/usr/bin/env bash
# Installs everything Parley needs on Debian 12 (run as root). Idempotent: packages that
# are already present are skipped, so a second run costs a few seconds.
set -euo pipefail

build_deps=(
  build-essential cmake ninja-build ccache pkg-config clang-14 libclang-rt-14-dev
  libboost1.74-dev libboost-system1.74-dev
  libssl-dev openssl libpugixml-dev libre-dev libyaml-cpp-dev doctest-dev
  libgsasl-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libcli11-dev libsystemd-dev
  prometheus-cpp-dev
)
# Real peers and clients used by the integration tests and benchmarks.
test_peers=(
  python3 python3-slixmpp python3-websocket ngircd inspircd prosody irssi tmux procps iproute2 netcat-openbsd
  lintian util-linux sip-tester
  baresip  # a real SIMPLE client (test_sip_presence.py): REGISTER, SUBSCRIBE, NOTIFY
  kamailio kamailio-presence-modules  # bench/sip_presence_vs_kamailio.py: the reference presence server (db_text)
  chromium
  prometheus  # promtool check metrics
  biboumi     # bench/gateway_vs_biboumi.py (issue 11): the IRC gateway Parley is measured against
)
# node and npm drive chromium for the browser tests (tests/browser): Debian's own only where
# the machine has none (the image may ship a newer node; puppeteer-core needs node >= 18).
command -v npm >/dev/null 2>&1 || test_peers+=(nodejs npm)

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

# Browser test clients (Converse.js, puppeteer-core) at the versions in package-lock.json.
# npm ci is skipped when node_modules was installed from this very lockfile. No install
# scripts run: puppeteer-core downloads no browser, it drives Debian's chromium.
browser_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
lock_sum="$(sha256sum "$browser_dir/package-lock.json" | cut -d' ' -f1)"
stamp="$browser_dir/node_modules/.parley-lock-sha256"
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  (cd "$browser_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$stamp"
fi
