"""Issue 9, "no lost message": attacks on message delivery against a running parleyd.

  1. Offline messages survive a login whose connection dies mid-burst (XEP-0198 on, never
     acked), and go out a batch at a time. Without XEP-0198 "delivered" can only mean
     handed to the kernel: what a dead peer's socket buffers swallowed is gone (on this
     box the send buffer alone is ~4 MB, more than a test can store), so that case is
     covered by tests/unit/protocols/common/net_written_test.cpp (Connection::when_written). Offline
     messages to IRC are delivered once, not again.
  2. XEP-0198 messages unacked when a new bind of the same resource replaces the session
     (RFC 6120 §7.7.2.2) reach the new session.
  3. Unacked XEP-0198 messages at SIGTERM (live stream, and a dropped stream waiting for
     resumption) are in offline storage after a restart; parleyd stops in time.
  4. A resumption racing the resume timeout: either resumed with the message, or
     item-not-found with the message in offline storage; never a crash or a lost message.
Store errors in room saves and history are covered by tests/unit/core/services/delivery_test.cpp
(a failing fake store), as making SQLite fail on a live daemon is not practical here.

Raw sockets (standard library only), so what the client acknowledges is exact.
"""
import base64
import os
import re
import socket
import ssl
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

ACCOUNTS = [("alice", "alicepw"), ("bob", "bobpw")]
HEADER = ("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>").encode()
SM = "urn:xmpp:sm:3"
BODY = re.compile(rb"<body>([^<]*)</body>")


