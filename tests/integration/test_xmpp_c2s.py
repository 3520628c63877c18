"""XMPP c2s end to end with slixmpp (python3-slixmpp): STARTTLS + SCRAM login, messages,
presence subscriptions, rooms, offline messages, XEP-0198 resumption, malformed streams.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_xmpp_c2s.py
"""
import asyncio
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, bye, next_where  # noqa: E402

xc.configure_logging()

ACCOUNTS = [("alice", "alicepw"), ("bob", "bobpw"), ("carol", "carolpw")]


class Client(xc.BaseClient):
    def __init__(self, jid, password, mech="SCRAM-SHA-256", plugins=()):
        super().__init__(jid, password, plugins=plugins, sasl_mech=mech)
        self.messages = asyncio.Queue()
        self.group = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.auto_accept = True
        self.add_event_handler("failed_auth", lambda e: self.started.done() or self.started.set_exception(
            AssertionError("authentication failed")))
        self.add_event_handler("message", lambda m: self.messages.put_nowait(m))
        self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))
        self.add_event_handler("presence", lambda p: self.presences.put_nowait(p))
        self.add_event_handler("presence_subscribe", self._subscribe)

    async def _start(self, event):
        await self.get_roster()
        await super()._start(event)

    def _subscribe(self, p):
        if self.auto_accept:
            self.send_presence(pto=p["from"].bare, ptype="subscribed")


def run(coro, timeout=20):
    return xc.run(coro, timeout)


def login(port, user, password, **kw):
    return xc.login(Client, port, f"{user}@localhost/test", password, timeout=20, **kw)


def test_login_messages_and_presence():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw", mech="SCRAM-SHA-256")
        bob = login(port, "bob", "bobpw", mech="SCRAM-SHA-1")
        assert alice.is_connected_secure if hasattr(alice, "is_connected_secure") else True
        # messages both ways
        alice.send_message(mto="bob@localhost", mbody="hello bob & <friends>", mtype="chat")
        m = run(next_where(bob.messages, lambda m: m["body"]))
        assert m["body"] == "hello bob & <friends>", m
        assert m["from"].bare == "alice@localhost"
        bob.send_message(mto="alice@localhost/test", mbody="hi alice", mtype="chat")
        m = run(next_where(alice.messages, lambda m: m["body"]))
        assert m["body"] == "hi alice"
        # subscription: alice asks, bob (auto) accepts; alice then sees bob's presence changes
        alice.send_presence(pto="bob@localhost", ptype="subscribe")
        run(next_where(alice.presences, lambda p: p["from"].bare == "bob@localhost" and p["type"] == "available"))
        assert alice.client_roster["bob@localhost"]["subscription"] in ("to", "both")
        bob.send_presence(pshow="away", pstatus="lunch")
        p = run(next_where(alice.presences, lambda p: p["from"].bare == "bob@localhost" and p["show"] == "away"))
        assert p["status"] == "lunch"
        # and the reverse direction
        bob.send_presence(pto="alice@localhost", ptype="subscribe")
        run(next_where(bob.presences, lambda p: p["from"].bare == "alice@localhost" and p["type"] == "available"))
        bye(alice, bob)


def test_offline_message_after_login():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw")
        alice.send_message(mto="carol@localhost", mbody="while you were out", mtype="chat")
        LOOP.run_until_complete(asyncio.sleep(0.5))
        carol = login(port, "carol", "carolpw", mech="PLAIN")
        m = run(next_where(carol.messages, lambda m: m["body"]))
        assert m["body"] == "while you were out"
        assert m["from"].bare == "alice@localhost"
        bye(alice, carol)


def test_room_join_and_talk():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw", plugins=["xep_0045"])
        bob = login(port, "bob", "bobpw", plugins=["xep_0045"])
        room = "dev@conference.localhost"
        run(alice.plugin["xep_0045"].join_muc_wait(room, "Alice", maxstanzas=0))
        alice.send_message(mto=room, mbody="before bob", mtype="groupchat")
        run(next_where(alice.group, lambda m: m["body"] == "before bob"))
        run(bob.plugin["xep_0045"].join_muc_wait(room, "Bob", maxstanzas=5))
        # history on join
        run(next_where(bob.group, lambda m: m["body"] == "before bob"))
        bob.send_message(mto=room, mbody="hello room", mtype="groupchat")
        m = run(next_where(alice.group, lambda m: m["body"] == "hello room"))
        assert m["from"].resource == "Bob"
        assert "Bob" in alice.plugin["xep_0045"].get_roster(room)
        # private message through the room
        alice.send_message(mto=room + "/Bob", mbody="psst", mtype="chat")
        m = run(next_where(bob.messages, lambda m: m["body"] == "psst"))
        assert m["from"].resource == "Alice"
        bye(alice, bob)


def test_stream_management_resume():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw")
        bob = login(port, "bob", "bobpw", plugins=["xep_0198"])
        run(asyncio.sleep(0.5))
        sm = bob.plugin["xep_0198"]
        assert sm.sm_id, "stream management not enabled"
        # The connection drops without a stream close; messages sent meanwhile are queued.
        bob.transport.abort()
        run(asyncio.sleep(0.3))
        for i in range(3):
            alice.send_message(mto="bob@localhost/test", mbody=f"queued {i}", mtype="chat")
        run(asyncio.sleep(0.5))
        resumed = LOOP.create_future()
        bob.add_event_handler("session_resumed", lambda _: resumed.done() or resumed.set_result(True))
        bob.connect(("127.0.0.1", port))
        run(resumed)
        got = []
        while len(got) < 3:
            m = run(next_where(bob.messages, lambda m: m["body"].startswith("queued")))
            got.append(m["body"])
        assert got == ["queued 0", "queued 1", "queued 2"], got
        bye(alice, bob)


