"""Issue 9, "Correctness seen on the way", attacked against a running parleyd:

- forwarded stanzas keep their namespace declarations: a raw XMPP client with a
  namespace-aware parser (ElementTree's pull parser refuses unbound prefixes) receives an
  iq whose prefixes were declared on the sender's stanza or stream header;
- a guest who takes a departed guest's nick does not inherit its channel status;
- `parleyd account remove` takes the account's room affiliations and roster entries (its
  own and others' naming it) with it;
- a stream header with version='99.0' gets <unsupported-version/> (RFC 6120 §4.7.5);
- an XMPP MUC nick with a space ("Jane Doe") is kept for XMPP and shown to IRC as a valid,
  stable, deduplicated nick (Jane_Doe).
"""
import asyncio
import base64
import logging
import re
import socket
import ssl
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, next_where, slixmpp  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)

STREAMS = "http://etherx.jabber.org/streams"
CLIENT = "jabber:client"


def header(extra=b"", version=b"version='1.0'"):
    return (b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
            b"xmlns:stream='http://etherx.jabber.org/streams' " + version + b" " + extra + b">")


class RawXmpp:
    """A bare XMPP client over direct TLS (XEP-0368) that reads with a namespace-aware parser:
    every stanza it receives is a real ElementTree element with resolved namespaces, and a
    stanza using an undeclared prefix makes the parser raise (the way namespace-aware clients
    reject it)."""

    def __init__(self, port, timeout=10):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout),
                                    server_hostname="localhost")
        self.timeout = timeout
        self.raw = b""  # every byte received since the last restart()
        self._new_parser()

    def _new_parser(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.stanzas = []

    def send(self, data: bytes):
        self.sock.sendall(data)

    def next(self, pred=lambda e: True, timeout=None):
        """The next top-level element (stanza) matching pred; parse errors propagate."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, e in enumerate(self.stanzas):
                if pred(e):
                    del self.stanzas[: i + 1]
                    return e
            left = deadline - time.monotonic()
            assert left > 0, f"no matching stanza; received {self.raw[-600:]!r}"
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            assert chunk, f"closed; received {self.raw[-600:]!r}"
            self.raw += chunk
            self.parser.feed(chunk)
            for ev, el in self.parser.read_events():
                if ev == "start":
                    self.depth += 1
                else:
                    self.depth -= 1
                    if self.depth == 1:
                        self.stanzas.append(el)

    def restart(self, extra=b""):
        self._new_parser()
        self.raw = b""
        self.send(header(extra))
        return self.next(lambda e: e.tag == f"{{{STREAMS}}}features")

    def login(self, user, password, resource, extra=b""):
        self.restart(extra)
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        self.send(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + token + b"</auth>")
        ok = self.next()
        assert ok.tag.endswith("}success"), ET.tostring(ok)
        self.restart(extra)
        self.send(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" +
                  resource.encode() + b"</resource></bind></iq>")
        self.next(lambda e: e.get("id") == "b" and e.get("type") == "result")
        return self

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def xmpp_with_tls_port(**kw):
    cfg = h.config(**kw)
    port = h.free_port()
    cfg["xmpp"]["c2s"]["listen"].append(f"tls:127.0.0.1:{port}")
    cfg["_ports"]["xmpp_tls"] = port
    return cfg


# ---- namespaces ------------------------------------------------------------------------------

def test_forwarded_iq_keeps_prefix_declarations():
    cfg = xmpp_with_tls_port(xmpp=True, accounts=[("alice", "alicepw"), ("bob", "bobpw")])
    with h.Parleyd(cfg) as d:
        port = cfg["_ports"]["xmpp_tls"]
        d.wait_for_log(rf"c2s listening on tls:127\.0\.0\.1:{port}")
        bob = RawXmpp(port).login("bob", "bobpw", "raw")
        # alice declares one prefix on her stream header and others on the stanza
        alice = RawXmpp(port).login("alice", "alicepw", "raw", extra=b"xmlns:hdr='urn:example:header'")
        cases = [
            # declared on the stanza, used on an element and an attribute
            (b"<iq type='get' id='q1' to='bob@localhost/raw' xmlns:foo='urn:example:foo'>"
             b"<foo:query foo:mode='full'><foo:item/></foo:query></iq>",
             "{urn:example:foo}query", "{urn:example:foo}mode"),
            # declared on the stream header only
            (b"<iq type='get' id='q2' to='bob@localhost/raw'>"
             b"<hdr:query hdr:mode='x'/></iq>",
             "{urn:example:header}query", "{urn:example:header}mode"),
            # default-namespaced payload with a prefixed attribute from the stanza
            (b"<iq type='set' id='q3' to='bob@localhost/raw' xmlns:a='urn:example:attr'>"
             b"<query xmlns='urn:example:q' a:flag='1'/></iq>",
             "{urn:example:q}query", "{urn:example:attr}flag"),
        ]
        for stanza, tag, attr in cases:
            alice.send(stanza)
            iq_id = re.search(rb"id='(q\d)'", stanza).group(1).decode()
            # a namespace-aware parse: an unbound prefix would raise here
            got = bob.next(lambda e: e.get("id") == iq_id)
            assert got.tag == f"{{{CLIENT}}}iq", got.tag
            payload = list(got)
            assert len(payload) == 1 and payload[0].tag == tag, ET.tostring(got)
            assert payload[0].get(attr) is not None, (attr, ET.tostring(got))
        # and the answer travels back the same way
        bob.send(b"<iq type='result' id='q1' to='alice@localhost/raw' xmlns:r='urn:example:r'>"
                 b"<r:answer r:ok='yes'/></iq>")
        back = alice.next(lambda e: e.get("id") == "q1")
        assert back[0].tag == "{urn:example:r}answer" and back[0].get("{urn:example:r}ok") == "yes"
        alice.close()
        bob.close()


def test_undeclared_prefix_is_refused():
    """A stanza that is not namespace-well-formed is never forwarded: the stream ends with
    <not-well-formed/> (RFC 6120 §11.2, XML-NAMES) and the intended recipient gets nothing."""
    cfg = xmpp_with_tls_port(xmpp=True, accounts=[("alice", "alicepw"), ("bob", "bobpw")])
    with h.Parleyd(cfg) as d:
        port = cfg["_ports"]["xmpp_tls"]
        d.wait_for_log(rf"c2s listening on tls:127\.0\.0\.1:{port}")
        bob = RawXmpp(port).login("bob", "bobpw", "raw")
        alice = RawXmpp(port).login("alice", "alicepw", "raw")
        alice.send(b"<iq type='get' id='bad' to='bob@localhost/raw'><nope:query/></iq>")
        err = alice.next(lambda e: e.tag == f"{{{STREAMS}}}error")
        assert err.find("{urn:ietf:params:xml:ns:xmpp-streams}not-well-formed") is not None, ET.tostring(err)
        # bob's stream is intact and received nothing from it
        bob.send(b"<iq type='get' id='ping' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        bob.next(lambda e: e.get("id") == "ping")
        assert b"nope" not in bob.raw, bob.raw
        alice.close()
        bob.close()


# ---- stream version --------------------------------------------------------------------------

def raw_plain(port, payload, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(payload)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if b"</stream:stream>" in data or b"</stream:features>" in data:
                break
    except socket.timeout:
        pass
    s.close()
    return data.decode("utf-8", "replace")


def test_stream_version():
    with h.Parleyd(h.config(xmpp=True)) as d:
        port = d.ports["xmpp"]
        unsupported = "<unsupported-version xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        for version in (b"version='99.0'", b"version='2.0'", b"version='10.1'", b"version='0.9'",
                        b"version='abc'", b"version='1'", b""):
            reply = raw_plain(port, header(version=version))
            assert unsupported in reply, (version, reply[:400])
            assert reply.endswith("</stream:stream>"), (version, reply[-100:])
        # RFC 6120 §4.7.5: a higher minor version (and leading zeros) is still 1.x: served as 1.0
        for version in (b"version='1.0'", b"version='1.5'", b"version='01.0'"):
            reply = raw_plain(port, header(version=version))
            assert "<stream:features>" in reply and "unsupported-version" not in reply, (version, reply[:400])
            assert "version='1.0'" in reply, reply[:300]


# ---- guests and accounts -----------------------------------------------------------------------

def irc_login(port, nick, password=None):
    c = h.LineClient(port)
    if password:
        c.send(f"PASS {password}")
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :{nick}")
    c.expect(rf" 001 {nick} ")
    return c


def names_of(c, nick, chan):
    """The NAMES entries of chan as the client `nick` sees them."""
    c.send(f"NAMES {chan}")
    entries = []
    while True:
        line = c.expect(rf" (353|366) {nick} ")
        if " 366 " in line:
            return entries
        entries += line.split(" :", 1)[1].split()


def test_guest_taking_a_departed_guests_nick_gets_no_status():
    with h.Parleyd(h.config(irc=True)) as d:
        port = d.ports["irc"]
        first = irc_login(port, "opguy")
        first.send("JOIN #x")
        first.expect(r" 366 opguy #x ")
        assert "@opguy" in names_of(first, "opguy", "#x")
        stayer = irc_login(port, "stayer")
        stayer.send("JOIN #x")  # keeps #x alive
        stayer.expect(r" 366 stayer #x ")
        first.send("QUIT :bye")
        stayer.expect(r"^:opguy!\S+ QUIT ")
        first.close()
        # a new guest takes the nick and joins: no @, and no channel operator rights
        second = irc_login(port, "opguy")
        second.send("JOIN #x")
        second.expect(r" 366 opguy #x ")
        entries = names_of(second, "opguy", "#x")
        assert "opguy" in entries and "@opguy" not in entries, entries
        second.send("MODE #x +o opguy")
        second.expect(r" 482 opguy #x ")
        second.send("MODE #x +i")
        second.expect(r" 482 opguy #x ")
        second.send("KICK #x stayer :mine now")
        second.expect(r" 482 opguy #x ")
        assert "@stayer" not in names_of(stayer, "stayer", "#x")  # status did not move either
        for c in (second, stayer):
            c.send("QUIT")
            c.close()


def test_account_remove_takes_roles_and_roster_entries():
    if slixmpp is None:
        print("SKIP: slixmpp missing")
        return

    class Client(xc.BaseClient):
        def __init__(self, jid, password):
            super().__init__(jid, password)
            self.presences = asyncio.Queue()
            self.add_event_handler("presence", lambda p: self.presences.put_nowait(p))
            self.add_event_handler("presence_subscribe",
                                   lambda p: self.send_presence(pto=p["from"].bare, ptype="subscribed"))

        async def _start(self, event):
            await self.get_roster()
            await super()._start(event)

    def xmpp(user, password):
        return xc.login(Client, d.ports["xmpp"], f"{user}@localhost/t", password, timeout=20)

    def account(*args, password=None):
        r = h.run_parleyd("account", *args, "--config", str(d.config_path), cwd=d.workdir,
                          input=None if password is None else password + "\n")
        assert r.returncode == 0, (args, r.stdout, r.stderr)

    with h.Parleyd(h.config(irc=True, xmpp=True, accounts=[("bob", "bobpw")])) as d:
        account("add", "alice", password="alicepw")
        # alice and bob have each other in their rosters
        alice = xmpp("alice", "alicepw")
        bob = xmpp("bob", "bobpw")
        alice.send_presence(pto="bob@localhost", ptype="subscribe")
        xc.run(next_where(alice.presences, lambda p: p["from"].bare == "bob@localhost" and p["type"] == "available"),
               20)
        bob.send_presence(pto="alice@localhost", ptype="subscribe")
        xc.run(next_where(bob.presences, lambda p: p["from"].bare == "alice@localhost" and p["type"] == "available"),
               20)
        assert "bob@localhost" in alice.client_roster and "alice@localhost" in bob.client_roster
        # alice opens #x (owner); bob stays in it
        ia = irc_login(d.ports["irc"], "alice", "alice:alicepw")
        ia.send("JOIN #x")
        ia.expect(r" 366 alice #x ")
        assert "@alice" in names_of(ia, "alice", "#x")
        ib = irc_login(d.ports["irc"], "bob", "bob:bobpw")
        ib.send("JOIN #x")
        ib.expect(r" 366 bob #x ")
        ia.send("QUIT")
        ib.expect(r"^:alice!\S+ QUIT ")
        ia.close()
        xc.bye(alice, bob)

        # the account goes (while parleyd runs, as an operator would do it) and comes back
        account("remove", "alice")
        account("add", "alice", password="newpw")

        ia = irc_login(d.ports["irc"], "alice", "alice:newpw")
        ia.send("JOIN #x")
        ia.expect(r" 366 alice #x ")
        entries = names_of(ia, "alice", "#x")
        assert "alice" in entries and "@alice" not in entries, entries
        ia.send("MODE #x +o alice")
        ia.expect(r" 482 alice #x ")
        ia.send("QUIT")
        ia.close()
        alice = xmpp("alice", "newpw")
        assert len(alice.client_roster) == 0 or list(alice.client_roster.keys()) == ["alice@localhost"], \
            dict(alice.client_roster)
        bob = xmpp("bob", "bobpw")
        assert "alice@localhost" not in bob.client_roster, dict(bob.client_roster)
        xc.bye(alice, bob)
        ib.send("QUIT")
        ib.close()


# ---- XMPP nicks that IRC cannot show as they are ------------------------------------------------

def test_xmpp_nick_with_a_space_is_shown_to_irc_as_a_valid_nick():
    if slixmpp is None:
        print("SKIP: slixmpp missing")
        return

    class Client(xc.BaseClient):
        def __init__(self, jid, password):
            super().__init__(jid, password, plugins=("xep_0045",))
            self.group = asyncio.Queue()
            self.chats = asyncio.Queue()
            self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))
            self.add_event_handler("message", lambda m: m["type"] in ("chat", "normal") and self.chats.put_nowait(m))

    room = "dev@conference.localhost"
    with h.Parleyd(h.config(irc=True, xmpp=True, accounts=[("jane", "janepw"), ("bob", "bobpw")])) as d:
        irc = xc.LoopIrc(d.ports["irc"], "ann")
        irc.send("JOIN #dev")
        irc.expect(r" 366 ann #dev ")
        jane = xc.login(Client, d.ports["xmpp"], "jane@localhost/x", "janepw", timeout=20)
        muc = jane.plugin["xep_0045"]
        xc.run(muc.join_muc_wait(room, "Jane Doe", maxstanzas=0), 20)
        irc.expect(r"^:Jane_Doe!jane@xmpp\.parley JOIN #dev$")
        irc.send("NAMES #dev")
        names = irc.expect(r" 353 ann [=@*] #dev :")
        assert "Jane_Doe" in names.split(" :", 1)[1].split(), names
        # her messages come from the same derived nick
        jane.send_message(mto=room, mbody="hi from jane", mtype="groupchat")
        irc.expect(r"^:Jane_Doe!jane@xmpp\.parley PRIVMSG #dev :hi from jane$")
        # and a PRIVMSG to it reaches her XMPP client
        irc.send("PRIVMSG Jane_Doe :hello jane")
        m = xc.run(next_where(jane.chats, lambda m: m["body"] == "hello jane"), 20)
        assert m["from"].bare == "ann@localhost", m["from"]
        irc.send("WHOIS Jane_Doe")
        irc.expect(r" 311 ann Jane_Doe jane xmpp\.parley ")
        # XMPP occupants see her nick as it is
        bob = xc.login(Client, d.ports["xmpp"], "bob@localhost/x", "bobpw", timeout=20)
        bmuc = bob.plugin["xep_0045"]
        xc.run(bmuc.join_muc_wait(room, "Jane.Doe", maxstanzas=0), 20)
        assert "Jane Doe" in bmuc.get_roster(room), bmuc.get_roster(room)
        # a second member mapping to the same IRC nick is told apart by a suffix
        irc.expect(r"^:Jane_Doe1!bob@xmpp\.parley JOIN #dev$")
        bob.send_message(mto=room, mbody="hi from bob", mtype="groupchat")
        irc.expect(r"^:Jane_Doe1!bob@xmpp\.parley PRIVMSG #dev :hi from bob$")
        irc.send("PRIVMSG Jane_Doe1 :hello bob")
        xc.run(next_where(bob.chats, lambda m: m["body"] == "hello bob"), 20)
        # status changes name the derived nick; IRC users cannot take it while she is there
        irc.send("MODE #dev +v Jane_Doe")
        irc.expect(r"^:ann!\S+ MODE #dev \+v Jane_Doe$")
        irc.send("NICK Jane_Doe")
        irc.expect(r" 433 ann Jane_Doe ")
        # a nick change keeps one derived nick per member, and the part shows the new one
        jane.send_presence(pto=f"{room}/Jane Q")
        irc.expect(r"^:Jane_Doe!jane@xmpp\.parley NICK :?Jane_Q$")
        jane.send_message(mto=room, mbody="renamed", mtype="groupchat")
        irc.expect(r"^:Jane_Q!jane@xmpp\.parley PRIVMSG #dev :renamed$")
        muc.leave_muc(room, "Jane Q")
        irc.expect(r"^:Jane_Q!jane@xmpp\.parley PART #dev")
        xc.bye(jane, bob)
        irc.send("QUIT")


if __name__ == "__main__":
    h.run_tests(globals())
