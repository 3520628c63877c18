"""The gateway on a network without echo-message (ngircd, issue 11): nothing is lost in a
link that dies.

Without echo-message nothing the server sends back says that it took a line, so a puppet
writes a PING after what the user says and counts it as arrived at its PONG (servers handle
a client's lines in order). Lines written into a TCP path that died, or to a server that
stopped and was killed, never got that PONG: they are sent again after the reconnection,
once, and the other XMPP users in the room see them once.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_unconfirmed.py
"""
import contextlib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_gateway_echo import back_in_test, join, said_to_a_stopped_server, say  # noqa: E402
from test_irc_gateway import GW, Inspircd, Ngircd, bob_in_test, drain, gateway_config  # noqa: E402
from xmpp_client import next_where, run, settle  # noqa: E402

xc.configure_logging()


def bodies_from(client, nick):
    return [m["body"] for m in client.all_group if m["from"].resource == nick]


def in_room(xmpp_port, jid, password, nick, bob):
    c = join(xmpp_port, jid, password, nick, bob)
    c.all_group = []  # every groupchat message, in order
    c.add_event_handler("groupchat_message", lambda m: m["body"] and c.all_group.append(m))
    return c


def test_what_a_dead_path_swallowed_is_sent_again_without_echo_message():
    """Both puppets' TCP paths to ngircd die without a word (a relay drops what parleyd
    writes, then closes). alice (the channel's first puppet: its reader) and dave (whose
    copies alice's puppet reads) each said a line into it, and alice a private message.
    After the reconnection bob, connected directly all along, gets each once; each XMPP
    user sees their own reflection once, and the other's line once if their own puppet
    was back in the channel before it (as an IRC user would)."""
    irc_net = Ngircd().start()
    proxy = h.TcpProxy(irc_net.port)
    try:
        with h.Parleyd(gateway_config(proxy.port)) as d:
            bob = bob_in_test(irc_net.port)
            alice = in_room(d.ports["xmpp"], "alice@localhost/x", "alicepw", "alice", bob)
            dave = in_room(d.ports["xmpp"], "dave@localhost/x", "davepw", "dave", bob)
            say(alice, "before", "b1")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :before$")
            run(next_where(dave.group, lambda m: m["body"] == "before"))
            settle(0.5)  # its marker PING written once alice was quiet (100 ms here), and its PONG read

            proxy.blackhole()
            say(alice, "alice into the void", "v1")
            say(dave, "dave into the void", "v2")
            alice.send_message(mto=f"bob%local@{GW}", mbody="private void", mtype="chat")
            settle(1.0)  # written (the relay took the bytes and dropped them)
            assert not any(" void" in l for l in bob.c.lines), bob.c.lines[-5:]
            proxy.drop()
            bob.expect(r"^:alice!\S+ QUIT ")
            bob.expect(r"^:alice!\S+ JOIN :?#test", timeout=20)
            lost = r"^:(alice|dave)!\S+ PRIVMSG (#test :alice into the void|#test :dave into the void|bob :private void)$"
            got = {bob.expect(lost, timeout=10).split(" ", 2)[2] for _ in range(3)}
            assert got == {"#test :alice into the void", "#test :dave into the void", "bob :private void"}, got

            say(alice, "alice after", "a1")
            say(dave, "dave after", "a2")
            after = r"^:(alice|dave)!\S+ PRIVMSG #test :(alice|dave) after$"
            assert {bob.expect(after).split(" :", 1)[1] for _ in range(2)} == {"alice after", "dave after"}
            settle(1.5)  # the XMPP users have what came
            # Each sees their own lines once. The other's line is seen once if their puppet was
            # back in #test before it came (bob's order is the server's), else not at all.
            for c, nick, other in ((alice, "alice", "dave"), (dave, "dave", "alice")):
                own = bodies_from(c, nick)
                assert own == (["before"] if nick == "alice" else []) + [f"{nick} into the void", f"{nick} after"], \
                    (nick, own)
                back = max(i for i, l in enumerate(bob.c.lines) if re.match(rf"^:{nick}!\S+ JOIN", l))
                said = bob.c.lines.index(next(l for l in bob.c.lines if l.endswith(f"#test :{other} into the void")))
                seen = bodies_from(c, other)
                assert seen == (["before"] if other == "alice" else []) + \
                    ([f"{other} into the void"] if back < said else []) + [f"{other} after"], \
                    (nick, seen, bob.c.lines[-12:])
            assert sum(bool(re.search(lost, l)) for l in bob.c.lines) == 3, bob.c.lines[-10:]  # sent once each
            assert re.search(r"alice@localhost on 127\.0\.0\.1: 2 line\(s\) \(1 private\) not known to have "
                             r"arrived before the link was lost: sent again", d.log())
            assert re.search(r"dave@localhost on 127\.0\.0\.1: 1 line\(s\) \(0 private\) not known", d.log())
            xc.bye(alice)
            xc.bye(dave)
            bob.c.close()
    finally:
        proxy.close()
        irc_net.close()


