"""The gateway keeps an XMPP user's IRC nick true on both sides (issue 11).

A real IRC network (ngircd on loopback), a slixmpp user of Parley in #test%local@irc.localhost
and raw IRC clients. Checked:
- at a reconnection, a ghost of the old connection still holds the user's nick: the puppet
  registers with another, the user's client is told (XEP-0045 §7.6: 303 and 110) rather
  than shown itself leaving, and the nick is taken back when the ghost quits;
- a nick change the user asked for is kept across a reconnection, one asked for while the
  link is down is taken at the reconnection and told, and one already in use is refused
  with <conflict/> while the occupant keeps its nick; a rename by a raw NICK command is
  the nick from then on (not taken back);
- a first registration where every nick is taken is a <conflict/>, not <not-authorized/>.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_nicks.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_gateway_component import NgircdFlood  # noqa: E402
from test_irc_gateway import GW, ROOM, Client, Ngircd, drain, gateway_config, irc_user_in  # noqa: E402
from xmpp_client import codes, item, next_where, run  # noqa: E402

xc.configure_logging()

def muc_user(port):
    """alice; presence errors from the room come as XEP-0045 ones (with the muc <x/>)."""
    alice = xc.login(Client, port, "alice@localhost/x", "alicepw")
    alice.add_event_handler(f"muc::{ROOM}::presence-error", alice.errors.put_nowait)
    return alice


def from_nick(p, nick):
    return p["from"].bare == ROOM and p["from"].resource == nick


def self_renamed(alice, old, new):
    """alice's client is told its nick changed from old to new (XEP-0045 §7.6)."""
    p = run(next_where(alice.mucpres, lambda p: from_nick(p, old) and p["type"] == "unavailable"), timeout=20)
    assert {303, 110} <= codes(p) and item(p).get("nick") == new, p
    p = run(next_where(alice.mucpres, lambda p: from_nick(p, new) and p["type"] != "unavailable"))
    assert 110 in codes(p), p
    return p


def kill_and_restart(irc_net, d, alice, occupy=()):
    """ngircd goes away and comes back on the same port; the nicks in `occupy` are taken
    (raw clients in #test) before the puppet is back. Returns bob (in #test again) and them."""
    drain(alice.mucpres)  # what alice is told from here on is about the reconnection
    irc_net.kill()
    d.wait_for_log(r"gateway: alice@localhost lost 127\.0\.0\.1", timeout=10)
    mark = d.mark()
    # A failed attempt: the next is at least the backoff floor (1 s) away, time enough for
    # the raw clients to be in before the puppet.
    d.wait_for_log(r"gateway: alice@localhost -> 127\.0\.0\.1:\d+: .*retry in", timeout=15, after=mark)
    irc_net.start()
    taken = [irc_user_in(irc_net.port, nick, "#test") for nick in occupy]
    return irc_user_in(irc_net.port, "bob", "#test"), taken


