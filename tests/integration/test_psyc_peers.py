"""Two parleyd nodes linked as PSYC peers (psyc.peers, adapters/psyc/peer_link.hpp) on
loopback share rooms: IRC and PSYC users on node A, IRC users on node B.

Node A (psyc://a.test) dials node B (psyc://b.test: its uniform sorts later) through a
counting TCP proxy in this script (CountingProxy: a real byte relay, no mock), which
records every byte A sends to B. The proxy can refuse connections (a link drop that lasts).

Proves: messages both ways; a message to a room with M members on B crosses the link as
exactly one packet; joins and parts are context state; after a drop and B's restart the
link comes back with '?' and the membership is right; messages sent meanwhile are queued
and delivered after the resync, an overflow of psyc.peer_queue is an error the sender
sees; a wrong proof is refused; the secret never crosses the wire; topics (both ways),
nick changes and kicks (of the other node's member, and within a node) reach the other
node as what they are, one packet each; a kick and a topic made while the link is down
hold after the relink (the kicked person is not brought back by the resync); channel
modes and member status cross both ways. Over TLS (psyc.peers[].tls, no proxy): A dials
B's tls: listener and pins B's self-signed certificate; a wrong pin is refused with a
clear log line and backoff, and B refuses its TLS peer's link over plain TCP.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_psyc_peers.py
"""
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_psyc import PsycClient, irc_client, parse_packet  # noqa: E402

SECRET = "s3cret-shared"
A, B = "a.test", "b.test"


class CountingProxy(h.TcpProxy):
    """h.TcpProxy, with A's packets to B read back out of what it relayed."""

    def packets_since(self, mark):
        """The non-empty packets A sent to B after `mark` (the stream is cut at packet ends)."""
        with self.lock:
            buf = self.up[mark:]
        out = []
        while buf:
            while buf.startswith(b"|\n"):  # greetings and keepalives: empty packets
                buf = buf[2:]
            if not buf:
                break
            got = parse_packet(buf)
            if not got:
                break
            p, n = got
            out.append(p)
            buf = buf[n:]
        return out


def irc_in_dev(port, nick):
    """An IRC client registered as `nick` and in #dev (its 366 seen)."""
    c = irc_client(port, nick)
    c.send("JOIN #dev")
    c.expect(rf" 366 {nick} #dev ")
    return c


def nodes(queue=1000, b_xmpp=False):
    pa, pb = h.free_port(), h.free_port()
    proxy = CountingProxy(pb)
    ca = h.config(irc=True, psyc=True, domain=A)
    cb = h.config(irc=True, psyc=True, xmpp=b_xmpp, domain=B, accounts=[("xena", "xenapw")])
    ca["psyc"] = {"listen": [f"127.0.0.1:{pa}"], "peer_queue": queue, "peer_backoff_max": 1,
                  "peers": [{"host": "127.0.0.1", "port": proxy.port, "uniform": f"psyc://{B}", "secret": SECRET}]}
    cb["psyc"] = {"listen": [f"127.0.0.1:{pb}"],
                  "peers": [{"host": "127.0.0.1", "port": pa, "uniform": f"psyc://{A}", "secret": SECRET}]}
    ca["_ports"]["psyc"], cb["_ports"]["psyc"] = pa, pb
    return ca, cb, proxy


def psyc_user(port, domain, name):
    c = PsycClient(port)
    c.send("_request_link", f"psyc://{domain}/~{name}")
    c.expect("_notice_link")
    return c


