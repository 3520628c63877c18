"""parleyd vs ngircd vs InspIRCd: channel fan-out, registrations/s, memory per idle
connection. Run through bench/compare_irc.sh; QUICK=1 shortens every case."""
from __future__ import annotations

import os
import sys

import benchlib as b

QUICK = os.environ.get("QUICK") == "1"
SECS = "3" if QUICK else "8"
IDLE = "300" if QUICK else "1000"
REGS = "500" if QUICK else "2000"


class Parleyd(b.Server):
    name = "parleyd"
    binary = b.PARLEYD
    oper: list[str] = []  # irc.flood_burst: 0 already turns flood control off

    def start(self):
        cfg = b.h.config(log_level="warn", threads=int(os.environ.get("PARLEY_THREADS", "2")))
        cfg["irc"] = {"listen": [f"127.0.0.1:{self.port}"], "guests": True, "server_name": "irc.bench.local",
                      "flood_burst": 0, "sendq": 64 * 1024 * 1024, "recvq": 1024 * 1024,
                      "ping_interval": 3600, "ping_timeout": 3600, "max_channels": 1000}
        # every client is 127.0.0.1; PARLEYD_BASE_OLD=1 for a base from before server.connections
        if self.binary == b.PARLEYD or os.environ.get("PARLEYD_BASE_OLD") != "1":
            cfg["server"]["connections"] = {"per_address": 0, "rate": 0}  # every client is 127.0.0.1
        path = b.h.write_config(self.tmp / "parley.yaml", cfg)
        self.spawn([self.binary, "--config", str(path)])
        b.wait_port(self.port, 30, self.proc)
        return self


class ParleydBase(Parleyd):
    name = "parleyd-base"
    binary = b.PARLEYD_BASE or ""


class ParleydOneThread(Parleyd):
    """parleyd with one io thread (`threads: 1`): one event loop, like ngircd and InspIRCd."""
    name = "parleyd-1t"

    def start(self):
        saved = os.environ.get("PARLEY_THREADS")
        os.environ["PARLEY_THREADS"] = "1"
        try:
            return super().start()
        finally:
            if saved is None:
                del os.environ["PARLEY_THREADS"]
            else:
                os.environ["PARLEY_THREADS"] = saved


class Ngircd(b.Server):
    name = "ngircd"
    # MaxPenaltyTime = 0 drops penalties, but ngircd still caps how many commands it parses
    # per client per second; the fan-out cases use 4 senders for that. (OPER with an
    # [Operator] block was refused with 464 here, so +F is not used.)
    oper: list[str] = []

    def start(self):
        conf = self.tmp / "ngircd.conf"
        conf.write_text(f"""[Global]
\tName = irc.bench.local
\tInfo = bench
\tAdminInfo1 = bench
\tAdminInfo2 = bench
\tAdminEMail = bench@localhost
\tListen = 127.0.0.1
\tPorts = {self.port}
\tMotdPhrase = "bench"
\tPidFile = {self.tmp}/ngircd.pid
\tServerUID = {os.getuid()}
\tServerGID = {os.getgid()}
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxNickLength = 30
\tMaxPenaltyTime = 0
\tPingTimeout = 3600
\tPongTimeout = 3600
[Options]
\tDNS = no
\tIdent = no
\tPAM = no
""")
        self.spawn(["ngircd", "--nodaemon", "--config", str(conf)])
        b.wait_port(self.port, 30, self.proc)
        return self


