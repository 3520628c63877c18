"""Shared reading (issue 11): the first puppet in a channel reads its lines for the others.

Every XMPP user's puppet gets its own copy of each channel line from the IRC server. The
gateway lets one puppet (the leader) read them and hand each line to the others at once;
their own sockets are read on a tick, and their copies skipped. What a user sees must not
change: every line once, in the channel's order, after the presence of whoever said it,
their own lines reflected, private messages delivered; and a leader that leaves hands over.
Real InspIRCd 3 (with and without echo-message, and over TLS) and slixmpp users.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_shared_reads.py
"""
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_irc_gateway import GW, ROOM, Client, Inspircd, bob_in_test  # noqa: E402
from xmpp_client import next_where, run, settle  # noqa: E402

xc.configure_logging()
USERS = ("alice", "carol", "dave")


class InspircdNoEcho(Inspircd):
    """The same server without IRCv3 echo-message (as ngircd): a speaker never reads its
    own line, so a leader that speaks cannot hand it on."""

    modules = ("cap",)


class SilentFilter:
    """A spam filter that drops "*dropme*" in channel messages without a word to anyone
    (InspIRCd's `silent` action with notifyuser="no"; a shun does the same to everything),
    and a censor that rewrites "fudge" in channels with mode +G."""

    filter_modules = ("regex_glob", "filter", "censor")

    def config(self):
        return super().config() + """<filteropts engine="glob" notifyuser="no">
<keyword pattern="*dropme*" reason="test" action="silent" flags="p">
<badword text="fudge" replace="*****">
"""


class InspircdSilent(SilentFilter, Inspircd):
    modules = Inspircd.modules + SilentFilter.filter_modules


class InspircdNoEchoSilent(SilentFilter, InspircdNoEcho):
    modules = InspircdNoEcho.modules + SilentFilter.filter_modules


class InspircdNoEchoInputLog(InspircdNoEcho):
    """What every client sends is logged (input.log): the leader's marker PINGs are counted."""

    def config(self):
        return super().config() + (f'<log method="file" type="USERINPUT" level="rawio" flush="1" '
                                   f'target="{self.tmp}/input.log">\n')

    def marker_pings(self):
        with open(os.path.join(self.tmp, "input.log"), errors="replace") as f:
            return sum(1 for line in f if "PING :parley." in line)


class InspircdTls(Inspircd):
    """The same server with a TLS port (self-signed; the gateway pins its fingerprint): the
    puppets read TLS records, the followers' on the tick (Connection::read_queued)."""

    modules = Inspircd.modules + ("ssl_gnutls",)

    def __init__(self):
        self.tls_port = h.free_port()
        self.certs = tempfile.mkdtemp(prefix="inspircd-tls-")
        self.cert, self.key, self.fingerprint = h.self_signed_cert(self.certs)
        super().__init__()

    def config(self):
        return super().config() + (
            f'<sslprofile name="tls" provider="gnutls" certfile="{self.cert}" keyfile="{self.key}" '
            f'dhfile="" hash="sha256" requestclientcert="no">\n'
            f'<bind address="127.0.0.1" port="{self.tls_port}" type="clients" sslprofile="tls">\n')

    def start(self):
        super().start()
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.5).close()
                return self
            except OSError:
                assert time.monotonic() < deadline, "InspIRCd's TLS port did not open"
                time.sleep(0.1)

    def network(self, throttle):
        return {"name": "local", "host": "127.0.0.1", "port": self.tls_port, "tls": True, "verify": False,
                "fingerprint": self.fingerprint, "throttle": throttle}

    def close(self):
        super().close()
        shutil.rmtree(self.certs, ignore_errors=True)


def config(irc_net, throttle="off"):
    if hasattr(irc_net, "network"):
        net = irc_net.network(throttle)
    else:
        net = {"name": "local", "host": "127.0.0.1", "port": irc_net.port, "tls": False, "throttle": throttle}
    return h.config(irc=True, xmpp=True, accounts=[(u, u + "pw") for u in USERS], irc_extra={"networks": [net]})


