#!/usr/bin/python3
"""SIP/SIMPLE presence (issue 12): PUBLISH (RFC 3903), SUBSCRIBE/NOTIFY for presence
(RFC 3856/6665) and presence.winfo (RFC 3857), isComposing (RFC 3994) <-> chat states, and
the RFC 8048 mapping between SIP, XMPP and IRC users.

Real peers: sipp runs tests/integration/sip/presence_uac.xml; raw UDP SIP user agents
(stdlib sockets, digest with hashlib) watch and publish; slixmpp and a raw IRC client are the
users on the other protocols.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import parley_harness as h
import test_sip as ts

try:
    import xmpp_client as xc
except ImportError:  # pragma: no cover
    xc = None

PIDF = ('<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
        'xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:{user}@localhost">'
        '<tuple id="t1"><status><basic>{basic}</basic></status></tuple>'
        '<dm:person id="p1">{acts}<dm:note>{note}</dm:note></dm:person></presence>')


def pidf(user: str, activity: str = "", note: str = "", basic: str = "open") -> bytes:
    acts = f"<rpid:activities><rpid:{activity}/></rpid:activities>" if activity else ""
    return PIDF.format(user=user, basic=basic, acts=acts, note=note).encode()


def config(**sip_extra):
    cfg = h.config(xmpp=True, irc=True, sip=True,
                   accounts=[("alice", "alicepw"), ("bob", "bobpw"), ("carol", "carolpw")],
                   irc_extra={"guests": False})
    cfg["sip"].update({"notify_interval_ms": 0})
    cfg["sip"].update(sip_extra)
    return cfg


class Ua(ts.UdpUa):
    """A UDP UA that answers NOTIFYs (200) and keeps the To tag of its dialog."""

    def __init__(self, port: int, user: str, password: str):
        super().__init__(port, user)
        self.password = password
        self.to_tag = ""
        self.notifies: list[str] = []
        self.ch: dict[str, str] | None = None
        self.nc = 0

    def req(self, method: str, target: str, headers: list[str] = (), body: bytes = b"",
            in_dialog: bool = False) -> bytes:
        self.cseq += 1
        to = f"<sip:{target}@localhost>" + (f";tag={self.to_tag}" if in_dialog and self.to_tag else "")
        head = [f"{method} sip:{target}@localhost SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.local};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport",
                f"From: <sip:{self.user}@localhost>;tag={self.local}", f"To: {to}",
                f"Call-ID: {self.call_id}", f"CSeq: {self.cseq} {method}",
                f"Contact: <sip:{self.user}@127.0.0.1:{self.local}>", "Max-Forwards: 70", *headers,
                f"Content-Length: {len(body)}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    def answer_notify(self, msg: str) -> None:
        head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [l for l in head if l.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
        self.send(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode())

    def final(self, data: bytes, timeout: float = 5) -> str:
        """Sends a request; returns its final response, answering NOTIFYs meanwhile."""
        self.send(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.recv(max(0.1, deadline - time.monotonic()))
            if r is None:
                continue
            if r.startswith("NOTIFY "):
                self.answer_notify(r)
                self.notifies.append(r)
            elif r.startswith("SIP/2.0 ") and not r.startswith("SIP/2.0 1"):
                return r
        raise AssertionError(f"no final answer to {data[:60]!r}")

    def auth(self, method: str, target: str, headers: list[str] = (), body: bytes = b"",
             in_dialog: bool = False) -> str:
        """Like a real UA: the last challenge again with the next nonce count, and a fresh
        challenge (401) answered once."""
        uri = f"sip:{target}@localhost"
        for _ in range(3):
            extra = []
            if self.ch:
                self.nc += 1
                extra = [ts.authorization(self.ch, self.user, self.password, method, uri, nc=self.nc)]
            r = self.final(self.req(method, target, list(headers) + extra, body, in_dialog))
            if ts.status(r) != 401:
                return r
            self.ch = [c for c in ts.challenges(r) if c.get("algorithm", "MD5") == "MD5"][0]
            self.nc = 0
        return r

    def register(self) -> None:
        r = self.auth("REGISTER", self.user, ["Expires: 300"])
        assert ts.status(r) == 200, r

    def subscribe(self, target: str, event: str = "presence", expires: int = 300) -> str:
        r = self.auth("SUBSCRIBE", target, [f"Event: {event}", f"Expires: {expires}"])
        m = re.search(r"^To:.*;tag=([^;\r\n]+)", r, re.M | re.I)
        if m:
            self.to_tag = m.group(1)
        return r

    def notify(self, pred=lambda n: True, timeout: float = 8) -> str:
        """The next NOTIFY (already received ones first) that satisfies pred."""
        deadline = time.monotonic() + timeout
        while True:
            while self.notifies:
                n = self.notifies.pop(0)
                if pred(n):
                    return n
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching NOTIFY")
            if xc is not None:
                xc.LOOP.run_until_complete(asyncio.sleep(0.05))  # let slixmpp clients work
            r = self.recv(min(0.3, max(0.05, left)))
            if r and r.startswith("NOTIFY "):
                self.answer_notify(r)
                self.notifies.append(r)


def body_of(msg: str) -> str:
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


def need_xmpp():
    if xc is None or xc.slixmpp is None:
        raise h.Skip("slixmpp missing")


if xc is not None and xc.slixmpp is not None:
    class Client(xc.BaseClient):
        def __init__(self, *a, **kw):
            super().__init__(*a, plugins=("xep_0085",), **kw)
            self.roster.auto_authorize = None  # the tests answer subscription requests themselves
            self.presences = asyncio.Queue()
            self.subs = asyncio.Queue()
            self.inbox = asyncio.Queue()
            self.add_event_handler("presence_subscribe", lambda p: self.subs.put_nowait(p))
            for t in ("available", "unavailable", "away", "xa", "dnd", "chat"):  # slixmpp: show as type
                self.add_event_handler(f"presence_{t}", lambda p: self.presences.put_nowait(p))
            self.add_event_handler("message", lambda m: self.inbox.put_nowait(m))
            for ev in ("chatstate_composing", "chatstate_paused", "chatstate_active"):
                self.add_event_handler(ev, lambda m, ev=ev: self.inbox.put_nowait(ev))


# ---- tests ----

def test_sipp_register_publish_subscribe_notify_unsubscribe():
    with h.Parleyd(config()) as d:
        rc, out = ts.sipp_result(ts.run_sipp("presence_uac.xml", d.ports["sip"], "alice", "alicepw"))
        assert rc == 0, out[-3000:]


def test_publish_rules():
    with h.Parleyd(config(event_expires={"min": 60, "max": 600, "default": 300}, max_publications=2)) as d:
        ua = Ua(d.ports["sip"], "alice", "alicepw")
        doc = pidf("alice", "away", "at lunch")
        ct = "Content-Type: application/pidf+xml"
        # Checks that need no account: 489 without or with another event, 415, 423.
        assert ts.status(ua.final(ua.req("PUBLISH", "alice", [ct], doc))) == 489
        r = ua.final(ua.req("PUBLISH", "alice", ["Event: dialog", ct], doc))
        assert ts.status(r) == 489 and "Allow-Events: presence" in r, r
        assert ts.status(ua.final(ua.req("PUBLISH", "alice", ["Event: presence", "Content-Type: text/plain"],
                                         doc))) == 415
        r = ua.final(ua.req("PUBLISH", "alice", ["Event: presence", ct, "Expires: 5"], doc))
        assert ts.status(r) == 423 and "Min-Expires: 60" in r, r
        # Not registered yet: the publication has no binding to attach to.
        r = ua.auth("PUBLISH", "alice", ["Event: presence", ct], doc)
        assert ts.status(r) == 403, r
        ua.register()
        # Someone else's presence: 403.
        assert ts.status(ua.auth("PUBLISH", "bob", ["Event: presence", ct], pidf("bob"))) == 403
        # Malformed PIDF: 400; initial without a body: 400.
        assert ts.status(ua.auth("PUBLISH", "alice", ["Event: presence", ct], b"<presence")) == 400
        assert ts.status(ua.auth("PUBLISH", "alice", ["Event: presence"])) == 400
        r = ua.auth("PUBLISH", "alice", ["Event: presence", ct, "Expires: 99999"], doc)
        assert ts.status(r) == 200 and "Expires: 600" in r, r  # clamped to max
        etag = re.search(r"SIP-ETag: (\S+)", r).group(1)
        # Unknown entity tag: 412 (RFC 3903 §6 step 4).
        r = ua.auth("PUBLISH", "alice", ["Event: presence", "SIP-If-Match: 0123abcd"])
        assert ts.status(r) == 412, r
        # Refresh: a new tag, the old one is gone.
        r = ua.auth("PUBLISH", "alice", ["Event: presence", f"SIP-If-Match: {etag}"])
        assert ts.status(r) == 200, r
        etag2 = re.search(r"SIP-ETag: (\S+)", r).group(1)
        assert etag2 != etag
        r = ua.auth("PUBLISH", "alice", ["Event: presence", f"SIP-If-Match: {etag}"])
        assert ts.status(r) == 412, r
        # Modify with a new document.
        r = ua.auth("PUBLISH", "alice", ["Event: presence", ct, f"SIP-If-Match: {etag2}"], pidf("alice", "busy"))
        assert ts.status(r) == 200, r
        etag3 = re.search(r"SIP-ETag: (\S+)", r).group(1)
        # sip.max_publications: a second is fine, a third is refused.
        assert ts.status(ua.auth("PUBLISH", "alice", ["Event: presence", ct], doc)) == 200
        assert ts.status(ua.auth("PUBLISH", "alice", ["Event: presence", ct], doc)) == 403
        # Remove (Expires: 0), then the tag is unknown.
        r = ua.auth("PUBLISH", "alice", ["Event: presence", "Expires: 0", f"SIP-If-Match: {etag3}"])
        assert ts.status(r) == 200, r
        assert ts.status(ua.auth("PUBLISH", "alice", ["Event: presence", "Expires: 0",
                                                      f"SIP-If-Match: {etag3}"])) == 412


def test_publication_expires_and_the_watcher_sees_it():
    with h.Parleyd(config(event_expires={"min": 1, "max": 600, "default": 300})) as d:
        ua = Ua(d.ports["sip"], "alice", "alicepw")
        ua.register()
        w = Ua(d.ports["sip"], "alice", "alicepw")  # alice watching herself: always allowed
        r = w.subscribe("alice")
        assert ts.status(r) == 200, r
        n = w.notify()
        assert "Subscription-State: active" in n and "<basic>open</basic>" in n and "rpid:away" not in n, n
        r = ua.auth("PUBLISH", "alice", ["Event: presence", "Content-Type: application/pidf+xml", "Expires: 2"],
                    pidf("alice", "away", "back soon"))
        assert ts.status(r) == 200, r
        n = w.notify(lambda n: "rpid:away" in n)
        assert "back soon" in n and "application/pidf+xml" in n, n
        # After 2 s the publication expires: the binding's default state again.
        n = w.notify(lambda n: "rpid:away" not in n, timeout=6)
        assert "<basic>open</basic>" in n and "back soon" not in n, n


def test_xmpp_and_sip_users_see_each_other():
    need_xmpp()
    with h.Parleyd(config()) as d:
        bob = xc.login(Client, d.ports["xmpp"], "bob@localhost/x", "bobpw", timeout=20)
        alice = Ua(d.ports["sip"], "alice", "alicepw")
        alice.register()
        w = Ua(d.ports["sip"], "alice", "alicepw")
        # SIP SUBSCRIBE -> XMPP subscribe; pending until bob answers (RFC 8048 §5).
        r = w.subscribe("bob")
        assert ts.status(r) == 202, r
        n = w.notify()
        assert "Subscription-State: pending" in n and "<presence" not in n, n
        req = xc.run(bob.subs.get(), 10)
        assert str(req["from"]) == "alice@localhost"
        bob.send_presence(pto="alice@localhost", ptype="subscribed")
        # ... and the watcher gets the NOTIFY active with bob's presence.
        n = w.notify(lambda n: "Subscription-State: active" in n)
        assert "entity=\"pres:bob@localhost\"" in n and "<basic>open</basic>" in n, n
        # bob (XMPP) asks to see alice: her SUBSCRIBE to him pre-approved him.
        bob.send_presence(pto="alice@localhost", ptype="subscribe")
        p = xc.run(xc.next_where(bob.presences, lambda p: p["from"].bare == "alice@localhost"), 10)
        assert p["type"] == "available" and not p["show"], p
        # alice PUBLISHes away: bob sees show=away with her note.
        r = alice.auth("PUBLISH", "alice", ["Event: presence", "Content-Type: application/pidf+xml"],
                       pidf("alice", "away", "at lunch"))
        assert ts.status(r) == 200, r
        p = xc.run(xc.next_where(bob.presences, lambda p: p["from"].bare == "alice@localhost" and p["show"] == "away"),
                   10)
        assert p["status"] == "at lunch", p
        # bob goes dnd: alice's NOTIFY says busy with his status.
        bob.send_presence(pshow="dnd", pstatus="in a meeting")
        n = w.notify(lambda n: "rpid:busy" in n)
        assert "in a meeting" in n, n
        # Unsubscribe in the dialog: 200, then NOTIFY terminated.
        r = w.final(w.req("SUBSCRIBE", "bob", ["Event: presence", "Expires: 0"], in_dialog=True))
        assert ts.status(r) == 200, r
        n = w.notify(lambda n: "Subscription-State: terminated" in n)
        # Nothing more after that.
        bob.send_presence(pshow="xa", pstatus="gone")
        xc.run(asyncio.sleep(1))
        assert not any("gone" in x for x in w.notifies), w.notifies
        xc.bye(bob)


def test_irc_away_shows_as_away_and_rejection_terminates():
    need_xmpp()
    with h.Parleyd(config()) as d:
        alice = Ua(d.ports["sip"], "alice", "alicepw")
        alice.register()
        w = Ua(d.ports["sip"], "alice", "alicepw")
        assert ts.status(w.subscribe("carol")) == 202
        # carol allows alice once from her XMPP client (the account's roster), then uses IRC.
        carol = xc.login(Client, d.ports["xmpp"], "carol@localhost/x", "carolpw", timeout=20)
        xc.run(carol.subs.get(), 10)
        carol.send_presence(pto="alice@localhost", ptype="subscribed")
        w.notify(lambda n: "Subscription-State: active" in n and "<basic>open</basic>" in n)
        xc.bye(carol)
        n = w.notify(lambda n: "<basic>closed</basic>" in n)
        irc = ts.irc_login(d.ports["irc"], "carol", "carolpw")
        w.notify(lambda n: "<basic>open</basic>" in n and "rpid:" not in n)
        irc.send("AWAY :gone fishing")
        n = w.notify(lambda n: "rpid:away" in n)
        assert "gone fishing" in n, n
        irc.send("AWAY")
        w.notify(lambda n: "rpid:away" not in n and "<basic>open</basic>" in n)
        # bob refuses alice: NOTIFY terminated;reason=rejected.
        w2 = Ua(d.ports["sip"], "alice", "alicepw")
        assert ts.status(w2.subscribe("bob")) == 202
        bob = xc.login(Client, d.ports["xmpp"], "bob@localhost/x", "bobpw", timeout=20)
        xc.run(bob.subs.get(), 10)
        bob.send_presence(pto="alice@localhost", ptype="unsubscribed")
        n = w2.notify(lambda n: "terminated" in n)
        assert re.search(r"Subscription-State: terminated;reason=rejected", n), n
        xc.bye(bob)


def test_winfo_and_subscription_limits():
    with h.Parleyd(config(max_subscriptions=2, event_expires={"min": 2, "max": 600, "default": 300})) as d:
        bob = Ua(d.ports["sip"], "bob", "bobpw")
        bob.register()
        wi = Ua(d.ports["sip"], "bob", "bobpw")
        r = wi.subscribe("bob", event="presence.winfo")
        assert ts.status(r) == 200, r
        n = wi.notify()
        assert "application/watcherinfo+xml" in n and 'state="full"' in n and "<watcher " not in n, n
        # Someone else's watchers: 403.
        assert ts.status(Ua(d.ports["sip"], "bob", "bobpw").subscribe("alice", event="presence.winfo")) == 403
        alice = Ua(d.ports["sip"], "alice", "alicepw")
        alice.register()
        w = Ua(d.ports["sip"], "alice", "alicepw")
        assert ts.status(w.subscribe("bob")) == 202
        n = wi.notify(lambda n: "sip:alice@localhost" in n)
        assert 'status="pending"' in n and 'event="subscribe"' in n, n
        # Errors before any account: 489 unknown package, 423 too brief; then 404, limits.
        r = w.final(w.req("SUBSCRIBE", "bob", ["Event: dialog"]))
        assert ts.status(r) == 489 and "Allow-Events:" in r, r
        r = w.final(w.req("SUBSCRIBE", "bob", ["Event: presence", "Expires: 1"]))
        assert ts.status(r) == 423 and "Min-Expires: 2" in r, r
        assert ts.status(Ua(d.ports["sip"], "alice", "alicepw").subscribe("nobody")) == 404
        assert ts.status(Ua(d.ports["sip"], "alice", "alicepw").subscribe("alice")) == 200
        assert ts.status(Ua(d.ports["sip"], "alice", "alicepw").subscribe("carol")) == 403  # sip.max_subscriptions
        # Expiry: a 2 s subscription ends with NOTIFY terminated;reason=timeout.
        short = Ua(d.ports["sip"], "bob", "bobpw")
        assert ts.status(short.subscribe("bob", expires=2)) == 200
        n = short.notify(lambda n: "terminated" in n, timeout=8)
        assert "reason=timeout" in n, n
        # A refresh in a dialog that does not exist: 481.
        ghost = Ua(d.ports["sip"], "bob", "bobpw")
        ghost.to_tag = "nope"
        r = ghost.final(ghost.req("SUBSCRIBE", "bob", ["Event: presence", "Expires: 60"], in_dialog=True))
        assert ts.status(r) == 481, r


def test_notify_rate_limit_coalesces_and_never_goes_back():
    need_xmpp()
    with h.Parleyd(config(notify_interval_ms=500)) as d:
        bob = xc.login(Client, d.ports["xmpp"], "bob@localhost/x", "bobpw", timeout=20)
        alice = Ua(d.ports["sip"], "alice", "alicepw")
        alice.register()
        w = Ua(d.ports["sip"], "alice", "alicepw")
        assert ts.status(w.subscribe("bob")) == 202
        xc.run(bob.subs.get(), 10)
        bob.send_presence(pto="alice@localhost", ptype="subscribed")
        w.notify(lambda n: "Subscription-State: active" in n)
        start = time.monotonic()
        for i in range(40):
            bob.send_presence(pshow="away", pstatus=f"n{i:02d}")
            xc.run(asyncio.sleep(0.05))
        seen = []
        while True:
            n = w.notify(lambda n: "n" in n, timeout=5)
            m = re.search(r"n(\d\d)</", n)
            if m:
                seen.append(int(m.group(1)))
            if seen and seen[-1] == 39:
                break
        elapsed = time.monotonic() - start
        assert seen == sorted(seen), seen  # never an older state after a newer one
        # At most one NOTIFY per 500 ms (plus the first), not one per change.
        assert len(seen) <= elapsed / 0.5 + 2 and len(seen) < 40, (len(seen), elapsed, seen)
        xc.bye(bob)


def test_is_composing_and_chat_states():
    need_xmpp()
    with h.Parleyd(config()) as d:
        carol = xc.login(Client, d.ports["xmpp"], "carol@localhost/x", "carolpw", timeout=20)
        alice = Ua(d.ports["sip"], "alice", "alicepw")
        alice.register()
        doc = (b"<?xml version='1.0'?><isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'>"
               b"<state>active</state><contenttype>text/plain</contenttype></isComposing>")
        r = alice.auth("MESSAGE", "carol", ["Content-Type: application/im-iscomposing+xml"], doc)
        assert ts.status(r) == 200, r
        assert xc.run(xc.next_where(carol.inbox, lambda x: x == "chatstate_composing"), 10)
        r = alice.auth("MESSAGE", "carol", ["Content-Type: application/im-iscomposing+xml"], b"<isComposing")
        assert ts.status(r) == 400, r
        # XMPP chat state -> isComposing MESSAGE to the registered contact.
        m = carol.make_message(mto="alice@localhost", mtype="chat")
        m["chat_state"] = "composing"
        m.send()
        deadline = time.monotonic() + 10
        got = None
        while time.monotonic() < deadline and got is None:
            xc.run(asyncio.sleep(0.1))
            req = alice.recv(0.3)
            if req and req.startswith("MESSAGE "):
                alice.answer_notify(req)
                got = req
        assert got and "application/im-iscomposing+xml" in got and "<state>active</state>" in got, got
        xc.bye(carol)


def test_torture_requests_get_4xx_or_are_dropped():
    with h.Parleyd(config()) as d:
        port = d.ports["sip"]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(1)
        lp = s.getsockname()[1]

        def req(method="OPTIONS", extra=(), body=b"", drop=(), cl=None, line=None):
            hdrs = {"Via": f"SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bK{uuid.uuid4().hex[:12]}",
                    "From": f"<sip:alice@localhost>;tag={uuid.uuid4().hex[:6]}", "To": "<sip:bob@localhost>",
                    "Call-ID": uuid.uuid4().hex, "CSeq": f"1 {method}", "Max-Forwards": "70"}
            for k in drop:
                hdrs.pop(k, None)
            lines = [line or f"{method} sip:bob@localhost SIP/2.0"] + [f"{k}: {v}" for k, v in hdrs.items()]
            lines += list(extra) + [f"Content-Length: {len(body) if cl is None else cl}"]
            return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

        def answer(data):
            s.sendto(data, ("127.0.0.1", port))
            try:
                return s.recvfrom(65535)[0].decode(errors="replace")
            except socket.timeout:
                return None

        cases = [
            req(drop=("Call-ID",)), req(drop=("CSeq",)), req(drop=("From",)),
            req("SUBSCRIBE", extra=["CSeq: 1 INVITE"]),
            req("SUBSCRIBE", extra=["Event: presence", "Expires: banana"]),
            req("SUBSCRIBE", extra=["Event: ;;;"]),
            req("PUBLISH", extra=["Event: presence", "Content-Type: application/pidf+xml"], body=b"<x/>" * 3000),
            req("PUBLISH", extra=["Event: presence", "Content-Type: application/pidf+xml"], body=b"<presence", cl=900),
            req("SUBSCRIBE", extra=["Event: presence", "X-Huge: " + "a" * 9000]),
            req("SUBSCRIBE", extra=["Event: presence"], body=b"\x00\xff" * 10),
            req(line="SUBSCRIBE sip:bob@localhost SIP/9.9"),
            req(line="SUBSCRIBE  SIP/2.0"),
            b"\x00\x01\x02 garbage\r\n\r\n",
            b"SUBSCRIBE sip:bob@localhost SIP/2.0\r\nVia: x\r\n\r\n",
            req("NOTIFY", extra=["Event: presence", "Subscription-State: active"]),
        ]
        for c in cases:
            r = answer(c)
            assert r is None or re.match(r"SIP/2\.0 [4-6]\d\d ", r), (c[:80], r)
        # And the server still answers.
        r = answer(req())
        assert r and r.startswith("SIP/2.0 200"), r
        assert "SUBSCRIBE" in r and "presence.winfo" in r, r


BARESIP = shutil.which("baresip")


def start_baresip(sip_port: int, user: str, password: str, contacts: list[str]) -> tuple[subprocess.Popen, str]:
    """baresip (Debian) headless with its own config dir: the account registers at parleyd,
    its presence module SUBSCRIBEs to each `;presence=p2p` contact and logs every change."""
    if not BARESIP:
        raise h.Skip("baresip is not installed (Debian baresip)")
    home = tempfile.mkdtemp(prefix="baresip-")
    port = h.free_port(udp=True)
    with open(os.path.join(home, "config"), "w") as f:
        f.write(f"poll_method\tepoll\nsip_listen\t127.0.0.1:{port}\nmodule_path\t/usr/lib/baresip/modules\n"
                "module\tg711.so\nmodule_app\taccount.so\nmodule_app\tcontact.so\n"
                "module_app\tpresence.so\nmodule_app\tmenu.so\n")
    with open(os.path.join(home, "accounts"), "w") as f:
        f.write(f"<sip:{user}@127.0.0.1:{sip_port};transport=udp>;auth_pass={password};regint=300\n")
    with open(os.path.join(home, "contacts"), "w") as f:
        for c in contacts:
            f.write(f"\"{c}\" <sip:{c}@127.0.0.1:{sip_port}>;presence=p2p\n")
    p = subprocess.Popen([BARESIP, "-f", home], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, bufsize=1)
    return p, home


def test_baresip_sees_an_xmpp_users_presence():
    need_xmpp()
    import queue
    import threading
    # The default config: baresip (libre's client) must be able to register with it.
    with h.Parleyd(config()) as d:
        bob = xc.login(Client, d.ports["xmpp"], "bob@localhost/x", "bobpw", timeout=20)
        lines: queue.Queue = queue.Queue()
        log = []

        def launch() -> subprocess.Popen:
            p, _ = start_baresip(d.ports["sip"], "alice", "alicepw", ["bob"])
            threading.Thread(target=lambda: [lines.put(l) for l in p.stdout], daemon=True).start()
            return p

        p = launch()

        def expect(pattern: str, timeout: float = 20) -> str:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                xc.run(asyncio.sleep(0.05))
                try:
                    l = lines.get(timeout=0.2)
                except queue.Empty:
                    continue
                log.append(l)
                if re.search(pattern, l):
                    return l
            raise AssertionError(f"baresip never logged {pattern!r}:\n" + "".join(log[-120:]))

        try:
            # baresip registers (digest), then its presence module subscribes to bob;
            # bob (slixmpp) is asked and allows it.
            try:
                req = xc.run(bob.subs.get(), 30)
            except (TimeoutError, asyncio.TimeoutError):
                # Once, under a parallel ctest run, baresip never subscribed within 30 s (its
                # output was not kept then; the cause is not known). One fresh start, printing
                # what the first one said, then it must work.
                p.terminate()
                p.wait(5)
                while not lines.empty():
                    log.append(lines.get())
                print("  baresip never subscribed; its output:\n" + "".join(log[-40:]))
                p = launch()
                req = xc.run(bob.subs.get(), 30)
            assert str(req["from"]) == "alice@localhost", req
            bob.send_presence(pto="alice@localhost", ptype="subscribed")
            # baresip logs a contact's change only from a known state: the first NOTIFY
            # with a PIDF (open) sets it silently; then dnd -> busy, back, offline.
            # (A change sent before that first NOTIFY reached baresip would be its first, silent
            # state and the expectation below would miss: give a loaded machine time.)
            xc.run(asyncio.sleep(3))
            bob.send_presence(pshow="dnd", pstatus="in a meeting")
            expect(r"(?i)<sip:bob@[^>]*> changed status from \S*(open|online)\S* to \S*busy")
            bob.send_presence()
            expect(r"(?i)<sip:bob@[^>]*> changed status from \S*busy\S* to \S*(open|online)")
            xc.bye(bob)
            expect(r"(?i)<sip:bob@[^>]*> changed status from \S*(open|online)\S* to \S*(closed|offline)")
        finally:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def raw_notifies(ua: Ua, seconds: float) -> list[tuple[float, str]]:
    """Every NOTIFY ua receives for `seconds`, unanswered, with its arrival time."""
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        r = ua.recv(min(0.5, left))
        if r and r.startswith("NOTIFY "):
            out.append((time.monotonic(), r))
    return out


def header(msg: str, name: str) -> str:
    m = re.search(rf"^{name}:\s*(.*?)\r$", msg, re.M | re.I)
    return m.group(1) if m else ""


def reply_to(ua: Ua, notify: str, code: int, reason: str) -> None:
    head = notify.split("\r\n\r\n", 1)[0].split("\r\n")
    keep = [l for l in head if l.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
    ua.send((f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode())


def test_udp_notify_transaction_retransmits_gives_up_and_ends_on_481():
    """The UDP NOTIFY fast path's client transaction against misbehaving watchers: a NOTIFY
    answered late (after retransmissions) keeps the subscription; one never answered is
    retransmitted at T1 doubling to T2 with one CSeq, carries no newer state meanwhile, and
    ends the subscription at timer F (64*T1 = 32 s); a 481 ends it at once."""
    with h.Parleyd(config(event_expires={"min": 1, "max": 600, "default": 300})) as d:
        ua = Ua(d.ports["sip"], "alice", "alicepw")
        ua.register()
        late, silent, gone = (Ua(d.ports["sip"], "alice", "alicepw") for _ in range(3))
        for w in (late, silent, gone):
            assert ts.status(w.subscribe("alice")) == 200
            n = w.notify()
            assert "Subscription-State: active;expires=" in n, n
            assert ";branch=z9hG4bKpF" in header(n, "Via"), n  # the fast path's transaction
        ct = "Content-Type: application/pidf+xml"

        def publish(note: str) -> None:
            assert ts.status(ua.auth("PUBLISH", "alice", ["Event: presence", ct], pidf("alice", "away", note))) == 200

        publish("one")
        # 481: the watcher forgot the dialog; the subscription ends, its refresh gets 481.
        n = [x for _, x in raw_notifies(gone, 1.0)]
        assert n and "one" in n[0], n
        reply_to(gone, n[0], 481, "Call/Transaction Does Not Exist")
        # Late: answered only after two retransmissions.
        got = raw_notifies(late, 2.0)
        assert len(got) >= 3 and len({header(x, "CSeq") for _, x in got}) == 1, [x for _, x in got]
        reply_to(late, got[-1][1], 200, "OK")
        publish("two")  # the late watcher hears it; the silent one gets only retransmissions of "one"
        n = late.notify(lambda n: "two" in n)
        assert "Subscription-State: active" in n, n
        r = gone.auth("SUBSCRIBE", "alice", ["Event: presence", "Expires: 300"], in_dialog=True)
        assert ts.status(r) == 481, r
        # Silent: retransmitted (E: 0.5, 1, 2, 4, 4, ... s) with the first state only, then
        # dropped at 32 s (F); its refresh is then refused.
        got = raw_notifies(silent, 34.0)
        times = [t for t, _ in got]
        assert all("one" in x and "two" not in x for _, x in got), [x for _, x in got]
        assert len({header(x, "CSeq") for _, x in got}) == 1
        assert 8 <= len(got) <= 12, len(got)
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Timer E is re-armed when it fires (RFC 3261 17.1.2.2), so a busy CI machine can make
        # one retransmission late (a 5.9 s gap was seen) without moving the others: the cap is
        # shown by most gaps sitting at T2, and by no gap near the 8 s an uncapped doubling gives.
        capped = sorted(g for g in gaps if g > 3.0)
        assert len(capped) >= 4 and capped[len(capped) // 2] < 4.8 and max(gaps) < 7.5, gaps
        r = silent.auth("SUBSCRIBE", "alice", ["Event: presence", "Expires: 300"], in_dialog=True)
        assert ts.status(r) == 481, r
        # The late watcher's dialog lives on: a refresh, then a NOTIFY with the current state.
        r = late.auth("SUBSCRIBE", "alice", ["Event: presence", "Expires: 300"], in_dialog=True)
        assert ts.status(r) == 200 and "Expires: 300" in r, r
        n = late.notify(lambda n: "two" in n)
        r = late.auth("SUBSCRIBE", "alice", ["Event: presence", "Expires: 0"], in_dialog=True)
        assert ts.status(r) == 200, r
        n = late.notify(lambda n: "terminated" in n)
        assert "Subscription-State: terminated;reason=timeout" in n, n


def test_libre_notifier_still_serves_when_the_fast_path_is_off():
    """PARLEY_SIP_NOTIFY=libre (and TCP/TLS subscriptions always): libre's sipevent notifier
    runs the dialog - first NOTIFY, a change, refresh, unsubscribe - as before the fast path."""
    with h.Parleyd(config(event_expires={"min": 1, "max": 600, "default": 300}),
                   env={"PARLEY_SIP_NOTIFY": "libre"}) as d:
        ua = Ua(d.ports["sip"], "alice", "alicepw")
        ua.register()
        w = Ua(d.ports["sip"], "alice", "alicepw")
        assert ts.status(w.subscribe("alice")) == 200
        n = w.notify()
        assert "Subscription-State: active" in n and "z9hG4bKpF" not in header(n, "Via"), n
        r = ua.auth("PUBLISH", "alice", ["Event: presence", "Content-Type: application/pidf+xml"],
                    pidf("alice", "away", "via libre"))
        assert ts.status(r) == 200, r
        w.notify(lambda n: "via libre" in n)
        r = w.auth("SUBSCRIBE", "alice", ["Event: presence", "Expires: 300"], in_dialog=True)
        assert ts.status(r) == 200, r
        r = w.auth("SUBSCRIBE", "alice", ["Event: presence", "Expires: 0"], in_dialog=True)
        assert ts.status(r) == 200, r
        n = w.notify(lambda n: "terminated" in n)
        assert "Subscription-State: terminated" in n, n


def _signed(ua: Ua, method: str, target: str, headers: list[str], body: bytes = b"") -> bytes:
    """One request with ua's current challenge and the next nonce count (ua.auth without
    sending), so the test can send the very same bytes twice."""
    ua.nc += 1
    auth = ts.authorization(ua.ch, ua.user, ua.password, method, f"sip:{target}@localhost", nc=ua.nc)
    return ua.req(method, target, headers + [auth], body)


def _alice_and_her_watcher(d):
    """alice registered, and a second UA of hers subscribed to her presence (its first
    NOTIFY read)."""
    ua = Ua(d.ports["sip"], "alice", "alicepw")
    ua.register()
    w = Ua(d.ports["sip"], "alice", "alicepw")
    assert ts.status(w.subscribe("alice")) == 200
    w.notify()
    return ua, w


def _fast_publishes(d, cseq: int) -> list[int]:
    """The CSeqs of the PUBLISHes the fast path took, once the one with `cseq` is logged
    (parleyd's stderr is read by a thread; lines come in order)."""
    d.wait_for_log(rf"sip: PUBLISH \d+ \(CSeq {cseq}\) from \S+ on the fast path", timeout=5)
    return [int(c) for c in re.findall(r"sip: PUBLISH \d+ \(CSeq (\d+)\) from \S+ on the fast path", d.log())]


def test_publish_fast_path_answers_a_retransmission_once():
    """A PUBLISH over UDP takes the fast path (protocols/sip/publish_wire, no libre
    transaction): its retransmission (same bytes: same branch and sent-by, RFC 3261 §17.2.3)
    gets the same final response again (same SIP-ETag, same To tag) and is not processed
    again - a second processing of the If-Match would answer 412, and the watcher would see
    the change twice."""
    with h.Parleyd(config()) as d:
        ua, w = _alice_and_her_watcher(d)
        ct = "Content-Type: application/pidf+xml"
        r = ua.auth("PUBLISH", "alice", ["Event: presence", ct, "Expires: 300"], pidf("alice", note="first"))
        assert ts.status(r) == 200, r
        first = ua.cseq
        assert _fast_publishes(d, first) == [first], d.log()[-2000:]
        etag = header(r, "SIP-ETag")
        w.notify(lambda n: "first" in n)
        data = _signed(ua, "PUBLISH", "alice", ["Event: presence", ct, f"SIP-If-Match: {etag}", "Expires: 300"],
                       pidf("alice", "away", "once"))
        r1 = ua.final(data)
        r2 = ua.final(data)  # the retransmission, after the final response (Completed state)
        assert ts.status(r1) == 200 and ts.status(r2) == 200, (r1, r2)
        assert header(r1, "SIP-ETag") == header(r2, "SIP-ETag") != etag, (r1, r2)
        assert header(r1, "To") == header(r2, "To") and ";tag=" in header(r1, "To"), (r1, r2)
        assert header(r1, "Expires") == "300" and header(r1, "CSeq").endswith(" PUBLISH"), r1
        assert ";received=127.0.0.1" in header(r1, "Via") and ";rport=" in header(r1, "Via"), r1
        # A later change is the barrier: every NOTIFY of "once" came before it.
        r = ua.auth("PUBLISH", "alice", ["Event: presence", ct, f"SIP-If-Match: {header(r1, 'SIP-ETag')}"],
                    pidf("alice", note="after"))
        assert ts.status(r) == 200, r
        seen = []
        w.notify(lambda n: seen.append(n) or "after" in n)
        assert sum("once" in body_of(n) for n in seen) == 1, seen
        # Three PUBLISHes went the fast way, each once: the retransmission was not taken again.
        assert _fast_publishes(d, ua.cseq) == [first, first + 1, ua.cseq], d.log()[-3000:]


def test_publish_the_fast_path_leaves_still_works():
    """A PUBLISH in compact form (RFC 3261 §7.3.3: v/f/t/i/o/c/l) is not the fast path's:
    libre decodes it and it is answered as before; so is one without Authorization (401)."""
    with h.Parleyd(config()) as d:
        ua, w = _alice_and_her_watcher(d)
        r = ua.final(ua.req("PUBLISH", "alice", ["Event: presence", "Content-Type: application/pidf+xml"],
                            pidf("alice")))
        assert ts.status(r) == 401, r
        body = pidf("alice", "busy", "compact")
        long = _signed(ua, "PUBLISH", "alice", ["Event: presence", "Content-Type: application/pidf+xml"], body)
        head, _ = long.decode().split("\r\n\r\n", 1)
        short = {"via": "v", "from": "f", "to": "t", "call-id": "i", "event": "o", "content-type": "c",
                 "content-length": "l"}
        lines = head.split("\r\n")
        lines = [lines[0]] + [short.get(l.split(":", 1)[0].lower(), l.split(":", 1)[0]) + ":" + l.split(":", 1)[1]
                              for l in lines[1:]]
        compact = ua.cseq
        r = ua.final(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        assert ts.status(r) == 200 and header(r, "SIP-ETag"), r
        w.notify(lambda n: "compact" in n)
        # Then one in long form is the fast path's, the only one of the two.
        r = ua.auth("PUBLISH", "alice", ["Event: presence", f"SIP-If-Match: {header(r, 'SIP-ETag')}"])
        assert ts.status(r) == 200, r
        assert _fast_publishes(d, ua.cseq) == [ua.cseq] and compact != ua.cseq, d.log()[-3000:]


if __name__ == "__main__":
    import sys
    only = set(sys.argv[1:])  # test names to run; none: all
    h.run_tests({k: v for k, v in globals().items() if not only or not k.startswith("test_") or k in only})
