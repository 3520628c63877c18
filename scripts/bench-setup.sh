#!/usr/bin/env bash
# Installs the XMPP servers the benchmarks compare parleyd against (Prosody, ejabberd) and
# the IRC ones (ngircd, InspIRCd), and strace and valgrind for gateway_syscalls.sh and
# gateway_instructions.sh. Run as root; idempotent. Only the packages: the bench
# scripts run every server as a child process on private configs and loopback ports, so
# no system service must start, now or at boot.
set -euo pipefail

pkgs=(prosody ejabberd ngircd inspircd openssl procps strace valgrind)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d exit 101 = "action forbidden": the packages' postinst scripts start nothing.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# If a service was started anyway (no policy-rc.d honoured, e.g. by a container init),
# stop it: a system Prosody/ejabberd would hold 5222 and skew CPU figures.
for svc in prosody ejabberd ngircd inspircd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done
echo "bench-setup: prosody $(dpkg-query -W -f='${Version}' prosody), ejabberd $(dpkg-query -W -f='${Version}' ejabberd)," \
  "ngircd $(dpkg-query -W -f='${Version}' ngircd), inspircd $(dpkg-query -W -f='${Version}' inspircd)"