def test_rooms_span_nodes_one_copy_per_server():
    ca, cb, proxy = nodes()
    with h.Parleyd(ca) as a, h.Parleyd(cb) as b:
        a.wait_for_log(r"psyc peer psyc://b.test: link up \(dialed\)", 15)
        b.wait_for_log(r"psyc peer psyc://a.test: link up \(accepted\)", 5)
        anna = irc_in_dev(a.ports["irc"], "anna")
        M = 5
        bobs = []
        for i in range(M):
            c = irc_client(b.ports["irc"], f"bob{i}")
            c.send("JOIN #dev")
            c.expect(rf" 366 bob{i} #dev ")
            bobs.append(c)
        # Membership crossed as context state: anna sees B's members, B's members see anna.
        for i in range(M):
            anna.expect(rf"^:bob{i}!\S+ JOIN :?#dev")
        bobs[-1].send("NAMES #dev")
        bobs[-1].expect(rf" 353 bob{M-1} . #dev :.*\banna\b")

        # One message from A to a room with M members on B: one packet on the link.
        time.sleep(0.5)
        mark = proxy.mark()
        anna.send("PRIVMSG #dev :hello across")
        for i, c in enumerate(bobs):
            c.expect(r"^:anna!\S+ PRIVMSG #dev :hello across$")
        time.sleep(0.5)
        sent = proxy.packets_since(mark)
        assert [p.method for p in sent] == ["_message_public"], sent
        assert sent[0].get("_context") == f"psyc://{A}/@dev" and sent[0].data == "hello across", sent
        print(f"  one message, {M} members on B: {len(sent)} packet crossed A->B")

        # And back, with an action; PSYC clients on A get it too.
        pat = psyc_user(a.ports["psyc"], A, "pat")
        pat.send("_request_context_enter", f"psyc://{A}/@dev")
        pat.expect("_echo_context_enter")
        bobs[0].send("PRIVMSG #dev :hi from b")
        anna.expect(r"^:bob0!\S+ PRIVMSG #dev :hi from b$")
        m = pat.expect("_message_public", _context=f"psyc://{A}/@dev", _nick="bob0")
        assert m.data == "hi from b", m
        bobs[1].send("PRIVMSG #dev :\x01ACTION waves\x01")
        anna.expect(r"^:bob1!\S+ PRIVMSG #dev :\x01ACTION waves\x01$")
        bobs[2].expect(r"^:bob1!\S+ PRIVMSG #dev :\x01ACTION waves\x01$")  # B's own fan-out, once
        # Loop prevention: what B sent A is not sent back to B.
        mark = proxy.mark()
        bobs[0].send("PRIVMSG #dev :no echo")
        anna.expect(r"PRIVMSG #dev :no echo$")
        time.sleep(0.5)
        assert proxy.packets_since(mark) == [], proxy.packets_since(mark)

        # A part is state too.
        bobs[4].send("PART #dev :later")
        anna.expect(r"^:bob4!\S+ PART #dev")
        pat.send("_message_public", f"psyc://{A}/@dev", data="psyc to irc across")
        bobs[0].expect(r"^:pat!\S+ PRIVMSG #dev :psyc to irc across$")
        assert SECRET.encode() not in proxy.up  # the secret itself never crosses
        # Every packet was well-formed: the link never dropped (a drop would resync and hide it).
        for n in (a, b):
            assert "malformed" not in n.log() and "link down" not in n.log(), n.log()
        for c in bobs + [anna]:
            c.close()
        pat.close()
    proxy.close()