class Inspircd(b.Server):
    name = "inspircd"
    # The <connect> class alone is not enough: an oper class with the flood privileges
    # (users/flood/no-throttle: no penalty per command; no-fakelag: no penalty ceiling;
    # increased-buffers: no recvq/soft sendq limits) makes the senders unthrottled.
    oper = ["--oper", "bench:bench"]
    # Extra modules (<module name=...>), e.g. the IRCv3 set gateway_vs_biboumi.py --ircv3 loads.
    modules: tuple = ()

    def start(self):
        conf = self.tmp / "inspircd.conf"
        conf.write_text(f"""<server name="irc.bench.local" description="bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{self.port}" type="clients">
<pid file="{self.tmp}/inspircd.pid">
<connect name="bench" allow="127.0.0.1" timeout="60" pingfreq="3600"
         hardsendq="64M" softsendq="1M" recvq="1M"
         threshold="1000000" commandrate="1000000000" fakelag="no"
         localmax="1000000" globalmax="1000000" maxconnwarn="no" limit="1000000"
         maxchans="1000" resolvehostnames="no" useident="no">
<performance netbuffersize="65534" somaxconn="1024" clonesonconnect="no" nouserdns="yes">
<class name="bench" commands="*" usermodes="*" chanmodes="*" snomasks="*"
       privs="users/flood/no-throttle users/flood/no-fakelag users/flood/increased-buffers">
<type name="bench" classes="bench">
<oper name="bench" password="bench" host="*@*" type="bench">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{self.tmp}/inspircd-file.log">
<files motd="/etc/inspircd/inspircd.motd">
""" + "".join(f'<module name="{m}">\n' for m in self.modules))
        self.spawn(["inspircd", "--config", str(conf), "--nofork", "--runasroot"])
        b.wait_port(self.port, 30, self.proc)
        return self


CASES = [
    # (case, loadgen args). Idle memory first: on a fresh server, before fan-out has grown
    # the heap (freed memory is reused, which would hide the per-connection cost).
    ("idle", ["irc-idle", "--count", IDLE, "--seconds", "2", "--settle", "2", "--concurrency", "100"]),
    ("fan10", ["irc-fanout", "--members", "10", "--rate", "0", "--seconds", SECS, "--senders", "4"]),
    ("fan100", ["irc-fanout", "--members", "100", "--rate", "0", "--seconds", SECS, "--senders", "4"]),
    ("fan500", ["irc-fanout", "--members", "500", "--rate", "0", "--seconds", SECS, "--senders", "4", "--window", "16"]),
    ("fan500r", ["irc-fanout", "--members", "500", "--rate", "100", "--seconds", SECS]),
    ("reg", ["irc-register", "--count", REGS, "--concurrency", "50"]),
]

ROWS = [
    ("fan-out 10: lines/s delivered", "fan10", "lines_per_s"),
    ("fan-out 10: server µs/line", "fan10", "server_us_per_line"),
    ("fan-out 10: server CPU use", "fan10", "server_cpu_util"),
    ("fan-out 100: lines/s delivered", "fan100", "lines_per_s"),
    ("fan-out 100: server µs/line", "fan100", "server_us_per_line"),
    ("fan-out 100: server CPU use", "fan100", "server_cpu_util"),
    ("fan-out 500: lines/s delivered", "fan500", "lines_per_s"),
    ("fan-out 500: server µs/line", "fan500", "server_us_per_line"),
    ("fan-out 500: server CPU use", "fan500", "server_cpu_util"),
    ("fan-out 500: lost lines", "fan500", "lost"),
    ("500 @100 msg/s: p50 ms", "fan500r", "p50_ms"),
    ("500 @100 msg/s: p99 ms", "fan500r", "p99_ms"),
    ("500 @100 msg/s: max ms", "fan500r", "max_ms"),
    ("500 @100 msg/s: server µs/line", "fan500r", "server_us_per_line"),
    ("500 @100 msg/s: lost lines", "fan500r", "lost"),
    ("registrations/s", "reg", "registrations_per_s"),
    ("registration p50 ms", "reg", "p50_ms"),
    ("server µs/registration", "reg", "server_us_per_registration"),
    (f"KiB per idle connection ({IDLE})", "idle", "kib_per_connection"),
]


def main():
    b.compare("IRC: parleyd vs ngircd vs InspIRCd", (Parleyd, *([ParleydBase] if b.PARLEYD_BASE else []), *([ParleydOneThread] if "parleyd-1t" in sys.argv[1:] else []), Ngircd, Inspircd), CASES, ROWS, lambda srv, args: args + srv.oper if args[0] == "irc-fanout" else args)


if __name__ == "__main__":
    main()