def join(xmpp_port, user, bob):
    """user joins #test through the gateway; c.events is what the room showed, in order:
    ("msg", nick, body), ("subject", nick, text), ("in"|"out", nick)."""
    c = xc.login(Client, xmpp_port, f"{user}@localhost/x", user + "pw")
    c.events = []
    c.ids = {}  # body -> the ids of the groupchat messages that carried it
    c.errors = []  # message errors: (id, condition)

    def on_message(m):
        if m["subject"] and not m["body"]:
            c.events.append(("subject", m["from"].resource, m["subject"]))
        elif m["body"]:
            c.events.append(("msg", m["from"].resource, m["body"]))
            c.ids.setdefault(m["body"], []).append(m["id"])

    c.add_event_handler("groupchat_message", on_message)
    c.add_event_handler("message_error", lambda m: c.errors.append((m["id"], m["error"]["condition"])))
    c.add_event_handler("groupchat_subject", lambda m: c.events.append(("subject", m["from"].resource, m["subject"])))
    c.add_event_handler("groupchat_presence", lambda p: c.events.append(
        ("out" if p["type"] == "unavailable" else "in", p["from"].resource)))
    run(c.plugin["xep_0045"].join_muc_wait(ROOM, user, maxstanzas=0))
    bob.expect(rf"^:{user}!\S+ JOIN :?#test")
    return c


def wait_events(clients, pred, timeout=20):
    """Until every client has an event for which pred holds (the loop runs meanwhile)."""
    for c in clients:
        run(wait_for(lambda: any(pred(e) for e in c.events)), timeout)


async def wait_for(cond):
    while not cond():
        await asyncio.sleep(0.02)


def after(events, marker):
    """The events after the first one equal to marker."""
    return events[events.index(marker) + 1:]


def start(irc_cls, throttle="off", env=None):
    irc_net = irc_cls().start()
    d = h.Parleyd(config(irc_net, throttle), env=env)
    d.__enter__()
    bob = bob_in_test(irc_net.port)  # bob opens #test: its operator
    clients = [join(d.ports["xmpp"], u, bob) for u in USERS]
    # alice's puppet joined first: it reads #test for the other two.
    d.wait_for_log(r"alice@localhost on 127\.0\.0\.1: reads #test for the other puppets")
    for u in USERS[1:]:
        d.wait_for_log(rf"{u}@localhost on 127\.0\.0\.1: hears #test through another puppet")
    bob.send("PRIVMSG #test :warm")
    wait_events(clients, lambda e: e == ("msg", "bob", "warm"))
    return irc_net, d, bob, clients


def stop(irc_net, d, clients):
    for c in clients:
        c.disconnect()
    settle(0.3)
    d.__exit__(None, None, None)
    irc_net.close()


def check_burst(irc_net, d, bob, clients):
    """A burst from bob with eve joining, talking and leaving in its middle, a topic, a
    mode and lines in latin-1: every user sees the same events in the same order, each line
    once (the followers know a latin-1 copy by its bytes as the leader read them), eve's
    lines between her join and her part."""
    eve = xc.LoopIrc(irc_net.port, "eve")
    latin1 = (60, 120)
    for i in range(200):
        bob.send(f"PRIVMSG #test :L{i:03d}")
        if i in latin1:
            bob.c.sock.sendall(f"PRIVMSG #test :caf\xe9 L{i:03d}\r\n".encode("latin-1"))
        if i == 50:
            eve.send("JOIN #test")
            eve.send("PRIVMSG #test :E1")
            eve.send("PRIVMSG #test :E2")
            eve.send("PART #test :bye")
        if i == 100:
            bob.send("TOPIC #test :shared topic")
        if i == 150:
            bob.send("MODE #test +v alice")
    bob.send("PRIVMSG #test :end")
    wait_events(clients, lambda e: e == ("msg", "bob", "end"), timeout=30)
    # eve's lines go through her own client and socket: on a loaded machine the server can
    # take them after bob's "end".
    wait_events(clients, lambda e: e == ("out", "eve"), timeout=30)
    # The logs said the followers' sockets went to the tick: the burst was read shared.
    for u in USERS[1:]:
        d.wait_for_log(rf"{u}@localhost on 127\.0\.0\.1: its socket is read on the gateway's tick")
    seen = [after(c.events, ("msg", "bob", "warm")) for c in clients]
    for user, ev in zip(USERS, seen):
        lines = [e[2] for e in ev if e[0] == "msg" and e[1] == "bob"]
        want = [x for i in range(200) for x in [f"L{i:03d}"] + ([f"caf\u00e9 L{i:03d}"] if i in latin1 else [])]
        assert lines == want + ["end"], (user, lines[:5], len(lines))
        eves = [e for e in ev if e[1] == "eve"]
        assert eves == [("in", "eve"), ("msg", "eve", "E1"), ("msg", "eve", "E2"), ("out", "eve")], (user, eves)
        assert [e for e in ev if e[0] == "subject"] == [("subject", "bob", "shared topic")], user
    # One order for all: the same channel, one server.
    channel = [[e for e in ev if e[1] in ("bob", "eve")] for ev in seen]
    assert channel[0] == channel[1] == channel[2], "the users saw the channel in different orders"
    eve.send("QUIT :done")


