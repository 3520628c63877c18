"""Flood control and bounded storage (issue 9, "XMPP flood control and backpressure").

Attacks a running parleyd the way the issue describes and checks the safe outcome:
  - an XMPP session flooding small messages as fast as it can does not hold up an honest
    XMPP <-> IRC pair (round-trip latency stays within a generous bound of a baseline taken
    in the same test), and its messages are slowed down, not dropped: they all arrive, later;
  - a client that enables XEP-0198 and never acknowledges gets its stream closed
    (policy-violation) at the cap, and its messages wait offline for its next login;
  - joining more rooms than server.limits.max_rooms, or growing a roster past
    server.limits.roster_size, is refused with an error;
  - one sender (an IRC guest) filling an account's offline box is refused after its share,
    while another sender's message still gets stored and is delivered at the next login.

Raw sockets (STARTTLS, SASL PLAIN) for XMPP so a flood is not limited by a client library;
the harness LineClient for IRC. Every loop is bounded in count and time.
"""
import base64
import os
import re
import socket
import ssl
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

HEADER = ("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>").encode()


class RawXmpp:
    """A minimal c2s client: STARTTLS, SASL PLAIN, bind; raw stanzas in and out."""

    def __init__(self, port, user, password, resource="r", presence=True, timeout=10):
        self.buf = b""
        self.pos = 0  # where the next expect() starts looking
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.sendall(HEADER)
        self._read_raw(raw, b"</stream:features>")
        raw.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self._read_raw(raw, b"<proceed")
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.sock.settimeout(timeout)
        self.send(HEADER)
        self.expect(rb"</stream:features>")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        self.expect(rb"<success")
        self.send(HEADER)
        self.expect(rb"</stream:features>")
        self.send(f"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  f"<resource>{resource}</resource></bind></iq>")
        self.expect(rb"<jid>")
        if presence:
            self.send("<presence/>")
            self.expect(rb"<presence")

    @staticmethod
    def _read_raw(s, marker):
        data = b""
        while marker not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise AssertionError(f"closed before {marker!r}: {data!r}")
            data += chunk

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def read_some(self, timeout):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("stream closed")
        self.buf += chunk
        return chunk

    def expect(self, pattern, timeout=10):
        """Waits for the regex (bytes) after the last match; returns the match."""
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s; last bytes: {self.buf[-400:]!r}")
            try:
                self.read_some(left)
            except socket.timeout:
                continue
            except EOFError:
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                raise AssertionError(f"stream closed before {pattern!r}; last bytes: {self.buf[-400:]!r}")

    def read_until_closed(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.read_some(max(0.1, deadline - time.monotonic()))
            except (EOFError, ConnectionError, ssl.SSLError):
                return True
            except socket.timeout:
                continue
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def irc_guest(port, nick):
    c = h.LineClient(port, timeout=10)
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :{nick}")
    c.expect(rf" 001 {nick} ")
    return c


def round_trip(alice, bob, i):
    """alice (XMPP) -> bob (IRC) -> alice: seconds for one ping/pong."""
    t0 = time.monotonic()
    alice.send(f"<message to='ircbob@localhost' type='chat'><body>ping {i}</body></message>")
    bob.expect(rf"PRIVMSG ircbob :ping {i}$", timeout=30)
    bob.send(f"PRIVMSG alice :pong {i}")
    alice.expect(rf"<body>pong {i}</body>".encode(), timeout=30)
    return time.monotonic() - t0


def latencies(alice, bob, start, n=25, pause=0.02):
    out = []
    for i in range(start, start + n):
        out.append(round_trip(alice, bob, i))
        time.sleep(pause)
    return out


class Counter(threading.Thread):
    """Reads a raw XMPP stream and counts flood bodies ('<body>f'), until `want` or timeout."""

    def __init__(self, client, want, timeout):
        super().__init__(daemon=True)
        self.client, self.want, self.timeout = client, want, timeout
        self.count = 0
        self.done_at = None

    def run(self):
        tail = b""
        deadline = time.monotonic() + self.timeout
        s = self.client.sock
        while self.count < self.want and time.monotonic() < deadline:
            try:
                s.settimeout(1)
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                break
            if not chunk:
                break
            data = tail + chunk
            self.count += data.count(b"<body>f")
            tail = data[-6:]  # shorter than the marker: a split marker is counted once
        self.done_at = time.monotonic()


def flood(flooder, n, to="carol@localhost"):
    """Sends n small messages as fast as the socket takes them (a thread: writes block)."""
    payload = "".join(f"<message to='{to}' type='chat'><body>f{i}</body></message>" for i in range(n)).encode()

    def run():
        try:
            flooder.sock.settimeout(120)
            flooder.sock.sendall(payload)
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def flood_scenario(xmpp_extra, n, label):
    accounts = [("alice", "alicepw"), ("mallory", "mallorypw"), ("carol", "carolpw")]
    cfg = h.config(irc=True, xmpp=True, accounts=accounts, log_level="info")
    cfg["xmpp"]["c2s"].update(xmpp_extra)
    cfg["irc"]["flood_burst"] = 0  # the honest IRC user's own pings must not hit IRC's flood penalty
    with h.Parleyd(cfg) as d:
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw")
        bob = irc_guest(d.ports["irc"], "ircbob")
        carol = RawXmpp(d.ports["xmpp"], "carol", "carolpw")
        mallory = RawXmpp(d.ports["xmpp"], "mallory", "mallorypw", presence=False)
        latencies(alice, bob, 0, n=5)  # warm-up
        base = latencies(alice, bob, 100)
        counter = Counter(carol, n, timeout=90)
        counter.start()
        t0 = time.monotonic()
        writer = flood(mallory, n)
        time.sleep(0.3)  # the flood is under way
        under = []
        while counter.is_alive() and len(under) < 40:  # only round trips that overlap the flood count
            under.append(round_trip(alice, bob, 200 + len(under)))
            time.sleep(0.02)
        assert len(under) >= 3, f"the flood was over before it could be measured ({len(under)} samples)"
        writer.join(timeout=100)
        counter.join(timeout=100)
        took = (counter.done_at or time.monotonic()) - t0
        b50, u50 = statistics.median(base), statistics.median(under)
        print(f"  {label}: baseline RTT p50 {b50 * 1e3:.1f} ms max {max(base) * 1e3:.1f} ms; during the flood "
              f"p50 {u50 * 1e3:.1f} ms max {max(under) * 1e3:.1f} ms; {counter.count}/{n} flood messages "
              f"arrived in {took:.1f} s", flush=True)
        for c in (alice, carol, mallory):
            c.close()
        bob.close()
        return b50, u50, under, counter.count, took


def test_a_flooding_session_is_slowed_and_honest_users_keep_their_latency():
    # The shaper: 1000 stanzas/s after a burst of 500, so 8000 messages take ~7.5 s.
    n, rate, burst = 8000, 1000, 500
    b50, u50, under, arrived, took = flood_scenario(
        {"rate": {"stanzas_per_second": rate, "stanza_burst": burst, "bytes_per_second": 0}}, n, "shaper")
    assert arrived == n, f"flood messages lost: {arrived}/{n}"  # slowed, not dropped
    assert took >= (n - burst) / rate * 0.8, f"the flood was not slowed down: {n} messages in {took:.1f} s"
    bound = max(10 * b50, b50 + 0.25)
    assert u50 <= bound, f"honest p50 RTT {u50 * 1e3:.0f} ms during the flood > bound {bound * 1e3:.0f} ms"
    assert max(under) <= max(20 * b50, 1.5), f"an honest round trip took {max(under):.2f} s during the flood"


def test_the_queue_toward_the_core_is_bounded_without_a_shaper():
    # No shaper: only core_queue stands between the flood and everyone else. Each message
    # goes to an offline account, so each costs the core strand a durable store write (the
    # most expensive stanza there is): unbounded, the flooder parses thousands of them ahead
    # of the core and an honest stanza waits behind all of them (~13 s measured here with
    # core_queue: 0); bounded, it waits behind at most core_queue of them.
    n = 3000
    accounts = [("alice", "alicepw"), ("mallory", "mallorypw"), ("dave", "davepw")]
    cfg = h.config(irc=True, xmpp=True, accounts=accounts, log_level="info")
    cfg["xmpp"]["c2s"].update({"rate": {"stanzas_per_second": 0, "bytes_per_second": 0}, "core_queue": 32})
    cfg["irc"]["flood_burst"] = 0
    cfg["server"]["limits"] = {"offline_messages": 100000, "offline_bytes": 1 << 30, "offline_sender_share": 100}
    with h.Parleyd(cfg) as d:
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw")
        bob = irc_guest(d.ports["irc"], "ircbob")
        mallory = RawXmpp(d.ports["xmpp"], "mallory", "mallorypw", presence=False)
        latencies(alice, bob, 0, n=5)
        base = latencies(alice, bob, 100)
        writer = flood(mallory, n, to="dave@localhost")
        time.sleep(0.3)
        under = latencies(alice, bob, 200, n=15)
        writer.join(timeout=100)
        b50 = statistics.median(base)
        print(f"  core_queue: baseline RTT p50 {b50 * 1e3:.1f} ms; during the flood p50 "
              f"{statistics.median(under) * 1e3:.1f} ms max {max(under) * 1e3:.1f} ms", flush=True)
        assert max(under) <= max(3.0, 20 * b50), f"an honest round trip took {max(under):.2f} s during the flood"
        # Nothing was dropped: dave finds every one of them at his next login.
        mallory.send("<iq type='get' id='last'><ping xmlns='urn:xmpp:ping'/></iq>")
        mallory.expect(rb"id='last'", timeout=120)  # after every message before it was handled
        dave = RawXmpp(d.ports["xmpp"], "dave", "davepw", presence=False)
        counter = Counter(dave, n, timeout=60)
        dave.send("<presence/>")
        counter.start()
        counter.join(timeout=70)
        assert counter.count == n, f"flood messages lost: {counter.count}/{n}"
        for c in (alice, mallory, dave):
            c.close()
        bob.close()


def test_a_client_that_never_acks_is_closed_at_the_cap_and_its_messages_wait_offline():
    accounts = [("alice", "alicepw"), ("sam", "sampw")]
    cfg = h.config(xmpp=True, accounts=accounts, log_level="info")
    cfg["xmpp"]["c2s"]["max_unacked"] = 20
    with h.Parleyd(cfg) as d:
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw")
        sam = RawXmpp(d.ports["xmpp"], "sam", "sampw")
        sam.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        sam.expect(rb"<enabled ")
        for i in range(40):  # sam answers no <r/>: every stanza stays unacknowledged
            alice.send(f"<message to='sam@localhost' type='chat'><body>m{i}</body></message>")
        sam.expect(rb"<policy-violation[^>]*/>.*too many unacknowledged stanzas", timeout=15)
        assert sam.read_until_closed(10), "the stream stayed open after the stream error"
        d.wait_for_log(r"acknowledges nothing")
        # Nothing was lost: the next login (a new stream, the old one is not resumable) gets
        # every message, the unacknowledged ones and those sent after the close.
        time.sleep(0.5)
        again = RawXmpp(d.ports["xmpp"], "sam", "sampw", resource="again", presence=False)
        again.send("<presence/>")
        got = set()
        deadline = time.monotonic() + 15
        while len(got) < 40 and time.monotonic() < deadline:
            m = again.expect(rb"<body>(m\d+)</body>", timeout=max(0.1, deadline - time.monotonic()))
            got.add(m.group(1).decode())
        assert got == {f"m{i}" for i in range(40)}, f"missing: {sorted({f'm{i}' for i in range(40)} - got)}"
        for c in (alice, sam, again):
            c.close()


def test_more_rooms_than_the_cap_are_refused_on_xmpp_and_irc():
    cfg = h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw")], log_level="info")
    cfg["server"]["limits"] = {"max_rooms": 3}
    with h.Parleyd(cfg) as d:
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw")
        for i in range(3):
            alice.send(f"<presence to='r{i}@conference.localhost/alice'><x xmlns='http://jabber.org/protocol/muc'/>"
                       f"</presence>")
            alice.expect(rf"<presence from='r{i}@conference.localhost/alice'[^>]*>.*?code='110'".encode())
        alice.send("<presence id='j4' to='r3@conference.localhost/alice'><x xmlns='http://jabber.org/protocol/muc'/>"
                   "</presence>")
        alice.expect(rb"<presence[^>]*type='error'[^>]*>.*?<resource-constraint")
        alice.close()

        irc = h.LineClient(d.ports["irc"], timeout=10)
        irc.send("NICK joiner")
        irc.send("USER joiner 0 * :joiner")
        irc.expect(r" 005 joiner .*CHANLIMIT=#:3")
        irc.send("JOIN #a,#b,#c,#d")
        irc.expect(r" 366 joiner #c ")
        irc.expect(r" 405 joiner #d ")
        irc.close()


def test_a_roster_past_its_cap_is_refused():
    cfg = h.config(xmpp=True, accounts=[("alice", "alicepw")], log_level="info")
    cfg["server"]["limits"] = {"roster_size": 3}
    with h.Parleyd(cfg) as d:
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw")
        for i in range(4):
            alice.send(f"<iq type='set' id='set{i}'><query xmlns='jabber:iq:roster'>"
                       f"<item jid='friend{i}@example.org' name='F{i}'/></query></iq>")
        for i in range(3):
            alice.expect(rf"<iq type='result' id='set{i}'".encode())
        alice.expect(rb"<iq type='error' id='set3'[^>]*>.*?<resource-constraint")
        alice.send("<iq type='get' id='get'><query xmlns='jabber:iq:roster'/></iq>")
        roster = alice.expect(rb"<iq type='result' id='get'.*?</iq>").group(0)
        assert roster.count(b"<item ") == 3, roster
        alice.close()


def test_one_sender_cannot_fill_an_offline_box_for_everyone():
    accounts = [("alice", "alicepw"), ("bob", "bobpw")]
    cfg = h.config(irc=True, xmpp=True, accounts=accounts, log_level="info")
    cfg["server"]["limits"] = {"offline_messages": 8, "offline_sender_share": 25}  # a share: 2 messages
    with h.Parleyd(cfg) as d:
        guest = irc_guest(d.ports["irc"], "mallory")
        for i in range(5):
            guest.send(f"PRIVMSG bob :spam {i}")
        guest.send("PING :done")
        guest.expect(r"PONG .*done")
        refused = [line for line in guest.lines if " 401 mallory bob " in line]
        assert len(refused) == 3 and "share" in refused[0], guest.lines
        guest.close()
        # A new nick from the same address buys no new share.
        again = irc_guest(d.ports["irc"], "mallory2")
        again.send("PRIVMSG bob :spam again")
        again.expect(r" 401 mallory2 bob .*share")
        again.close()

        # Someone else's message still gets in.
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw")
        alice.send("<message to='bob@localhost' type='chat' id='real'><body>the real one</body></message>")
        time.sleep(0.5)
        assert b"type='error'" not in alice.buf[alice.pos:], alice.buf[-400:]

        bob = RawXmpp(d.ports["xmpp"], "bob", "bobpw", presence=False)
        bob.send("<presence/>")
        bodies = []
        for _ in range(3):
            bodies.append(bob.expect(rb"<body>([^<]*)</body>").group(1).decode())
        assert bodies == ["spam 0", "spam 1", "the real one"], bodies
        for c in (alice, bob):
            c.close()


if __name__ == "__main__":
    h.run_tests(globals())
