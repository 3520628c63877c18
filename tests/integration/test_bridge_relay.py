"""Configured bridges in relay and puppet mode (issue 11, bridges[]).

Real peers on loopback: ngircd is the IRC network, Prosody the XMPP server with Parley
attached as its XEP-0114 component (Prosody's own MUC service on muc.localhost), a raw IRC
client in the channel, a slixmpp client in the MUC, and a raw IRC client of Parley itself in
a local room. Checked:
  - relay: messages both ways carry the prefix, /me arrives as an action, and nothing echoes
    (each line appears exactly once on each side, counted after a quiet period);
  - CR/LF in a relayed XMPP body cannot make a second IRC command;
  - ngircd <-> a local Parley room, and the bot rejoining after ngircd restarts;
  - puppet mode: each speaker gets its own IRC connection / local member, no prefix.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_bridge_relay.py
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_gateway_component import Prosody  # noqa: E402
from test_irc_gateway import Client, Ngircd  # noqa: E402
from xmpp_client import next_where, run, settle  # noqa: E402

xc.configure_logging()
COMPONENT = "irc.localhost"
MUC = "muc.localhost"
ROOM = f"dev@{MUC}"


class BridgeProsody(Prosody):
    """Prosody with a MUC service beside the component (rooms open at once, no locking)."""

    def __init__(self):
        super().__init__()
        with open(self.conf, "a") as f:
            f.write(f'Component "{MUC}" "muc"\n    muc_room_locking = false\n    restrict_room_creation = false\n')


class LogClient(Client):
    """Also keeps every groupchat message as (body, sender nick), for exact counts."""

    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.log = []
        self.add_event_handler("groupchat_message", lambda m: self.log.append((m["body"], m["from"].resource)))


def drain(q):
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def irc_lines(client, pattern):
    """Every line received so far by a LoopIrc matching pattern (polls a little first)."""
    try:
        client.expect(r"^\0never$", timeout=0.3)
    except AssertionError:
        pass
    return [line for line in client.c.lines if re.search(pattern, line)]


def wait_for_bot(client, chan, bot, timeout=15):
    """Waits until the bridge bot is in chan as client sees it: its JOIN after ours, or its
    nick in the NAMES reply when the bot was there first (parleyd may win the race)."""
    deadline = time.monotonic() + timeout
    esc = re.escape(chan)
    while time.monotonic() < deadline:
        if irc_lines(client, rf"^:{bot}!\S+ JOIN :?{esc}$|^:\S+ 353 {client.nick} . {esc} :(.* )?[~&@%+]*{bot}( |$)"):
            return
    raise AssertionError(f"{bot} never seen in {chan}: {client.c.lines[-20:]}")


def network(port):
    return {"name": "local", "host": "127.0.0.1", "port": port, "tls": False,
            "throttle": {"burst": 50, "interval_ms": 20}}


def lobby_config(net, **irc_extra):
    """A relay bridge "loc" between #lobby on network `net` and Parley's own #lobby."""
    return h.config(irc=True, irc_extra={"networks": [net], **irc_extra},
                    bridges=[{"name": "loc", "rooms": ["irc://local/#lobby", "parley:#lobby"],
                              "prefix": "[{nick}] "}])


def lobby_members(d, irc_port):
    """bob in #lobby on the IRC network at irc_port once the bot is there too, carol in
    Parley's #lobby; and the NAMES line carol got."""
    bob = xc.LoopIrc(irc_port, "bob")
    bob.send("JOIN #lobby")
    bob.expect(r" 366 bob #lobby ")
    wait_for_bot(bob, "#lobby", "loc-bridge")
    carol = xc.LoopIrc(d.ports["irc"], "carol")
    carol.send("JOIN #lobby")
    names = carol.expect(r" 353 carol . #lobby :")
    return bob, carol, names


