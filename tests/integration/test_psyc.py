"""The PSYC adapter (adapters/psyc, protocols/psyc): a client speaking the PSYC 1.0 wire
format (this file's PsycClient: raw packets over TCP) greets, links as a guest or to an
account, enters psyc://localhost/@dev and talks with a raw IRC client in #dev, in both
directions (messages, actions, private messages), sees the IRC user's join and part;
malformed packets get an _error_ and a close without harming another circuit.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_psyc.py
"""
import os
import re
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

DOMAIN = "localhost"
DEV = f"psyc://{DOMAIN}/@dev"


def psyc_config(**psyc_extra):
    cfg = h.config(irc=True, psyc=True, accounts=[("alice", "alicepw")], domain=DOMAIN)
    cfg["psyc"].update(psyc_extra)
    return cfg


class Packet:
    def __init__(self):
        self.routing = []  # (op, name, value)
        self.entity = []
        self.method = ""
        self.data = None

    def get(self, name):
        for _, n, v in self.routing + self.entity:
            if n == name:
                return v
        return None

    def __repr__(self):
        return f"<{self.method} {self.routing} {self.entity} {self.data!r}>"


def parse_modifiers(buf, pos, end, into):
    """Modifier lines from pos; returns the position of the first non-modifier line."""
    while pos < end and buf[pos : pos + 1] in (b":", b"=", b"+", b"-", b"?"):
        op = chr(buf[pos])
        i = pos + 1
        while i < end and (chr(buf[i]).isalnum() or buf[i] == ord("_")):
            i += 1
        name = buf[pos + 1 : i].decode()
        if buf[i : i + 1] == b"\n":
            into.append((op, name, ""))
            pos = i + 1
        elif buf[i : i + 1] == b"\t":
            lf = buf.index(b"\n", i)
            into.append((op, name, buf[i + 1 : lf].decode()))
            pos = lf + 1
        elif buf[i : i + 1] == b" ":
            tab = buf.index(b"\t", i)
            n = int(buf[i + 1 : tab])
            into.append((op, name, buf[tab + 1 : tab + 1 + n].decode()))
            pos = tab + 1 + n + 1
        else:
            raise ValueError(f"bad modifier at {pos}: {buf[pos:pos+40]!r}")
    return pos


def parse_packet(buf):
    """One packet from the start of buf: (Packet, consumed) or None when incomplete."""
    p = Packet()
    try:
        pos = parse_modifiers(buf, 0, len(buf), p.routing)
    except ValueError:
        return None
    if buf[pos : pos + 2] == b"|\n":
        return p, pos + 2
    lf = buf.find(b"\n", pos)
    if lf < 0:
        return None
    length = buf[pos:lf]
    start = lf + 1
    if length:
        end = start + int(length)
        if len(buf) < end + 2:
            return None
        assert buf[end : end + 2] == b"|\n", buf
        after = end + 2
    else:
        if buf[start : start + 2] == b"|\n":
            end, after = start, start + 2
        else:
            k = buf.find(b"\n|\n", start)
            if k < 0:
                return None
            end, after = k + 1, k + 3
    pos = parse_modifiers(buf, start, end, p.entity)
    if pos < end:
        body = buf[pos : end - 1]  # without the LF before "|"
        method, sep, data = body.partition(b"\n")
        p.method = method.decode()
        p.data = data.decode() if sep else None
    return p, after


def render(routing=(), entity=(), method=None, data=None, length=False):
    out = b""
    for op, name, value in routing:
        out += f"{op}{name}\t{value}\n".encode()
    content = b""
    for op, name, value in entity:
        content += f"{op}{name}\t{value}\n".encode()
    if method:
        content += method.encode() + (b"\n" + data.encode() if data is not None else b"") + b"\n"
    if entity or method or length:
        out += (str(len(content)).encode() if length else b"") + b"\n" + content
    return out + b"|\n"


