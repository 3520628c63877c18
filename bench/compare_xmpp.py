"""parleyd vs Prosody vs ejabberd: one-to-one messages, MUC fan-out, logins/s, memory per
idle session. Run through bench/compare_xmpp.sh; QUICK=1 shortens every case."""
from __future__ import annotations

import os
import pwd
import subprocess

import benchlib as b

QUICK = os.environ.get("QUICK") == "1"
SECS = "3" if QUICK else "8"
IDLE = 200 if QUICK else 500
LOGINS = "100" if QUICK else "300"
ROOM = 50
ACCOUNTS = max(IDLE, ROOM + 1, 2)
DOMAIN = "localhost"


class Parleyd(b.Server):
    name = "parleyd"
    binary = b.PARLEYD

    def start(self):
        accounts = [(f"u{i}", "pw") for i in range(ACCOUNTS)]
        cfg = b.h.config(log_level="warn", threads=2, accounts=accounts, domain=DOMAIN)
        # The per-session shaper off (as irc.flood_burst: 0 for the IRC bench): a bench client
        # sends far faster than any person; core_queue stays at its default.
        cfg["xmpp"] = {"c2s": {"listen": [f"127.0.0.1:{self.port}"],
                               "rate": {"bytes_per_second": 0, "stanzas_per_second": 0}},
                       "muc": {"domain": f"conference.{DOMAIN}"}}
        cfg["server"]["connections"] = {"per_address": 0, "rate": 0}  # every client is 127.0.0.1
        path = b.h.write_config(self.tmp / "parley.yaml", cfg)
        self.spawn([self.binary, "--config", str(path)])
        b.wait_port(self.port, 60, self.proc)
        return self


class ParleydBase(Parleyd):
    """The same configuration on PARLEYD_BASE (a build of an earlier commit): before/after a
    change in one run (bench/before_after.sh)."""
    name = "parleyd-base"
    binary = b.PARLEYD_BASE or ""


class Prosody(b.Server):
    name = "prosody"

    def start(self):
        cert, key = b.self_signed(self.tmp, DOMAIN)
        data = self.tmp / "data"
        data.mkdir()
        cfg = self.tmp / "prosody.cfg.lua"
        cfg.write_text(f"""
daemonize = false
run_as_root = true
pidfile = "{self.tmp}/prosody.pid"
data_path = "{data}"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_direct_tls_ports = {{}}
s2s_ports = {{}}
http_ports = {{}}
https_ports = {{}}
log = {{ warn = "{self.tmp}/prosody-warn.log" }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "register"; "posix" }}
modules_disabled = {{ "s2s"; "offline"; "c2s_timeout" }}
allow_registration = true
registration_whitelist = {{ "127.0.0.1" }}
authentication = "internal_hashed"
c2s_require_encryption = true
ssl = {{ certificate = "{cert}"; key = "{key}" }}
VirtualHost "{DOMAIN}"
Component "conference.{DOMAIN}" "muc"
  muc_room_locking = false
  max_history_messages = 0
""")
        self.spawn(["prosody", "--config", str(cfg), "-F"])
        b.wait_port(self.port, 30, self.proc)
        b.loadgen(["xmpp-register", "--count", str(ACCOUNTS), "--concurrency", "10"], self, 300)
        return self