def test_relay_irc_and_remote_muc_both_ways_without_echo():
    irc_net = Ngircd().start()
    prosody = BridgeProsody().start()
    try:
        cfg = h.config(irc=True, xmpp=True,
                       irc_extra={"gateway_domain": "irc.parley.localhost", "networks": [network(irc_net.port)]},
                       xmpp_extra={"component": {"domain": COMPONENT, "server": f"127.0.0.1:{prosody.component_port}",
                                                 "secret": "s3cret-component"}},
                       bridges=[{"name": "dev", "mode": "relay", "rooms": ["irc://local/#dev", f"xmpp:{ROOM}"],
                                 "prefix": "<{nick}> "}])
        with h.Parleyd(cfg) as d:
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #dev")
            bob.expect(r" 366 bob #dev ")
            wait_for_bot(bob, "#dev", "dev-bridge")
            d.wait_for_log(rf"bridge: dev joined {ROOM} as dev-bridge", timeout=15)

            alice = xc.login(LogClient, prosody.c2s_port, "alice@localhost/x", "alicepw")
            run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=0))

            # IRC -> MUC with the prefix; '<' and '&' arrive as text
            bob.send("PRIVMSG #dev :hello from irc <b>&amp;</b>")
            m = run(next_where(alice.group, lambda m: "hello from irc" in m["body"]))
            assert m["body"] == "<bob> hello from irc <b>&amp;</b>", m["body"]
            assert m["from"].resource == "dev-bridge", m
            # MUC -> IRC with the prefix
            alice.send_message(mto=ROOM, mbody="hi from xmpp", mtype="groupchat")
            bob.expect(r"^:dev-bridge!\S+ PRIVMSG #dev :<alice> hi from xmpp$")
            # /me both ways: an action by the bot naming the speaker
            bob.send("PRIVMSG #dev :\x01ACTION waves\x01")
            m = run(next_where(alice.group, lambda m: "waves" in m["body"]))
            assert m["body"] == "/me bob waves", m["body"]
            alice.send_message(mto=ROOM, mbody="/me nods", mtype="groupchat")
            bob.expect(r"^:dev-bridge!\S+ PRIVMSG #dev :\x01ACTION alice nods\x01$")
            # CR/LF in an XMPP body: each line a PRIVMSG of its own, never a command
            alice.send_message(mto=ROOM, mbody="one\r\nQUIT :pwned\rJOIN #evil\nNICK mallory", mtype="groupchat")
            bob.expect(r"^:dev-bridge!\S+ PRIVMSG #dev :<alice> one$")
            bob.expect(r"^:dev-bridge!\S+ PRIVMSG #dev :<alice> QUIT :pwned$")
            bob.expect(r"^:dev-bridge!\S+ PRIVMSG #dev :<alice> JOIN #evil$")
            bob.expect(r"^:dev-bridge!\S+ PRIVMSG #dev :<alice> NICK mallory$")

            bob.send("PRIVMSG #dev :second")
            m = run(next_where(alice.group, lambda m: "second" in m["body"]))
            assert m["body"] == "<bob> second", m["body"]

            # no echo loop: after a quiet period every line was seen exactly once on each side
            settle(2.5)
            from_bot = irc_lines(bob, r"^:dev-bridge!\S+ PRIVMSG #dev ")
            expected = [":<alice> hi from xmpp", ":\x01ACTION alice nods\x01", ":<alice> one", ":<alice> QUIT :pwned",
                        ":<alice> JOIN #evil", ":<alice> NICK mallory"]
            assert [line.split(" PRIVMSG #dev ", 1)[1] for line in from_bot] == expected, from_bot
            assert not irc_lines(bob, r"^:dev-bridge!\S+ (QUIT|NICK|PART)"), bob.c.lines[-20:]
            assert not irc_lines(bob, r"<dev-bridge>|<bob>"), bob.c.lines[-20:]
            bob.send("NAMES #evil")
            line = bob.expect(r" (353|366) bob ")
            assert "dev-bridge" not in line, line
            by_bot = [b for b, who in alice.log if who == "dev-bridge"]
            assert by_bot == ["<bob> hello from irc <b>&amp;</b>", "/me bob waves", "<bob> second"], alice.log
            own = [re.sub(r"\r\n?", "\n", b) for b, who in alice.log if who == "alice"]
            assert own == ["hi from xmpp", "/me nods", "one\nQUIT :pwned\nJOIN #evil\nNICK mallory"], alice.log
            assert len([b for b, _ in alice.log if b]) == 6, alice.log
            xc.bye(alice)
            bob.c.close()
    finally:
        prosody.close()
        irc_net.close()