def test_a_ghost_holding_the_nick_at_reconnection():
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = irc_user_in(irc_net.port, "bob", "#test")
            alice = muc_user(d.ports["xmpp"])
            run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")
            bob.c.close()

            bob, (ghost,) = kill_and_restart(irc_net, d, alice, occupy=("alice",))
            line = bob.expect(r"^:alice_+!\S+ JOIN :?#test", timeout=20)
            fallback = line[1:line.index("!")]
            # told as a nick change (with 210: not the nick asked for), not as leaving; the
            # ghost is somebody else in the room now
            got = {}

            def seen(p):
                key = ("old" if p["type"] == "unavailable" else "ghost") if from_nick(p, "alice") else \
                      "new" if from_nick(p, fallback) and p["type"] != "unavailable" else None
                if key:
                    got.setdefault(key, p)
                return len(got) == 3
            run(next_where(alice.mucpres, seen), timeout=20)
            assert {303, 110} <= codes(got["old"]) and item(got["old"]).get("nick") == fallback, got["old"]
            assert {110, 210} <= codes(got["new"]), got["new"]
            assert 110 not in codes(got["ghost"]), got["ghost"]
            alice.send_message(mto=ROOM, mbody="still me", mtype="groupchat")
            bob.expect(rf"^:{fallback}!\S+ PRIVMSG #test :still me$")
            m = run(next_where(alice.group, lambda m: m["body"] == "still me"))
            assert m["from"].resource == fallback, m

            # the ghost leaves: the nick is taken back at once, and the client told
            ghost.send("QUIT :ping timeout")
            ghost.c.close()
            bob.expect(rf"^:{fallback}!\S+ NICK :?alice$", timeout=10)
            p = self_renamed(alice, fallback, "alice")
            assert 210 not in codes(p), p
            alice.send_message(mto=ROOM, mbody="me again", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :me again$")
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_a_nick_change_is_kept_refused_or_taken_at_reconnection():
    irc_net = Ngircd().start()
    try:
        config = gateway_config(irc_net.port)
        config["irc"].update({"ping_interval": 5, "ping_timeout": 60})  # a keepalive check every 2.5 s
        with h.Parleyd(config) as d:
            bob = irc_user_in(irc_net.port, "bob", "#test")
            carol = irc_user_in(irc_net.port, "carol", "#test")
            alice = muc_user(d.ports["xmpp"])
            run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")

            # a nick in use: refused with <conflict/> from the nick asked for; alice stays alice
            alice.send_presence(pto=f"{ROOM}/carol")
            p = run(next_where(alice.errors, lambda p: from_nick(p, "carol")))
            assert p["error"]["condition"] == "conflict", p
            alice.send_message(mto=ROOM, mbody="as alice", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :as alice$")

            # a free one: changed, and kept across a reconnection without a word
            alice.send_presence(pto=f"{ROOM}/alicia")
            bob.expect(r"^:alice!\S+ NICK :?alicia$")
            self_renamed(alice, "alice", "alicia")
            bob.c.close()
            carol.c.close()
            bob, _ = kill_and_restart(irc_net, d, alice)
            bob.expect(r"^:alicia!\S+ JOIN :?#test", timeout=20)
            alice.send_message(mto=ROOM, mbody="as alicia", mtype="groupchat")
            bob.expect(r"^:alicia!\S+ PRIVMSG #test :as alicia$")
            m = run(next_where(alice.group, lambda m: m["body"] == "as alicia"))
            assert m["from"].resource == "alicia", m  # no nick change was told: none happened

            # asked for while the link is down: taken at the reconnection, and told then
            bob.c.close()
            drain(alice.mucpres)
            irc_net.kill()
            d.wait_for_log(r"gateway: alice@localhost lost 127\.0\.0\.1", timeout=10)
            alice.send_presence(pto=f"{ROOM}/alison")
            mark = d.mark()
            d.wait_for_log(r"gateway: alice@localhost -> 127\.0\.0\.1:\d+: .*retry in", timeout=15, after=mark)
            irc_net.start()
            bob = irc_user_in(irc_net.port, "bob", "#test")
            bob.expect(r"^:alison!\S+ JOIN :?#test", timeout=20)
            p = self_renamed(alice, "alicia", "alison")
            assert 210 not in codes(p), p

            # renamed by a raw command (or by services): the nick from now on, not taken back
            # at the next keepalive checks
            alice.send_message(mto=f"local@{GW}", mbody="NICK alison2", mtype="chat")
            bob.expect(r"^:alison!\S+ NICK :?alison2$")
            self_renamed(alice, "alison", "alison2")
            try:
                line = bob.expect(r" NICK ", timeout=6)
            except AssertionError:
                line = None
            assert line is None, line
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_every_nick_taken_at_the_first_registration_is_a_conflict():
    irc_net = NgircdFlood().start()  # no penalty for each NICK tried
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            # the puppet tries alice, then alice_, alice__, ... (8 candidates)
            holders = [irc_user_in(irc_net.port, "alice" + "_" * n) for n in range(8)]
            alice = muc_user(d.ports["xmpp"])
            alice.plugin["xep_0045"].join_muc(ROOM, "alice")
            p = run(next_where(alice.errors, lambda p: p["from"].bare == ROOM), timeout=20)
            assert p["error"]["condition"] == "conflict", p
            xc.bye(alice)
            for c in holders:
                c.c.close()
    finally:
        irc_net.close()


if __name__ == "__main__":
    h.run_tests(globals())