def test_topic_nicks_and_kicks_cross_the_link():
    """Room state beyond membership: a topic set on either node, a nick change and kicks
    (of a member of the other node, and within one node) reach the members on the other
    node as what they are (TOPIC, NICK, KICK with the kicker), each as one packet."""
    ca, cb, proxy = nodes()
    with h.Parleyd(ca) as a, h.Parleyd(cb) as b:
        a.wait_for_log(r"psyc peer psyc://b.test: link up \(dialed\)", 15)
        anna = irc_client(a.ports["irc"], "anna")  # first on A: A's channel operator
        anna.send("JOIN #dev")
        anna.expect(r" 366 anna #dev ")
        bs = {}
        for n in ("carol", "bob", "dave"):  # carol first on B: B's channel operator
            c = irc_client(b.ports["irc"], n)
            c.send("JOIN #dev")
            c.expect(rf" 366 {n} #dev ")
            anna.expect(rf"^:{n}!\S+ JOIN :?#dev")
            bs[n] = c
        carol, bob, dave = bs["carol"], bs["bob"], bs["dave"]
        pat = psyc_user(a.ports["psyc"], A, "pat")
        pat.send("_request_context_enter", f"psyc://{A}/@dev")
        pat.expect("_echo_context_enter")
        for c in bs.values():
            c.expect(r"^:pat!\S+ JOIN :?#dev")
        time.sleep(0.3)

        # A topic set on A: B's members see it, as set by anna; one packet.
        mark = proxy.mark()
        anna.send("TOPIC #dev :release on friday")
        for c in bs.values():
            c.expect(r"^:anna\S* TOPIC #dev :release on friday$")
        time.sleep(0.3)
        assert [p.method for p in proxy.packets_since(mark)] == ["_notice_context_topic"], proxy.packets_since(mark)
        # And back: B's topic reaches A, and is not sent back to B.
        mark = proxy.mark()
        carol.send("TOPIC #dev :moved to monday")
        anna.expect(r"^:carol\S* TOPIC #dev :moved to monday$")
        time.sleep(0.3)
        assert proxy.packets_since(mark) == [], proxy.packets_since(mark)
        anna.send("TOPIC #dev")
        anna.expect(r" 332 anna #dev :moved to monday$")

        # A nick change on B: A's members see NICK, and the new nick speaks.
        bob.send("NICK bobby")
        bob.expect(r"NICK :?bobby$")
        anna.expect(r"^:bob!\S+ NICK :?bobby$")
        bob.send("PRIVMSG #dev :renamed")
        anna.expect(r"^:bobby!\S+ PRIVMSG #dev :renamed$")

        # A's operator kicks a member of B: B removes him there, everyone sees the kick.
        mark = proxy.mark()
        anna.send("KICK #dev bobby :not now")
        anna.expect(r"^:anna!\S+ KICK #dev bobby :not now$")
        bob.expect(r"^:anna\S* KICK #dev bobby :not now$")
        carol.expect(r"^:anna\S* KICK #dev bobby :not now$")
        time.sleep(0.3)
        assert [p.method for p in proxy.packets_since(mark)] == ["_notice_context_leave"], proxy.packets_since(mark)
        carol.send("NAMES #dev")
        names = carol.expect(r" 353 carol . #dev :")
        assert "bobby" not in names and "anna" in names, names
        anna.send("NAMES #dev")
        names = anna.expect(r" 353 anna . #dev :")
        assert "bobby" not in names and "carol" in names, names

        # B's operator kicks one of B's own members: A's members see a kick, not a part.
        carol.send("KICK #dev dave :local matter")
        dave.expect(r"^:carol!\S+ KICK #dev dave :local matter$")
        anna.expect(r"^:carol\S* KICK #dev dave :local matter$")

        # B's operator kicks a member of A: A removes her, A's PSYC member sees her go.
        carol.send("KICK #dev anna :your turn")
        carol.expect(r"^:carol!\S+ KICK #dev anna :your turn$")
        anna.expect(r"^:carol\S* KICK #dev anna :your turn$")
        pat.expect("_notice_context_leave_kick", _nick="anna", _reason="your turn")
        time.sleep(0.3)
        carol.send("NAMES #dev")
        names = carol.expect(r" 353 carol . #dev :")
        assert "anna" not in names and "pat" in names, names
        # The rooms still work both ways after all that.
        carol.send("PRIVMSG #dev :still linked")
        m = pat.expect("_message_public", _context=f"psyc://{A}/@dev", _nick="carol")
        assert m.data == "still linked", m
        for n in (a, b):
            assert "malformed" not in n.log() and "link down" not in n.log(), n.log()
        for c in list(bs.values()) + [anna]:
            c.close()
        pat.close()
    proxy.close()


def _anna_on_a_carol_and_bob_on_b(a, b):
    """anna in #dev on A, carol and bob in #dev on B, once anna has seen bob join."""
    a.wait_for_log(r"psyc peer psyc://b.test: link up \(dialed\)", 15)
    anna = irc_in_dev(a.ports["irc"], "anna")
    carol = irc_in_dev(b.ports["irc"], "carol")
    bob = irc_in_dev(b.ports["irc"], "bob")
    anna.expect(r"^:bob!\S+ JOIN :?#dev")
    return anna, carol, bob


def _kill_bobs_mirror_on_a(a, anna):
    """`parleyd ctl kick` of the session mirroring bob on A; anna sees him go."""
    rows = [r.split() for r in a.control("sessions").splitlines()[1:]]
    mirror = [r[0] for r in rows if r[1] == "psyc" and r[2].startswith("bob.")]
    assert len(mirror) == 1, rows
    assert a.control(f"kick {mirror[0]} spam").startswith("ok")
    anna.expect(r"^:bob!\S+ (QUIT|PART|KICK)")


def _bob_gone_on_both(anna, carol):
    for c, me in ((carol, "carol"), (anna, "anna")):
        c.send("NAMES #dev")
        names = c.expect(rf" 353 {me} . #dev :")
        assert "bob" not in names.split(":", 2)[-1].split(), names