class PsycClient:
    def __init__(self, port, greet=True, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:  # the generated self-signed certificate
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock, server_hostname=DOMAIN)
        self.buf = b""
        self.seen = []
        if greet:
            self.sock.sendall(b"|\n")
            first = self.packet()
            assert first is not None and not first.routing and not first.method, first  # the greeting

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, method, target=None, data=None, entity=(), routing=(), length=False):
        r = list(routing)
        if target:
            r.insert(0, (":", "_target", target))
        self.sock.sendall(render(r, entity, method, data, length))

    def packet(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            got = parse_packet(self.buf)
            if got:
                p, n = got
                self.buf = self.buf[n:]
                self.seen.append(p)
                return p
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def expect(self, method, timeout=10, **vars_):
        """The next packet whose method is `method` (regex) and whose variables match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.packet(timeout=max(0.1, deadline - time.monotonic()))
            if p is None:
                break
            if re.fullmatch(method, p.method) and all(p.get(k) == v for k, v in vars_.items()):
                return p
        raise AssertionError(f"no {method} {vars_}; got {self.seen[-10:]}")

    def closed(self, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def link(self, name, password=None):
        entity = [(":", "_password", password)] if password else []
        self.send("_request_link", f"psyc://{DOMAIN}/~{name}", entity=entity)
        return self.expect("_notice_link|_error_.*|_query_password")

    def close(self):
        self.sock.close()


def irc_client(port, nick):
    c = h.LineClient(port)
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :{nick}")
    c.expect(rf" 001 {nick} ")
    return c


def test_psyc_and_irc_share_a_room():
    with h.Parleyd(psyc_config()) as d:
        pia = PsycClient(d.ports["psyc"])
        p = pia.link("pia")
        assert p.method == "_notice_link" and p.get("_source") == f"psyc://{DOMAIN}/~pia", p
        pia.send("_request_context_enter", DEV)
        echo = pia.expect("_echo_context_enter", _source=DEV)
        assert f"psyc://{DOMAIN}/~pia" in echo.get("_list_members"), echo

        irc = irc_client(d.ports["irc"], "ann")
        irc.send("JOIN #dev")
        irc.expect(r" 353 ann = #dev :.*\bpia\b")
        pia.expect("_notice_context_enter", _context=DEV, _nick="ann")

        # PSYC -> IRC, with the place as circuit routing state ('=' _target) this time.
        pia.send("_message_public", data="hello from psyc", routing=[("=", "_target", DEV)])
        irc.expect(r"^:pia!\S+ PRIVMSG #dev :hello from psyc$")
        pia.expect("_message_public", _context=DEV, _nick="pia")  # the place sends to every member
        pia.send("_message_action", data="waves")  # still to the place: circuit state
        irc.expect(r"^:pia!\S+ PRIVMSG #dev :\x01ACTION waves\x01$")
        # Explicit content length and a binary value in the same packet.
        pia.send_raw(b":_target\t" + DEV.encode() + b"\n26\n:_x 3\ta\nb\n_message\nlen ok\n|\n")
        irc.expect(r"^:pia!\S+ PRIVMSG #dev :len ok$")

        # IRC -> PSYC.
        irc.send("PRIVMSG #dev :hello from irc")
        m = pia.expect("_message_public", _context=DEV, _nick="ann")
        assert m.data == "hello from irc" and m.get("_source_relay") == f"psyc://{DOMAIN}/~ann", m
        irc.send("PRIVMSG #dev :\x01ACTION dances\x01")
        m = pia.expect("_message_action", _context=DEV, _nick="ann")
        assert m.data == "dances", m

        # Private messages both ways.
        pia.send("_message_private", f"psyc://{DOMAIN}/~ann", data="psst ann")
        irc.expect(r"^:pia!\S+ PRIVMSG ann :psst ann$")
        irc.send("PRIVMSG pia :psst pia")
        m = pia.expect("_message_private", _source=f"psyc://{DOMAIN}/~ann")
        assert m.data == "psst pia", m

        # The IRC user's part.
        irc.send("PART #dev :bye")
        m = pia.expect("_notice_context_leave", _context=DEV, _nick="ann")
        assert m.get("_reason") == "bye", m
        pia.send("_request_context_leave", DEV)
        pia.expect("_echo_context_leave", _source=DEV)
        irc.send("QUIT")
        irc.close()
        pia.close()


def test_link_to_an_account_checks_the_password():
    with h.Parleyd(psyc_config()) as d:
        c = PsycClient(d.ports["psyc"])
        c.send("_request_context_enter", DEV)
        c.expect("_error_necessary_link")
        assert c.link("alice").method == "_query_password"
        assert c.link("alice", "wrong").method == "_error_invalid_password"
        p = c.link("alice", "alicepw")
        assert p.method == "_notice_link" and p.get("_nick") == "alice", p
        # a guest cannot take a name that is online
        g = PsycClient(d.ports["psyc"])
        assert g.link("bob").method == "_notice_link"
        g2 = PsycClient(d.ports["psyc"])
        assert g2.link("bob").method == "_error_nickname_in_use"
        # bad targets get reasons
        g2.send("_request_link", "psyc://other.example/~x")
        g2.expect("_error_unknown_host")
        g2.send("_request_link", "psyc://localhost/~")
        e = g2.expect("_error_invalid_uniform")
        assert "empty name" in e.data, e
        for x in (c, g, g2):
            x.close()


def test_methods_fall_back_by_family():
    with h.Parleyd(psyc_config()) as d:
        c = PsycClient(d.ports["psyc"])
        c.link("fam")
        # _notice_presence_here_quiet is handled as _notice_presence_here (no error) ...
        c.send("_notice_presence_here_quiet", entity=[(":", "_degree_availability", "here")])
        # ... _message_public_question as _message_public ...
        c.send("_request_context_enter", DEV)
        c.expect("_echo_context_enter")
        c.send("_message_public_question", DEV, data="anyone?")
        m = c.expect("_message_public", _context=DEV)
        assert m.data == "anyone?", m
        # ... and a method of no known family gets _error_unsupported_method: the first
        # error this circuit saw (the presence notice got none).
        c.send("_frobnicate_now")
        e = c.expect("_error_.*")
        assert e.method == "_error_unsupported_method" and e.get("_method") == "_frobnicate_now", e
        c.close()


def test_malformed_packets_close_only_their_circuit():
    with h.Parleyd(psyc_config(limits={"max_content": 1024, "max_value": 256})) as d:
        good = PsycClient(d.ports["psyc"])
        good.link("good")
        good.send("_request_context_enter", DEV)
        good.expect("_echo_context_enter")
        irc = irc_client(d.ports["irc"], "watcher")
        irc.send("JOIN #dev")
        irc.expect(r" 366 watcher #dev ")

        bad_inputs = [
            b":\tno name\n|\n",  # operator without a name
            b"5\n_message\n|\n",  # a content length that does not match
            b"\n:_list_members\tnot a list\n|\n",  # bad list
            b"\n:_x 99\tshort\n|\n" + b"x" * 200,  # binary length beyond the value
            b":_target\t" + b"y" * 1000 + b"\n|\n",  # a value over psyc.limits.max_value
            b"\n_message\n" + b"z" * 3000,  # content over max_content, never terminated
        ]
        for raw in bad_inputs:
            b = PsycClient(d.ports["psyc"])
            b.link("bad")
            b.send_raw(raw)
            e = b.expect("_error_syntax")
            assert e.data.startswith("Malformed packet") or "too large" in e.data, e
            assert b.closed(), raw
            b.close()

        # No greeting: an error and the close.
        n = PsycClient(d.ports["psyc"], greet=False)
        assert n.packet() is not None  # the server's greeting
        n.send("_request_link", f"psyc://{DOMAIN}/~nogreet")
        n.expect("_error_circuit_initialization")
        assert n.closed()

        # The other circuit and the room are unharmed.
        good.send("_message_public", DEV, data="still here")
        irc.expect(r"^:good!\S+ PRIVMSG #dev :still here$")
        good.close()
        irc.close()


def test_byte_by_byte_and_pipelined_input():
    with h.Parleyd(psyc_config()) as d:
        c = PsycClient(d.ports["psyc"])
        link = render([(":", "_target", f"psyc://{DOMAIN}/~slow")], [], "_request_link")
        for byte in link:
            c.send_raw(bytes([byte]))
        c.expect("_notice_link")
        both = render([(":", "_target", DEV)], [], "_request_context_enter") + render(
            [(":", "_target", DEV)], [], "_message_public", "pipelined", length=True
        )
        c.send_raw(both)
        c.expect("_echo_context_enter")
        m = c.expect("_message_public", _context=DEV)
        assert m.data == "pipelined", m
        c.close()


def test_a_flood_is_slowed_not_dropped():
    with h.Parleyd(psyc_config(rate=20, burst=10)) as d:
        c = PsycClient(d.ports["psyc"])
        c.link("flood")
        irc = irc_client(d.ports["irc"], "counter")
        irc.send("JOIN #dev")
        irc.expect(r" 366 counter #dev ")
        c.send("_request_context_enter", DEV)
        c.expect("_echo_context_enter")
        start = time.monotonic()
        c.send_raw(b"".join(render([(":", "_target", DEV)], [], "_message_public", f"n{i}") for i in range(60)))
        for i in range(60):
            irc.expect(rf"^:flood!\S+ PRIVMSG #dev :n{i}$")
        took = time.monotonic() - start
        # 10 at once, then 20 per second: about 2.5 s for the other 50.
        assert 2.0 < took < 10, took
        c.close()
        irc.close()


def test_connections_over_the_per_address_limit_are_refused():
    cfg = psyc_config()
    cfg["server"]["connections"] = {"per_address": 2}
    with h.Parleyd(cfg) as d:
        a, b = PsycClient(d.ports["psyc"]), PsycClient(d.ports["psyc"])
        c = PsycClient(d.ports["psyc"], greet=False)
        assert c.packet() is not None  # the greeting
        e = c.expect("_error_limit_connections")
        assert e.get("_source") == f"psyc://{DOMAIN}", e
        assert c.closed()
        for x in (a, b, c):
            x.close()


def test_tls_circuit_handshake_and_idle_timeouts():
    cfg = psyc_config(idle_timeout=10)
    tls_port = h.free_port()
    cfg["psyc"]["listen"].append(f"tls:127.0.0.1:{tls_port}")
    cfg["server"]["connections"] = {"handshake_timeout": 2}
    with h.Parleyd(cfg) as d:
        t = PsycClient(tls_port, tls=True)
        assert t.link("secure").method == "_notice_link"
        t.send("_request_context_enter", DEV)
        t.expect("_echo_context_enter", _source=DEV)

        # Greeted but never linked: closed at server.connections.handshake_timeout.
        lazy = PsycClient(d.ports["psyc"])
        start = time.monotonic()
        assert lazy.closed(timeout=8)
        assert time.monotonic() - start < 8

        # Linked and silent: closed after psyc.idle_timeout (swept every 5 s), while a
        # circuit that sends the empty packet now and then stays.
        quiet = PsycClient(d.ports["psyc"])
        quiet.link("quiet")
        start = time.monotonic()
        while time.monotonic() - start < 17:
            t.send_raw(b"|\n")
            time.sleep(3)
        quiet.expect("_error_circuit_idle", timeout=1)
        assert quiet.closed(timeout=2)
        t.send("_message_public", DEV, data="alive")
        t.expect("_message_public", _context=DEV)
        t.close()


def test_friendship_is_a_subscription_both_ways():
    cfg = h.config(irc=True, psyc=True, accounts=[("alice", "alicepw"), ("bob", "bobpw")], domain=DOMAIN)
    with h.Parleyd(cfg) as d:
        alice = PsycClient(d.ports["psyc"])
        assert alice.link("alice", "alicepw").method == "_notice_link"
        bob = PsycClient(d.ports["psyc"])
        assert bob.link("bob", "bobpw").method == "_notice_link"
        alice.send("_request_friendship", f"psyc://{DOMAIN}/~bob")
        bob.expect("_request_friendship", _source=f"psyc://{DOMAIN}/~alice")
        bob.send("_request_friendship", f"psyc://{DOMAIN}/~alice")  # accepting is asking back
        alice.expect("_notice_friendship_established", _source=f"psyc://{DOMAIN}/~bob")
        bob.expect("_notice_friendship_established", _source=f"psyc://{DOMAIN}/~alice")
        # Friends see each other's presence.
        bob.send("_notice_presence_away", entity=[(":", "_description_presence", "lunch")],
                 routing=[(":", "_target", f"psyc://{DOMAIN}/~bob")])
        p = alice.expect("_notice_presence.*", _source=f"psyc://{DOMAIN}/~bob", _description_presence="lunch")
        assert p.get("_degree_availability") in ("4", "3", "5"), p
        alice.send("_request_friendship_remove", f"psyc://{DOMAIN}/~bob")
        bob.expect("_notice_friendship_removed", _source=f"psyc://{DOMAIN}/~alice")
        # A guest has no roster: its request is refused with an error.
        guest = PsycClient(d.ports["psyc"])
        assert guest.link("gus").method == "_notice_link"
        guest.send("_request_friendship", f"psyc://{DOMAIN}/~bob")
        guest.expect("_error_.*")
        for c in (alice, bob, guest):
            c.close()


if __name__ == "__main__":
    h.run_tests(globals())
