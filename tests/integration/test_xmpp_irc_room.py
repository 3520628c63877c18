"""One room used at once from XMPP and IRC: dev@conference.localhost is #dev.

A slixmpp client (python3-slixmpp) and a raw-socket IRC client each see the other's
messages, joins, parts and nick changes; an IRC NICK shows up as a XEP-0045 303 nick change
in every room the two share.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_xmpp_irc_room.py
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, codes, item, next_where, run  # noqa: E402

xc.configure_logging()


class Client(xc.BaseClient):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0045",))
        self.group = asyncio.Queue()
        self.mucpres = asyncio.Queue()
        self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))
        self.add_event_handler("groupchat_presence", lambda p: self.mucpres.put_nowait(p))
        self.add_event_handler("groupchat_subject", lambda m: self.group.put_nowait(m))


Irc = xc.LoopIrc


def test_same_room_from_xmpp_and_irc():
    with h.Parleyd(h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw")])) as d:
        irc = Irc(d.ports["irc"], "ircbob")
        irc.send("JOIN #dev")
        irc.expect(r" 366 ircbob #dev ")
        irc.send("JOIN #ops")
        irc.expect(r" 366 ircbob #ops ")

        alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
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