def test_a_line_a_stopped_server_never_took_is_sent_again():
    """ngircd stops (SIGSTOP) with alice's line in its socket buffer and is then killed: the
    line was written, never taken, and goes again after the reconnection. A line the live
    server took (its PONG came) is not sent again."""
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = bob_in_test(irc_net.port)
            alice = in_room(d.ports["xmpp"], "alice@localhost/x", "alicepw", "alice", bob)
            say(alice, "taken", "t1")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :taken$")
            settle(0.5)  # its PONG read
            said_to_a_stopped_server(irc_net, d, alice, bob, "in flight", "f1")
            assert re.search(r"alice@localhost on 127\.0\.0\.1: 1 line\(s\) \(0 private\) not known to have "
                             r"arrived before the link was lost: sent again", d.log()), d.log()[-2000:]
            bob = back_in_test(irc_net, "in flight")
            say(alice, "after", "a1")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :after$", timeout=10)
            assert not any(l.endswith("PRIVMSG #test :taken") for l in bob.c.lines), bob.c.lines
            settle(0.5)
            # reflected once each, when said (nothing echoes here)
            assert bodies_from(alice, "alice") == ["taken", "in flight", "after"], bodies_from(alice, "alice")
            assert [m["body"] for m in drain(alice.msg_errors)] == []
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


class InspircdWithoutEcho(Inspircd):
    """InspIRCd 3 with no echo-message and no fakelag: the order of what parleyd writes is
    what reaches bob (ngircd holds a client's fourth command in a second back)."""
    modules = ("cap", "namesx")


@contextlib.contextmanager
def alice_behind_a_relay(burst, interval_ms):
    """InspIRCd without echo-message, parleyd's puppets reaching it through a byte relay with
    that throttle, bob (raw IRC, direct) and alice (XMPP) in #test: (parleyd, relay, bob, alice)."""
    irc_net = InspircdWithoutEcho().start()
    proxy = h.TcpProxy(irc_net.port)
    try:
        cfg = gateway_config(proxy.port)
        cfg["irc"]["networks"][0]["throttle"] = {"burst": burst, "interval_ms": interval_ms}
        with h.Parleyd(cfg) as d:
            bob = bob_in_test(irc_net.port)
            alice = in_room(d.ports["xmpp"], "alice@localhost/x", "alicepw", "alice", bob)
            yield d, proxy, bob, alice
            xc.bye(alice)
            bob.c.close()
    finally:
        proxy.close()
        irc_net.close()


def test_the_marker_ping_never_goes_ahead_of_a_line_under_the_throttle():
    """A throttle of 5 lines at once, then one per 1.5 s: five messages said at once go
    first, and the one marker PING after them waits for the next token (a PING after each
    message would have taken the tokens of the fourth and fifth). Its PONG ends their
    tracking: a loss after it sends nothing again."""
    with alice_behind_a_relay(5, 1500) as (d, proxy, bob, alice):
        settle(8.0)  # the bucket full again after the join's lines
        start = proxy.mark()
        for i in range(5):
            say(alice, f"quick {i}", f"q{i}")
        for i in range(5):
            bob.expect(rf"^:alice!\S+ PRIVMSG #test :quick {i}$", timeout=10)
        deadline = time.monotonic() + 10
        while b"PING :parley." not in proxy.up[start:] and time.monotonic() < deadline:
            settle(0.2)
        sent = proxy.up[start:].decode()
        assert re.fullmatch(r"(PRIVMSG #test :quick \d\r\n){5}PING :parley\.\d+\r\n", sent), sent
        settle(0.5)  # its PONG
        proxy.drop()
        bob.expect(r"^:alice!\S+ QUIT ")
        bob.expect(r"^:alice!\S+ JOIN :?#test", timeout=20)
        say(alice, "after", "a1")
        bob.expect(r"^:alice!\S+ PRIVMSG #test :after$", timeout=10)
        assert sum(" :quick " in l for l in bob.c.lines) == 5, bob.c.lines[-10:]
        assert "not known to have arrived" not in d.log()


