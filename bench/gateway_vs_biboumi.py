#!/usr/bin/python3
"""Parley's IRC <-> XMPP gateway against Biboumi, side by side in one run (issue 11).

One invocation starts on loopback (free ports, private temp dirs, every process a child
killed by PID at the end): ngircd (or with --ircd inspircd InspIRCd 3) as the IRC network; Prosody with two XEP-0114 components,
Biboumi (Debian package `biboumi`) on biboumi.localhost and parleyd on parley.localhost;
and, for the standalone case, parleyd serving XMPP itself (irc.gateway_domain on its own
c2s, no Prosody). For each gateway, K XMPP occupants (a small asyncio raw-XMPP client in
this script: STARTTLS, SASL PLAIN, bind; bodies are matched with one regex per read, so
the client stays cheap) join `#bench%127.0.0.1@<gateway domain>`, and raw IRC clients
(S senders + 1 receiver) join #bench on ngircd.

Cases (each gateway fresh for each configuration; CPU from /proc/PID/task/*/schedstat
right before the first send and right after the last delivery; peak RSS is VmHWM):
  i2x   IRC -> XMPP at a fixed rate (default 200 msgs/s, 10 occupants): every line must
        reach all K occupants; latency from the IRC sender's write to the occupant's read
  x2i   XMPP -> IRC at the same rate, occupants sending in turn: the IRC receiver's
        latency; the occupants' copies (the sender's reflection + K-1 via the other
        puppets) are the gateway's delivered stanzas
  max   IRC -> XMPP as fast as the stack goes (at most --window lines in flight to the
        slowest occupant): delivered stanzas/s; with channel archiving on (Biboumi's
        default: a synchronous SQLite commit per line and occupant) and off, and parleyd
        standalone against Biboumi+Prosody

Biboumi's per-user IRC server options (ports, no TLS, "Throttle limit" -1 = throttling
off) and global option "Record history" are written into its SQLite database before it
starts (the ad-hoc "configure" command stores the same rows); Biboumi creates the schema
itself on a first start against a closed port. parleyd uses `throttle: off` on the network.

  /usr/bin/python3 bench/gateway_vs_biboumi.py [--parleyd build-release/parleyd] [--json out.json]
  --quick: tiny counts (a smoke run, < 60 s); --cases i2x,x2i,max,archive,standalone;
  --ircd ngircd|inspircd: the IRC network (InspIRCd: the bench's IRC clients OPER into a
  class without throttling; the gateways' puppets get a <connect> class without fakelag);
  --ircv3 (InspIRCd only): the network offers CAP with echo-message, server-time and
  multi-prefix, as Libera and most InspIRCd/UnrealIRCd networks do (parleyd then reflects
  an occupant's line when the server echoes it; Biboumi 9 does not ask for echo-message);
  --repeat N: interleaved rounds, medians (losses: the worst round) and each round's CPU ratio
  to Biboumi's (round_ratios); --threads, --perf DIR,
  --parleyd-base OLD (a before/after column); results and tables: bench/README.md

Numbers measure this machine while others use it too: compare the columns of one run.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import benchlib as b  # noqa: E402
from compare_irc import Inspircd, Ngircd  # noqa: E402

h = b.h
DOMAIN = "localhost"
BIBOUMI_DOMAIN = "biboumi.localhost"
PARLEY_DOMAIN = "parley.localhost"
STANDALONE_DOMAIN = "irc.localhost"  # irc.gateway_domain's default for server.domain localhost
SECRET = "bench-component-secret"
PASSWORD = "benchpw"
CHANNEL = "#bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SETUP_TIMEOUT = 60  # seconds for any login, join or process start
STALL = 10  # seconds without a delivery that end a case's drain


def cpu_seconds(pid: int) -> float:
    """CPU time of a process (all its live threads), in seconds: the sum of the threads'
    /proc/PID/task/T/schedstat run times (nanoseconds), else utime + stime from
    /proc/PID/stat (clock ticks: 10 ms steps, 5 % of a 10 s case at 200 msgs/s)."""
    try:
        total_ns = 0
        for t in os.listdir(f"/proc/{pid}/task"):
            total_ns += int(Path(f"/proc/{pid}/task/{t}/schedstat").read_text().split()[0])
        return total_ns / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def user_sys_ticks(pid: int) -> tuple[int, int]:
    """utime and stime of a process (all threads), in clock ticks: the kernel samples which
    of the two a running thread is in at each tick, so over a case of some seconds their
    ratio splits the precise CPU time of cpu_seconds() into user space and kernel."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0, 0
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])


