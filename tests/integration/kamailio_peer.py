"""Kamailio 5.6 as a SIMPLE presence server on loopback (Debian `kamailio` +
`kamailio-presence-modules`), for tests and benches (issue 12).

config_text() is the configuration bench/sip_presence_vs_kamailio.py measures against:
presence + presence_xml (force_active: every watcher is allowed), subscriptions in memory
(subs_db_mode 0), publications in db_text. With `auth_port`, requests arriving from that
source port (parleyd's SIP port) are challenged (auth + auth_db, digest with qop=auth,
credentials from the db_text `subscriber` table), so federation's client digest is exercised;
the nonce secret is fixed, so a nonce from before a restart is still valid after it. With
`relay_port`, MESSAGE requests are relayed to 127.0.0.1:relay_port over UDP (to parleyd).
With `location`, Kamailio is also a registrar (usrloc in memory, no auth for REGISTER) and
a MESSAGE from auth_port (parleyd's federation MESSAGEs, after digest) goes to the
registered contact of its Request-URI user, or is answered 404. With `relay_domain` (and
relay_port), a SUBSCRIBE for that domain (parleyd's) is relayed to parleyd too.

Kamailio() runs one in its own tmp dir (its own db_text copy, its own port), killable and
restartable by PID; every wait is bounded.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

KAMAILIO = os.environ.get("KAMAILIO", "/usr/sbin/kamailio")
KAM_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
KAM_DBTEXT = "/usr/share/kamailio/dbtext/kamailio"


def available() -> bool:
    return os.path.exists(KAMAILIO) and os.path.exists(os.path.join(KAM_MODULES, "presence_xml.so"))


def prepare_db(db: Path, subscribers: list[tuple[str, str, str]] = ()) -> None:
    """A fresh db_text directory; subscribers: (user, domain, password) rows."""
    if db.exists():
        shutil.rmtree(db)
    shutil.copytree(KAM_DBTEXT, db)
    if subscribers:
        with open(db / "subscriber", "a") as f:
            for i, (user, domain, password) in enumerate(subscribers, 1):
                # db_text has no NULL here: ha1 and ha1b filled too (RFC 2617 HA1, realm = domain).
                ha1 = hashlib.md5(f"{user}:{domain}:{password}".encode()).hexdigest()
                ha1b = hashlib.md5(f"{user}@{domain}:{domain}:{password}".encode()).hexdigest()
                f.write(f"{i}:{user}:{domain}:{password}:{ha1}:{ha1b}\n")


def config_text(port: int, db: Path, domain: str, children: int = 4, auth_port: int | None = None,
                relay_port: int | None = None, location: bool = False, relay_domain: str | None = None,
                maxbuffer: int | None = None) -> str:
    """location: REGISTER saves a binding (usrloc in memory) and a MESSAGE (from parleyd's
    port when auth_port is given, else any) goes to the registered contact or gets 404;
    maxbuffer: the UDP socket buffer Kamailio probes up to (the bench gives both servers
    equal buffers)."""
    auth_modules = auth_route = relay_route = location_modules = location_register = location_message = ""
    if location:  # inserted into the f-string below as they are: single braces
        location_modules = """loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", 0)
"""
        location_register = """    if (is_method("REGISTER")) { if (!save("location")) { sl_reply_error(); } exit; }
"""
        location_message = f"""    if ({f"$sp == {auth_port} && " if auth_port else ""}is_method("MESSAGE")) {{
        if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
        if (!t_relay()) {{ sl_reply_error(); }}
        exit;
    }}
"""
    if relay_port and relay_domain:  # SUBSCRIBE to parleyd's users goes on to parleyd
        relay_route += f"""    if (is_method("SUBSCRIBE") && $rd == "{relay_domain}") {{
        $du = "sip:127.0.0.1:{relay_port}";
        if (!t_relay()) {{ sl_reply_error(); }}
        exit;
    }}
"""
    if relay_port:  # MESSAGE for anyone but the presence server goes on to parleyd (UDP)
        relay_route += f"""    if (is_method("MESSAGE")) {{
        $du = "sip:127.0.0.1:{relay_port}";
        if (!t_relay()) {{ sl_reply_error(); }}
        exit;
    }}
"""
    if auth_port:
        auth_modules = f"""loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth", "secret", "parley-test-nonce-secret")