def test_output_that_is_never_quiet_still_gets_a_marker():
    """One line per 400 ms through the throttle, and a message said every 300 ms: the queue
    never drains, so no quiet interval comes. The marker PING is queued behind the lines
    once 8 wait for one, well before the last of 14 is written."""
    with alice_behind_a_relay(1, 400) as (d, proxy, bob, alice):
        settle(1.0)
        start = proxy.mark()
        for i in range(14):
            say(alice, f"steady {i}", f"s{i}")
            settle(0.3)
        bob.expect(r"^:alice!\S+ PRIVMSG #test :steady 13$", timeout=15)
        sent = proxy.up[start:].decode()
        assert "PING :parley." in sent.split("PRIVMSG #test :steady 13")[0], sent


def test_a_leaders_marker_does_not_wait_for_the_throttles_quiet_interval():
    """alice's puppet reads #test for dave's (shared reading): the other XMPP users are
    handed her own line at its marker's PONG, so that PING goes right after the line, not
    after the quiet interval (5 s here) the throttle makes other markers wait. dave sees
    the line once."""
    with alice_behind_a_relay(5, 5000) as (d, proxy, bob, alice):
        dave = in_room(d.ports["xmpp"], "dave@localhost/x", "davepw", "dave", bob)
        d.wait_for_log(r"dave@localhost on 127\.0\.0\.1: hears #test through another puppet", timeout=10)
        say(alice, "to everyone", "e1")
        bob.expect(r"^:alice!\S+ PRIVMSG #test :to everyone$", timeout=10)
        deadline = time.monotonic() + 3  # the quiet interval is 5 s
        while b"PRIVMSG #test :to everyone\r\nPING :parley." not in proxy.up and time.monotonic() < deadline:
            settle(0.1)
        assert b"PRIVMSG #test :to everyone\r\nPING :parley." in proxy.up, proxy.up[-200:]
        run(next_where(dave.group, lambda m: m["body"] == "to everyone"))
        settle(1.0)
        assert [m["body"] for m in dave.all_group].count("to everyone") == 1
        xc.bye(dave)


def test_a_followers_line_is_confirmed_by_its_leaders_copy():
    """dave's puppet hears #test through alice's: alice's puppet reading dave's line says it
    arrived, so dave's puppet writes no PING for it (nine lines in ten at ten occupants),
    and after a loss it is not sent again."""
    with alice_behind_a_relay(20, 100) as (d, proxy, bob, alice):
        dave = in_room(d.ports["xmpp"], "dave@localhost/x", "davepw", "dave", bob)
        d.wait_for_log(r"dave@localhost on 127\.0\.0\.1: hears #test through another puppet", timeout=10)
        settle(0.5)
        start = proxy.mark()
        say(dave, "from dave", "d1")
        bob.expect(r"^:dave!\S+ PRIVMSG #test :from dave$")
        run(next_where(alice.group, lambda m: m["body"] == "from dave"))
        run(next_where(dave.group, lambda m: m["id"] == "d1"))  # reflected at alice's copy
        settle(1.0)
        assert proxy.up[start:] == b"PRIVMSG #test :from dave\r\n", proxy.up[start:]
        proxy.drop()
        for nick in ("alice", "dave"):
            bob.expect(rf"^:{nick}!\S+ QUIT ")
        for _ in range(2):
            bob.expect(r"^:(alice|dave)!\S+ JOIN :?#test", timeout=20)
        say(dave, "dave again", "d2")
        bob.expect(r"^:dave!\S+ PRIVMSG #test :dave again$", timeout=10)
        assert sum(l.endswith(" :from dave") for l in bob.c.lines) == 1, bob.c.lines[-10:]
        assert "not known to have arrived" not in d.log()
        xc.bye(dave)


def test_a_raw_ping_cannot_confirm_lines():
    """A raw command to the server JID that is a PING with the marker's token (in any
    spelling) would make parleyd take unwritten lines as arrived: refused with
    <not-acceptable/>, and nothing reaches IRC; another raw PING goes through."""
    with alice_behind_a_relay(20, 100) as (d, proxy, bob, alice):
        settle(0.5)
        start = proxy.mark()
        for i, body in enumerate(("PING :parley.7", "ping parley.99", "@t=1 :x PING :parley.3")):
            m = alice.make_message(mto=f"local@{GW}", mbody=body, mtype="chat")
            m["id"] = f"r{i}"
            m.send()
            e = run(next_where(alice.msg_errors, lambda m, i=i: m["id"] == f"r{i}"))
            assert e["error"]["condition"] == "not-acceptable", e
        alice.send_message(mto=f"local@{GW}", mbody="PING :hello", mtype="chat")
        deadline = time.monotonic() + 5
        while b"PING :hello" not in proxy.up[start:] and time.monotonic() < deadline:
            settle(0.1)
        assert proxy.up[start:] == b"PING :hello\r\n", proxy.up[start:]


if __name__ == "__main__":
    h.run_tests(globals())
