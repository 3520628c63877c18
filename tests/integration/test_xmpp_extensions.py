"""XMPP extensions end to end with slixmpp: message carbons (XEP-0280, sent and received,
<private/> opt-out), iq routing between users' resources, delivery receipts (XEP-0184),
XHTML-IM (XEP-0071) between XMPP clients and to/from IRC formatting.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_xmpp_extensions.py
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import bye, next_where, run  # noqa: E402

import slixmpp  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402

xc.configure_logging()

ACCOUNTS = [("alice", "alicepw"), ("bob", "bobpw")]
XHTML_IM = "{http://jabber.org/protocol/xhtml-im}"
XHTML = "{http://www.w3.org/1999/xhtml}"


class Client(xc.BaseClient):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0030", "xep_0092", "xep_0184", "xep_0280", "xep_0071"))
        self.plugin["xep_0184"].auto_request = False
        self.messages = asyncio.Queue()
        self.carbons = asyncio.Queue()
        self.receipts = asyncio.Queue()
        self.add_event_handler("message", lambda m: m["body"] and self.messages.put_nowait(m))
        self.add_event_handler("carbon_received", lambda m: self.carbons.put_nowait(("received", m)))
        self.add_event_handler("carbon_sent", lambda m: self.carbons.put_nowait(("sent", m)))
        self.add_event_handler("receipt_received", lambda m: self.receipts.put_nowait(m))


def login(port, user, password, resource):
    return xc.login(Client, port, f"{user}@localhost/{resource}", password)


def forwarded(m, direction):
    return m[f"carbon_{direction}"]


def test_carbons():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        phone, laptop = login(port, "alice", "alicepw", "phone"), login(port, "alice", "alicepw", "laptop")
        bob = login(port, "bob", "bobpw", "desk")
        for c in (phone, laptop):
            run(c.plugin["xep_0280"].enable())
        # received: bob writes to the phone; the laptop gets a copy
        bob.send_message(mto="alice@localhost/phone", mbody="to your phone", mtype="chat")
        m = run(next_where(phone.messages, lambda m: m["body"] == "to your phone"))
        kind, c = run(next_where(laptop.carbons, lambda x: True))
        assert kind == "received", kind
        inner = forwarded(c, "received")
        assert inner["body"] == "to your phone" and inner["from"] == "bob@localhost/desk", inner
        assert c["from"] == "alice@localhost"
        # sent: the phone writes to bob; the laptop gets a copy of what was sent
        phone.send_message(mto="bob@localhost", mbody="from my phone", mtype="chat")
        run(next_where(bob.messages, lambda m: m["body"] == "from my phone"))
        kind, c = run(next_where(laptop.carbons, lambda x: True))
        assert kind == "sent", kind
        inner = forwarded(c, "sent")
        assert inner["body"] == "from my phone" and inner["to"] == "bob@localhost", inner
        assert inner["from"] == "alice@localhost/phone", inner
        # <private/> opts out both ways; a later ordinary message proves nothing was queued
        m = phone.make_message(mto="bob@localhost", mbody="secret sent", mtype="chat")
        m.xml.append(slixmpp.xmlstream.ET.Element("{urn:xmpp:carbons:2}private"))
        m.send()
        run(next_where(bob.messages, lambda m: m["body"] == "secret sent"))
        m = bob.make_message(mto="alice@localhost/phone", mbody="secret received", mtype="chat")
        m.xml.append(slixmpp.xmlstream.ET.Element("{urn:xmpp:carbons:2}private"))
        m.send()
        run(next_where(phone.messages, lambda m: m["body"] == "secret received"))
        bob.send_message(mto="alice@localhost/phone", mbody="public again", mtype="chat")
        kind, c = run(next_where(laptop.carbons, lambda x: True))
        assert forwarded(c, kind)["body"] == "public again", forwarded(c, kind)
        # a resource that disabled carbons gets no more copies
        run(laptop.plugin["xep_0280"].disable())
        bob.send_message(mto="alice@localhost/phone", mbody="after disable", mtype="chat")
        run(next_where(phone.messages, lambda m: m["body"] == "after disable"))
        run(asyncio.sleep(0.3))
        assert laptop.carbons.empty()
        # messages to the bare JID reach both resources directly, not as carbons
        run(laptop.plugin["xep_0280"].enable())
        bob.send_message(mto="alice@localhost", mbody="to both", mtype="chat")
        run(next_where(phone.messages, lambda m: m["body"] == "to both"))
        run(next_where(laptop.messages, lambda m: m["body"] == "to both"))
        run(asyncio.sleep(0.3))
        assert phone.carbons.empty() and laptop.carbons.empty()
        bye(phone, laptop, bob)


def test_iq_routing_between_users():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice, bob = login(port, "alice", "alicepw", "a"), login(port, "bob", "bobpw", "b")
        # to a full JID: delivered to that resource, answered by the client, result routed back
        v = run(bob.plugin["xep_0092"].get_version("alice@localhost/a"))
        assert v["software_version"]["name"], v
        assert v["from"] == "alice@localhost/a", v
        info = run(bob.plugin["xep_0030"].get_info(jid="alice@localhost/a"))
        assert "urn:xmpp:carbons:2" in info["disco_info"]["features"]
        # an error answer comes back too (slixmpp answers an unknown payload with an error)
        iq = bob.make_iq_get(queryxmlns="urn:example:unknown", ito="alice@localhost/a")
        try:
            run(iq.send())
            raise AssertionError("unknown payload answered with a result")
        except IqError as e:
            assert e.iq["from"] == "alice@localhost/a", e.iq
        # no such resource, or another user's bare JID: service-unavailable from the server
        for to in ("alice@localhost/nowhere", "alice@localhost"):
            try:
                run(bob.plugin["xep_0092"].get_version(to))
                raise AssertionError(f"iq to {to} answered")
            except IqError as e:
                assert e.condition == "service-unavailable", (to, e.condition)
        bye(alice, bob)


def test_receipts_and_xhtml_im():
    with h.Parleyd(h.config(xmpp=True, irc=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice, bob = login(port, "alice", "alicepw", "a"), login(port, "bob", "bobpw", "b")
        # XEP-0184: the request reaches alice, her client's receipt reaches bob
        m = bob.make_message(mto="alice@localhost/a", mbody="did you get this?", mtype="chat")
        m["id"] = "msg-42"
        m["request_receipt"] = True
        m.send()
        run(next_where(alice.messages, lambda m: m["body"] == "did you get this?"))
        r = run(next_where(bob.receipts, lambda r: True))
        assert r["receipt"] == "msg-42" and r["from"].bare == "alice@localhost", r

        # XHTML-IM between XMPP clients: the markup is re-rendered from the neutral spans
        m = alice.make_message(mto="bob@localhost", mbody="bold and <plain> red", mtype="chat")
        m["html"]["body"] = "<p><strong>bold</strong> and &lt;plain&gt; <span style='color: #ff0000'>red</span></p>"
        m.send()
        got = run(next_where(bob.messages, lambda m: m["body"].startswith("bold and")))
        body = got.xml.find(f"{XHTML_IM}html/{XHTML}body")
        assert body is not None, got
        assert body.find(f"{XHTML}strong").text == "bold"
        span = body.find(f"{XHTML}span")
        assert span.get("style") == "color: #ff0000;" and span.text == "red", span.attrib
        assert "<plain>" in "".join(body.itertext())
        # a markup that says something else than the body is dropped, the body is kept
        m = alice.make_message(mto="bob@localhost", mbody="the truth", mtype="chat")
        m["html"]["body"] = "<strong>a lie</strong>"
        m.send()
        got = run(next_where(bob.messages, lambda m: m["body"] == "the truth"))
        assert got.xml.find(f"{XHTML_IM}html") is None

        # to and from IRC formatting codes through the neutral rich text
        irc = h.LineClient(d.ports["irc"])
        irc.send("NICK ircy")
        irc.send("USER ircy 0 * :Ircy")
        irc.expect(r" 001 ircy ")
        m = alice.make_message(mto="ircy@localhost", mbody="hi bold", mtype="chat")
        m["html"]["body"] = "hi <strong>bold</strong>"
        m.send()
        run(asyncio.sleep(0.3))  # LineClient blocks: let slixmpp write first
        irc.expect(r"PRIVMSG ircy :hi \x02bold[\x02\x0f]?$")
        irc.send("PRIVMSG alice :\x1ditalic\x1d and \x0304red\x03")
        got = run(next_where(alice.messages, lambda m: m["body"].startswith("italic")))
        assert got["body"] == "italic and red", got["body"]
        body = got.xml.find(f"{XHTML_IM}html/{XHTML}body")
        assert body is not None and body.find(f"{XHTML}em").text == "italic", got
        assert body.find(f"{XHTML}span").text == "red"
        irc.close()
        bye(alice, bob)


if __name__ == "__main__":
    h.run_tests(globals())
