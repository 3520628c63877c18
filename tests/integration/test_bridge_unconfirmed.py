"""A bridge's IRC bot loses nothing in a link that dies or to a KICK, and says when a
channel refuses a line (issue 11, bridges[]; LineLedger).

Real peers on loopback: ngircd is the IRC network, reached through a byte relay
(h.TcpProxy) that can swallow what parleyd writes, as a TCP path that died does; bob is
connected to ngircd directly, carol to Parley's own IRC listener in the bridged local room.
ngircd has no echo-message: the bot writes a marker PING after its lines, and those no PONG
confirmed when the link is lost are written again on the next link.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_bridge_unconfirmed.py
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
from test_bridge_relay import irc_lines, lobby_config, lobby_members, network, wait_for_bot  # noqa: E402
from test_gateway_component import NgircdFlood  # noqa: E402
from test_irc_gateway import Ngircd  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import settle  # noqa: E402

RELAYED = r"^:loc-bridge\S*!\S+ PRIVMSG #lobby :\[carol\] "


def test_relayed_lines_a_dead_path_swallowed_are_sent_again():
    """carol's lines relayed into a dead path reach ngircd once each after the bot's
    reconnection; a line ngircd took before (its marker's PONG came) is not sent again."""
    irc_net = Ngircd().start()
    proxy = h.TcpProxy(irc_net.port)
    try:
        with h.Parleyd(lobby_config(network(proxy.port))) as d:
            bob, carol, _ = lobby_members(d, irc_net.port)
            start = proxy.mark()
            carol.send("PRIVMSG #lobby :taken")
            bob.expect(RELAYED + "taken$")
            settle(0.5)  # its marker PING written once the bot was quiet (20 ms here), its PONG read
            assert re.search(rb"PRIVMSG #lobby :\[carol\] taken\r\nPING :parley\.1\r\n", proxy.up[start:]), \
                proxy.up[start:]

            proxy.blackhole()
            for i in (1, 2, 3):
                carol.send(f"PRIVMSG #lobby :into the void {i}")
            settle(1.0)  # written: the relay took the bytes and dropped them
            assert not irc_lines(bob, "into the void"), bob.c.lines[-5:]
            mark = d.mark()
            proxy.drop()
            d.wait_for_log(r"bridge: loc-bridge\S* on 127\.0\.0\.1: 3 line\(s\) not known to have arrived "
                           r"before the link was lost: sent again", timeout=10, after=mark)
            for i in (1, 2, 3):
                bob.expect(RELAYED + f"into the void {i}$", timeout=20)
            carol.send("PRIVMSG #lobby :after")
            bob.expect(RELAYED + "after$")
            settle(1.0)
            for text in ("taken", "into the void 1", "into the void 2", "into the void 3", "after"):
                assert len(irc_lines(bob, RELAYED + re.escape(text) + "$")) == 1, (text, bob.c.lines[-12:])
            bob.c.close()
            carol.c.close()
    finally:
        proxy.close()
        irc_net.close()


def test_a_busy_bridge_still_writes_markers_behind_its_lines():
    """Under the network's throttle a bot that always has lines queued still writes a marker
    behind every few lines (LineLedger::kMarkerLines), so a loss never sends back hundreds
    of delivered lines; and no marker goes between lines while they come close together."""
    irc_net = Ngircd().start()
    proxy = h.TcpProxy(irc_net.port)
    try:
        net = dict(network(proxy.port), throttle={"burst": 2, "interval_ms": 300})
        with h.Parleyd(lobby_config(net, flood_burst=0)) as d:  # carol may burst
            bob, carol, _ = lobby_members(d, irc_net.port)
            settle(1.0)
            start = proxy.mark()
            for i in range(20):
                carol.send(f"PRIVMSG #lobby :line {i}")
            bob.expect(RELAYED + "line 19$", timeout=20)
            settle(1.0)
            up = proxy.up[start:].decode()
            sent = [ln for ln in up.split("\r\n") if ln]
            lines = [ln for ln in sent if ln.startswith("PRIVMSG")]
            assert lines == [f"PRIVMSG #lobby :[carol] line {i}" for i in range(20)], sent
            markers = [k for k, ln in enumerate(sent) if ln.startswith("PING :parley.")]
            # One behind each run of 8 lines while the queue never emptied, and one at the end.
            gaps = [b - a - 1 for a, b in zip([-1] + markers, markers)]
            assert gaps[:2] == [8, 8] and markers[-1] == len(sent) - 1, sent
            assert len(markers) == 3, sent
            bob.c.close()
            carol.c.close()
    finally:
        proxy.close()
        irc_net.close()


def opened_lobby(irc_port, mode):
    """bob, op of #lobby on the IRC network at irc_port, which he opened with `mode` before
    the bridge came."""
    bob = xc.LoopIrc(irc_port, "bob")
    bob.send("JOIN #lobby")
    bob.expect(r" 366 bob #lobby ")
    bob.send(f"MODE #lobby {mode}")
    bob.expect(rf"^:bob!\S+ MODE #lobby {re.escape(mode)}")
    return bob


def joined_by_carol(d, bob):
    """carol in Parley's #lobby once bob sees the bot in the IRC channel."""
    wait_for_bot(bob, "#lobby", "loc-bridge")
    carol = xc.LoopIrc(d.ports["irc"], "carol")
    carol.send("JOIN #lobby")
    carol.expect(r" 366 carol #lobby ")
    return carol


def test_a_line_the_channel_refuses_is_reported():
    """bob opened #lobby and made it moderated before the bridge came: the bot has no
    voice, so ngircd refuses carol's relayed line (404 ERR_CANNOTSENDTOCHAN). The loss is
    logged, not silent; once bob voices the bot its lines go through."""
    irc_net = Ngircd().start()
    try:
        bob = opened_lobby(irc_net.port, "+m")
        with h.Parleyd(lobby_config(network(irc_net.port))) as d:
            carol = joined_by_carol(d, bob)
            mark = d.mark()
            carol.send("PRIVMSG #lobby :muted")
            d.wait_for_log(r"bridge: loc-bridge\S* on 127\.0\.0\.1: #lobby refused a line \(.*\), 1 so far",
                           timeout=10, after=mark)
            assert not irc_lines(bob, "muted"), bob.c.lines[-5:]
            bob.send("MODE #lobby +v loc-bridge")
            bob.expect(r"^:bob!\S+ MODE #lobby \+v loc-bridge")
            carol.send("PRIVMSG #lobby :voiced")
            bob.expect(RELAYED + "voiced$")
            bob.c.close()
            carol.c.close()
    finally:
        irc_net.close()


def kicked_while_lines_are_on_their_way(gone):
    """bob kicks the bot while five of carol's lines are on their way (held in the relay), and
    with `gone` leaves #lobby too, so that it no longer exists. ngircd refuses each of them, as
    it handles them after the KICK: 404 in +n #lobby, 401 once it is gone. The bot counts
    those, and once it has joined again they go first, ahead of what carol said meanwhile.
    Returns what the bot wrote from the KICK on, and bob."""
    irc_net = NgircdFlood().start()
    proxy = h.TcpProxy(irc_net.port)
    try:
        bob = opened_lobby(irc_net.port, "+n")  # no external messages: a line from outside is refused
        with h.Parleyd(lobby_config(network(proxy.port))) as d:
            carol = joined_by_carol(d, bob)
            carol.send("PRIVMSG #lobby :warm")
            bob.expect(RELAYED + "warm$")
            # At once: "warm" (taken before the KICK) is likely still unconfirmed, its marker
            # held or not written yet: the bot must not take it for a refused line.
            mark = d.mark()
            proxy.hold_up()
            start = proxy.mark()
            held = [f"held {i}" for i in range(5)]
            for t in held:
                carol.send(f"PRIVMSG #lobby :{t}")
            deadline = time.monotonic() + 10
            while b"held 4" not in proxy.up[start:]:  # all written before the bot sees the KICK
                assert time.monotonic() < deadline, proxy.up[start:]
                settle(0.05)
            bob.send("KICK #lobby loc-bridge :out")
            bob.expect(r"^:bob!\S+ KICK #lobby loc-bridge ")
            if gone:
                bob.send("PART #lobby")
                bob.expect(r"^:bob!\S+ PART #lobby")
            proxy.release_up()  # ngircd reads the held lines and their marker after the KICK
            d.wait_for_log(r"bridge: loc-bridge\S* kicked from #lobby", timeout=10, after=mark)
            later = [f"later {i}" for i in range(2)]
            for t in later:  # said while the bot is out: queued
                carol.send(f"PRIVMSG #lobby :{t}")
            d.wait_for_log(r"bridge: loc-bridge\S* on 127\.0\.0\.1: 5 line\(s\) #lobby refused while the bot "
                           r"was out of it: sent again", timeout=20, after=mark)
            if not gone:
                bob.expect(RELAYED + "later 1$", timeout=10)
            settle(1.0)
            assert not re.search(r"refused a line|are lost", d.log()), "a refusal after the KICK was taken for lost"
            up = proxy.up[start:].decode()
            after_join = up[up.index("JOIN #lobby"):]
            sent = [ln.split(" :[carol] ", 1)[1] for ln in after_join.split("\r\n") if ln.startswith("PRIVMSG")]
            assert sent == held + later, up
            carol.c.close()
            return bob
    finally:
        proxy.close()
        irc_net.close()


def test_lines_refused_while_the_bot_was_kicked_are_sent_again():
    bob = kicked_while_lines_are_on_their_way(gone=False)
    got = [ln.split(" :[carol] ", 1)[1] for ln in irc_lines(bob, RELAYED)]
    held = [f"held {i}" for i in range(5)]
    assert got == ["warm"] + held + ["later 0", "later 1"], got  # each once, in carol's order
    bob.c.close()


def test_lines_refused_by_a_channel_that_is_gone_are_sent_again():
    """The bot was the last member: ngircd answers 401 ERR_NOSUCHNICK for the channel."""
    kicked_while_lines_are_on_their_way(gone=True).c.close()


if __name__ == "__main__":
    h.run_tests(globals())
