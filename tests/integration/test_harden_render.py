"""Issue 9, rendering and ids: what one message from a hostile XMPP client costs IRC members.

1. Amplification: a 30 KB stanza id and a 2000-line body reach an IRC member with
   message-tags as at most irc.max_lines_per_message lines plus a marker, each line within
   the IRCv3 limits, without the client's id; the member stays connected and parleyd's
   RSS barely moves.
2. Ids: the msgid an IRC client sees is Parley's, not the XMPP client's (which comes back
   to XMPP as origin-id); ids after a restart on the same data dir differ from before.
3. Quadratic rich text: a ~210 KB stanza with 28k alternating bold/plain spans (XHTML-IM)
   reaches XMPP and IRC occupants, and an honest IRC client's PING->PONG stays within a
   bound relative to its baseline, while it is rendered and while a join replays it.
"""
import asyncio
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, next_where, slixmpp  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)

ROOM = "dev@conference.localhost"
SID = "{urn:xmpp:sid:0}"
MAX_TAGS = 8191
MAX_BODY = 512


def run(coro, timeout=20):
    return xc.run(coro, timeout)


def pump(seconds):
    LOOP.run_until_complete(asyncio.sleep(seconds))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def parse_tags(line: str) -> dict:
    if not line.startswith("@"):
        return {}
    tags = {}
    for item in line[1:line.index(" ")].split(";"):
        k, _, v = item.partition("=")
        tags[k] = v
    return tags


def irc_user(port: int, nick: str, caps: str = "", chan: str = "#dev") -> h.LineClient:
    c = h.LineClient(port, timeout=20)
    if caps:
        c.send("CAP LS 302")
        c.send(f"CAP REQ :{caps}")
        c.expect(r" CAP \S+ ACK ")
        c.send("CAP END")
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :{nick}")
    c.expect(rf" 001 {nick} ")
    if chan:
        c.send(f"JOIN {chan}")
        c.expect(rf" 366 {nick} {chan} ")
    return c


def ping_rtt(c: h.LineClient, token: str, timeout: float = 30) -> float:
    t0 = time.monotonic()
    c.send(f"PING :{token}")
    c.expect(rf"PONG .*{token}$", timeout=timeout)
    return time.monotonic() - t0


if slixmpp is not None:
    class Client(xc.BaseClient):
        def __init__(self, jid, password):
            super().__init__(jid, password, plugins=("xep_0045",))
            self.group = asyncio.Queue()
            self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))