def test_relay_irc_and_local_room_and_rejoin_after_restart():
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(lobby_config(network(irc_net.port))) as d:
            bob, carol, line = lobby_members(d, irc_net.port)
            assert "loc-bridge" in line, line  # the bot is a member of the local room

            carol.send("PRIVMSG #lobby :hey from parley")
            bob.expect(r"^:loc-bridge!\S+ PRIVMSG #lobby :\[carol\] hey from parley$")
            bob.send("PRIVMSG #lobby :yo from ngircd")
            carol.expect(r"^:loc-bridge!\S+ PRIVMSG #lobby :\[bob\] yo from ngircd$")
            carol.send("PRIVMSG #lobby :\x01ACTION smiles\x01")
            bob.expect(r"^:loc-bridge!\S+ PRIVMSG #lobby :\x01ACTION carol smiles\x01$")
            bob.send("PRIVMSG #lobby :\x01ACTION grins\x01")
            carol.expect(r"^:loc-bridge!\S+ PRIVMSG #lobby :\x01ACTION bob grins\x01$")
            settle(1.5)
            assert len(irc_lines(bob, r"^:loc-bridge!\S+ PRIVMSG ")) == 2, bob.c.lines[-20:]
            assert len(irc_lines(carol, r"^:loc-bridge!\S+ PRIVMSG ")) == 2, carol.c.lines[-20:]
            assert not irc_lines(carol, r"\[loc-bridge\]|\[carol\]"), carol.c.lines[-20:]

            # ngircd restarts: the bot reconnects and rejoins, and relays again
            mark = d.mark()
            irc_net.kill()
            d.wait_for_log(r"bridge: loc-bridge lost 127\.0\.0\.1", timeout=10, after=mark)
            irc_net.start()
            d.wait_for_log(r"bridge: loc-bridge joined #lobby on 127\.0\.0\.1", timeout=30, after=mark)
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #lobby")
            line = bob.expect(r" 353 bob . #lobby :")
            assert "loc-bridge" in line, line
            bob.send("PRIVMSG #lobby :back again")
            carol.expect(r"^:loc-bridge!\S+ PRIVMSG #lobby :\[bob\] back again$")
            carol.send("PRIVMSG #lobby :welcome back")
            bob.expect(r"^:loc-bridge!\S+ PRIVMSG #lobby :\[carol\] welcome back$")
            bob.c.close()
            carol.c.close()
    finally:
        irc_net.close()