def ctx_switches(pid: int) -> int:
    """Context switches of every thread of a process (voluntary: mostly a wait for work)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for t in tasks:
        try:
            for line in Path(f"/proc/{pid}/task/{t}/status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_log(path: Path, pattern: str, timeout: float, proc=None) -> str:
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for line in path.read_text(errors="replace").splitlines():
                if rx.search(line):
                    return line
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited ({proc.returncode}) before logging /{pattern}/")
        time.sleep(0.2)
    raise RuntimeError(f"no /{pattern}/ in {path.name} after {timeout:.0f} s")


# ---------------------------------------------------------------------------------------
# servers


class Prosody(b.Server):
    """Prosody 0.12 with STARTTLS required (like Parley's c2s), accounts u0..uN-1 in
    mod_auth_internal_plain's files, and the two gateways as external components."""
    name = "prosody"

    def __init__(self, users: int):
        super().__init__()
        self.users = users
        self.component_port = h.free_port()

    def start(self):
        cert, key = b.self_signed(self.tmp, DOMAIN)
        accounts = self.tmp / "data" / DOMAIN / "accounts"
        accounts.mkdir(parents=True)
        for i in range(self.users):
            (accounts / f"u{i}.dat").write_text(f'return {{ ["password"] = "{PASSWORD}"; }};\n')
        cfg = self.tmp / "prosody.cfg.lua"
        cfg.write_text(f"""
daemonize = false
run_as_root = true
pidfile = "{self.tmp}/prosody.pid"
data_path = "{self.tmp}/data"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_direct_tls_ports = {{}}
s2s_ports = {{}}
http_ports = {{}}
https_ports = {{}}
component_ports = {{ {self.component_port} }}
component_interfaces = {{ "127.0.0.1" }}
log = {{ warn = "{self.tmp}/prosody-warn.log" }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix" }}
modules_disabled = {{ "s2s"; "offline"; "c2s_timeout" }}
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = true
ssl = {{ certificate = "{cert}"; key = "{key}" }}
VirtualHost "{DOMAIN}"
Component "{BIBOUMI_DOMAIN}"
    component_secret = "{SECRET}"
Component "{PARLEY_DOMAIN}"
    component_secret = "{SECRET}"
""")
        self.spawn(["prosody", "--config", str(cfg), "-F"])
        b.wait_port(self.port, SETUP_TIMEOUT, self.proc)
        b.wait_port(self.component_port, SETUP_TIMEOUT, self.proc)
        return self


class Biboumi(b.Server):
    name = "biboumi"

    def __init__(self, prosody: Prosody, irc_port: int, users: int, record_history: bool):
        super().__init__()
        self.prosody, self.irc_port, self.users, self.record = prosody, irc_port, users, record_history
        self.domain = BIBOUMI_DOMAIN
        self.name = "biboumi" + ("+archive" if record_history else "")

    def _config(self, port: int) -> Path:
        cfg = self.tmp / "biboumi.cfg"
        cfg.write_text(f"""hostname={BIBOUMI_DOMAIN}
password={SECRET}
xmpp_server_ip=127.0.0.1
port={port}
db_name={self.tmp}/biboumi.sqlite
identd_port=0
log_level=1
log_file={self.logfile}
policy_directory={self.tmp}
realname_customization=true
realname_from_jid=false
""")
        return cfg

    def start(self):
        if not shutil.which("biboumi"):
            raise RuntimeError("biboumi is not installed (apt-get install biboumi; scripts/setup.sh)")
        # a first start against a closed port only creates the database schema
        closed = h.free_port()
        subprocess.run(["biboumi", str(self._config(closed))], cwd=self.tmp, timeout=30,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = sqlite3.connect(self.tmp / "biboumi.sqlite")
        with db:
            for i in range(self.users):
                owner = f"u{i}@{DOMAIN}"
                db.execute("INSERT INTO globaloptions_ (owner_, maxhistorylength_, recordhistory_, persistent_) "
                           "VALUES (?, 20, ?, 0)", (owner, int(self.record)))
                # Ports: plain-text ports tried in order; TLS ports: none; throttle limit
                # -1: no throttling ("To disable this feature, set it to a negative number")
                db.execute("INSERT INTO ircserveroptions_ (owner_, server_, pass_, tlsports_, ports_, username_, "
                           "realname_, verifycert_, trustedfingerprint_, encodingout_, encodingin_, "
                           "maxhistorylength_, address_, nick_, saslpassword_, throttlelimit_) "
                           "VALUES (?, '127.0.0.1', '', '', ?, '', '', 0, '', '', '', 20, '', '', '', -1)",
                           (owner, str(self.irc_port)))
        db.close()
        self.logfile.write_text("")
        self.spawn(["biboumi", str(self._config(self.prosody.component_port))])
        wait_log(self.logfile, r"(?i)authenticated with the xmpp server", SETUP_TIMEOUT, self.proc)
        return self


class Parley(b.Server):
    """parleyd as a component of Prosody (standalone=False) or serving XMPP itself."""
    name = "parley"

    def __init__(self, binary: str, irc_port: int, users: int, prosody: Prosody | None, record_history: bool,
                 threads: int = 2):
        super().__init__()
        self.threads = threads
        self.binary, self.irc_port, self.users, self.prosody = binary, irc_port, users, prosody
        self.record = record_history
        self.standalone = prosody is None
        self.domain = STANDALONE_DOMAIN if self.standalone else PARLEY_DOMAIN
        self.name = "parley-standalone" if self.standalone else "parley" + ("+archive" if record_history else "")

    def start(self):
        cfg = h.config(irc=True, xmpp=True, log_level="info", threads=self.threads,
                       accounts=[(f"u{i}", PASSWORD) for i in range(self.users)])
        cfg["server"]["connections"] = {"per_address": 0, "rate": 0}  # every client is 127.0.0.1
        cfg["irc"].update({"networks": [{"name": "bench", "host": "127.0.0.1", "port": self.irc_port,
                                         "tls": False, "throttle": "off"}],
                           "ping_interval": 3600, "ping_timeout": 3600})
        cfg["xmpp"]["c2s"]["rate"] = {"stanzas_per_second": 0, "bytes_per_second": 0}
        if self.standalone:
            self.port = cfg["_ports"]["xmpp"]
        else:
            self.port = self.prosody.port
            cfg["xmpp"]["component"] = {"domain": PARLEY_DOMAIN, "server": f"127.0.0.1:{self.prosody.component_port}",
                                        "secret": SECRET, "record_history": self.record}
        path = h.write_config(self.tmp / "parley.yaml", cfg)
        self.spawn([self.binary, "--config", str(path)])
        if self.standalone:
            b.wait_port(self.port, SETUP_TIMEOUT, self.proc)
        else:
            wait_log(self.logfile, rf"component {re.escape(PARLEY_DOMAIN)} attached", SETUP_TIMEOUT, self.proc)
        return self


# ---------------------------------------------------------------------------------------
# clients: every timestamp is time.monotonic_ns() of this one process

TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE
XMPP_BODY = re.compile(rb"<body>T(\d+):(\d+):(\d+)</body>")
IRC_LINE = re.compile(rb" PRIVMSG #\S+ :T(\d+):(\d+):(\d+)\r?\n")


class Collector:
    """Deliveries of one case: per receiver a seen-map over the case's sequence numbers."""

    def __init__(self, run: int, n: int, receivers: int):
        self.run, self.n, self.k = run, n, receivers
        self.seen = [bytearray(n) for _ in range(receivers)]
        self.count = [0] * receivers
        self.lat_ns: list[int] = []
        self.dups = 0
        self.stray = 0
        self.total = 0
        self.last_ns = 0
        self.progress = asyncio.Event()

    def got(self, r: int, matches, now: int) -> None:
        seen, lat = self.seen[r], self.lat_ns
        run = self.run
        for m in matches:
            if int(m[0]) != run:
                self.stray += 1
                continue
            seq = int(m[1])
            if seq >= self.n or seen[seq]:
                self.dups += 1
                # BENCH_DUPS=1: which occupant got which copy again, and when (the first 60)
                if os.environ.get("BENCH_DUPS") and self.dups <= 60:
                    print(f"DUP receiver {r} seq {seq} after {self.count[r]} (ms since send {(now - int(m[2])) / 1e6:.1f})", flush=True)
                continue
            seen[seq] = 1
            lat.append(now - int(m[2]))
            self.count[r] += 1
            self.total += 1
        self.last_ns = now
        self.progress.set()

    def min_count(self) -> int:
        return min(self.count)


class Sink:
    """Where a client's matches go; swapped per case (None: read and drop)."""
    collector: Collector | None = None
    index = 0


class XmppClient:
    def __init__(self, user: str):
        self.user = user
        self.buf = b""
        self.sink = Sink()
        self.reader = self.writer = None
        self.task = None

    async def _until(self, marker: bytes, timeout: float = SETUP_TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.user}: no {marker!r} after {timeout} s; got {self.buf[-300:]!r}")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise RuntimeError(f"{self.user}: stream closed waiting for {marker!r}: {self.buf[-300:]!r}")
            self.buf += data
        i = self.buf.index(marker) + len(marker)
        got, self.buf = self.buf[:i], self.buf[i:]
        return got

    async def _until_re(self, pattern: bytes, timeout: float = SETUP_TIMEOUT) -> bytes:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while not (m := rx.search(self.buf)):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.user}: no /{pattern!r}/ after {timeout} s; got {self.buf[-300:]!r}")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise RuntimeError(f"{self.user}: stream closed waiting for /{pattern!r}/: {self.buf[-300:]!r}")
            self.buf += data
        got, self.buf = self.buf[:m.end()], self.buf[m.end():]
        return got

    def _header(self) -> None:
        self.writer.write(f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client' "
                          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>".encode())

    async def login(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self._header()
        feats = await self._until(b"</stream:features>")
        if b"starttls" in feats:
            self.writer.write(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            await self._until(b"<proceed")
            await self._until(b">")
            await self.writer.start_tls(TLS, server_hostname=DOMAIN)
            self._header()
            await self._until(b"</stream:features>")
        token = base64.b64encode(f"\0{self.user}\0{PASSWORD}".encode()).decode()
        self.writer.write(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode())
        got = await self._until_re(rb"<success[^>]*/>|</success>|</failure>")
        if b"<success" not in got:
            raise RuntimeError(f"{self.user}: SASL failed: {got!r}")
        self._header()
        feats = await self._until(b"</stream:features>")
        self.writer.write(b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                          b"<resource>bench</resource></bind></iq>")
        await self._until(b"</iq>")
        if b"xmpp-session" in feats:
            self.writer.write(b"<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
            await self._until_re(rb"<iq[^>]*id=[\"']sess[\"'][^>]*>")
        self.writer.write(b"<presence/>")

    async def join(self, room: str, nick: str) -> None:
        self.writer.write(f"<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'>"
                          "<history maxstanzas='0'/></x></presence>".encode())
        deadline = time.monotonic() + SETUP_TIMEOUT
        rx = re.compile(rb"code=[\"']110[\"']")
        while not rx.search(self.buf):
            if b"type='error'" in self.buf or b'type="error"' in self.buf:
                if re.search(rb"<presence[^>]*type=[\"']error", self.buf):
                    raise RuntimeError(f"{self.user}: join refused: {self.buf[-600:]!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.user}: no self-presence from {room} after {SETUP_TIMEOUT} s: "
                                   f"{self.buf[-400:]!r}")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise RuntimeError(f"{self.user}: stream closed while joining {room}")
            self.buf += data
        self.buf = b""

    def start_pump(self) -> None:
        self.task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        buf = b""
        read = self.reader.read
        while True:
            data = await read(262144)
            if not data:
                return
            now = time.monotonic_ns()
            buf += data
            cut = buf.rfind(b"</body>")
            if cut < 0:
                if len(buf) > 1 << 20:
                    buf = buf[-65536:]
                continue
            cut += 7
            chunk, buf = buf[:cut], buf[cut:]
            c = self.sink.collector
            if c is not None:
                c.got(self.sink.index, XMPP_BODY.findall(chunk), now)

    def send_groupchat(self, room: str, run: int, seq: int) -> None:
        self.writer.write(f"<message to='{room}' type='groupchat'><body>T{run}:{seq}:{time.monotonic_ns()}"
                          f"</body></message>".encode())

    async def close(self, room: str, nick: str) -> None:
        try:
            self.writer.write(f"<presence type='unavailable' to='{room}/{nick}'/></stream:stream>".encode())
            await asyncio.wait_for(self.writer.drain(), 5)
            self.writer.close()
        except Exception:  # noqa: BLE001 - the server may already be gone
            pass
        if self.task:
            self.task.cancel()


class IrcClient:
    def __init__(self, nick: str, oper: tuple[str, str] | None = None):
        self.nick = nick
        self.oper = oper
        self.sink = Sink()
        self.task = None

    async def login(self, port: int, channel: str) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(f"NICK {self.nick}\r\nUSER {self.nick} 0 * :bench\r\n".encode())
        await self._until(rf" 001 {self.nick} ")
        if self.oper:  # InspIRCd: the oper class lifts the per-client command throttle
            self.writer.write(f"OPER {self.oper[0]} {self.oper[1]}\r\n".encode())
            await self._until(rf" 381 {self.nick} ")
        self.writer.write(f"JOIN {channel}\r\n".encode())
        await self._until(rf" 366 {self.nick} ")

    async def _until(self, pattern: str) -> None:
        rx = re.compile(pattern.encode())
        buf = b""
        deadline = time.monotonic() + SETUP_TIMEOUT
        while not rx.search(buf):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"IRC {self.nick}: no /{pattern}/: {buf[-300:]!r}")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise RuntimeError(f"IRC {self.nick}: closed: {buf[-300:]!r}")
            buf += data
            if b"PING " in data:
                for token in re.findall(rb"^PING (\S+)", buf, re.M):
                    self.writer.write(b"PONG " + token + b"\r\n")

    def start_pump(self) -> None:
        self.task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        buf = b""
        while True:
            data = await self.reader.read(262144)
            if not data:
                return
            now = time.monotonic_ns()
            buf += data
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                continue
            chunk, buf = buf[:cut], buf[cut:]
            if chunk.startswith(b"PING ") or b"\nPING " in chunk:
                for token in re.findall(rb"^PING (\S+)", chunk, re.M):
                    self.writer.write(b"PONG " + token + b"\r\n")
            c = self.sink.collector
            if c is not None:
                c.got(self.sink.index, IRC_LINE.findall(chunk), now)

    def send_privmsg(self, channel: str, run: int, seq: int) -> None:
        self.writer.write(f"PRIVMSG {channel} :T{run}:{seq}:{time.monotonic_ns()}\r\n".encode())

    async def close(self) -> None:
        try:
            self.writer.write(b"QUIT :bench done\r\n")
            await asyncio.wait_for(self.writer.drain(), 5)
            self.writer.close()
        except Exception:  # noqa: BLE001
            pass
        if self.task:
            self.task.cancel()


# ---------------------------------------------------------------------------------------
# cases


def pct(sorted_ns: list[int], p: float) -> float:
    if not sorted_ns:
        return float("nan")
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * p))] / 1e6


class Stack:
    """A gateway with its occupants and IRC clients joined, ready for cases."""

    def __init__(self, gw, xmpp_port: int, pids: dict[str, int], occupants: int, senders: int, irc_port: int,
                 nick_prefix: str, irc_oper: tuple[str, str] | None = None):
        self.gw, self.xmpp_port, self.pids = gw, xmpp_port, pids
        self.irc_oper = irc_oper
        self.room = f"{CHANNEL}%127.0.0.1@{gw.domain}"
        self.k, self.s, self.irc_port, self.prefix = occupants, senders, irc_port, nick_prefix
        self.xmpp: list[XmppClient] = []
        self.irc: list[IrcClient] = []

    async def setup(self) -> None:
        self.irc = [IrcClient(f"{self.prefix}s{i}", self.irc_oper) for i in range(self.s)] + \
            [IrcClient(f"{self.prefix}r", self.irc_oper)]
        await asyncio.gather(*(c.login(self.irc_port, CHANNEL) for c in self.irc))
        self.xmpp = [XmppClient(f"u{i}") for i in range(self.k)]
        await asyncio.gather(*(c.login(self.xmpp_port) for c in self.xmpp))
        for i, c in enumerate(self.xmpp):  # one by one: the puppets register in turn
            await c.join(self.room, f"{self.prefix}{i}")
        for c in self.xmpp + self.irc:
            c.start_pump()
        await asyncio.sleep(0.5)

    async def teardown(self) -> None:
        await asyncio.gather(*(c.close(self.room, f"{self.prefix}{i}") for i, c in enumerate(self.xmpp)),
                             *(c.close() for c in self.irc), return_exceptions=True)

    async def case(self, direction: str, n: int, rate: float, window: int, seconds: float) -> dict:
        """direction i2x (IRC senders -> occupants) or x2i (occupants -> IRC receiver, and
        the occupants' copies). rate > 0: paced; rate == 0: windowed, as fast as it goes,
        at most n messages or `seconds` of sending."""
        run = random.randrange(1, 1 << 30)
        xc = Collector(run, n, self.k)
        for i, c in enumerate(self.xmpp):
            c.sink.collector, c.sink.index = xc, i
        # the raw IRC receiver: in x2i the measured end; in i2x the reference path (sender ->
        # ngircd -> receiver, no gateway), for what ngircd and this machine add by themselves
        ic = Collector(run, n, 1)
        self.irc[-1].sink.collector, self.irc[-1].sink.index = ic, 0
        if direction == "i2x":
            senders = [lambda seq, c=c: c.send_privmsg(CHANNEL, run, seq) for c in self.irc[:self.s]]
        else:
            senders = [lambda seq, c=c: c.send_groupchat(self.room, run, seq) for c in self.xmpp]
        cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        cs0 = ctx_switches(self.gw.pid)
        us0 = user_sys_ticks(self.gw.pid)
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        t0_ns = time.monotonic_ns()
        deadline = t0 + seconds
        sent = 0
        while sent < n and time.monotonic() < deadline:
            if rate > 0:
                delay = t0 + sent / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif sent - xc.min_count() >= window:
                xc.progress.clear()
                try:
                    await asyncio.wait_for(xc.progress.wait(), STALL)
                except asyncio.TimeoutError:
                    break  # stalled: the drain below counts what is missing
                continue
            if sent % 64 == 63:
                await asyncio.sleep(0)  # let the readers run when behind schedule
            senders[sent % len(senders)](sent)
            sent += 1
        send_s = time.monotonic() - t0

        def done() -> bool:
            return xc.total >= sent * self.k and ic.total >= sent

        # drain: until every copy arrived, or nothing arrived for STALL seconds (polled every
        # 20 ms, so the CPU reading below is at most that late)
        seen, changed = None, time.monotonic()
        while not done():
            await asyncio.sleep(0.02)
            now_total = (xc.total, ic.total)
            if now_total != seen:
                seen, changed = now_total, time.monotonic()
            elif time.monotonic() - changed > STALL:
                break
        cpu1 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        cs1 = ctx_switches(self.gw.pid)
        us1 = user_sys_ticks(self.gw.pid)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        last_ns = max(xc.last_ns, ic.last_ns)
        wall = max((last_ns - t0_ns) / 1e9, 1e-9)
        for c in self.xmpp + self.irc:
            c.sink.collector = None
        cpu = {name: cpu1[name] - cpu0[name] for name in self.pids}
        gw_cpu = cpu[self.gw.name]
        user_ticks, sys_ticks = us1[0] - us0[0], us1[1] - us0[1]
        kernel_share = sys_ticks / (user_ticks + sys_ticks) if user_ticks + sys_ticks else None
        xlat = sorted(xc.lat_ns)
        out = {
            "direction": direction, "occupants": self.k, "rate": rate, "sent": sent,
            "send_s": round(send_s, 3), "wall_s": round(wall, 3),
            "xmpp_delivered": xc.total, "xmpp_expected": sent * self.k, "xmpp_lost": sent * self.k - xc.total,
            "dups": xc.dups + ic.dups, "xmpp_dups": xc.dups, "irc_dups": ic.dups,
            "msgs_per_s": round((min(xc.count) if direction == "i2x" else ic.total) / wall, 1),
            "stanzas_per_s": round(xc.total / wall, 1),
            "xmpp_p50_ms": round(pct(xlat, 0.50), 3), "xmpp_p99_ms": round(pct(xlat, 0.99), 3),
            "xmpp_max_ms": round(xlat[-1] / 1e6, 3) if xlat else None,
            "cpu_s": {k: round(v, 3) for k, v in cpu.items()},
            "gw_us_per_stanza": round(gw_cpu * 1e6 / xc.total, 2) if xc.total else None,
            "gw_us_per_msg": round(gw_cpu * 1e6 / sent, 2) if sent else None,
            "gw_cs_per_msg": round((cs1 - cs0) / sent, 2) if sent else None,
            # the part of gw_us_per_stanza spent in the kernel (tick-sampled share, see
            # user_sys_ticks): syscalls, the TCP stack of both ends on loopback, wake-ups
            "gw_kernel_us_per_stanza": (round(gw_cpu * kernel_share * 1e6 / xc.total, 2)
                                        if xc.total and kernel_share is not None else None),
            "gw_ticks": [user_ticks, sys_ticks],
            "stack_us_per_stanza": round(sum(cpu.values()) * 1e6 / xc.total, 2) if xc.total else None,
            "client_cpu_per_wall": round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall, 2),
        }
        ilat = sorted(ic.lat_ns)
        out.update({"irc_delivered": ic.total, "irc_lost": sent - ic.total,
                    "irc_p50_ms": round(pct(ilat, 0.50), 3), "irc_p99_ms": round(pct(ilat, 0.99), 3),
                    "irc_max_ms": round(ilat[-1] / 1e6, 3) if ilat else None})
        b.log(f"{self.gw.name} {direction} rate={rate or 'max'}: sent {sent}, xmpp {xc.total}/{sent * self.k}"
              + f", irc {ic.total}/{sent}"
              + f", {out['msgs_per_s']} msgs/s, {out['stanzas_per_s']} stanzas/s, p99 "
              + f"{out['irc_p99_ms'] if direction == 'x2i' else out['xmpp_p99_ms']} ms, gw {out['gw_us_per_stanza']} us/stanza, "
              + f"client cpu/wall {out['client_cpu_per_wall']}"
              + (f", DUPLICATES xmpp {xc.dups} irc {ic.dups}" if xc.dups or ic.dups else ""))
        return out