class Pinger:
    """An honest IRC client in its own process (the XMPP clients here hold the GIL while
    they parse big stanzas): measures a baseline of PING round trips, then PINGs back to
    back until finish(), which returns (baseline max, worst)."""

    def __init__(self, port: int):
        self.proc = subprocess.Popen([sys.executable, __file__, "--pinger", str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("ready "), line
        self.baseline = float(line.split()[1])

    def finish(self) -> tuple[float, int]:
        out, _ = self.proc.communicate("stop\n", timeout=60)
        worst, count = out.split()
        return float(worst), int(count)


def pinger_main(port: int):
    c = irc_user(port, "ann", chan="")  # in no room: it only shares the server
    print(f"ready {max(ping_rtt(c, f'base{i}') for i in range(10))}", flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    worst, count, deadline = 0.0, 0, time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        worst = max(worst, ping_rtt(c, f"p{count}"))
        count += 1
    print(f"{worst} {count}", flush=True)


def muc_user(port: int, user: str, nick: str, history: int = 0):
    c = xc.login(Client, port, f"{user}@localhost/t", f"{user}pw", timeout=20)
    run(c.plugin["xep_0045"].join_muc_wait(ROOM, nick, maxstanzas=history), 30)
    return c


def test_amplification_into_irc_is_bounded():
    if slixmpp is None:
        print("SKIP: slixmpp missing")
        return
    cfg = h.config(irc=True, xmpp=True, accounts=[("bob", "bobpw")], irc_extra={"max_lines_per_message": 6})
    with h.Parleyd(cfg) as d:
        ann = irc_user(d.ports["irc"], "ann", "message-tags server-time")
        bob = muc_user(d.ports["xmpp"], "bob", "Bob")
        ann.expect(r":Bob!\S+ JOIN #dev")
        pump(0.5)
        before = rss_kb(d.proc.pid)

        client_id = "A" * 30000
        body = "".join(f"l{i}\n" for i in range(2000))
        bob.send_raw(f"<message to='{ROOM}' type='groupchat' id='{client_id}'><body>{body}</body></message>")
        run(next_where(bob.group, lambda m: m["body"].startswith("l0\n")), 30)

        first = ann.expect(r" PRIVMSG #dev :l0$", timeout=30)
        marker = ann.expect(r" PRIVMSG #dev :\[\.\.\. \d+ more lines\]$", timeout=30)
        ann.send("PING :after")
        ann.expect(r"PONG .*after$")
        got = [l for l in ann.lines if " PRIVMSG #dev :" in l]
        assert len(got) == 7, (len(got), got[:3])  # 6 lines + the marker
        assert marker.endswith("[... 1994 more lines]"), marker
        for line in got:
            raw = line.encode()
            assert len(raw) + 2 < MAX_TAGS + MAX_BODY, len(raw)
            tags = parse_tags(line)
            assert tags.get("msgid") and "AAAA" not in tags["msgid"], tags
            assert len(line[line.index(" ") + 1:].encode()) + 2 <= MAX_BODY
        assert len({parse_tags(l)["msgid"] for l in got}) == 1, "one msgid for the whole message"
        assert "SendQ" not in "\n".join(ann.lines)
        grew = rss_kb(d.proc.pid) - before
        print(f"  RSS {before} kB -> {before + grew} kB", flush=True)
        assert grew < 30 * 1024, f"RSS grew by {grew} kB"
        assert first
        ann.close()
        xc.bye(bob)


def test_ids_are_parleys_and_survive_restarts():
    if slixmpp is None:
        print("SKIP: slixmpp missing")
        return
    cfg = h.config(irc=True, xmpp=True, accounts=[("bob", "bobpw")])

    def session(d, tag):
        ann = irc_user(d.ports["irc"], "ann", "message-tags echo-message")
        bob = muc_user(d.ports["xmpp"], "bob", "Bob")
        ann.expect(r":Bob!\S+ JOIN #dev")
        ids = set()
        for i in range(3):
            ann.send(f"PRIVMSG #dev :{tag} {i}")
            ids.add(parse_tags(ann.expect(rf" PRIVMSG #dev :{tag} {i}$"))["msgid"])
        # An XMPP client's id: never the msgid, kept (bounded) as its origin-id.
        m = bob.make_message(mto=ROOM, mbody=f"{tag} from xmpp", mtype="groupchat")
        m["id"] = "client-chosen-id"
        m.send()
        pump(0.3)
        seen = parse_tags(ann.expect(rf" PRIVMSG #dev :{tag} from xmpp$"))["msgid"]
        assert seen != "client-chosen-id", seen
        ids.add(seen)
        refl = run(next_where(bob.group, lambda x: x["body"] == f"{tag} from xmpp"))
        assert refl["id"] == "client-chosen-id", refl  # XEP-0045 §7.4: the sender's id comes back
        sid = refl.xml.find(f"{SID}stanza-id")
        oid = refl.xml.find(f"{SID}origin-id")
        assert sid is not None and sid.get("id") == seen and sid.get("by") == ROOM, refl
        assert oid is not None and oid.get("id") == "client-chosen-id", refl
        ann.send("QUIT")
        ann.close()
        xc.bye(bob)
        return ids

    d1 = h.Parleyd(cfg)
    with d1:
        first = session(d1, "one")
        assert d1.stop() == 0
        with h.Parleyd(cfg, workdir=d1.workdir) as d2:
            second = session(d2, "two")
    assert len(first) == 4 and len(second) == 4, (first, second)
    assert not first & second, f"ids repeated after a restart: {first & second}"


def test_many_spans_do_not_stall_irc():
    if slixmpp is None:
        print("SKIP: slixmpp missing")
        return
    # flood_burst 0: the pinger's back-to-back PINGs measure the server, not flood control.
    cfg = h.config(irc=True, xmpp=True, accounts=[("bob", "bobpw"), ("carol", "carolpw"), ("dave", "davepw")],
                   irc_extra={"flood_burst": 0})
    with h.Parleyd(cfg) as d:
        zed = irc_user(d.ports["irc"], "zed", "message-tags")
        bob = muc_user(d.ports["xmpp"], "bob", "Bob")
        carol = muc_user(d.ports["xmpp"], "carol", "Carol")
        pump(0.5)

        pairs = 14000  # 28k spans: bold, plain, bold, plain...
        body = "a b " * pairs
        markup = "<b>a</b> b " * pairs
        stanza = (f"<message to='{ROOM}' type='groupchat' id='big'><body>{body}</body>"
                  "<html xmlns='http://jabber.org/protocol/xhtml-im'>"
                  f"<body xmlns='http://www.w3.org/1999/xhtml'>{markup}</body></html></message>")
        assert 200_000 < len(stanza) < 262_144, len(stanza)
        pinger = Pinger(d.ports["irc"])
        bound = max(1.0, 20 * pinger.baseline)
        bob.send_raw(stanza)
        # Both sides get it: XMPP with the body whole and its markup, IRC cut with a marker.
        got = run(next_where(carol.group, lambda m: m["body"].startswith("a b a b")), 60)
        assert got["body"].rstrip(" ") == body.rstrip(" "), len(got["body"])
        html = got.xml.find("{http://jabber.org/protocol/xhtml-im}html")
        assert html is not None, "no XHTML-IM"
        # A join replays it from history: still no stall.
        dave = xc.login(Client, d.ports["xmpp"], "dave@localhost/t", "davepw", timeout=20)
        _, _, _, history = run(dave.plugin["xep_0045"].join_muc_wait(ROOM, "Dave", maxstanzas=5), 60)
        # (A message younger than 2 s comes without <delay/>: slixmpp sees it as live.)
        if not any(m["body"].startswith("a b a b") for m in history):
            run(next_where(dave.group, lambda m: m["body"].startswith("a b a b")), 60)
        pump(0.5)
        worst, count = pinger.finish()
        zed.expect(r" PRIVMSG #dev :\x02a\x02 b \x02a", timeout=30)
        zed.expect(r" PRIVMSG #dev :\[\.\.\. \d+ more lines\]$", timeout=30)
        print(f"  PING baseline max {pinger.baseline * 1000:.1f} ms, worst during {worst * 1000:.1f} ms "
              f"({count} pings)", flush=True)
        assert worst < bound, f"PING took {worst:.3f} s (baseline max {pinger.baseline:.4f} s, bound {bound:.3f} s)"
        zed.close()
        xc.bye(bob, carol, dave)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--pinger":
        pinger_main(int(sys.argv[2]))
    else:
        xc.configure_logging()
        h.run_tests(globals())
