"""The gateway on a network with IRCv3 echo-message (InspIRCd 3, issue 11).

A puppet asks for echo-message where the network offers it, and the XEP-0045 §7.4
reflection of an XMPP user's message goes out when the server echoes the line: the sender
sees what the channel saw, in the channel's order, with their own stanza id. A line the
channel refuses (+m, 404 ERR_CANNOTSENDTOCHAN) is an error to the sender instead of a
reflection, so a client never shows as sent what nobody on IRC read. What the user says
while the network is down is reflected only once it has reached the channel, and a line
written to a server that died before taking it, or into a TCP path that died, is sent again
after the reconnection (private messages too).

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_echo.py
"""
import asyncio
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_irc_gateway import GW, ROOM, Client, Inspircd, bob_in_test, drain, gateway_config  # noqa: E402
from xmpp_client import next_where, run, settle  # noqa: E402

xc.configure_logging()


def say(client, body, mid):
    m = client.make_message(mto=ROOM, mbody=body, mtype="groupchat")
    m["id"] = mid
    m.send()


def stanza_id(m):
    """The XEP-0359 stanza-id the room gave the message, or None."""
    e = m.xml.find("{urn:xmpp:sid:0}stanza-id")
    return e.get("id") if e is not None else None


def join(xmpp_port, jid, password, nick, bob):
    c = xc.login(Client, xmpp_port, jid, password)
    c.msg_errors = asyncio.Queue()
    c.add_event_handler("message_error", lambda m: c.msg_errors.put_nowait(m))
    c.bodies = []  # every groupchat body it got, in order
    c.add_event_handler("groupchat_message", lambda m: m["body"] and c.bodies.append(m["body"]))
    run(c.plugin["xep_0045"].join_muc_wait(ROOM, nick, maxstanzas=0))
    bob.expect(rf"^:{nick}!\S+ JOIN :?#test")
    return c


def test_echo_message_reflects_what_the_channel_saw():
    irc_net = Inspircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = bob_in_test(irc_net.port)  # bob opens #test: he is its operator
            alice = join(d.ports["xmpp"], "alice@localhost/x", "alicepw", "alice", bob)
            dave = join(d.ports["xmpp"], "dave@localhost/x", "davepw", "dave", bob)

            say(alice, "first", "m1")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :first$")
            r = run(next_where(alice.group, lambda m: m["body"] == "first"))
            assert r["id"] == "m1" and r["from"].resource == "alice", r
            c = run(next_where(dave.group, lambda m: m["body"] == "first"))
            assert c["from"].resource == "alice", c
            # archived once, as heard: the sender's reflection and dave's copy name one MAM id
            assert stanza_id(r) and stanza_id(r) == stanza_id(c), (r, c)

            # A moderated channel refuses alice's line: an error with her id, no reflection.
            bob.send("MODE #test +m")
            bob.expect(r"MODE #test :?\+m")
            say(alice, "muted", "m2")
            e = run(next_where(alice.msg_errors, lambda m: m["id"] == "m2"))
            assert e["error"]["condition"] == "forbidden" and e["error"]["type"] == "auth", e
            assert "+m" in e["error"]["text"] or "send" in e["error"]["text"].lower(), e
            bob.send("MODE #test -m")
            bob.expect(r"MODE #test :?-m")

            # Two lines in, two IRC lines out, one reflection of the whole body with its id.
            say(alice, "line one\nline two", "m3")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :line one$")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :line two$")
            r = run(next_where(alice.group, lambda m: m["id"] == "m3"))
            assert r["body"] == "line one\nline two", r
            say(alice, "/me waves", "m4")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :\x01ACTION waves\x01$")
            r = run(next_where(alice.group, lambda m: m["id"] == "m4"))
            assert r["body"] == "/me waves", r
            # bob's line after all of them: alice's queue holds it last, and nothing twice
            bob.send("PRIVMSG #test :end")
            run(next_where(dave.group, lambda m: m["body"] == "end"))
            run(next_where(alice.group, lambda m: m["body"] == "end"))
            settle(0.3)
            # each reflected once, in the channel's order; the muted line neither reflected
            # nor heard by dave
            assert alice.bodies == ["first", "line one\nline two", "/me waves", "end"], alice.bodies
            assert dave.bodies == ["first", "line one", "line two", "/me waves", "end"], dave.bodies
            assert drain(alice.msg_errors) == []
            xc.bye(dave)
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def talking_in_test(irc_port, xmpp_port):
    """bob (raw IRC) and alice (XMPP) in #test, alice's first line reflected."""
    bob = bob_in_test(irc_port)
    alice = join(xmpp_port, "alice@localhost/x", "alicepw", "alice", bob)
    say(alice, "before", "b1")
    run(next_where(alice.group, lambda m: m["id"] == "b1"))
    return bob, alice


def back_in_test(irc_net, text):
    """The network is started again on its port and bob is in #test again; he sees alice's
    line `text` if he came before her puppet (on a loaded machine its retry may beat his
    registration: the NAMES bob got list alice then)."""
    irc_net.start()
    bob = bob_in_test(irc_net.port)
    names = [l for l in bob.c.lines if " 353 bob " in l][-1]
    if "alice" not in names.split(" :", 1)[1].replace("@", " ").split():
        bob.expect(r"^:alice!\S+ JOIN :?#test", timeout=20)
        bob.expect(rf"^:alice!\S+ PRIVMSG #test :{text}$", timeout=10)
    return bob