def _bob_joins_again_and_is_heard_on_a(anna, bob):
    bob.send("JOIN #dev")
    bob.expect(r" 366 bob #dev ")
    anna.expect(r"^:bob!\S+ JOIN :?#dev")
    # B forwards a room's lines to the nodes it knows share the room: after B had dropped
    # #dev, it learns of anna again from A's answer to bob's join. Seen in CI under load:
    # bob's line reached B before that answer (through the test's proxy) and went nowhere.
    # That window is the protocol's (noted on issue 11); this test is about the kick.
    for _ in range(100):
        bob.send("NAMES #dev")
        names = bob.expect(r" 353 bob . #dev :")
        if "anna" in names.split(":", 2)[-1].split():
            break
        time.sleep(0.05)
    else:
        raise AssertionError("B never listed anna in #dev again")
    bob.send("PRIVMSG #dev :back again")
    anna.expect(r"^:bob!\S+ PRIVMSG #dev :back again$")


def test_killing_a_mirror_session_is_a_kick_on_both_nodes():
    """A's operator KILLs the session mirroring B's bob on A (`parleyd ctl kick`): B removes
    bob from the room as a kick, both nodes agree he is gone, and when he joins again he is
    mirrored afresh and heard on A (before, A kept a mirror without a session and dropped
    everything he said while both nodes still listed him)."""
    ca, cb, proxy = nodes()
    ca["server"]["control_socket"] = "./var/control"
    with h.Parleyd(ca) as a, h.Parleyd(cb) as b:
        anna, carol, bob = _anna_on_a_carol_and_bob_on_b(a, b)
        _kill_bobs_mirror_on_a(a, anna)
        bob.expect(r"^:\S+ KICK #dev bob :spam$")
        carol.expect(r"^:\S+ KICK #dev bob :spam$")
        _bob_gone_on_both(anna, carol)
        _bob_joins_again_and_is_heard_on_a(anna, bob)
        for n in (a, b):
            assert "malformed" not in n.log(), n.log()
        for c in (anna, carol, bob):
            c.close()
    proxy.close()


def test_what_crossed_a_kick_on_the_wire_does_not_bring_the_mirror_back():
    """A kills the mirror of B's bob while B's packets about bob (he left and came back)
    are still on their way to A: A does not mirror him again from them, B answers the kick
    with his leave, and both nodes agree he is gone until he joins again."""
    ca, cb, proxy = nodes()
    ca["server"]["control_socket"] = "./var/control"
    with h.Parleyd(ca) as a, h.Parleyd(cb) as b:
        anna, carol, bob = _anna_on_a_carol_and_bob_on_b(a, b)
        proxy.down_open.clear()  # B -> A held from here
        bob.send("PART #dev")
        bob.send("JOIN #dev")
        bob.expect(r" 366 bob #dev ")
        _kill_bobs_mirror_on_a(a, anna)
        after_kick = len(anna.lines)
        bob.expect(r"^:\S+ KICK #dev bob :spam$")
        carol.expect(r"^:\S+ KICK #dev bob :spam$")
        proxy.down_open.set()  # bob's part and join, then B's answer to the kick
        carol.send("PRIVMSG #dev :after the kick")
        anna.expect(r"^:carol!\S+ PRIVMSG #dev :after the kick$")
        _bob_gone_on_both(anna, carol)
        back = [x for x in anna.lines[after_kick:] if re.match(r":bob!\S+ JOIN", x)]
        assert not back, back
        _bob_joins_again_and_is_heard_on_a(anna, bob)
        for c in (anna, carol, bob):
            c.close()
    proxy.close()


def test_a_kick_that_crossed_the_last_local_leave_does_not_hide_the_person_later():
    """bob, B's last member in #dev, leaves while A kills his mirror: B no longer shares
    the room when the kick comes, so it does not apply it, but it still answers with his
    leave; A then stops ignoring him there, and when he joins again A sees and hears him
    (before, A kept ignoring him until the link resynced)."""
    ca, cb, proxy = nodes()
    ca["server"]["control_socket"] = "./var/control"
    with h.Parleyd(ca) as a, h.Parleyd(cb) as b:
        a.wait_for_log(r"psyc peer psyc://b.test: link up \(dialed\)", 15)
        anna = irc_in_dev(a.ports["irc"], "anna")
        bob = irc_in_dev(b.ports["irc"], "bob")
        anna.expect(r"^:bob!\S+ JOIN :?#dev")
        proxy.down_open.clear()  # B -> A held from here: bob's part waits
        bob.send("PART #dev")
        bob.expect(r"^:bob!\S+ PART #dev")
        time.sleep(0.3)  # B has dropped the room it no longer shares
        _kill_bobs_mirror_on_a(a, anna)
        time.sleep(0.5)  # the kick reached B, which does not share the room any more
        proxy.down_open.set()  # bob's part, then B's answer to the kick
        _bob_joins_again_and_is_heard_on_a(anna, bob)
        for n in (a, b):
            assert "malformed" not in n.log(), n.log()
        for c in (anna, bob):
            c.close()
    proxy.close()