def check_occupants_talking(bob, clients):
    """The XMPP users talk in turn, fast (what a puppet says is read by the leader and by
    the other followers, in any order): every user sees every message once."""
    for i in range(90):
        clients[i % 3].send_message(mto=ROOM, mbody=f"T{i:02d}", mtype="groupchat")
    bob.expect(r" PRIVMSG #test :T89$", timeout=20)
    wait_events(clients, lambda e: e[0] == "msg" and e[2] == "T89")
    settle(0.3)  # a second copy would come right behind
    for user, c in zip(USERS, clients):
        talk = [e[2] for e in c.events if e[0] == "msg" and e[2].startswith("T")]
        assert sorted(talk) == [f"T{i:02d}" for i in range(90)], (user, len(talk), talk)


def check_follower_reflection(bob, clients):
    """A follower's own line comes back to it once, with its id (without echo-message the
    leader hands it back when it reads it); a line the channel refuses (+m, 404) is an
    error to its sender, shown to nobody."""
    dave = clients[2]
    msg = dave.make_message(mto=ROOM, mbody="mine", mtype="groupchat")
    msg["id"] = "d1"
    msg.send()
    bob.expect(r"^:dave!\S+ PRIVMSG #test :mine$")
    wait_events(clients, lambda e: e == ("msg", "dave", "mine"))
    bob.send("MODE #test +m")  # alice has a voice (check_burst), dave none
    bob.expect(r"MODE #test :?\+m")
    msg = dave.make_message(mto=ROOM, mbody="muted", mtype="groupchat")
    msg["id"] = "d2"
    msg.send()
    run(wait_for(lambda: ("d2", "forbidden") in dave.errors), 10)
    # The leader refused too: its line is handed to nobody at its PONG (shared_reads.hpp).
    alice = clients[0]
    bob.send("MODE #test -v alice")
    bob.expect(r"MODE #test -v :?alice")
    n0 = len(alice.events)
    msg = alice.make_message(mto=ROOM, mbody="leader muted", mtype="groupchat")
    msg["id"] = "a1"
    msg.send()
    # The server's refusal: an error with echo-message, else a room notice (the line was
    # reflected already).
    run(wait_for(lambda: ("a1", "forbidden") in alice.errors
                 or any(e[0] == "msg" and e[1] == "" for e in alice.events[n0:])), 10)
    bob.send("MODE #test -m")
    bob.expect(r"MODE #test :?-m")
    bob.send("PRIVMSG #test :after muted")
    wait_events(clients, lambda e: e == ("msg", "bob", "after muted"))
    settle(0.3)
    assert dave.ids["mine"] == ["d1"], dave.ids["mine"]
    for user, c in zip(USERS, clients):
        assert c.events.count(("msg", "dave", "mine")) == 1, (user, c.events[-5:])
        assert "muted" not in c.ids, (user, c.events[-5:])
    for user, c in zip(USERS[1:], clients[1:]):
        assert "leader muted" not in c.ids, (user, c.events[-5:])
    assert dave.errors == [("d2", "forbidden")], dave.errors


def check_speakers_pm_and_handover(d, bob, clients):
    alice, carol, dave = clients
    # A follower's line: the others once each, bob once.
    carol.send_message(mto=ROOM, mbody="from carol", mtype="groupchat")
    bob.expect(r"^:carol!\S+ PRIVMSG #test :from carol$")
    # The leader's line: it never reads it back without echo-message, so it cannot hand it
    # on; the followers read it themselves, before what bob says after it.
    alice.send_message(mto=ROOM, mbody="from alice", mtype="groupchat")
    bob.expect(r"^:alice!\S+ PRIVMSG #test :from alice$")
    bob.send("PRIVMSG #test :after alice")
    wait_events(clients, lambda e: e == ("msg", "bob", "after alice"))
    for user, c in zip(USERS, clients):
        ev = after(c.events, ("msg", "bob", "end"))
        for who, body in (("carol", "from carol"), ("alice", "from alice")):
            assert ev.count(("msg", who, body)) == 1, (user, body, ev)
        assert ev.index(("msg", "alice", "from alice")) < ev.index(("msg", "bob", "after alice")), (user, ev)
    # A private message to a follower reaches it (its socket is read on the tick).
    bob.send("PRIVMSG dave :psst")
    m = run(next_where(dave.chat, lambda m: m["body"] == "psst"), 10)
    assert m["from"] == f"bob%local@{GW}", m
    # The leader leaves: carol's puppet leads now, and nothing is lost or doubled.
    alice.plugin["xep_0045"].leave_muc(ROOM, "alice")
    bob.expect(r"^:alice!\S+ PART :?#test")
    for i in range(100):
        bob.send(f"PRIVMSG #test :M{i:03d}")
    bob.send("PRIVMSG #test :last")
    wait_events(clients[1:], lambda e: e == ("msg", "bob", "last"), timeout=30)
    for user, c in zip(USERS[1:], clients[1:]):
        lines = [e[2] for e in after(c.events, ("msg", "bob", "after alice")) if e[0] == "msg" and e[1] == "bob"]
        assert lines == [f"M{i:03d}" for i in range(100)] + ["last"], (user, lines[:5], len(lines))