def said_to_a_stopped_server(irc_net, d, alice, bob, text, mid):
    """The IRC server stops (SIGSTOP), alice says `text` (written to its socket, never read),
    the server is killed, bob's client closed, and alice's puppet has lost the link and
    failed a first reconnection."""
    os.kill(irc_net.proc.pid, signal.SIGSTOP)
    say(alice, text, mid)
    settle(1.0)  # written to the stopped server's socket
    irc_net.kill()
    bob.c.close()
    d.wait_for_log(r"gateway: alice@localhost lost 127\.0\.0\.1", timeout=10)
    mark = d.mark()
    d.wait_for_log(r"gateway: alice@localhost -> 127\.0\.0\.1:\d+: .*retry in", timeout=15, after=mark)


def test_echo_message_reflects_a_queued_line_once_it_reached_the_channel():
    irc_net = Inspircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob, alice = talking_in_test(irc_net.port, d.ports["xmpp"])
            irc_net.kill()
            bob.c.close()
            d.wait_for_log(r"gateway: alice@localhost lost 127\.0\.0\.1", timeout=10)
            say(alice, "said while down", "q1")
            mark = d.mark()
            d.wait_for_log(r"gateway: alice@localhost -> 127\.0\.0\.1:\d+: .*retry in", timeout=15, after=mark)
            settle(1.0)  # let alice's client read what has come (wait_for_log does not run the loop)
            assert [m["body"] for m in drain(alice.group)] == [], "reflected before it reached IRC"
            bob = back_in_test(irc_net, "said while down")
            r = run(next_where(alice.group, lambda m: m["id"] == "q1"), timeout=10)
            assert r["body"] == "said while down", r
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_echo_message_a_line_the_lost_server_never_took_is_sent_again():
    """InspIRCd stops (SIGSTOP) with alice's line in its socket buffer and is then killed: the
    line was written but never taken. It is sent again after the reconnection and reflected
    once, when the new link echoes it, instead of being reflected as sent when the link was
    lost and never reaching IRC."""
    irc_net = Inspircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob, alice = talking_in_test(irc_net.port, d.ports["xmpp"])
            said_to_a_stopped_server(irc_net, d, alice, bob, "in flight", "f1")
            settle(1.0)
            assert [m["body"] for m in drain(alice.group)] == [], "reflected though IRC never took it"
            assert re.search(r"1 line\(s\) to #test not echoed before the link was lost: sent again", d.log())
            bob = back_in_test(irc_net, "in flight")
            # reflected when the new link echoed it: the channel has it
            r = run(next_where(alice.group, lambda m: m["id"] == "f1"), timeout=20)
            assert r["body"] == "in flight", r
            say(alice, "after", "a1")
            bodies = []
            run(next_where(alice.group, lambda m: bodies.append(m["body"]) or m["id"] == "a1"))
            assert bodies == ["after"], bodies  # once
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_echo_message_what_a_dead_path_swallowed_is_sent_again():
    """The puppet's TCP path to InspIRCd dies without a word (a relay drops what parleyd
    writes, then closes): alice's channel line and private message written into it were
    never echoed, so after the reconnection both are sent again. bob, connected directly all
    along, gets each once; alice's line is reflected once, at its new echo."""
    irc_net = Inspircd().start()
    proxy = h.TcpProxy(irc_net.port)
    try:
        with h.Parleyd(gateway_config(proxy.port)) as d:
            bob, alice = talking_in_test(irc_net.port, d.ports["xmpp"])
            alice.send_message(mto=f"bob%local@{GW}", mbody="psst", mtype="chat")
            bob.expect(r"^:alice!\S+ PRIVMSG bob :psst$")

            proxy.blackhole()
            say(alice, "into the void", "v1")
            alice.send_message(mto=f"bob%local@{GW}", mbody="private void", mtype="chat")
            settle(1.0)  # written (the relay took the bytes and dropped them)
            assert [m["body"] for m in drain(alice.group)] == [], "reflected though IRC never took it"
            proxy.drop()
            bob.expect(r"^:alice!\S+ QUIT ")
            bob.expect(r"^:alice!\S+ JOIN :?#test", timeout=20)
            lost = r"^:alice!\S+ PRIVMSG (#test :into the void|bob :private void)$"
            got = {bob.expect(lost, timeout=10).split(" ", 2)[2], bob.expect(lost, timeout=10).split(" ", 2)[2]}
            assert got == {"#test :into the void", "bob :private void"}, got
            r = run(next_where(alice.group, lambda m: m["id"] == "v1"), timeout=10)
            assert r["body"] == "into the void", r
            say(alice, "after", "a1")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :after$")
            bodies = []
            run(next_where(alice.group, lambda m: bodies.append(m["body"]) or m["id"] == "a1"))
            assert bodies == ["after"], bodies  # reflected once
            assert sum(bool(re.search(lost, l)) for l in bob.c.lines) == 2, bob.c.lines[-10:]  # sent once each
            assert re.search(r"1 line\(s\) \(1 private\) not known to have arrived before the link was lost: sent again",
                             d.log())
            xc.bye(alice)
            bob.c.close()
    finally:
        proxy.close()
        irc_net.close()


if __name__ == "__main__":
    h.run_tests(globals())
