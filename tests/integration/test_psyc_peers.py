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
node as what they are, one packet each.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_psyc_peers.py
"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_psyc import PsycClient, irc_client, parse_packet  # noqa: E402

SECRET = "s3cret-shared"
A, B = "a.test", "b.test"


class CountingProxy:
    """Relays 127.0.0.1:port -> 127.0.0.1:target and keeps the bytes sent toward target."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.up = b""  # everything the dialer sent, over all connections
        self.lock = threading.Lock()
        self.accepting = True
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if not self.accepting:
                c.close()
                continue
            try:
                s = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            s.settimeout(None)
            self.conns += [c, s]
            threading.Thread(target=self._pump, args=(c, s, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, False), daemon=True).start()

    def _pump(self, src, dst, count):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if count:
                    with self.lock:
                        self.up += data
                dst.sendall(data)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop(self):
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns = []

    def mark(self):
        with self.lock:
            return len(self.up)

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

    def close(self):
        self.lsock.close()
        self.drop()


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
        anna = irc_client(a.ports["irc"], "anna")
        anna.send("JOIN #dev")
        anna.expect(r" 366 anna #dev ")
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
            carol = irc_client(b.ports["irc"], "carol")
            carol.send("JOIN #dev")
            carol.expect(r" 366 carol #dev ")
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