def test_link_drop_restart_resync_and_bounded_queue():
    ca, cb, proxy = nodes(queue=2)
    with h.Parleyd(ca) as a:
        b = h.Parleyd(cb).start()
        try:
            a.wait_for_log(r"link up \(dialed\)", 15)
            pat = psyc_user(a.ports["psyc"], A, "pat")
            pat.send("_request_context_enter", f"psyc://{A}/@dev")
            pat.expect("_echo_context_enter")
            bob = irc_client(b.ports["irc"], "bob")
            bob.send("JOIN #dev")
            pat.expect("_notice_context_enter", _nick="bob")

            # B goes away and the link stays down (the proxy refuses) while B restarts.
            proxy.accepting = False
            mark = a.mark()
            b.stop()
            b.close()
            a.wait_for_log(r"psyc peer psyc://b.test: link down", 10, after=mark)
            # Messages while down are queued (psyc.peer_queue = 2), beyond that refused.
            for i in range(2):
                pat.send("_message_public", f"psyc://{A}/@dev", data=f"queued {i}")
            pat.send("_message_public", f"psyc://{A}/@dev", data="one too many")
            err = pat.expect("_error_.*")
            assert "queue is full" in (err.data or ""), err

            b = h.Parleyd(cb).start()
            carol = irc_in_dev(b.ports["irc"], "carol")
            mark_up = proxy.mark()
            proxy.accepting = True
            b.wait_for_log(r"link up \(accepted\)", 15)
            # Resync: A asked with '?', B's old member is gone on A, the new one is there.
            pat.expect("_notice_context_leave", timeout=10, _nick="bob")
            pat.expect("_notice_context_enter", _nick="carol")
            carol.expect(r"^:pat!\S+ JOIN :?#dev")
            assert b"\n?\n|\n" in proxy.up[mark_up:], "no '?' (resync request) sent"
            # The queued messages arrive after the state that makes them land, in order.
            carol.expect(r"^:pat!\S+ PRIVMSG #dev :queued 0$")
            carol.expect(r"^:pat!\S+ PRIVMSG #dev :queued 1$")
            carol.send("NAMES #dev")
            names = carol.expect(r" 353 carol . #dev :")
            assert "pat" in names and "bob" not in names, names
            pat.send("_message_public", f"psyc://{A}/@dev", data="after")
            carol.expect(r"^:pat!\S+ PRIVMSG #dev :after$")
            assert "one too many" not in "\n".join(carol.lines)
            carol.close()
            pat.close()
            assert b.stop() == 0
        finally:
            b.close()
    proxy.close()


def test_a_wrong_proof_is_refused():
    ca, cb, proxy = nodes()
    with h.Parleyd(cb) as b:
        # Someone claiming to be node A, without the secret: B answers with its challenge
        # (and its own proof, which does not reveal the secret); a wrong answer is refused.
        c = PsycClient(b.ports["psyc"])
        c.send("_request_link", f"psyc://{B}", routing=[(":", "_source", f"psyc://{A}")],
               entity=[(":", "_nonce_link", "0" * 64)])
        q = c.expect("_query_link_proof")
        assert len(q.get("_nonce_link")) == 64 and len(q.get("_proof_link")) == 64, q
        c.send("_request_link", f"psyc://{B}", routing=[(":", "_source", f"psyc://{A}")],
               entity=[(":", "_proof_link", "f" * 64)])
        c.expect("_error_invalid_proof")
        assert c.closed()
        b.wait_for_log(r"psyc peer psyc://a.test: link refused: wrong link proof", 5)
        # A node with another secret never links: it finds B's proof wrong and hangs up.
        ca["psyc"]["peers"][0]["secret"] = "not-the-secret"
        with h.Parleyd(ca) as a:
            a.wait_for_log(r"psyc peer psyc://b.test: its link proof is wrong", 15)
        assert "link up" not in b.log()
    proxy.close()


