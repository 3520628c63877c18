"""Room changes made on one protocol are seen correctly on the other (issue 10).

XMPP -> IRC: XEP-0045 role grants (participant = voice, moderator), the admin affiliation
(operator), muc#roomconfig changesubject/moderatedroom, kick (role none) and ban
(affiliation outcast) show in IRC as MODE / KICK lines and in NAMES.
IRC -> XMPP: MODE +v/+o/-o/+t/-t/+b and KICK show in XMPP as occupant presence with the new
role/affiliation, status 104 configuration notices, status 307 and a refused join.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_room_changes.py
"""
import asyncio
import os
import re
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, MUC_USER, bye, codes, item, next_where, run  # noqa: E402

from slixmpp.exceptions import PresenceError  # noqa: E402

xc.configure_logging()

ACCOUNTS = [("alice", "alicepw"), ("bob", "bobpw")]


class Client(xc.BaseClient):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0045", "xep_0030", "xep_0004"))
        self.config = asyncio.Queue()
        self.mucpres = asyncio.Queue()
        self.add_event_handler("groupchat_config_status", lambda m: self.config.put_nowait(m))
        self.add_event_handler("groupchat_presence", lambda p: self.mucpres.put_nowait(p))


Irc = xc.LoopIrc


def login(port, user, password):
    return xc.login(Client, port, f"{user}@localhost/r", password)


def join(c, room, nick):
    return run(c.plugin["xep_0045"].join_muc_wait(room, nick, maxstanzas=0))


def config_form(c, **fields):
    form = c.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/muc#roomconfig")
    for k, v in fields.items():
        form.add_field(var=f"muc#roomconfig_{k}", value=v)
    return form


def presence_of(c, room, nick, role, affiliation):
    """The next occupant presence of nick showing role and affiliation (earlier ones, such as
    the join's, are skipped; a missing one times out)."""
    return run(next_where(c.mucpres, lambda p: p["from"].bare == room and p["from"].resource == nick
                          and p["type"] != "unavailable" and item(p).get("role") == role
                          and item(p).get("affiliation") == affiliation))


def admin_item(c, room, **attrs):
    """A muc#admin item set by hand (slixmpp insists on a JID for outcasts)."""
    iq = c.make_iq_set(ito=room)
    q = ET.Element("{http://jabber.org/protocol/muc#admin}query")
    ET.SubElement(q, "{http://jabber.org/protocol/muc#admin}item", attrs)
    iq.append(q)
    return run(iq.send())


def test_changes_from_xmpp_show_on_irc():
    with h.Parleyd(h.config(irc=True, xmpp=True, accounts=ACCOUNTS)) as d:
        alice = login(d.ports["xmpp"], "alice", "alicepw")
        muc = alice.plugin["xep_0045"]
        room, chan = "dev@conference.localhost", "#dev"
        join(alice, room, "Alice")  # creates the room: owner
        bob = Irc(d.ports["irc"], "ircbob")
        dan = Irc(d.ports["irc"], "ircdan")
        for c in (bob, dan):
            c.send(f"JOIN {chan}")
            c.expect(rf" 366 {c.nick} {chan} ")
        assert bob.names(chan) == {"Alice": "@", "ircbob": "", "ircdan": ""}, bob.names(chan)

        # roomconfig: moderated and "occupants may change the subject" are MODE +m / -t
        run(muc.set_room_config(room, config_form(alice, moderatedroom=True, changesubject=True)))
        bob.expect(rf"^:Alice!\S+ MODE {chan} \+m-t$")
        bob.send(f"TOPIC {chan} :anyone may")
        bob.expect(rf" TOPIC {chan} :anyone may$")
        run(muc.set_room_config(room, config_form(alice, changesubject=False)))
        bob.expect(rf"^:Alice!\S+ MODE {chan} \+t$")
        bob.send(f"TOPIC {chan} :not now")
        bob.expect(rf" 482 ircbob {chan} ")
        # the unvoiced IRC users are visitors now: they cannot speak
        bob.send(f"PRIVMSG {chan} :muted?")
        bob.expect(rf" 404 ircbob {chan} ")

        # voice (visitor -> participant, XEP-0045 §8.3) is +v
        run(muc.set_role(room, "ircbob", "participant"))
        bob.expect(rf"^:Alice!\S+ MODE {chan} \+v ircbob$")
        dan.expect(rf"^:Alice!\S+ MODE {chan} \+v ircbob$")
        assert bob.names(chan)["ircbob"] == "+"
        bob.send(f"PRIVMSG {chan} :now I speak")
        dan.expect(rf"PRIVMSG {chan} :now I speak$")
        # revoking voice (role visitor) is -v
        run(muc.set_role(room, "ircbob", "visitor"))
        bob.expect(rf"^:Alice!\S+ MODE {chan} -v ircbob$")
        assert bob.names(chan)["ircbob"] == ""
        # the moderator role is +h (Biboumi's table: member/moderator shows %)
        run(muc.set_role(room, "ircbob", "moderator"))
        bob.expect(rf"^:Alice!\S+ MODE {chan} \+h ircbob$")
        assert bob.names(chan)["ircbob"] == "%"
        # the admin affiliation is channel operator: +o
        run(muc.set_affiliation(room, "admin", nick="ircbob"))
        line = bob.expect(rf"^:Alice!\S+ MODE {chan} ")
        assert re.search(r"MODE #dev (-h\+o ircbob ircbob|\+o-h ircbob ircbob|\+o ircbob)$", line), line
        assert bob.names(chan)["ircbob"] == "@"
        # IRC's MODE query agrees
        bob.send(f"MODE {chan}")
        modes = bob.expect(rf" 324 ircbob {chan} ").split()[4]
        assert "m" in modes and "t" in modes, modes

        # kick (role none) is KICK; NAMES no longer lists the kicked
        run(muc.set_role(room, "ircdan", "none", reason="out"))
        bob.expect(rf"^:Alice!\S+ KICK {chan} ircdan :out$")
        dan.expect(rf"^:Alice!\S+ KICK {chan} ircdan :out$")
        assert "ircdan" not in bob.names(chan)
        dan.send(f"JOIN {chan}")
        dan.expect(rf" 366 ircdan {chan} ")  # a kick is not a ban
        bob.expect(rf"^:ircdan!\S+ JOIN {chan}")
        # ban (affiliation outcast): removed at once, cannot come back
        admin_item(alice, room, nick="ircdan", affiliation="outcast")
        bob.expect(rf"^:Alice!\S+ MODE {chan} \+b \*!ircdan@\*$")  # a ban by address is +b
        bob.expect(rf"^:Alice!\S+ KICK {chan} ircdan ")
        bob.send(f"MODE {chan} b")
        bob.expect(rf" 367 ircbob {chan} \*!ircdan@\*")
        bob.expect(rf" 368 ircbob {chan} ")
        assert "ircdan" not in bob.names(chan)
        dan.send(f"JOIN {chan}")
        dan.expect(rf" 474 ircdan {chan} ")
        bye(alice)
        LOOP.run_until_complete(asyncio.sleep(0.2))
        bob.c.close()
        dan.c.close()