def run_stack(gw, irc_port: int, pids: dict[str, int], a, cases: list[tuple[str, str, int, float, int, float]],
              prefix: str) -> dict:
    """Starts nothing: joins the clients to the running gateway `gw`, runs the cases, leaves."""

    async def go():
        st = Stack(gw, gw.port if isinstance(gw, Parley) and gw.standalone else a.prosody_port,
                   pids, a.occupants, a.senders, irc_port, prefix, a.irc_oper)
        await asyncio.wait_for(st.setup(), SETUP_TIMEOUT * 2)
        res = {}
        try:
            for name, direction, n, rate, window, seconds in cases:
                perf = None
                if a.perf:
                    os.makedirs(a.perf, exist_ok=True)
                    # The whole machine (-a), not the process (-p): recording one process makes
                    # perf's own work at each of its context switches land in its profile
                    # (finish_task_switch, a quarter of the samples on this VM). Read with
                    # `perf report -i FILE --pid PID` (the PID is in the .pid file next to it).
                    out = os.path.join(a.perf, f"{gw.name}-{name}")
                    Path(out + ".pid").write_text(f"{gw.pid}\n")
                    perf = subprocess.Popen(["perf", "record", "-q", "-a", "-g", "-F", "999", "-o", out + ".data"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    await asyncio.sleep(1)
                try:
                    res[name] = await st.case(direction, n, rate, window, seconds)
                finally:
                    if perf is not None:
                        perf.send_signal(signal.SIGINT)
                        perf.wait(30)
                await asyncio.sleep(1)
        finally:
            await st.teardown()
        return res

    out = asyncio.run(go())
    out["peak_rss_kib"] = vm_hwm_kib(gw.pid)
    return out


# ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parleyd", default=os.environ.get("PARLEYD", str(b.SOURCE / "build-release" / "parleyd")))
    ap.add_argument("--occupants", type=int, default=10)
    ap.add_argument("--senders", type=int, default=4, help="IRC senders (ngircd caps one client's command rate)")
    ap.add_argument("--ircd", choices=("ngircd", "inspircd"), default="ngircd",
                    help="the IRC network: ngircd (default) or InspIRCd 3 (bench clients OPER into a class "
                    "without throttling)")
    ap.add_argument("--ircv3", action="store_true",
                    help="InspIRCd loads cap, ircv3, ircv3_echomessage, ircv3_servertime and namesx")
    ap.add_argument("--rate", type=float, default=200, help="msgs/s of the fixed-rate cases")
    ap.add_argument("--seconds", type=float, default=10, help="sending time of each case")
    ap.add_argument("--window", type=int, default=50, help="lines in flight in the max cases")
    ap.add_argument("--cases", default="i2x,x2i,max,archive,standalone")
    ap.add_argument("--gateways", default="biboumi,parley,parley-standalone",
                    help="which gateways to run; also parley-1t and parley-standalone-1t: parleyd with "
                    "server.threads 1 (one io thread)")
    ap.add_argument("--threads", type=int, default=2, help="parleyd's server.threads")
    ap.add_argument("--repeat", type=int, default=1, help="rounds over every gateway, interleaved; the table "
                    "shows each figure's median")
    ap.add_argument("--parleyd-base", default=os.environ.get("PARLEYD_BASE"),
                    help="a second parleyd (e.g. before a change) measured as 'parley-base' in component mode")
    ap.add_argument("--perf", help="record each case of each gateway with `perf record -a -g` (the whole machine;"
                    " `perf report --pid` with the gateway's PID from the .pid file) into this directory")
    ap.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    ap.add_argument("--json", help="write every result to this file")
    a = ap.parse_args()
    if a.quick:
        a.occupants, a.senders, a.rate, a.seconds = min(a.occupants, 3), 2, 50, 1
    wanted = set(a.cases.split(","))
    a.parleyd = os.path.abspath(a.parleyd)  # the servers run in their own temp dirs
    if not os.path.exists(a.parleyd):
        print(f"parleyd not found: {a.parleyd} (build-release: see bench/README.md)", file=sys.stderr)
        return 2
    for tool in (a.ircd, "prosody", "biboumi"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} is not installed (scripts/setup.sh)", file=sys.stderr)
            return 77
    n_fixed = int(a.rate * a.seconds)
    n_max = 200_000
    fixed = [c for c in (("i2x", "i2x", n_fixed, a.rate, 0, a.seconds * 3),
                         ("x2i", "x2i", n_fixed, a.rate, 0, a.seconds * 3)) if c[0] in wanted]
    maxc = [("max", "i2x", n_max, 0.0, a.window, a.seconds)] if "max" in wanted else []
    load_before = os.getloadavg()[0]
    raw: dict = {}
    irc = Inspircd() if a.ircd == "inspircd" else Ngircd()
    a.irc_oper = ("bench", "bench") if a.ircd == "inspircd" else None
    if a.ircv3:
        if a.ircd != "inspircd":
            print("--ircv3 needs --ircd inspircd", file=sys.stderr)
            return 2
        irc.modules = ("cap", "ircv3", "ircv3_echomessage", "ircv3_servertime", "namesx")
    prosody = Prosody(a.occupants)
    started = [irc, prosody]
    try:
        b.log(f"{a.ircd}{' (IRCv3 modules)' if a.ircv3 else ''} on {irc.port}, prosody c2s {prosody.port} components {prosody.component_port}")
        irc.start()
        prosody.start()
        a.prosody_port = prosody.port
        configs = []
        if fixed or maxc:
            configs += [("biboumi", False, fixed + maxc), ("parley", False, fixed + maxc)]
            if a.parleyd_base:
                a.parleyd_base = os.path.abspath(a.parleyd_base)
                configs.append(("parley-base", False, fixed + maxc))
            configs.append(("parley-1t", False, fixed + maxc))
        if "archive" in wanted:
            arch = [("archive", "i2x", n_max, 0.0, a.window, a.seconds)]
            configs += [("biboumi", True, arch), ("parley", True, arch)]
        if "standalone" in wanted:
            sa = fixed + [("max", "i2x", n_max, 0.0, a.window, a.seconds)]
            configs += [("parley-standalone", False, sa), ("parley-standalone-1t", False, sa)]
        only = set(a.gateways.split(",")) | {"parley-base"}
        configs = [c for c in configs if c[0] in only] * max(1, a.repeat)
        for kind, record, cases in configs:
            if kind == "biboumi":
                gw = Biboumi(prosody, irc.port, a.occupants, record)
                prefix = "b"
            else:
                gw = Parley(a.parleyd_base if kind == "parley-base" else a.parleyd, irc.port, a.occupants,
                            None if kind.startswith("parley-standalone") else prosody, record,
                            1 if kind.endswith("-1t") else a.threads)
                if kind in ("parley-base", "parley-1t", "parley-standalone-1t"):
                    gw.name = kind
                prefix = "p"
            started.append(gw)
            try:
                b.log(f"starting {gw.name}")
                gw.start()
                pids = {gw.name: gw.pid, a.ircd: irc.pid}
                if not kind.startswith("parley-standalone"):
                    pids["prosody"] = prosody.pid
                raw.setdefault(gw.name, []).append(
                    run_stack(gw, irc.port, pids, a, cases, prefix + ("a" if record else "")))
            except Exception as e:  # noqa: BLE001 - one failed gateway must not hide the others
                raw.setdefault(gw.name, []).append({"error": f"{e}; log: {gw.log_tail(5)!r}"})
                b.log(f"{gw.name}: FAILED: {e}")
            finally:
                gw.cleanup()
                started.remove(gw)
                time.sleep(1)
    finally:
        for s in reversed(started):
            s.cleanup()
    results = {name: median_of(runs) for name, runs in raw.items()}
    report(results, a, load_before, raw)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(a).items() if k != "json"}, "results": results, "raw": raw},
                      f, indent=1)
    return 1 if any("error" in r for r in results.values()) else 0