def test_a_kick_and_a_topic_made_while_the_link_is_down_hold_after_the_relink():
    """A's operator kicks B's member (his mirror on A) while the link is down: the kick is
    queued and B's resync does not bring him back; a topic set on A meanwhile wins (newer)."""
    ca, cb, proxy = nodes()
    with h.Parleyd(ca) as a, h.Parleyd(cb) as b:
        a.wait_for_log(r"psyc peer psyc://b.test: link up \(dialed\)", 15)
        anna = irc_client(a.ports["irc"], "anna")  # A's channel operator
        anna.send("JOIN #dev")
        anna.expect(r" 366 anna #dev ")
        carol = irc_in_dev(b.ports["irc"], "carol")
        bob = irc_in_dev(b.ports["irc"], "bob")
        anna.expect(r"^:carol!\S+ JOIN :?#dev")
        anna.expect(r"^:bob!\S+ JOIN :?#dev")
        anna.send("TOPIC #dev :before")
        carol.expect(r"^:anna\S* TOPIC #dev :before$")

        # The link drops and stays down (the proxy refuses new connections).
        proxy.accepting = False
        ma, mb = a.mark(), b.mark()
        proxy.drop()
        a.wait_for_log(r"psyc peer psyc://b.test: link down", 10, after=ma)
        b.wait_for_log(r"psyc peer psyc://a.test: link down", 10, after=mb)
        anna.send("KICK #dev bob :while away")
        anna.expect(r"^:anna!\S+ KICK #dev bob :while away$")
        a.wait_for_log(r"psyc peer psyc://b.test: link down, a kick queued for the relink", 5, after=ma)
        anna.send("TOPIC #dev :set while apart")
        anna.expect(r"^:anna!\S+ TOPIC #dev :set while apart$")
        seen = len(anna.lines)

        # Relink: B's state still lists bob (B never heard of the kick), A does not take him
        # back; A's queued kick removes him on B, where everyone sees it as anna's.
        ma = a.mark()
        proxy.accepting = True
        a.wait_for_log(r"psyc peer psyc://b.test: link up \(dialed\)", 15, after=ma)
        bob.expect(r"^:anna\S* KICK #dev bob :while away$", timeout=10)
        # The topic comes with A's state, the kick after it (from the queue).
        carol.expect(r"^:anna\S* TOPIC #dev :set while apart$")
        carol.expect(r"^:anna\S* KICK #dev bob :while away$")
        carol.send("NAMES #dev")
        names = carol.expect(r" 353 carol . #dev :")
        assert "bob" not in names and "anna" in names, names
        anna.send("NAMES #dev")
        names = anna.expect(r" 353 anna . #dev :")
        assert "bob" not in names and "carol" in names, names
        anna.send("TOPIC #dev")
        anna.expect(r" 332 anna #dev :set while apart$")
        carol.send("TOPIC #dev")
        carol.expect(r" 332 carol #dev :set while apart$")
        assert not [x for x in anna.lines[seen:] if re.match(r"^:bob!\S+ JOIN", x)], anna.lines[seen:]
        # The rooms work both ways after it.
        carol.send("PRIVMSG #dev :relinked")
        anna.expect(r"^:carol!\S+ PRIVMSG #dev :relinked$")
        for c in (anna, carol, bob):
            c.close()
    proxy.close()


