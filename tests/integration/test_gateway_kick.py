"""An XMPP moderator kicks an IRC user through the gateway (issue 11: kicks both ways).

A real IRC network (ngircd on loopback), raw IRC clients and a slixmpp user of Parley in
#test%local@irc.localhost. XEP-0045 §8.2's kick (a muc#admin iq setting role 'none')
becomes a KICK on the user's own connection and is answered when the server shows it: a
result, or <forbidden/> when the IRC server says the user is no channel operator (482), or
<item-not-found/> for a nick that is not in the room. The kicked user's unavailable
presence carries 307 and the reason; a reason with CR/LF stays one IRC line.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_kick.py
"""
import asyncio
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402
from test_irc_gateway import ROOM, Client, Ngircd, gateway_config, irc_user_in  # noqa: E402
from xmpp_client import codes, item, next_where, run  # noqa: E402

xc.configure_logging()


def kick(alice, nick, reason=""):
    """The iq's answer: None for a result, else the error condition."""
    try:
        run(alice.plugin["xep_0045"].set_role(ROOM, nick, "none", reason=reason), timeout=10)
        return None
    except IqError as e:
        return e.iq["error"]["condition"]


def test_a_moderator_kicks_an_irc_user():
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = irc_user_in(irc_net.port, "bob", "#test")  # opened #test: its operator
            carol = irc_user_in(irc_net.port, "carol", "#test")
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")

            # not a channel operator: the server refuses (482), the moderator is told
            assert kick(alice, "carol", "no") == "forbidden"
            # not an occupant: refused at once, nothing reaches IRC
            assert kick(alice, "nobody") == "item-not-found"
            assert kick(alice, "carol\r\nQUIT :x") == "item-not-found"
            # a subject change the server refuses (+t, not an operator: 482) is a message
            # error <forbidden/> with the message's id (XEP-0045 §8.1); it was dropped silently
            bob.send("MODE #test +t")
            bob.send("PING :t-set")
            bob.expect(r" PONG \S+ :?t-set")
            errors = asyncio.Queue()
            alice.add_event_handler("message_error", lambda m: errors.put_nowait(m))
            ask = alice.make_message(mto=ROOM, mtype="groupchat", msubject="alice's topic")
            ask["id"] = "topic-1"
            ask.send()
            e = run(next_where(errors, lambda m: m["id"] == "topic-1"))
            assert e["error"]["condition"] == "forbidden" and e["from"].bare == ROOM, e

            bob.send("MODE #test +o alice")
            p = run(next_where(alice.mucpres, lambda p: p["from"].resource == "alice" and 110 in codes(p)
                               and item(p).get("role") == "moderator"))
            # kicked: a result, carol sees the KICK with the reason made one line, and the
            # room tells alice that carol was kicked (307) with the reason
            assert kick(alice, "carol", "enough\r\nQUIT :pwned") is None
            line = carol.expect(r"^:alice!\S+ KICK #test carol ")
            assert line.endswith(" :enough QUIT :pwned"), line
            # an operator's subject change goes through (its echo ends it: no error)
            ask = alice.make_message(mto=ROOM, mtype="groupchat", msubject="the op's topic")
            ask["id"] = "topic-2"
            ask.send()
            bob.expect(r"^:alice!\S+ TOPIC #test :the op's topic$")
            p = run(next_where(alice.mucpres, lambda p: p["from"].resource == "carol" and p["type"] == "unavailable"))
            assert 307 in codes(p), p
            # the whole thing was one KICK: alice is still in #test, nothing else was sent
            bob.send("NAMES #test")
            names = bob.expect(r" 353 bob [=*@] #test :")
            assert "alice" in names and "carol" not in names, names
            assert not any(re.match(r":alice!\S+ QUIT ", l) for l in bob.c.lines), bob.c.lines[-5:]
            # its echo ended its wait: the next refusal answers the next change, by its id
            bob.send("MODE #test -o alice")
            run(next_where(alice.mucpres, lambda p: p["from"].resource == "alice" and 110 in codes(p)
                           and item(p).get("role") != "moderator"))
            ask = alice.make_message(mto=ROOM, mtype="groupchat", msubject="refused again")
            ask["id"] = "topic-3"
            ask.send()
            e = run(next_where(errors, lambda m: True))
            assert e["id"] == "topic-3" and e["error"]["condition"] == "forbidden", e
            bob.send("MODE #test +o alice")
            run(next_where(alice.mucpres, lambda p: p["from"].resource == "alice" and 110 in codes(p)
                           and item(p).get("role") == "moderator"))
            # kicking oneself is answered too, and one is out of the room (307 with 110)
            assert kick(alice, "alice", "me") is None
            p = run(next_where(alice.mucpres, lambda p: p["from"].resource == "alice" and p["type"] == "unavailable"))
            assert {307, 110} <= codes(p), p
            xc.bye(alice)
            bob.c.close()
            carol.c.close()
    finally:
        irc_net.close()


if __name__ == "__main__":
    h.run_tests(globals())