def median_of(runs: list[dict]) -> dict:
    """One result from the rounds of one gateway: each number's median (peak RSS: the
    highest); an error only if every round failed."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    if len(ok) == 1:
        return ok[0]

    def merge(vals, key=""):
        if all(isinstance(v, dict) for v in vals):
            return {k: merge([v[k] for v in vals if k in v], k) for k in vals[0]}
        if key.endswith("lost") or key == "dups":
            return max(vals)  # never hide a loss behind a median
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return int(statistics.median_high(vals))
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return round(statistics.median(vals), 3)
        return vals[0]

    out = merge(ok)
    out["peak_rss_kib"] = max(r.get("peak_rss_kib", 0) for r in ok)
    out["rounds"] = len(ok)
    return out


def report(results: dict, a, load_before: float, raw: dict | None = None) -> None:
    print(f"\n# IRC <-> XMPP gateway: Parley vs Biboumi, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"load before {load_before:.1f}, after {os.getloadavg()[0]:.1f}; IRC network {a.ircd}; {a.occupants} occupants, {a.senders} IRC senders, parleyd threads "
          f"{a.threads}; median of {max(1, a.repeat)} interleaved rounds\n")
    cols = [("msgs/s", "msgs_per_s"), ("stanzas/s", "stanzas_per_s"), ("lost", None), ("dups", "dups"),
            ("p50 ms", None), ("p99 ms", None), ("ref p50 ms", None), ("ref p99 ms", None), ("gw us/stanza", "gw_us_per_stanza"),
            ("gw kernel us/stanza", "gw_kernel_us_per_stanza"), ("gw cs/msg", "gw_cs_per_msg"),
            ("stack us/stanza", "stack_us_per_stanza"), ("client cpu/wall", "client_cpu_per_wall")]
    print("| gateway | case | " + " | ".join(c for c, _ in cols) + " | peak RSS MiB |")
    print("|---|---|" + "---:|" * (len(cols) + 1))
    for gw, per in results.items():
        if "error" in per:
            print(f"| {gw} | error | {per['error'][:200]} |")
            continue
        rss = per.get("peak_rss_kib", 0) / 1024
        for case, r in per.items():
            if not isinstance(r, dict) or "direction" not in r:
                continue
            cells = []
            for label, key in cols:
                if label == "lost":
                    v = r["xmpp_lost"] + r["irc_lost"]
                elif label.startswith("p50"):
                    v = r["irc_p50_ms"] if r["direction"] == "x2i" else r["xmpp_p50_ms"]
                elif label.startswith("p99"):
                    v = r["irc_p99_ms"] if r["direction"] == "x2i" else r["xmpp_p99_ms"]
                elif label.startswith("ref p50"):
                    v = r["xmpp_p50_ms"] if r["direction"] == "x2i" else r["irc_p50_ms"]
                elif label.startswith("ref"):
                    v = r["xmpp_p99_ms"] if r["direction"] == "x2i" else r["irc_p99_ms"]
                else:
                    v = r.get(key)
                cells.append("" if v is None else str(v))
            label = f"{case} ({'max' if not r['rate'] else int(r['rate'])}/s)"
            print(f"| {gw} | {label} | " + " | ".join(cells) + f" | {rss:.1f} |")
    print("\nmsgs/s: IRC lines reaching every occupant (i2x, max, archive) or the IRC receiver (x2i);"
          " stanzas/s: groupchat copies the occupants got; p50/p99: IRC->occupant (i2x) or"
          " occupant->IRC receiver (x2i); ref p50/p99: the raw IRC receiver's copy, sender -> IRC server ->"
          " receiver with no gateway (i2x: the IRC server's own latency in the same run), or the other occupants'"
          " copies (x2i); gw us/stanza: gateway CPU / copies delivered; gw kernel us/stanza: the part of it"
          " spent in the kernel (utime/stime ticks); gw cs/msg: the gateway's context"
          " switches (all threads) per message sent;"
          " stack: + Prosody + the IRC server.")
    ratios = ratio_lines(results, raw or {})
    if ratios:
        print("\nCPU per stanza against Biboumi's (the issue's target: at most 1/3); kernel floor: the"
              " gateway's kernel time alone against Biboumi's whole CPU, what the ratio would be if the"
              " gateway spent nothing in user space:\n")
        print("\n".join(ratios))
    sys.stdout.flush()


def round_ratios(raw: dict, gw: str, case: str) -> list[float]:
    """The CPU ratio of each round on its own: gw's figure over Biboumi's of the same round.
    Rounds are interleaved (each gateway's round i runs right after Biboumi's round i), and
    each round appends one entry per gateway, an error too, so position i pairs them. The
    spread of these ratios shows how far a single comparison swings on a shared machine."""
    out = []
    for mine, ref in zip(raw.get(gw, []), raw.get("biboumi", [])):
        r, b = mine.get(case), ref.get(case)
        if not isinstance(r, dict) or not isinstance(b, dict):
            continue
        if r.get("gw_us_per_stanza") is None or not b.get("gw_us_per_stanza"):
            continue
        out.append(r["gw_us_per_stanza"] / b["gw_us_per_stanza"])
    return out


def ratio_lines(results: dict, raw: dict) -> list[str]:
    ref = results.get("biboumi")
    if not isinstance(ref, dict) or "error" in ref:
        return []
    lines = []
    for gw, per in results.items():
        if gw == "biboumi" or "error" in per:
            continue
        for case, r in per.items():
            base = ref.get(case)
            if not isinstance(r, dict) or not isinstance(base, dict) or not base.get("gw_us_per_stanza"):
                continue
            if r.get("gw_us_per_stanza") is None:
                continue
            total = base["gw_us_per_stanza"]
            line = f"- {gw} {case}: {r['gw_us_per_stanza'] / total:.3f}"
            if r.get("gw_kernel_us_per_stanza") is not None:
                line += f" (kernel floor {r['gw_kernel_us_per_stanza'] / total:.3f}"
                if base.get("gw_kernel_us_per_stanza") is not None:
                    line += f"; kernel us/stanza {r['gw_kernel_us_per_stanza']} vs Biboumi's {base['gw_kernel_us_per_stanza']}"
                line += ")"
            if len(rounds := round_ratios(raw, gw, case)) > 1:
                line += (f"; per round {', '.join(f'{x:.3f}' for x in rounds)}, median"
                         f" {statistics.median(rounds):.3f}")
            lines.append(line)
    return lines


if __name__ == "__main__":
    # Killed by a wrapper (gateway_instructions.sh on failure): the servers and gateways it
    # started in their own sessions are stopped by the finally blocks, not orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
