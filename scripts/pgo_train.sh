#!/usr/bin/env bash
# Trains an instrumented parleyd (PARLEY_PGO=generate, scripts/build_release.sh): runs the
# gateway bench against it on loopback (InspIRCd as the IRC network; Prosody with parleyd as
# its component, and parleyd serving XMPP itself), both directions at 200 msgs/s and IRC ->
# XMPP as fast as the stack goes, then once more with the network offering IRCv3
# echo-message as most large networks do. parleyd writes its profile when it exits.
# ~1.5 min; needs the peers that scripts/setup.sh installs.
#   scripts/pgo_train.sh build-pgo/parleyd
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"  # inspircd, for a user who is not root
parleyd="${1:?usage: scripts/pgo_train.sh PATH/TO/INSTRUMENTED/parleyd}"
bench=(nice /usr/bin/python3 bench/gateway_vs_biboumi.py --parleyd "$parleyd" --ircd inspircd)
"${bench[@]}" --gateways parley,parley-standalone --cases i2x,x2i,max,standalone --seconds 4
"${bench[@]}" --gateways parley --cases i2x,x2i --seconds 3 --ircv3