class Ejabberd(b.Server):
    name = "ejabberd"

    def start(self):
        cert, key = b.self_signed(self.tmp, DOMAIN)
        pem = self.tmp / "server.pem"
        pem.write_text(cert.read_text() + key.read_text())
        for d in ("spool", "logs"):
            (self.tmp / d).mkdir()
        cfg = self.tmp / "ejabberd.yml"
        cfg.write_text(f"""hosts: ["{DOMAIN}"]
loglevel: warning
certfiles: ["{pem}"]
auth_method: internal
auth_password_format: scram
registration_timeout: infinity
listen:
  - port: {self.port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: all
    starttls_required: true
shaper: {{}}
shaper_rules: {{}}
modules:
  mod_disco: {{}}
  mod_ping: {{}}
  mod_roster: {{}}
  mod_register:
    ip_access: all
    access: all
  mod_muc:
    host: "conference.{DOMAIN}"
    access: all
    access_create: all
    history_size: 0
    max_users: 10000
    default_room_options:
      persistent: false
""")
        ctl = self.tmp / "ejabberdctl.cfg"
        dist = b.h.free_port()
        ctl.write_text(f'ERLANG_NODE=bench{self.port}@localhost\nERL_DIST_PORT={dist}\nPOLL=true\n')
        try:
            uid = pwd.getpwnam("ejabberd")
            subprocess.run(["chown", "-R", f"{uid.pw_uid}:{uid.pw_gid}", str(self.tmp)], check=True)
        except KeyError:
            pass
        os.chmod(self.tmp, 0o755)
        self.spawn(["ejabberdctl", "--config", str(cfg), "--ctl-config", str(ctl), "--spool", str(self.tmp / "spool"),
                    "--logs", str(self.tmp / "logs"), "foreground"])
        b.wait_port(self.port, 90, self.proc)
        # ejabberdctl runs su, sh, erl: measure the Erlang VM itself.
        for p in b.descendants(self.proc.pid):
            if b.proc_name(p).startswith("beam"):
                self.pid = p
        if self.pid == self.proc.pid:
            raise RuntimeError("no beam.smp process found under ejabberdctl")
        b.loadgen(["xmpp-register", "--count", str(ACCOUNTS), "--concurrency", "10"], self, 300)
        return self


CASES = [
    ("idle", ["xmpp-idle", "--count", str(IDLE), "--seconds", "2", "--settle", "2", "--concurrency", "20"]),
    ("o2o_rate", ["xmpp-one2one", "--pairs", "1", "--rate", "1000", "--seconds", SECS]),
    ("o2o_max", ["xmpp-one2one", "--pairs", "4", "--rate", "0", "--seconds", SECS]),
    ("room", ["xmpp-room", "--members", str(ROOM), "--rate", "0", "--seconds", SECS]),
    ("room_rate", ["xmpp-room", "--members", str(ROOM), "--rate", "20", "--seconds", SECS]),
    ("login", ["xmpp-login", "--count", LOGINS, "--concurrency", "10", "--accounts", "50"]),
]

ROWS = [
    ("1:1 @1000/s: p50 ms", "o2o_rate", "p50_ms"),
    ("1:1 @1000/s: p99 ms", "o2o_rate", "p99_ms"),
    ("1:1 @1000/s: server µs/stanza", "o2o_rate", "server_us_per_stanza"),
    ("1:1 @1000/s: lost", "o2o_rate", "lost"),
    ("1:1 max (4 pairs): msgs/s", "o2o_max", "stanzas_per_s"),
    ("1:1 max: server µs/stanza", "o2o_max", "server_us_per_stanza"),
    (f"room {ROOM + 1} occupants max: stanzas/s", "room", "stanzas_per_s"),
    ("room max: server µs/stanza", "room", "server_us_per_stanza"),
    ("room @20 msg/s: p99 ms", "room_rate", "p99_ms"),
    ("room @20 msg/s: server µs/stanza", "room_rate", "server_us_per_stanza"),
    ("logins/s (STARTTLS+PLAIN+bind)", "login", "logins_per_s"),
    ("server ms CPU per login", "login", "server_ms_per_login"),
    (f"KiB per idle session ({IDLE})", "idle", "kib_per_session"),
]


def main():
    b.compare("XMPP: parleyd vs Prosody vs ejabberd", (Parleyd, *([ParleydBase] if b.PARLEYD_BASE else []), Prosody, Ejabberd), CASES, ROWS, lambda srv, args: args + ["--domain", DOMAIN])


if __name__ == "__main__":
    main()