def test_changes_from_irc_show_on_xmpp():
    with h.Parleyd(h.config(irc=True, xmpp=True, accounts=ACCOUNTS)) as d:
        op = Irc(d.ports["irc"], "ircop")
        chan, room = "#ops", "ops@conference.localhost"
        op.send(f"JOIN {chan}")  # creates the room: channel operator
        op.expect(rf" 366 ircop {chan} ")
        alice = login(d.ports["xmpp"], "alice", "alicepw")
        bob = login(d.ports["xmpp"], "bob", "bobpw")
        join(alice, room, "Alice")
        op.expect(rf"^:Alice!\S+ JOIN {chan}")
        join(bob, room, "Bob")
        op.expect(rf"^:Bob!\S+ JOIN {chan}")

        # +v: Alice's occupant presence again, as a member participant
        op.send(f"MODE {chan} +v Alice")
        op.expect(rf"^:ircop!\S+ MODE {chan} \+v Alice$")
        presence_of(bob, room, "Alice", "participant", "member")
        p = presence_of(alice, room, "Alice", "participant", "member")
        assert 110 in codes(p), p
        # +o: moderator with the admin affiliation
        op.send(f"MODE {chan} +o Alice")
        presence_of(bob, room, "Alice", "moderator", "admin")
        # -o: back to a voiced member participant
        op.send(f"MODE {chan} -o Alice")
        presence_of(bob, room, "Alice", "participant", "member")

        # -t / +t: configuration changes (status 104) and the room's form agrees
        op.send(f"MODE {chan} -t")
        m = run(next_where(bob.config, lambda m: m["from"].bare == room))
        assert m.xml.find(f"{MUC_USER}x/{MUC_USER}status[@code='104']") is not None, m
        bob.plugin["xep_0045"].set_subject(room, "open subject")
        op.expect(rf"^:Bob!\S+ TOPIC {chan} :open subject$")
        op.send(f"MODE {chan} +t")
        run(next_where(bob.config, lambda m: m["from"].bare == room))
        # a ban mask by nick pattern keeps matching XMPP occupants out
        op.send(f"MODE {chan} +b Troll*!*@*")
        op.expect(rf"^:ircop!\S+ MODE {chan} \+b Troll\*!\*@\*$")
        op.send(f"MODE {chan} b")
        op.expect(rf" 367 ircop {chan} Troll\*!\*@\*")
        bob.plugin["xep_0045"].leave_muc(room, "Bob")
        op.expect(rf"^:Bob!\S+ PART {chan}")
        try:
            join(bob, room, "Trolly")
            raise AssertionError("a banned nick joined")
        except PresenceError as e:
            assert e.condition == "forbidden", e.condition
        join(bob, room, "Bob")
        op.expect(rf"^:Bob!\S+ JOIN {chan}")

        # KICK: unavailable presence with 307 (and 110 to the kicked)
        op.send(f"KICK {chan} Bob :behave")
        p = run(next_where(bob.mucpres, lambda p: p["type"] == "unavailable" and p["from"].resource == "Bob"))
        assert {307, 110} <= codes(p), p
        p = run(next_where(alice.mucpres, lambda p: p["type"] == "unavailable" and p["from"].resource == "Bob"
                           and 307 in codes(p)))
        assert item(p).get("role") == "none", p
        bye(alice, bob)
        LOOP.run_until_complete(asyncio.sleep(0.2))
        op.c.close()


if __name__ == "__main__":
    h.run_tests(globals())