class Raw:
    """One raw c2s stream: STARTTLS, SASL PLAIN, then bind or resume."""

    def __init__(self, port, user, password):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", port))
        self.raw = raw
        self.buf = b""
        raw.sendall(HEADER)
        self._until(b"</stream:features>", sock=raw)
        raw.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self._until(b"<proceed", sock=raw)
        self.buf = b""
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.s.sendall(HEADER)
        self.until(b"</stream:features>")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.s.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>"
                       .encode())
        self.until(b"<success")
        self.s.sendall(HEADER)
        self.until(b"</stream:features>")
        self.buf = b""

    def _until(self, marker, sock=None, timeout=10):
        sock = sock or self.s
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timeout waiting for {marker!r}; got {self.buf[-400:]!r}")
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed waiting for {marker!r}; got {self.buf[-400:]!r}")
            self.buf += chunk
        return self.buf

    def until(self, marker, timeout=10):
        return self._until(marker, timeout=timeout)

    def bind(self, resource):
        self.s.sendall(f"<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                       f"<resource>{resource}</resource></bind></iq>".encode())
        self.until(b"</iq>")
        assert b"type='result'" in self.buf or b'type="result"' in self.buf, self.buf
        self.buf = b""
        return self

    def enable_sm(self, resume=False):
        attr = " resume='true'" if resume else ""
        self.s.sendall(f"<enable xmlns='{SM}'{attr}/>".encode())
        self.until(b"<enabled")
        m = re.search(rb"<enabled[^>]* id='([^']+)'", self.buf)
        self.sm_id = m.group(1).decode() if m else None
        self.buf = self.buf[self.buf.index(b"<enabled"):]
        self.until(b"/>")
        self.buf = b""
        return self

    def presence(self):
        self.s.sendall(b"<presence/>")
        return self

    def send(self, xml):
        self.s.sendall(xml.encode() if isinstance(xml, str) else xml)

    def bodies(self):
        return [b.decode().rstrip(".") for b in BODY.findall(self.buf)]  # without the padding

    def wait_bodies(self, wanted, timeout=15):
        """Reads until every body in `wanted` was seen; returns the bodies seen, in order."""
        deadline = time.monotonic() + timeout
        while not set(wanted) <= set(self.bodies()):
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sorted(set(wanted) - set(self.bodies()))
                raise AssertionError(f"missing {len(missing)} of {len(wanted)}: {missing[:10]}")
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(f"closed; missing {sorted(set(wanted) - set(self.bodies()))[:10]}")
            self.buf += chunk
        return self.bodies()

    def wait_bodies_acking(self, wanted, timeout=15):
        """As wait_bodies, for a stream with XEP-0198 on: answers each <r/> with the number of
        stanzas handled so far (§4), as a client that processes everything would."""
        deadline = time.monotonic() + timeout
        token = re.compile(rb"<(message|presence|iq)[ >/]|<r xmlns='urn:xmpp:sm:3'/>")
        handled, pos = 0, 0
        while True:
            for m in token.finditer(self.buf, pos):
                if m.group(1):
                    handled += 1
                else:
                    self.send(f"<a xmlns='{SM}' h='{handled}'/>")
                pos = m.end()
            if set(wanted) <= set(self.bodies()):
                return self.bodies()
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sorted(set(wanted) - set(self.bodies()))
                raise AssertionError(f"missing {len(missing)} of {len(wanted)}: {missing[:10]}")
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError("closed")
            self.buf += chunk

    def drain(self, seconds):
        """Reads whatever arrives for `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return self.bodies()
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return self.bodies()
            if not chunk:
                return self.bodies()
            self.buf += chunk

    def reset(self):
        """The connection dies: no stream close, no TLS close_notify, a TCP RST."""
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.s.close()

    def close(self):
        try:
            self.s.sendall(b"</stream:stream>")
            self.s.close()
        except OSError:
            pass


def login(port, user, password, resource, sm=False, resume=False, presence=True):
    c = Raw(port, user, password).bind(resource)
    if sm:
        c.enable_sm(resume)
    if presence:
        c.presence()
    return c


def send_to(sender, to, bodies, pad=0):
    for i, b in enumerate(bodies):
        sender.send(f"<message to='{to}' type='chat' id='{b}'><body>{b}{'.' * pad}</body></message>")


def routed(sender, resource):
    """Waits until everything `sender` sent before has been through the core (a message to
    itself comes back after them)."""
    token = f"sync-{time.monotonic_ns()}"
    sender.send(f"<message to='alice@localhost/{resource}' type='chat'><body>{token}</body></message>")
    sender.wait_bodies([token])


def offline_cfg(**c2s):
    cfg = h.config(xmpp=True, irc=True, accounts=ACCOUNTS, log_level="info")
    cfg["xmpp"]["c2s"].update(c2s)
    return cfg


# ---- 1: offline messages survive a login that dies mid-burst ---------------------------------

def test_offline_messages_survive_an_sm_login_that_never_acks():
    with h.Parleyd(offline_cfg()) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw", "a")
        want = [f"off{i:03d}" for i in range(120)]
        send_to(alice, "bob@localhost", want, pad=200)
        routed(alice, "a")
        # bob logs in with XEP-0198, receives (part of) the burst, never acks, and the
        # connection dies.
        b1 = login(port, "bob", "bobpw", "phone", sm=True)
        b1.wait_bodies(want[:1])
        got1 = [b for b in b1.drain(0.5) if b.startswith("off")]
        b1.reset()
        # One batch at a time, the next once this one is acknowledged: never the whole box.
        assert 0 < len(got1) < len(want), len(got1)
        time.sleep(0.5)
        # Everything is still there for the next login, which acknowledges what it gets: one
        # batch after the other, to the end.
        b2 = login(port, "bob", "bobpw", "desk", sm=True)
        got2 = b2.wait_bodies_acking(want, timeout=20)
        assert [b for b in got2 if b.startswith("off")] == want, "out of order or duplicated"
        # Delivered now (acknowledged): a third login gets nothing more.
        b2.close()
        time.sleep(0.5)
        b3 = login(port, "bob", "bobpw", "desk")
        again = [b for b in b3.drain(1.0) if b.startswith("off")]
        assert not again, f"delivered messages came again: {len(again)}: {again[:5]}"
        b3.close()
        alice.close()


def test_offline_messages_to_irc_are_delivered_once():
    with h.Parleyd(offline_cfg()) as d:
        alice = login(d.ports["xmpp"], "alice", "alicepw", "a")
        want = [f"irc{i:02d}" for i in range(60)]
        send_to(alice, "bob@localhost", want)
        routed(alice, "a")

        def irc_login():
            c = h.LineClient(d.ports["irc"])
            c.send("PASS bobpw")
            c.send("NICK bob")
            c.send("USER bob 0 * :Bob")
            c.expect(r" 001 bob ")
            return c

        c = irc_login()
        for b in want:
            c.expect(rf"PRIVMSG bob :{b}$")
        c.send("QUIT")
        c.close()
        time.sleep(0.5)
        c = irc_login()
        c.send("PING :end")
        c.expect(r"PONG .*end")
        assert not [l for l in c.lines if "PRIVMSG bob :irc" in l], "delivered messages came again"
        c.send("QUIT")
        c.close()
        alice.close()


# ---- 2: resource conflict -----------------------------------------------------------------------

def test_unacked_messages_survive_a_resource_conflict():
    with h.Parleyd(offline_cfg()) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw", "a")
        old = login(port, "bob", "bobpw", "phone", sm=True, resume=True)
        old.until(b"<presence")  # its own presence: the session is live
        want = ["conflict-full-0", "conflict-full-1"]
        send_to(alice, "bob@localhost/phone", want)
        send_to(alice, "bob@localhost", ["conflict-bare"])
        old.wait_bodies(want + ["conflict-bare"])  # received, never acked
        # A new bind of the same full JID replaces the old session (RFC 6120 §7.7.2.2).
        new = login(port, "bob", "bobpw", "phone")
        old.until(b"<conflict")
        new.wait_bodies(want + ["conflict-bare"], timeout=10)
        new.close()
        alice.close()


# ---- 3: SIGTERM ------------------------------------------------------------------------------------

def test_unacked_messages_at_shutdown_are_stored_for_the_next_start():
    with tempfile.TemporaryDirectory(prefix="parley-it-") as work:
        cfg = offline_cfg(resume_timeout=120)
        d = h.Parleyd(cfg, workdir=work)
        with d:
            port = d.ports["xmpp"]
            alice = login(port, "alice", "alicepw", "a")
            live = login(port, "bob", "bobpw", "live", sm=True, resume=True)
            dropped = login(port, "bob", "bobpw", "dropped", sm=True, resume=True)
            live.until(b"<presence")
            dropped.until(b"<presence")
            dropped.reset()  # waits for resumption (120 s) with what arrives meanwhile
            time.sleep(0.3)
            to_live = ["live-0", "live-1", "live-2"]
            to_dropped = ["dropped-0", "dropped-1"]
            send_to(alice, "bob@localhost/live", to_live)
            send_to(alice, "bob@localhost/dropped", to_dropped)
            live.wait_bodies(to_live)  # received, never acked
            routed(alice, "a")
            # SIGTERM: the pending resume timer must not hold the shutdown until the daemon's
            # drain limit (4 s) stops the io threads.
            start = time.monotonic()
            assert d.stop() == 0
            took = time.monotonic() - start
            assert took < 3, f"shutdown took {took:.1f} s"
            assert "stopping the io threads" not in d.log()
        with h.Parleyd(cfg, workdir=work) as d2:
            bob = login(d2.ports["xmpp"], "bob", "bobpw", "again")
            bob.wait_bodies(to_live + to_dropped, timeout=10)
            bob.close()


# ---- 4: resumption against the resume timeout ----------------------------------------------------

def test_resume_racing_the_timeout_is_all_or_nothing():
    cfg = offline_cfg(resume_timeout=1)
    with h.Parleyd(cfg) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw", "a")
        outcomes = []
        # Aim the resumption at the deadline from both sides (bounded: 8 rounds).
        for k, delay in enumerate([0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]):
            bob = login(port, "bob", "bobpw", f"r{k}", sm=True, resume=True)
            bob.until(b"<presence")
            sm_id = bob.sm_id
            body = f"race-{k}"
            send_to(alice, f"bob@localhost/r{k}", [body])
            bob.wait_bodies([body])
            bob.reset()
            time.sleep(delay)
            again = Raw(port, "bob", "bobpw")
            again.send(f"<resume xmlns='{SM}' previd='{sm_id}' h='0'/>")
            deadline = time.monotonic() + 10
            while b"<resumed" not in again.buf and b"</failed>" not in again.buf:
                assert time.monotonic() < deadline, again.buf
                again.drain(0.1)
            if b"<resumed" in again.buf:
                outcomes.append("resumed")
                again.wait_bodies([body])  # retransmitted
                # The session is really alive: new messages reach it.
                send_to(alice, f"bob@localhost/r{k}", [f"after-{k}"])
                again.wait_bodies([f"after-{k}"])
                again.close()  # unacked: these two go to offline storage after the timeout
            else:
                assert b"item-not-found" in again.buf, again.buf
                outcomes.append("expired")
                again.s.close()
                # The session ended unresumed: its message went to offline storage.
                time.sleep(0.3)
                fresh = login(port, "bob", "bobpw", f"f{k}")
                fresh.wait_bodies([body])
                fresh.close()
            assert d.running(), "parleyd died"
        print(f"    outcomes: {outcomes}", flush=True)
        alice.close()
        time.sleep(1.5)  # let the last resumable sessions expire before the exit check


if __name__ == "__main__":
    h.run_tests(globals())