def test_puppet_mode_irc_and_remote_muc():
    """Puppet mode with a Prosody MUC: each IRC speaker gets an occupant of their own in the MUC
    (through the component) and each MUC speaker an IRC connection of their own; no prefix, no echo."""
    irc_net = Ngircd().start()
    prosody = BridgeProsody().start()
    try:
        cfg = h.config(irc=True, xmpp=True,
                       irc_extra={"gateway_domain": "irc.parley.localhost", "networks": [network(irc_net.port)]},
                       xmpp_extra={"component": {"domain": COMPONENT, "server": f"127.0.0.1:{prosody.component_port}",
                                                 "secret": "s3cret-component"}},
                       bridges=[{"name": "pm", "mode": "puppet", "max_puppets": 4,
                                 "rooms": ["irc://local/#pm", f"xmpp:{ROOM}"]}])
        with h.Parleyd(cfg) as d:
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #pm")
            bob.expect(r" 366 bob #pm ")
            wait_for_bot(bob, "#pm", "pm-bridge")
            d.wait_for_log(rf"bridge: pm joined {ROOM} as pm-bridge", timeout=15)

            alice = xc.login(LogClient, prosody.c2s_port, "alice@localhost/x", "alicepw")
            run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=0))

            # IRC -> MUC: bob speaks through an occupant named bob, without a prefix
            bob.send("PRIVMSG #pm :hello from irc <b>&amp;</b>")
            m = run(next_where(alice.group, lambda m: "hello from irc" in m["body"]))
            assert m["body"] == "hello from irc <b>&amp;</b>", m["body"]
            assert m["from"].resource == "bob", m
            bob.send("PRIVMSG #pm :\x01ACTION waves\x01")
            m = run(next_where(alice.group, lambda m: "waves" in m["body"]))
            assert (m["body"], m["from"].resource) == ("/me waves", "bob"), m
            # MUC -> IRC: alice gets an IRC connection under her nick
            alice.send_message(mto=ROOM, mbody="hi from xmpp", mtype="groupchat")
            bob.expect(r"^:alice!\S+ JOIN :?#pm", timeout=15)
            bob.expect(r"^:alice!\S+ PRIVMSG #pm :hi from xmpp$")
            alice.send_message(mto=ROOM, mbody="/me nods", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #pm :\x01ACTION nods\x01$")
            # CR/LF in an XMPP body never becomes a command on the puppet's own connection
            alice.send_message(mto=ROOM, mbody="one\r\nQUIT :pwned\rJOIN #evil", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #pm :one$")
            bob.expect(r"^:alice!\S+ PRIVMSG #pm :QUIT :pwned$")
            bob.expect(r"^:alice!\S+ PRIVMSG #pm :JOIN #evil$")

            # no echo: each line once on each side, nothing relayed back by the bot
            settle(2.5)
            assert not irc_lines(bob, r"^:(pm-bridge|bob)!\S+ PRIVMSG #pm "), bob.c.lines[-20:]
            assert not irc_lines(bob, r"^:alice!\S+ (QUIT|PART)"), bob.c.lines[-20:]
            bob.send("NAMES #evil")
            line = bob.expect(r" (353|366) bob ")
            assert "alice" not in line, line
            by_bob = [b for b, who in alice.log if who == "bob"]
            assert by_bob == ["hello from irc <b>&amp;</b>", "/me waves"], alice.log
            assert not [b for b, who in alice.log if who == "pm-bridge" and b], alice.log
            own = [re.sub(r"\r\n?", "\n", b) for b, who in alice.log if who == "alice"]
            assert own == ["hi from xmpp", "/me nods", "one\nQUIT :pwned\nJOIN #evil"], alice.log
            xc.bye(alice)
            bob.c.close()
    finally:
        prosody.close()
        irc_net.close()


def test_puppet_mode_irc_and_local_room():
    irc_net = Ngircd().start()
    try:
        cfg = h.config(irc=True,
                       irc_extra={"networks": [network(irc_net.port)]},
                       bridges=[{"name": "pup", "mode": "puppet", "max_puppets": 2,
                                 "rooms": ["irc://local/#pup", "parley:#pup"]}])
        with h.Parleyd(cfg) as d:
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #pup")
            bob.expect(r" 366 bob #pup ")
            wait_for_bot(bob, "#pup", "pup-bridge")
            carol = xc.LoopIrc(d.ports["irc"], "carol")
            carol.send("JOIN #pup")
            carol.expect(r" 366 carol #pup ")

            # carol's puppet connects to ngircd under her nick and speaks without a prefix
            carol.send("PRIVMSG #pup :hi as myself")
            bob.expect(r"^:carol!\S+ JOIN :?#pup", timeout=15)
            bob.expect(r"^:carol!\S+ PRIVMSG #pup :hi as myself$")
            carol.send("PRIVMSG #pup :\x01ACTION waves\x01")
            bob.expect(r"^:carol!\S+ PRIVMSG #pup :\x01ACTION waves\x01$")
            # bob becomes a member of the local room under his nick
            bob.send("PRIVMSG #pup :hello carol")
            carol.expect(r"^:bob!\S+ JOIN :?#pup", timeout=10)
            carol.expect(r"^:bob!\S+ PRIVMSG #pup :hello carol$")
            # over max_puppets: the bot relays with the prefix
            dan = xc.LoopIrc(d.ports["irc"], "dan")
            dan.send("JOIN #pup")
            dan.expect(r" 366 dan #pup ")
            erin = xc.LoopIrc(d.ports["irc"], "erin")
            erin.send("JOIN #pup")
            erin.expect(r" 366 erin #pup ")
            dan.send("PRIVMSG #pup :dan here")
            bob.expect(r"^:dan!\S+ PRIVMSG #pup :dan here$", timeout=15)
            erin.send("PRIVMSG #pup :erin here")
            bob.expect(r"^:pup-bridge!\S+ PRIVMSG #pup :<erin> erin here$")
            # nothing loops: the puppets' lines are never relayed back
            settle(2)
            assert len(irc_lines(carol, r"PRIVMSG #pup :hi as myself")) == 0, carol.c.lines[-20:]
            assert len(irc_lines(bob, r"PRIVMSG #pup :hello carol")) == 0, bob.c.lines[-20:]
            assert len(irc_lines(carol, r"^:(bob|pup-bridge)!\S+ PRIVMSG #pup :")) == 1, carol.c.lines[-20:]
            for c in (bob, carol, dan, erin):
                c.c.close()
    finally:
        irc_net.close()


if __name__ == "__main__":
    h.run_tests(globals())