def test_modes_and_member_status_cross_both_ways():
    """A channel mode set on either node and an operator status granted to the other node's
    member apply on both nodes as the actor's, one _notice_context_change each, never echoed."""
    ca, cb, proxy = nodes()
    with h.Parleyd(ca) as a, h.Parleyd(cb) as b:
        a.wait_for_log(r"psyc peer psyc://b.test: link up \(dialed\)", 15)
        anna = irc_client(a.ports["irc"], "anna")  # A's channel operator
        anna.send("JOIN #dev")
        anna.expect(r" 366 anna #dev ")
        carol = irc_client(b.ports["irc"], "carol")  # B's channel operator
        carol.send("JOIN #dev")
        carol.expect(r" 366 carol #dev ")
        bob = irc_in_dev(b.ports["irc"], "bob")
        anna.expect(r"^:bob!\S+ JOIN :?#dev")
        time.sleep(0.3)

        # +m on A: B's members see anna's MODE, and B enforces it on its own member.
        mark = proxy.mark()
        anna.send("MODE #dev +m")
        anna.expect(r"^:anna!\S+ MODE #dev \+m$")
        carol.expect(r"^:anna\S* MODE #dev \+m$")
        bob.expect(r"^:anna\S* MODE #dev \+m$")
        time.sleep(0.3)
        sent = proxy.packets_since(mark)
        assert [p.method for p in sent] == ["_notice_context_change"], sent
        assert sent[0].get("_list_change") == "|+moderated", sent
        bob.send("PRIVMSG #dev :may I?")
        bob.expect(r" 404 bob #dev ")

        # -m on B: A's members see carol's MODE; nothing goes back to B.
        mark = proxy.mark()
        carol.send("MODE #dev -m")
        anna.expect(r"^:carol\S* MODE #dev -m$")
        bob.expect(r"^:carol!\S+ MODE #dev -m$")
        time.sleep(0.3)
        assert proxy.packets_since(mark) == [], proxy.packets_since(mark)

        # anna makes B's bob an operator (his mirror on A): B grants it to bob himself,
        # who may then set the topic (+t) on B; A sees the topic as his.
        anna.send("MODE #dev +o bob")
        anna.expect(r"^:anna!\S+ MODE #dev \+o bob$")
        bob.expect(r"^:anna\S* MODE #dev \+o bob$")
        carol.expect(r"^:anna\S* MODE #dev \+o bob$")
        bob.send("TOPIC #dev :bob is op now")
        bob.expect(r"^:bob!\S+ TOPIC #dev :bob is op now$")
        anna.expect(r"^:bob\S* TOPIC #dev :bob is op now$")
        # And carol takes it back on B: A sees -o bob.
        carol.send("MODE #dev -o bob")
        anna.expect(r"^:carol\S* MODE #dev -o bob$")
        for n in (a, b):
            assert "malformed" not in n.log() and "link down" not in n.log() and "bad room change" not in n.log()
        for c in (anna, carol, bob):
            c.close()
    proxy.close()


# ---- TLS links (psyc.peers[].tls) ----

def make_pair(directory: Path, name: str):
    """A self-signed EC certificate for localhost: (cert path, key path)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", f"/CN=localhost/O={name}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


def sha256_colons(cert: Path) -> str:
    """The certificate's SHA-256 as `openssl x509 -fingerprint -sha256` prints it."""
    d = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest().upper()
    return ":".join(d[i:i + 2] for i in range(0, len(d), 2))


def tls_nodes(tmp: Path, pin=None, backoff_max=1):
    """A dials B's tls: listener, pinning B's certificate (made here, placed where B's
    daemon keeps its TLS identity). Both list each other with tls: true."""
    cert, key = make_pair(tmp, "b")
    pa, pb, pb_tls = h.free_port(), h.free_port(), h.free_port()
    ca = h.config(irc=True, psyc=True, domain=A)
    cb = h.config(irc=True, psyc=True, domain=B)
    ca["psyc"] = {"listen": [f"127.0.0.1:{pa}"], "peer_backoff_max": backoff_max,
                  "peers": [{"host": "127.0.0.1", "port": pb_tls, "uniform": f"psyc://{B}", "secret": SECRET,
                             "tls": True, "verify": False, "fingerprint": pin or sha256_colons(cert)}]}
    cb["psyc"] = {"listen": [f"127.0.0.1:{pb}", f"tls:127.0.0.1:{pb_tls}"],
                  "peers": [{"host": "127.0.0.1", "port": pa, "uniform": f"psyc://{A}", "secret": SECRET,
                             "tls": True}]}
    ca["_ports"]["psyc"], cb["_ports"]["psyc"] = pa, pb
    b = h.Parleyd(cb)
    (b.data_dir / "tls").mkdir(parents=True)
    shutil.copy(cert, b.data_dir / "tls" / "cert.pem")
    shutil.copy(key, b.data_dir / "tls" / "key.pem")
    return ca, b


