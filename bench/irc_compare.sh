#!/usr/bin/env bash
# Side-by-side IRC server benchmark: Parley vs ngircd vs InspIRCd (Debian packages), each run
# as a private process with its own config on a free loopback port, flood limits off.
# Reports fan-out lines/s and server CPU per delivered line, p99 latency at a fixed rate,
# registrations/s and memory per idle connection (see bench/bench_irc_fanout.cpp).
#
# usage: bench/irc_compare.sh [BUILD_DIR]   (a Release build dir with parleyd, bench_irc_fanout)
# env:   MEMBERS (500) SECONDS (5) RATE (100) IDLE (1000) REGS (300) SERVERS ("parley ngircd inspircd")
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-irc-rel}
members=${MEMBERS:-500} seconds=${SECONDS_RUN:-5} rate=${RATE:-100} idle=${IDLE:-1000} regs=${REGS:-300}
servers=${SERVERS:-"parley ngircd inspircd"}
gen=$build/bench/bench_irc_fanout
[ -x "$gen" ] || gen=$build/bench_irc_fanout
work=$(mktemp -d /tmp/irc-compare.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 8192 || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

start_parley() {
  local port=$1 dir=$work/parley; mkdir -p "$dir"
  cat > "$dir/parley.yaml" <<YAML
server: { domain: localhost, data_dir: "$dir/var", threads: ${PARLEY_THREADS:-2}, log_level: warn }
irc:
  listen: ["127.0.0.1:$port"]
  server_name: irc.bench
  guests: true
  flood_burst: 0
  sendq: 67108864
  ping_interval: 3600
  ping_timeout: 7200
  max_channels: 1000
  opers: [ { name: bench, password: bench } ]
YAML
  "$build/parleyd" --config "$dir/parley.yaml" >"$dir/log" 2>&1 &
  echo $!
}

start_ngircd() {
  local port=$1 dir=$work/ngircd; mkdir -p "$dir"
  cat > "$dir/ngircd.conf" <<CONF
[Global]
Name = irc.bench
Info = bench
Listen = 127.0.0.1
Ports = $port
MotdPhrase = bench
PidFile = $dir/ngircd.pid
ServerUID = $(id -u)
ServerGID = $(id -g)
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
PingTimeout = 3600
PongTimeout = 3600
ConnectRetry = 60
[Options]
DNS = no
Ident = no
PAM = no
SyslogFacility = local7
[Operator]
Name = bench
Password = bench
CONF
  /usr/sbin/ngircd --nodaemon --config "$dir/ngircd.conf" >"$dir/log" 2>&1 &
  echo $!
}

start_inspircd() {
  local port=$1 dir=$work/inspircd; mkdir -p "$dir"
  echo "bench" > "$dir/motd.txt"
  cat > "$dir/inspircd.conf" <<CONF
<server name="irc.bench" description="bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="$port" type="clients">
<power diepass="" restartpass="">
<connect name="main" allow="*" timeout="60" pingfreq="3600" hardsendq="1073741824" softsendq="67108864"
         recvq="65536" threshold="1000000" commandrate="1000000000" fakelag="off" localmax="1000000"
         globalmax="1000000" maxchans="1000" limit="1000000" useident="no" resolvehostnames="no">
<class name="all" commands="*" privs="*" usermodes="*" chanmodes="*" snomasks="*">
<type name="Bench" classes="all">
<oper name="bench" password="bench" host="*@*" type="Bench">
<files motd="$dir/motd.txt">
<pid file="$dir/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="sparse" target="$dir/ircd.log">
<options allowzerolimit="no" defaultmodes="nt" hostintopic="yes" syntaxhints="no">
<performance clonesonconnect="no" nouserdns="yes" softlimit="1000000" somaxconn="4096" timeskipwarn="0">
<security hideserver="" userstats="Pu" runasuser="" runasgroup="">
<limits maxchan="64" maxnick="30">
<module name="ircv3">
CONF
  /usr/sbin/inspircd --nofork --runasroot --config="$dir/inspircd.conf" >"$dir/log" 2>&1 &
  echo $!
}

echo "# irc_compare: members=$members seconds=$seconds rate=$rate idle=$idle regs=$regs nproc=$(nproc)"
for s in $servers; do
  port=$(free_port)
  pid=$(start_$s "$port")
  pids+=("$pid")
  if ! wait_port "$port"; then echo "$s: did not start"; cat "$work/$s/log" 2>/dev/null | tail -5; continue; fi
  sleep 0.5
  oper=""; [ "$s" != parley ] && oper="--oper bench:bench"
  echo "## $s (pid $pid)"
  "$gen" --mode idle --port "$port" --count "$idle" --pid "$pid" | sed "s/^/$s /"
  "$gen" --mode fanout --port "$port" --members "$members" --seconds "$seconds" --pid "$pid" $oper | sed "s/^/$s /"
  "$gen" --mode latency --port "$port" --members "$members" --seconds "$seconds" --rate "$rate" --pid "$pid" $oper | sed "s/^/$s /"
  "$gen" --mode register --port "$port" --count "$regs" --pid "$pid" | sed "s/^/$s /"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