def check_silent_drops(bob, clients, echo):
    """A line the server drops without a word (a spam filter, a shun) is shown to nobody but
    its sender. A follower's is reflected to it: with echo-message when its own echo comes
    (InspIRCd echoes a silently filtered line to its sender), without it when the leader has
    not read it within Puppet::kLeaderEchoTicks. The leader's is handed to no follower: the
    PONG (or the echo) came, but no follower's socket showed the line (shared_reads.hpp,
    the witness). A leader's line a censor rewrote is shown to the others once, as rewritten.
    The channel goes on."""
    alice, carol, dave = clients
    msg = alice.make_message(mto=ROOM, mbody="dropme leader", mtype="groupchat")
    msg["id"] = "a9"
    msg.send()
    bob.send("MODE #test +G")
    bob.expect(r"MODE #test :?\+G")
    bob.send("PRIVMSG #test :censored now")  # the followers read up to here: in step again
    wait_events(clients, lambda e: e == ("msg", "bob", "censored now"))
    settle(0.2)
    alice.send_message(mto=ROOM, mbody="oh fudge", mtype="groupchat")
    bob.expect(r"^:alice!\S+ PRIVMSG #test :oh \*\*\*\*\*$")
    bob.send("PRIVMSG #test :after the leader")
    wait_events(clients, lambda e: e == ("msg", "bob", "after the leader"))
    settle(0.3)
    for user, c in zip(USERS[1:], clients[1:]):
        from_alice = [e[2] for e in c.events if e[0] == "msg" and e[1] == "alice"]
        assert from_alice == ["oh *****"], (user, from_alice)
    t0 = time.monotonic()
    msg = dave.make_message(mto=ROOM, mbody="dropme please", mtype="groupchat")
    msg["id"] = "d9"
    msg.send()
    run(wait_for(lambda: ("msg", "dave", "dropme please") in dave.events), 10)
    if not echo:  # the leader never read it: reflected when it was overdue
        assert time.monotonic() - t0 >= 1.5, time.monotonic() - t0
    carol.send_message(mto=ROOM, mbody="after the drop", mtype="groupchat")
    bob.expect(r"^:carol!\S+ PRIVMSG #test :after the drop$")
    wait_events(clients, lambda e: e == ("msg", "carol", "after the drop"))
    settle(0.3)
    assert dave.ids["dropme please"] == ["d9"], dave.ids["dropme please"]
    for user, c in zip(USERS[:2], clients[:2]):
        assert "dropme please" not in c.ids, (user, c.events[-5:])
    assert not [line for line in bob.c.lines if "dropme" in line], "the filter let it through"
    assert dave.errors == [], dave.errors


def check_paste_under_throttle(irc_net, bob, clients):
    """The leader pastes while its throttle holds its lines: one marker PING follows them all
    (a marker still queued moves behind the new lines), and every user sees every line once,
    in order."""
    n0 = irc_net.marker_pings()
    for i in range(3):
        clients[0].send_message(mto=ROOM, mbody=f"P{i}a\nP{i}b", mtype="groupchat")
    expected = [f"P{i}{part}" for i in range(3) for part in "ab"]
    for line in expected:
        bob.expect(rf"^:alice!\S+ PRIVMSG #test :{line}$", timeout=20)
    wait_events(clients[1:], lambda e: e == ("msg", "alice", "P2b"))
    run(wait_for(lambda: ("msg", "alice", "P2a\nP2b") in clients[0].events), 10)
    settle(0.3)
    assert irc_net.marker_pings() - n0 == 1, irc_net.marker_pings() - n0
    for user, c in zip(USERS[1:], clients[1:]):
        assert [e[2] for e in c.events if e[0] == "msg" and e[1] == "alice"] == expected, (user, c.events)
    assert [e[2] for e in clients[0].events if e[0] == "msg" and e[1] == "alice"] == [
        f"P{i}a\nP{i}b" for i in range(3)], clients[0].events