def test_a_tls_link_with_a_pinned_certificate():
    with tempfile.TemporaryDirectory(prefix="parley-psyc-tls-") as tmp:
        ca, b = tls_nodes(Path(tmp))
        with b, h.Parleyd(ca) as a:
            a.wait_for_log(r"psyc peer psyc://b.test: link up \(dialed\) over TLS", 15)
            b.wait_for_log(r"psyc peer psyc://a.test: link up \(accepted\) over TLS", 5)
            anna = irc_in_dev(a.ports["irc"], "anna")
            bob = irc_in_dev(b.ports["irc"], "bob")
            anna.expect(r"^:bob!\S+ JOIN :?#dev")
            anna.send("PRIVMSG #dev :over tls")
            bob.expect(r"^:anna!\S+ PRIVMSG #dev :over tls$")
            bob.send("PRIVMSG #dev :and back")
            anna.expect(r"^:bob!\S+ PRIVMSG #dev :and back$")

            # B links with A over TLS only: a circuit on B's plain port claiming to be A
            # is refused before any challenge.
            c = PsycClient(b.ports["psyc"])
            c.send("_request_link", f"psyc://{B}", routing=[(":", "_source", f"psyc://{A}")],
                   entity=[(":", "_nonce_link", "0" * 64)])
            e = c.expect("_error_invalid_proof")
            assert "TLS only" in (e.data or ""), e
            assert c.closed()
            b.wait_for_log(r"psyc peer psyc://a.test: link refused: this peer links over TLS only", 5)
            assert "link down" not in a.log() + b.log()  # the real link was not disturbed
            bob.send("PRIVMSG #dev :still here")
            anna.expect(r"^:bob!\S+ PRIVMSG #dev :still here$")
            anna.close()
            bob.close()


def test_a_wrong_certificate_pin_is_refused_with_backoff():
    with tempfile.TemporaryDirectory(prefix="parley-psyc-tls-") as tmp:
        ca, b = tls_nodes(Path(tmp), pin="ab" * 32, backoff_max=8)
        with b, h.Parleyd(ca) as a:
            line = a.wait_for_log(r"psyc peer psyc://b.test: certificate refused \(pin_mismatch", 15)
            assert "is not the pinned " + "ab" * 32 in line, line
            # No hot loop: every retry waits at least the 1 s floor and the waits grow
            # (backoff to psyc.peer_backoff_max); over a 5 s window that is a handful.
            t0 = time.monotonic()
            time.sleep(5)  # the window measured, not a synchronisation
            refusals = [x for x in a.log().splitlines() if "certificate refused (pin_mismatch" in x]
            waits = [int(m.group(1)) for x in refusals for m in [re.search(r"retry in (\d+) ms", x)] if m]
            assert len(waits) == len(refusals) and all(w >= 1000 for w in waits), refusals
            assert 2 <= len(refusals) <= 1 + (time.monotonic() - t0), refusals
            assert "link up" not in a.log() + b.log()


def test_an_xmpp_occupant_on_b_talks_with_irc_on_a():
    if xc.slixmpp is None:
        print("SKIP: slixmpp missing")
        return
    import asyncio

    class Client(xc.BaseClient):
        def __init__(self, jid, password):
            super().__init__(jid, password, plugins=("xep_0045",))
            self.group = asyncio.Queue()
            self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))

    ca, cb, proxy = nodes(b_xmpp=True)
    with h.Parleyd(ca) as a, h.Parleyd(cb) as b:
        a.wait_for_log(r"link up \(dialed\)", 15)
        anna = xc.LoopIrc(a.ports["irc"], "anna")
        anna.send("JOIN #dev")
        anna.expect(r" 366 anna #dev ")
        xena = xc.login(Client, b.ports["xmpp"], f"xena@{B}/x", "xenapw", timeout=20)
        room = f"dev@conference.{B}"
        xc.run(xena.plugin["xep_0045"].join_muc_wait(room, "xena", maxstanzas=0), 20)
        anna.expect(r"^:xena!\S+ JOIN :?#dev")
        anna.send("PRIVMSG #dev :hi xena")
        m = xc.run(xc.next_where(xena.group, lambda m: m["body"] == "hi xena"), 15)
        assert m["from"].resource == "anna", m
        xena.send_message(mto=room, mbody="hi anna", mtype="groupchat")
        anna.expect(r"^:xena!\S+ PRIVMSG #dev :hi anna$")
        xena.plugin["xep_0045"].leave_muc(room, "xena")
        anna.expect(r"^:xena!\S+ PART #dev")
        assert "link down" not in a.log() + b.log()
        xc.bye(xena)
    proxy.close()


if __name__ == "__main__":
    h.run_tests(globals())