def test_unacked_messages_go_offline_when_the_session_is_not_resumed():
    # XEP-0198 §5: a session that is never resumed must not take its unacknowledged
    # messages with it; they reach the user at the next login (offline storage).
    cfg = h.config(xmpp=True, accounts=ACCOUNTS, xmpp_extra={})
    cfg["xmpp"]["c2s"]["resume_timeout"] = 1
    with h.Parleyd(cfg) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw")
        bob = login(port, "bob", "bobpw", plugins=["xep_0198"])
        run(asyncio.sleep(0.5))
        assert bob.plugin["xep_0198"].sm_id, "stream management not enabled"
        bob.transport.abort()
        run(asyncio.sleep(0.3))
        alice.send_message(mto="bob@localhost/test", mbody="to the resource", mtype="chat")
        alice.send_message(mto="bob@localhost", mbody="to the bare jid", mtype="chat")
        alice.send_message(mto="bob@localhost", mtype="chat")  # a body-less notification: not kept
        run(asyncio.sleep(2.5))  # resume_timeout passes; the session ends unresumed
        bob2 = login(port, "bob", "bobpw")
        got = set()
        while len(got) < 2:
            m = run(next_where(bob2.messages, lambda m: m["body"] in ("to the resource", "to the bare jid")))
            got.add(m["body"])
            assert m["delay"]["stamp"] is not None, "a redelivered message carries its original time"
        bye(alice, bob2)


def raw_stream(port, payload):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(payload)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data.decode("utf-8", "replace")


HEADER = (b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")


def test_malformed_streams_closed_with_the_right_error():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice = login(port, "alice", "alicepw")
        bob = login(port, "bob", "bobpw")
        cases = [
            (HEADER + b"<!-- comment -->", "restricted-xml"),
            (b"<!DOCTYPE x [<!ENTITY a 'b'>]>", "restricted-xml"),
            (HEADER + b"<message><body>&xxe;</body></message>", "restricted-xml"),
            (HEADER + b"<message><body>\xc3\x28</body></message>", "not-well-formed"),
            (HEADER + b"<message>\x00</message>", "not-well-formed"),
            (HEADER + b"<message></presence>", "not-well-formed"),
            (HEADER + b"<a>" * 100, "policy-violation"),
            (HEADER + b"<message><body>" + b"x" * 300000 + b"</body></message>", "policy-violation"),
            (b"<stream:stream to='elsewhere' xmlns='jabber:client' "
             b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", "host-unknown"),
            (HEADER + b"<message to='bob@localhost'><body>no tls</body></message>", "policy-violation"),
        ]
        for payload, cond in cases:
            reply = raw_stream(port, payload)
            assert f"<{cond} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in reply, (cond, reply[:400])
            assert reply.endswith("</stream:stream>"), reply[-100:]
        # the logged-in sessions were not affected
        alice.send_message(mto="bob@localhost", mbody="still here", mtype="chat")
        run(next_where(bob.messages, lambda m: m["body"] == "still here"))
        bye(alice, bob)


def test_direct_tls_listener():
    """XEP-0368: a "tls:" listener speaks TLS from the first byte; no STARTTLS offered inside."""
    tls_port = h.free_port()
    cfg = h.config(xmpp=True, accounts=ACCOUNTS)
    cfg["xmpp"]["c2s"]["listen"].append(f"tls:127.0.0.1:{tls_port}")
    with h.Parleyd(cfg) as d:
        d.wait_for_log(rf"c2s listening on tls:127\.0\.0\.1:{tls_port}")
        alice = Client("alice@localhost/direct", "alicepw")
        alice.connect(("127.0.0.1", tls_port), use_ssl=True)
        run(alice.started)
        bob = login(d.ports["xmpp"], "bob", "bobpw")  # STARTTLS on the other listener
        alice.send_message(mto="bob@localhost", mbody="over direct tls", mtype="chat")
        m = run(next_where(bob.messages, lambda m: m["body"] == "over direct tls"))
        assert m["from"] == "alice@localhost/direct"
        bob.send_message(mto="alice@localhost/direct", mbody="back", mtype="chat")
        run(next_where(alice.messages, lambda m: m["body"] == "back"))
        # raw: the features inside direct TLS offer SASL, not STARTTLS
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=5),
                             server_hostname="localhost") as s:
            s.sendall(HEADER)
            data = b""
            while b"</stream:features>" not in data:
                chunk = s.recv(4096)
                assert chunk, data
                data += chunk
            assert b"<mechanisms" in data and b"starttls" not in data, data
        # plain XML on the TLS port is not a stream: the connection just ends
        reply = raw_stream(tls_port, HEADER)
        assert "<stream:features" not in reply, reply[:200]
        bye(alice, bob)


if __name__ == "__main__":
    h.run_tests(globals())