modparam("auth_db", "db_url", "text://{db}")
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
"""
        # The realm is the served domain, whatever the From domain (parleyd's MESSAGEs are
        # From its own users' addresses).
        auth_route = f"""    if ($sp == {auth_port} && is_method("PUBLISH|SUBSCRIBE|MESSAGE")) {{
        if (!auth_check("{domain}", "subscriber", "0")) {{
            xlog("L_ALERT", "parley-test: $rm from $si:$sp challenged (auth_check $rc)\\n");
            auth_challenge("{domain}", "1");
            exit;
        }}
        consume_credentials();
    }}
"""
    return f"""#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children={children}
tcp_children=1
{f"maxbuffer={maxbuffer}" + chr(10) if maxbuffer else ""}disable_tcp=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
auto_aliases=no
alias="{domain}"
mpath="{KAM_MODULES}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "db_text.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"
{auth_modules}{location_modules}modparam("presence", "db_url", "text://{db}")
modparam("presence", "server_address", "sip:pa@127.0.0.1:{port}")
modparam("presence", "subs_db_mode", 0)
modparam("presence", "max_expires", 3600)
modparam("presence_xml", "db_url", "text://{db}")
modparam("presence_xml", "force_active", 1)
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
{location_register}{auth_route}{location_message}{relay_route}    if (is_method("PUBLISH|SUBSCRIBE")) {{
        if (!t_newtran()) {{ sl_reply_error(); exit; }}
        if (is_method("PUBLISH")) {{ handle_publish(); }} else {{ handle_subscribe(); }}
        exit;
    }}
    if (is_method("ACK")) exit;
    sl_send_reply("405", "Method Not Allowed");
}}
"""


def wait_udp_answer(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Until Kamailio answers an OPTIONS on UDP (405 is an answer), bounded."""
    deadline = time.monotonic() + timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    local = s.getsockname()[1]
    try:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"kamailio exited with {proc.returncode}")
            msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKprobe"
                   f"{int(time.monotonic() * 1000)}\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>"
                   f"\r\nCall-ID: probe{local}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
            s.sendto(msg.encode(), ("127.0.0.1", port))
            s.settimeout(0.3)
            try:
                data, _ = s.recvfrom(65535)
                if data.startswith(b"SIP/2.0 "):
                    return
            except (socket.timeout, ConnectionRefusedError):
                pass
        raise RuntimeError(f"kamailio did not answer on udp {port} within {timeout} s")
    finally:
        s.close()


class Kamailio:
    """One Kamailio on 127.0.0.1:port (UDP and TCP), in its own tmp dir."""

    def __init__(self, port: int, domain: str, subscribers: list[tuple[str, str, str]] = (),
                 auth_port: int | None = None, children: int = 2, relay_port: int | None = None,
                 location: bool = False, relay_domain: str | None = None):
        self.port, self.domain, self.relay_port, self.location = port, domain, relay_port, location
        self.relay_domain = relay_domain
        self.subscribers, self.auth_port, self.children = list(subscribers), auth_port, children
        self.tmp = Path(tempfile.mkdtemp(prefix="kamailio-"))
        self.proc: subprocess.Popen | None = None
        self.out = None

    def start(self, fresh_db: bool = True, timeout: float = 20) -> "Kamailio":
        db = self.tmp / "db"
        if fresh_db or not db.exists():
            prepare_db(db, self.subscribers)
        cfg = self.tmp / "kamailio.cfg"
        cfg.write_text(config_text(self.port, db, self.domain, self.children, self.auth_port, self.relay_port,
                                   self.location, self.relay_domain))
        self.out = open(self.tmp / "kamailio.log", "ab")
        # -DD: no daemon, own process group (killpg ends its children); -E: log to stderr.
        self.proc = subprocess.Popen([KAMAILIO, "-f", str(cfg), "-DD", "-E", "-w", str(self.tmp),
                                      "-P", str(self.tmp / "k.pid"), "-m", "64", "-M", "8"],
                                     stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_udp_answer(self.port, timeout, self.proc)
        return self

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the group is the one start() created
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        if self.out:
            self.out.close()
            self.out = None

    def log(self) -> str:
        p = self.tmp / "kamailio.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "Kamailio":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
