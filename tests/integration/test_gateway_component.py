"""The IRC gateway as a XEP-0114 external component of a real Prosody (issue 11).

Prosody runs unprivileged from a temporary config on loopback ports with
`Component "irc.localhost"`; parleyd attaches to it (xmpp.component) and ngircd is the IRC
network. A slixmpp user of Prosody joins #test%local@irc.localhost and talks with a raw IRC
client both ways. Prosody is then killed: the puppet QUITs, parleyd retries with backoff,
and once Prosody is back (same ports) parleyd reattaches and the user can join again. A
wrong secret is logged as a refused handshake and retried, never a tight loop.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_component.py
"""
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_irc_gateway import Client, Ngircd, presence_of  # noqa: E402
from xmpp_client import next_where, run  # noqa: E402

xc.configure_logging()
GW = "irc.localhost"
ROOM = f"#test%local@{GW}"
SECRET = "s3cret-component"


class Prosody:
    """Prosody from a temp dir (config, data, pid, log), started and stopped by PID."""

    def __init__(self, users=(("alice", "alicepw"),)):
        if not shutil.which("prosody"):
            raise h.Skip("prosody is not installed (scripts/setup.sh)")
        self.tmp = tempfile.mkdtemp(prefix="prosody-")
        self.c2s_port = h.free_port()
        self.component_port = h.free_port()
        self.conf = os.path.join(self.tmp, "prosody.cfg.lua")
        data = os.path.join(self.tmp, "data")
        os.makedirs(os.path.join(data, "localhost", "accounts"))
        for user, password in users:  # mod_auth_internal_plain's storage format
            with open(os.path.join(data, "localhost", "accounts", f"{user}.dat"), "w") as f:
                f.write(f'return {{ ["password"] = "{password}"; }};\n')
        with open(self.conf, "w") as f:
            f.write(f"""
pidfile = "{self.tmp}/prosody.pid"
data_path = "{data}"
log = {{ {{ levels = {{ min = "debug" }}, to = "file", filename = "{self.tmp}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
s2s_ports = {{ }}
component_ports = {{ {self.component_port} }}
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ }}
https_ports = {{ }}
run_as_root = true  -- test containers run as root; Prosody refuses that otherwise
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping" }}
modules_disabled = {{ "s2s"; "offline"; "tls" }}
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
Component "{GW}"
    component_secret = "{SECRET}"
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["prosody", "--config", self.conf, "-F"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.c2s_port), timeout=0.5).close()
                socket.create_connection(("127.0.0.1", self.component_port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError("prosody did not start:\n" + self.log())

    def log(self):
        try:
            with open(os.path.join(self.tmp, "prosody.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        try:
            os.unlink(os.path.join(self.tmp, "prosody.pid"))
        except OSError:
            pass

    def close(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


class NgircdFlood(Ngircd):
    """ngircd without its per-client penalties (MaxPenaltyTime = 0), for bob's burst."""

    def config(self):
        return super().config().replace("[Limits]\n", "[Limits]\n\tMaxPenaltyTime = 0\n")


class StalledServer:
    """An XMPP server's component port (XEP-0114 §3) that attaches the gateway, lets users
    join through it, and then never reads again: its receive buffer is 4 KiB, so parleyd's
    write queue for the stream fills up."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(15)
        self.port = self.listener.getsockname()[1]
        self.conn = None
        self.got = b""

    def read_until(self, marker, timeout=15, count=1):
        """Reads until the regex (bytes) matches `count` times in what came so far."""
        deadline = time.monotonic() + timeout
        while len(re.findall(marker, self.got)) < count:
            assert time.monotonic() < deadline, f"no {marker!r} from parleyd: {self.got[-300:]!r}"
            self.conn.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = self.conn.recv(65536)
            assert chunk, f"parleyd closed the stream before {marker!r}"
            self.got += chunk

    def attach(self):
        self.conn, _ = self.listener.accept()
        self.got = b""
        self.read_until(rb">")  # its stream header
        self.conn.sendall(b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                          b"xmlns='jabber:component:accept' from='" + GW.encode() + b"' id='stall1'>")
        self.read_until(rb"</handshake>")
        self.conn.sendall(b"<handshake/>")

    def send(self, xml):
        self.conn.sendall(xml.encode())

    def close(self):
        for s in (self.conn, self.listener):
            if s:
                s.close()


def component_config(irc_port, component_port, secret=SECRET, host="127.0.0.1"):
    # Parley's own XMPP listener is on too (its gateway on irc.parley.localhost stays
    # separate); the component serves irc.localhost on Prosody.
    return h.config(irc=True, xmpp=True, irc_extra={
        "gateway_domain": "irc.parley.localhost",
        "networks": [{"name": "local", "host": "127.0.0.1", "port": irc_port, "tls": False,
                      "throttle": {"burst": 20, "interval_ms": 100}}]},
        xmpp_extra={"component": {"domain": GW, "server": f"{host}:{component_port}",
                                  "secret": secret, "record_history": True}})


def join_and_talk(prosody, bob, tag):
    alice = xc.login(Client, prosody.c2s_port, "alice@localhost/x", "alicepw")
    muc = alice.plugin["xep_0045"]
    run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
    bob.expect(r"^:alice!\S+ JOIN :?#test")
    presence_of(alice.mucpres, ROOM, "bob")
    # IRC -> XMPP
    bob.send(f"PRIVMSG #test :hello {tag} <b>&amp;</b>")
    m = run(next_where(alice.group, lambda m: m["body"].startswith(f"hello {tag}")))
    assert m["body"] == f"hello {tag} <b>&amp;</b>" and m["from"].resource == "bob", m
    # XMPP -> IRC, and the reflection to the sender (from the component's domain)
    alice.send_message(mto=ROOM, mbody=f"hi from prosody {tag}", mtype="groupchat")
    bob.expect(rf"^:alice!\S+ PRIVMSG #test :hi from prosody {tag}$")
    m = run(next_where(alice.group, lambda m: m["body"] == f"hi from prosody {tag}"))
    assert m["from"].bare == ROOM and m["from"].resource == "alice", m
    # a private message both ways
    bob.send(f"PRIVMSG alice :psst {tag}")
    m = run(next_where(alice.chat, lambda m: f"psst {tag}" in m["body"]))
    assert str(m["from"].bare) == f"bob%local@{GW}", m
    alice.send_message(mto=f"bob%local@{GW}", mbody=f"back {tag}", mtype="chat")
    bob.expect(rf"^:alice!\S+ PRIVMSG bob :back {tag}$")
    return alice


def test_component_on_prosody_both_ways_and_reattach():
    irc_net = Ngircd().start()
    prosody = Prosody().start()
    try:
        with h.Parleyd(component_config(irc_net.port, prosody.component_port)) as d:
            d.wait_for_log(rf"component {GW} attached to 127\.0\.0\.1:{prosody.component_port}", timeout=15)
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            alice = join_and_talk(prosody, bob, "one")

            # Prosody dies: its users are gone, so the puppet QUITs; parleyd keeps retrying
            mark = d.mark()
            prosody.kill()
            d.wait_for_log(rf"component {GW} lost its stream", timeout=10, after=mark)
            bob.expect(r"^:alice!\S+ QUIT :.*XMPP server connection lost", timeout=10)
            d.wait_for_log(rf"component {GW}: cannot reach .*retry in \d+ ms", timeout=15, after=mark)
            try:
                alice.disconnect()
            except Exception:
                pass

            mark = d.mark()
            prosody.start()  # same ports
            d.wait_for_log(rf"component {GW} attached", timeout=30, after=mark)
            alice = join_and_talk(prosody, bob, "two")
            # leaving the room: PART, and the puppet closes
            alice.plugin["xep_0045"].leave_muc(ROOM, "alice", "bye now")
            bob.expect(r"^:alice!\S+ PART #test :bye now$")
            xc.bye(alice)
            bob.c.close()
    finally:
        prosody.close()
        irc_net.close()


def test_leave_before_the_network_answers_and_join_again():
    """A user leaves a channel of a network whose link is not up yet (its TLS handshake never
    ends): the unavailable self-presence comes from the nick the join asked for. It came from
    `#chan%net@gw/`, the puppet having no nick before it registers: an invalid JID, for which
    Prosody closes the component's stream, and every user's puppets went with it. Then a
    user in a channel joins it again from the same resource: the join sequence again. When
    parleyd stops, she is told she is out of the room (332)."""
    irc_net = Ngircd().start()
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # accepts (the kernel does), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    prosody = Prosody().start()
    try:
        conf = component_config(irc_net.port, prosody.component_port)
        conf["irc"]["networks"].append({"name": "slow", "host": "127.0.0.1", "port": silent.getsockname()[1],
                                        "tls": True})
        with h.Parleyd(conf) as d:
            d.wait_for_log(rf"component {GW} attached to 127\.0\.0\.1:{prosody.component_port}", timeout=15)
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            carol = xc.login(Client, prosody.c2s_port, "alice@localhost/early", "alicepw")
            gone = asyncio.Queue()
            carol.add_event_handler("presence_unavailable", lambda p: gone.put_nowait(p))
            slow = f"#x%slow@{GW}"
            join = carol.make_presence(pto=f"{slow}/carol")  # a join (slixmpp's join_muc would wait for it)
            join.append(ET.Element("{http://jabber.org/protocol/muc}x"))
            join.send()
            time.sleep(0.5)  # the puppet connects: TCP is up, TLS never will be
            carol.send_presence(pto=f"{slow}/carol", ptype="unavailable")
            p = run(next_where(gone, lambda p: p["from"].bare == slow))
            assert p["from"].resource == "carol", p
            time.sleep(0.5)
            assert "lost its stream" not in d.log(), d.log()[-2000:]
            xc.bye(carol)
            # the component and the other network's puppets are still there
            alice = join_and_talk(prosody, bob, "after")
            assert "lost its stream" not in d.log()
            # A join again from the same full JID (a web client reloaded): the whole join
            # sequence again, XEP-0045 §7.2.3 (it got nothing: the client hung on joining).
            while not alice.mucpres.empty():
                alice.mucpres.get_nowait()
            while not alice.group.empty():
                alice.group.get_nowait()
            again = alice.make_presence(pto=f"{ROOM}/alice")
            again.append(ET.Element("{http://jabber.org/protocol/muc}x"))
            again.send()
            presence_of(alice.mucpres, ROOM, "bob")
            me = presence_of(alice.mucpres, ROOM, "alice")
            assert "110" in str(me), me
            run(next_where(alice.group, lambda m: m["subject"] is not None and m["body"] == ""))
            # a presence update without <x/> is no join: nothing comes back
            alice.send_presence(pto=f"{ROOM}/alice", pshow="away")
            time.sleep(1)
            assert alice.mucpres.empty(), alice.mucpres.get_nowait()
            # parleyd stops: alice is told she is out of the room (332), not left looking
            # joined on Prosody until a self-ping
            assert d.stop() == 0
            gone = presence_of(alice.mucpres, ROOM, "alice", unavailable=True)
            assert 332 in xc.codes(gone), gone
            xc.bye(alice)
            bob.c.close()
    finally:
        prosody.close()
        silent.close()
        irc_net.close()


def test_xmpp_server_that_stops_reading():
    """The XMPP server stops reading while a burst of channel lines goes to ten users (three
    resources each): parleyd's queue for the stream passes its bound inside a puppet's read
    (the component writes at once past 64 KiB), the stream is closed ("SendQ exceeded") and
    the puppets QUIT. They go only after that read, which still sends the line to the
    puppet's other resources: before, they were freed under it (the Debug build's
    AddressSanitizer aborted on the use after free). parleyd then reattaches."""
    irc_net = NgircdFlood().start()
    server = StalledServer()
    try:
        with h.Parleyd(component_config(irc_net.port, server.port)) as d:
            server.attach()
            d.wait_for_log(rf"component {GW} attached to 127\.0\.0\.1:{server.port}", timeout=15)
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #flood")
            bob.expect(r" 366 bob #flood ")
            users = [f"u{i}" for i in range(10)]
            resources = ("r1", "r2", "r3")  # a puppet's copies go on after the one that closed the stream
            for u in users:
                for r in resources:
                    server.send(f"<presence from='{u}@localhost/{r}' to='#flood%local@{GW}/{u}'>"
                                "<x xmlns='http://jabber.org/protocol/muc'/></presence>")
            for u in users:
                bob.expect(rf"^:{u}!\S+ JOIN :?#flood", timeout=20)
            # every self-presence (XEP-0045 status 110): they are in
            server.read_until(rb"code=.110.", count=len(users) * len(resources))
            mark = d.mark()
            # parleyd is stopped meanwhile, so the lines wait in its puppets' sockets and it
            # reads them 64 KiB at a time: the stanzas of one read pass 64 KiB and go to the
            # stream at once, inside that read.
            text = "x" * 400
            os.kill(d.proc.pid, signal.SIGSTOP)
            try:
                for i in range(3000):  # ~1.2 MB of lines in, ~18 MB of stanzas out: past 4 MiB
                    bob.send(f"PRIVMSG #flood :{i:04d} {text}")
                time.sleep(1)
            finally:
                os.kill(d.proc.pid, signal.SIGCONT)
            d.wait_for_log(rf"component {GW} lost its stream to .*SendQ exceeded", timeout=30, after=mark)
            for u in users:
                bob.expect(rf"^:{u}!\S+ QUIT :.*XMPP server connection lost", timeout=20)
            assert d.proc.poll() is None, "parleyd died"
            server.conn.close()
            server.attach()  # its retry, after a backoff
            d.wait_for_log(rf"component {GW} attached to 127\.0\.0\.1:{server.port}", timeout=30, after=mark)
            assert "AddressSanitizer" not in d.log()
            bob.c.close()
    finally:
        server.close()
        irc_net.close()


def test_component_bad_secret_is_logged_and_retried():
    irc_net = Ngircd().start()
    prosody = Prosody().start()
    try:
        with h.Parleyd(component_config(irc_net.port, prosody.component_port, secret="wrong")) as d:
            line = d.wait_for_log(rf"component {GW} not attached .*not-authorized", timeout=15)
            assert "handshake refused" in line, line
            # retried after a backoff delay (>= 1 s), not in a tight loop
            first = time.monotonic()
            d.wait_for_log(rf"component {GW} not attached .*not-authorized", timeout=15, after=d.mark())
            assert time.monotonic() - first >= 0.5
            log = d.log()
            assert log.count("not-authorized") <= 4, log
            assert f"component {GW} attached" not in log
    finally:
        prosody.close()
        irc_net.close()


def test_component_server_by_host_name_resolved_and_retried():
    """xmpp.component.server names a host: resolved at each attempt, retried with the
    backoff while nothing answers (and while the name does not resolve)."""
    irc_net = Ngircd().start()
    prosody = Prosody()  # not started yet: the first attempts fail
    try:
        with h.Parleyd(component_config(irc_net.port, prosody.component_port, host="localhost")) as d:
            d.wait_for_log(rf"component {GW}: cannot reach localhost:{prosody.component_port}: .*retry in \d+ ms",
                           timeout=15)
            mark = d.mark()
            prosody.start()
            d.wait_for_log(rf"component {GW} attached to localhost:{prosody.component_port}", timeout=30, after=mark)
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            alice = join_and_talk(prosody, bob, "byname")
            xc.bye(alice)
            bob.c.close()
        with h.Parleyd(component_config(irc_net.port, prosody.component_port, host="nonexistent.invalid")) as d:
            line = d.wait_for_log(rf"component {GW}: cannot reach nonexistent\.invalid:\d+: .*retry in \d+ ms",
                                  timeout=15)
            assert "nonexistent.invalid" in line, line
    finally:
        prosody.close()
        irc_net.close()


if __name__ == "__main__":
    h.run_tests(globals())
