"""One room used at once from XMPP and IRC: dev@conference.localhost is #dev.

A slixmpp client (python3-slixmpp) and a raw-socket IRC client each see the other's
messages, joins, parts and nick changes; an IRC NICK shows up as a XEP-0045 303 nick change
in every room the two share.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_xmpp_irc_room.py
"""
import asyncio
import logging
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

import slixmpp  # noqa: E402

logging.basicConfig(level=logging.DEBUG if os.environ.get("XMPP_DEBUG") else logging.CRITICAL)

LOOP = asyncio.new_event_loop()
asyncio.set_event_loop(LOOP)
MUC_USER = "{http://jabber.org/protocol/muc#user}"


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0045")
        self.group = asyncio.Queue()
        self.mucpres = asyncio.Queue()
        self.started = LOOP.create_future()
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))
        self.add_event_handler("groupchat_presence", lambda p: self.mucpres.put_nowait(p))
        self.add_event_handler("groupchat_subject", lambda m: self.group.put_nowait(m))

    async def _start(self, _):
        self.send_presence()
        if not self.started.done():
            self.started.set_result(True)


def run(coro, timeout=15):
    return LOOP.run_until_complete(asyncio.wait_for(coro, timeout))


async def next_where(queue, pred, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        item = await asyncio.wait_for(queue.get(), max(0.1, deadline - time.monotonic()))
        if pred(item):
            return item


def codes(p):
    return {int(s.get("code")) for s in p.xml.findall(f"{MUC_USER}x/{MUC_USER}status")}


def item(p):
    return p.xml.find(f"{MUC_USER}x/{MUC_USER}item")


class Irc:
    """A raw IRC client whose reads never block the asyncio loop for long: expect() polls
    the socket in short slices and lets slixmpp run in between."""

    def __init__(self, port, nick):
        self.c = h.LineClient(port, timeout=10)
        self.c.send(f"NICK {nick}")
        self.c.send(f"USER {nick} 0 * :Real {nick}")
        self.expect(rf" 001 {nick} ")
        self.expect(r" (376|422) ")

    def send(self, line):
        self.c.send(line)

    def expect(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.c.expect(pattern, timeout=0.05)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                LOOP.run_until_complete(asyncio.sleep(0.02))


def test_same_room_from_xmpp_and_irc():
    with h.Parleyd(h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw")])) as d:
        irc = Irc(d.ports["irc"], "ircbob")
        irc.send("JOIN #dev")
        irc.expect(r" 366 ircbob #dev ")
        irc.send("JOIN #ops")
        irc.expect(r" 366 ircbob #ops ")

        alice = Client("alice@localhost/x", "alicepw")
        alice.connect(("127.0.0.1", d.ports["xmpp"]))
        run(alice.started)
        muc = alice.plugin["xep_0045"]
        room, ops = "dev@conference.localhost", "ops@conference.localhost"

        # XMPP join: the IRC client sees JOIN; the XMPP client sees the IRC occupant.
        run(muc.join_muc_wait(room, "Alice", maxstanzas=0))
        irc.expect(r"^:Alice!\S+ JOIN #dev")
        assert "ircbob" in muc.get_roster(room), muc.get_roster(room)
        run(muc.join_muc_wait(ops, "Alice", maxstanzas=0))
        irc.expect(r"^:Alice!\S+ JOIN #ops")

        # messages both ways (and markup-looking text arrives verbatim)
        irc.send("PRIVMSG #dev :hello from irc <b>&amp;</b>")
        m = run(next_where(alice.group, lambda m: m["mucroom"] == room and m["body"].startswith("hello from irc")))
        assert m["body"] == "hello from irc <b>&amp;</b>", m["body"]
        assert m["from"].resource == "ircbob"
        alice.send_message(mto=room, mbody="hello from xmpp & co", mtype="groupchat")
        irc.expect(r"^:Alice!\S+ PRIVMSG #dev :hello from xmpp & co$")
        # /me both ways
        irc.send("PRIVMSG #dev :\x01ACTION waves\x01")
        m = run(next_where(alice.group, lambda m: "waves" in m["body"]))
        assert m["body"] == "/me waves", m["body"]
        alice.send_message(mto=room, mbody="/me bows", mtype="groupchat")
        irc.expect(r"^:Alice!\S+ PRIVMSG #dev :\x01ACTION bows\x01$")

        # XMPP nick change (XEP-0045 §7.6) is a NICK on IRC
        alice.send_presence(pto=room + "/Alicia")
        irc.expect(r"^:Alice!\S+ NICK :?Alicia$")
        # IRC NICK: a 303 nick change in every room the two share (§7.6 presence pair)
        irc.send("NICK ircbea")
        irc.expect(r"^:ircbob!\S+ NICK :?ircbea$")
        seen = set()
        while len(seen) < 2:
            p = run(next_where(alice.mucpres, lambda p: p["from"].resource == "ircbob" and p["type"] == "unavailable"))
            assert 303 in codes(p), p
            assert item(p).get("nick") == "ircbea", p
            seen.add(p["from"].bare)
        assert seen == {room, ops}, seen
        run(next_where(alice.mucpres, lambda p: p["from"].resource == "ircbea" and p["type"] != "unavailable"))

        # the IRC user created #dev and is its operator: its TOPIC is the room's subject
        irc.send("TOPIC #dev :today: bridges")
        m = run(next_where(alice.group, lambda m: m["mucroom"] == room and m["subject"] == "today: bridges"))
        assert m["from"].resource == "ircbea", m
        # IRC part with a message; XMPP sees the occupant leave with the status
        irc.send("PART #dev :see you")
        p = run(next_where(alice.mucpres, lambda p: p["from"].bare == room and p["from"].resource == "ircbea"
                           and p["type"] == "unavailable"))
        assert p["status"] == "see you", p
        assert 303 not in codes(p)
        # IRC joins again
        irc.send("JOIN #dev")
        p = run(next_where(alice.mucpres, lambda p: p["from"].bare == room and p["from"].resource == "ircbea"
                           and p["type"] != "unavailable"))
        assert item(p).get("role") in ("participant", "moderator"), p
        # XMPP part: the IRC client sees PART
        muc.leave_muc(room, "Alicia", "gone fishing")
        irc.expect(r"^:Alicia!\S+ PART #dev :?gone fishing$")
        irc.send("QUIT :bye")
        p = run(next_where(alice.mucpres, lambda p: p["from"].bare == ops and p["type"] == "unavailable"))
        assert p["status"].endswith("bye"), p  # IRC convention: "Quit: bye"
        alice.disconnect()
        LOOP.run_until_complete(asyncio.sleep(0.2))
        irc.c.close()


if __name__ == "__main__":
    h.run_tests(globals())