def check_deferred_reads(irc_net, d, bob, clients, echo):
    """While stanzas come close together, a leader reads its channel at the gateway's next
    input (a stanza, the read tick), not as each line comes, until the first input
    read_defer after its group's last say (Puppet::expect_line; read_defer is 1 s here, so
    stanzas seconds apart count as close). Lines of IRC users that come meanwhile wait with
    them: every user sees every line once, in the order of the channel (as eve, on IRC, saw
    it), the last ones with no stanza after them too; then the leader reads as lines come.
    (Without echo-message the leader's own line is reflected to its user when said, as by
    Biboumi: where it falls among the others is not known then.)"""
    alice, carol, dave = clients
    eve = xc.LoopIrc(irc_net.port, "eve")
    eve.send("JOIN #test")
    eve.expect(r" 366 eve #test ")
    carol.send_message(mto=ROOM, mbody="D1", mtype="groupchat")
    bob.send("PRIVMSG #test :D2")
    dave.send_message(mto=ROOM, mbody="D3", mtype="groupchat")
    alice.send_message(mto=ROOM, mbody="D4", mtype="groupchat")
    bob.send("PRIVMSG #test :D5")
    carol.send_message(mto=ROOM, mbody="D6", mtype="groupchat")
    burst_said = d.mark()
    channel = []
    for _ in range(6):
        line = eve.expect(r"^:\w+!\S+ PRIVMSG #test :D\d$")
        channel.append(("msg", line[1:line.index("!")], line.rsplit(":", 1)[1]))
    texts = {e[2] for e in channel}
    assert texts == {f"D{i}" for i in range(1, 7)}, channel
    d.wait_for_log(r"alice@localhost on 127\.0\.0\.1: reads at the gateway's next input while stanzas come close")
    wait_events(clients, lambda e: e == channel[-1])
    settle(0.3)
    for user, c in zip(USERS, clients):
        ev = [e for e in c.events if e[0] == "msg" and e[2] in texts]
        want = channel
        if not echo and user == "alice":
            want, ev = [e for e in want if e[1] != "alice"], [e for e in ev if e[1] != "alice"]
            assert c.events.count(("msg", "alice", "D4")) == 1, c.events
        assert ev == want, (user, ev, channel)
    d.wait_for_log(r"alice@localhost on 127\.0\.0\.1: reads as lines come again", after=burst_said)
    eve.send("QUIT :done")


def scenario(irc_cls, checks, throttle="off", env=None):
    """Each check(irc_net, d, bob, clients) in turn, on one server, one parleyd, three users."""
    irc_net, d, bob, clients = start(irc_cls, throttle, env)
    try:
        for check in checks:
            check(irc_net, d, bob, clients)
    finally:
        stop(irc_net, d, clients)


THE_CHANNEL_AT_WORK = (
    check_burst,
    lambda irc_net, d, bob, clients: check_occupants_talking(bob, clients),
    lambda irc_net, d, bob, clients: check_follower_reflection(bob, clients),
    lambda irc_net, d, bob, clients: check_speakers_pm_and_handover(d, bob, clients),
)


def test_shared_reading_with_echo_message():
    scenario(Inspircd, THE_CHANNEL_AT_WORK)


def test_shared_reading_without_echo_message():
    scenario(InspircdNoEcho, THE_CHANNEL_AT_WORK)


def test_shared_reading_over_tls():
    # The puppets' sockets carry TLS: a follower's tick read decrypts what it reads.
    scenario(InspircdTls, THE_CHANNEL_AT_WORK)


def test_silent_drops_with_echo_message():
    scenario(InspircdSilent, [lambda irc_net, d, bob, clients: check_silent_drops(bob, clients, echo=True)])


def test_silent_drops_without_echo_message():
    scenario(InspircdNoEchoSilent, [lambda irc_net, d, bob, clients: check_silent_drops(bob, clients, echo=False)])


def test_leader_paste_under_throttle():
    scenario(InspircdNoEchoInputLog,
             [lambda irc_net, d, bob, clients: check_paste_under_throttle(irc_net, bob, clients)],
             throttle={"burst": 1, "interval_ms": 200})


def test_deferred_reads_with_echo_message():
    scenario(Inspircd, [lambda *a: check_deferred_reads(*a, echo=True)], env={"PARLEY_GATEWAY_READ_DEFER_MS": "1000"})


def test_deferred_reads_without_echo_message():
    scenario(InspircdNoEcho, [lambda *a: check_deferred_reads(*a, echo=False)], env={"PARLEY_GATEWAY_READ_DEFER_MS": "1000"})


if __name__ == "__main__":
    h.run_tests(globals())
