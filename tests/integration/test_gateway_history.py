"""The IRC gateway's channel archive (issue 11): history on join, MAM, self-ping.

A real IRC network (ngircd on loopback) with a raw IRC client (bob) in #hist, and slixmpp
users of Parley's own XMPP server joining #hist%local@irc.localhost:
- lines bob says while dave (XMPP) is in the channel are archived once per channel even
  though two puppets (dave's, then alice's) hear them;
- alice, joining later, gets them as delayed history (XEP-0045 §7.2.15 + XEP-0203 <delay/>),
  honouring maxstanzas, before the subject; IRC text with '<' and '&' stays text;
- MAM (XEP-0313) on the channel JID pages with RSM (XEP-0059) forward and backward, filters
  by 'with', says <fin complete='true'/> on the last page, and refuses a non-occupant (eve);
- XEP-0410 self-ping: result while joined, <not-acceptable/> when not;
- XEP-0359: every live line carries <stanza-id by=room/>, the same for every occupant
  whichever puppet heard it first, equal to the id MAM returns for it (here and, in
  component mode on Prosody, test_stanza_id_component);
- the archive survives a parleyd restart (it is in the store), and with
  irc.gateway_record_history: false nothing is archived and MAM is not offered.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_history.py
"""
import asyncio
import os
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, run  # noqa: E402

try:
    from slixmpp.exceptions import IqError
except ImportError:  # pragma: no cover
    IqError = Exception

xc.configure_logging()
GW = "irc.localhost"
ROOM = f"#hist%local@{GW}"
MAM = "urn:xmpp:mam:2"
RSM = "http://jabber.org/protocol/rsm"
DELAY = "{urn:xmpp:delay}delay"
SID = "{urn:xmpp:sid:0}stanza-id"


def sid_of(m, room=ROOM):
    """A live groupchat line's XEP-0359 stanza-id (by the room)."""
    e = m.xml.find(SID)
    assert e is not None and e.get("by") == room and e.get("id"), m
    return e.get("id")


def _ngircd():
    import test_irc_gateway as g  # the Ngircd helper (its tests run only as __main__)
    return g.Ngircd()


class Client(xc.BaseClient):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0045", "xep_0199"))
        self.mam = asyncio.Queue()
        self.group = asyncio.Queue()
        self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath
        self.register_handler(Callback("mam result", MatchXPath(f"{{jabber:client}}message/{{{MAM}}}result"),
                                       lambda m: self.mam.put_nowait(m)))


def config(port, **irc):
    return h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw"), ("dave", "davepw"), ("eve", "evepw")],
                    irc_extra={"networks": [{"name": "local", "host": "127.0.0.1", "port": port, "tls": False,
                                             "throttle": "off"}], **irc})


def mam_query(c, room=ROOM, max_=None, after=None, before=None, with_=None, start=None, timeout=10):
    """One MAM query: ([(id, nick, body, stamp)], complete, first, last)."""
    qid = uuid.uuid4().hex[:8]
    iq = c.make_iq_set(ito=room)
    q = ET.Element(f"{{{MAM}}}query", {"queryid": qid})
    fields = [("FORM_TYPE", MAM)] + [(k, v) for k, v in (("with", with_), ("start", start)) if v]
    x = ET.SubElement(q, "{jabber:x:data}x", {"type": "submit"})
    for var, val in fields:
        f = ET.SubElement(x, "{jabber:x:data}field", {"var": var})
        if var == "FORM_TYPE":
            f.set("type", "hidden")
        ET.SubElement(f, "{jabber:x:data}value").text = val
    if max_ is not None or after is not None or before is not None:
        s = ET.SubElement(q, f"{{{RSM}}}set")
        if max_ is not None:
            ET.SubElement(s, f"{{{RSM}}}max").text = str(max_)
        if after is not None:
            ET.SubElement(s, f"{{{RSM}}}after").text = after
        if before is not None:
            ET.SubElement(s, f"{{{RSM}}}before").text = before or None
    iq.append(q)
    res = run(iq.send(timeout=timeout))
    fin = res.xml.find(f"{{{MAM}}}fin")
    assert fin is not None, res
    items = []
    LOOP.run_until_complete(asyncio.sleep(0.05))
    while not c.mam.empty():  # results precede the iq result on the same stream
        m = c.mam.get_nowait()
        r = m.xml.find(f"{{{MAM}}}result")
        if r.get("queryid") != qid:
            continue
        assert m["from"].bare == room, m
        fwd = r.find("{urn:xmpp:forward:0}forwarded")
        inner = fwd.find("{jabber:client}message")
        items.append((r.get("id"), inner.get("from").split("/", 1)[1], inner.find("{jabber:client}body").text,
                      fwd.find(DELAY).get("stamp")))
    st = fin.find(f"{{{RSM}}}set")
    first = st.find(f"{{{RSM}}}first") if st is not None else None
    last = st.find(f"{{{RSM}}}last") if st is not None else None
    return (items, fin.get("complete") in ("true", "1"),
            first.text if first is not None else None, last.text if last is not None else None)


def iq_error(coro):
    try:
        run(coro)
    except IqError as e:
        return e.iq["error"]["condition"]
    return None


def self_ping(c, nick):
    return iq_error(c.plugin["xep_0199"].send_ping(f"{ROOM}/{nick}", timeout=10))


def test_history_mam_selfping():
    net = _ngircd().start()
    wd = tempfile.TemporaryDirectory(prefix="parley-hist-")
    try:
        cfg = config(net.port)
        with h.Parleyd(cfg, workdir=wd.name) as d:
            bob = xc.LoopIrc(net.port, "bob")
            bob.send("JOIN #hist")
            bob.expect(r" 366 bob #hist ")
            bob.send("TOPIC #hist :the topic")
            bob.expect(r"TOPIC #hist :the topic")
            bob.send("PRIVMSG #hist :before anyone: not heard by the gateway")

            dave = xc.login(Client, d.ports["xmpp"], "dave@localhost/d", "davepw")
            run(dave.plugin["xep_0045"].join_muc_wait(ROOM, "dave", maxstanzas=0))
            bob.expect(r"^:dave!\S+ JOIN :?#hist")
            # disco#info announces MAM on the channel
            info = run(dave.plugin["xep_0030"].get_info(jid=ROOM))
            assert MAM in info["disco_info"]["features"], info
            # ... and answers the query form (XEP-0313 §5.1) with the fields it understands
            form = mam_form(dave)
            assert form["FORM_TYPE"] == ("hidden", [MAM]), form
            assert set(form) == {"FORM_TYPE", "with", "start", "end"}, form
            assert form["with"][0] == "jid-single", form
            assert "urn:xmpp:sid:0" in info["disco_info"]["features"], info
            for i in range(1, 31):
                bob.send(f"PRIVMSG #hist :line {i}")
            bob.send("PRIVMSG #hist :tags <b>bold</b> & &amp; stay text")
            bob.send("PRIVMSG #hist :\x01ACTION waves\x01")
            bob.send("NOTICE #hist :a notice")
            # ngircd paces a client's burst (about a line a second past its first lines)
            last = run(xc.next_where(dave.group, lambda m: "a notice" in m["body"], timeout=60), 70)
            assert last["body"] == "[notice] a notice"
            live = {"[notice] a notice": {sid_of(last)}}

            # alice joins later: the newest 5 lines come as delayed history, then the subject
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/a", "alicepw")
            _, subject, _, history = run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=5))
            bodies = [m["body"] for m in history]
            assert bodies == ["line 29", "line 30", "tags <b>bold</b> & &amp; stay text", "/me waves",
                              "[notice] a notice"], bodies
            for m in history:
                assert m.xml.find(DELAY) is not None and m.xml.find(DELAY).get("stamp"), m
                assert m.xml.find(SID) is None, m  # history: MAM ids come with MAM
                assert m["from"].bare == ROOM and m["from"].resource == "bob", m
            assert subject["subject"] == "the topic", subject
            bob.expect(r"^:alice!\S+ JOIN :?#hist")

            # Two puppets now hear every line: each is archived once.
            for i in range(1, 6):
                bob.send(f"PRIVMSG #hist :both {i}")
            for who in (alice, dave):
                for i in range(1, 6):
                    m = run(xc.next_where(who.group, lambda m, i=i: m["body"] == f"both {i}"))
                    live.setdefault(f"both {i}", set()).add(sid_of(m))
            alice.send_message(mto=ROOM, mbody="from alice", mtype="groupchat")
            bob.expect(r"PRIVMSG #hist :from alice")
            m = run(xc.next_where(dave.group, lambda m: m["body"] == "from alice"))
            live["from alice"] = {sid_of(m)}
            m = run(xc.next_where(alice.group, lambda m: m["body"] == "from alice"))  # the reflection
            live["from alice"].add(sid_of(m))

            # MAM: the whole archive, forward in pages of 7 (a <max/> of 1000 is bounded too)
            expected = [f"line {i}" for i in range(1, 31)] + [
                "tags <b>bold</b> & &amp; stay text", "/me waves", "[notice] a notice"] + [
                f"both {i}" for i in range(1, 6)] + ["from alice"]
            seen, after, pages = [], None, 0
            while True:
                items, complete, first, last_id = mam_query(alice, max_=7, after=after)
                pages += 1
                assert len(items) <= 7
                if items:
                    assert first == items[0][0] and last_id == items[-1][0]
                seen += items
                if complete:
                    break
                after = last_id
                assert pages < 20
            assert [b for _, _, b, _ in seen] == expected, [b for _, _, b, _ in seen]
            assert pages == (len(expected) + 6) // 7
            ids = [int(i) for i, _, _, _ in seen]
            assert ids == sorted(set(ids)), ids  # once each, in order
            # XEP-0359: one stanza-id per line for both occupants, the line's MAM id
            mam_ids = {b: i for i, _, b, _ in seen}
            for body, sids in live.items():
                assert sids == {mam_ids[body]}, (body, sids, mam_ids[body])
            assert seen[-1][1] == "alice" and seen[0][1] == "bob"
            # backward from the end: <before/> is the last page
            items, complete, _, _ = mam_query(alice, max_=3, before="")
            assert [b for _, _, b, _ in items] == ["both 4", "both 5", "from alice"] and not complete
            items, complete, _, _ = mam_query(alice, max_=3, before=items[0][0])
            assert [b for _, _, b, _ in items] == ["both 1", "both 2", "both 3"], items
            # with: one occupant's lines
            items, complete, _, _ = mam_query(dave, with_=f"{ROOM}/alice")
            assert [b for _, _, b, _ in items] == ["from alice"] and complete, items
            items, complete, _, _ = mam_query(dave, max_=100000)
            assert len(items) == 39 and complete, len(items)
            # a malformed id
            assert iq_error(_raw_mam(alice, "<set xmlns='http://jabber.org/protocol/rsm'><after>x</after></set>")) == \
                "item-not-found"

            # dave, whose puppet wrote the archive, leaves: alice's puppet takes over
            dave.plugin["xep_0045"].leave_muc(ROOM, "dave")
            bob.expect(r"^:dave!\S+ (PART|QUIT)")
            assert self_ping(dave, "dave") == "not-acceptable"
            bob.send("PRIVMSG #hist :after dave left")
            m = run(xc.next_where(alice.group, lambda m: m["body"] == "after dave left"))
            items, _, _, _ = mam_query(alice, max_=2, before="")
            assert [b for _, _, b, _ in items] == ["from alice", "after dave left"], items
            assert sid_of(m) == items[1][0], (sid_of(m), items)

            # eve is in no channel of that network: refused
            eve = xc.login(Client, d.ports["xmpp"], "eve@localhost/e", "evepw")
            assert iq_error(_raw_mam(eve, "")) == "forbidden"
            assert eve.mam.empty()

            # XEP-0410 self-ping
            assert self_ping(alice, "alice") is None
            assert self_ping(alice, "bob") is None  # another occupant: answered for it
            assert self_ping(alice, "nobody") == "item-not-found"
            assert self_ping(eve, "eve") == "not-acceptable"
            run(alice.plugin["xep_0045"].leave_muc(ROOM, "alice") or asyncio.sleep(0.5))
            LOOP.run_until_complete(asyncio.sleep(0.5))
            assert self_ping(alice, "alice") == "not-acceptable"
            assert iq_error(_raw_mam(alice, "")) == "forbidden"  # no puppet there any more
            xc.bye(alice, dave, eve)
            bob.c.close()

        # The archive is in the store: after a restart a join still gets the history.
        with h.Parleyd(cfg, workdir=wd.name) as d2:
            alice = xc.login(Client, d2.ports["xmpp"], "alice@localhost/a", "alicepw")
            _, _, _, history = run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=2))
            assert [m["body"] for m in history] == ["from alice", "after dave left"], [m["body"] for m in history]
            assert self_ping(alice, "alice") is None
            xc.bye(alice)
    finally:
        net.close()
        wd.cleanup()


def mam_form(c, room=ROOM):
    """XEP-0313 §5.1 form discovery: an iq get with an empty query; the form's fields."""
    iq = c.make_iq_get(ito=room)
    iq.append(ET.fromstring(f"<query xmlns='{MAM}'/>"))
    res = run(iq.send(timeout=10))
    x = res.xml.find(f"{{{MAM}}}query/{{jabber:x:data}}x")
    assert x is not None and x.get("type") == "form", res
    return {f.get("var"): (f.get("type"), [v.text for v in f.findall("{jabber:x:data}value")])
            for f in x.findall("{jabber:x:data}field")}


def _mam_form_raw(c, room=ROOM):
    iq = c.make_iq_get(ito=room)
    iq.append(ET.fromstring(f"<query xmlns='{MAM}'/>"))
    return iq.send(timeout=10)


def _raw_mam(c, inner, room=ROOM):
    iq = c.make_iq_set(ito=room)
    iq.append(ET.fromstring(f"<query xmlns='{MAM}'>{inner}</query>"))
    return iq.send(timeout=10)


def test_record_history_off():
    net = _ngircd().start()
    try:
        with h.Parleyd(config(net.port, gateway_record_history=False)) as d:
            bob = xc.LoopIrc(net.port, "bob")
            bob.send("JOIN #hist")
            bob.expect(r" 366 bob #hist ")
            dave = xc.login(Client, d.ports["xmpp"], "dave@localhost/d", "davepw")
            run(dave.plugin["xep_0045"].join_muc_wait(ROOM, "dave", maxstanzas=0))
            bob.send("PRIVMSG #hist :not archived")
            m = run(xc.next_where(dave.group, lambda m: m["body"] == "not archived"))
            assert m.xml.find(SID) is None, m  # no archive, no archive id
            info = run(dave.plugin["xep_0030"].get_info(jid=ROOM))
            assert MAM not in info["disco_info"]["features"], info
            assert "urn:xmpp:sid:0" not in info["disco_info"]["features"], info
            assert iq_error(_raw_mam(dave, "")) == "service-unavailable"
            assert iq_error(_mam_form_raw(dave)) == "service-unavailable"  # no archive, no form
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/a", "alicepw")
            _, _, _, history = run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice"))
            assert history == [], history
            assert self_ping(alice, "alice") is None  # self-ping does not depend on the archive
            xc.bye(alice, dave)
            bob.c.close()
    finally:
        net.close()


def test_stanza_id_component():
    """Component mode (XEP-0114 on Prosody): two Prosody users in one channel get the same
    stanza-id for a line from IRC and for one of them said, equal to the MAM ids, after a
    parleyd restart too (the key is read back from the store)."""
    from test_gateway_component import Prosody, component_config
    net = _ngircd().start()
    prosody = Prosody(users=(("alice", "alicepw"), ("dave", "davepw"))).start()
    wd = tempfile.TemporaryDirectory(prefix="parley-sid-")
    room = "#sid%local@irc.localhost"
    try:
        cfg = component_config(net.port, prosody.component_port)
        bob = xc.LoopIrc(net.port, "bob")
        bob.send("JOIN #sid")
        bob.expect(r" 366 bob #sid ")
        for round_ in (1, 2):
            with h.Parleyd(cfg, workdir=wd.name) as d:
                d.wait_for_log(r"component irc\.localhost attached", timeout=15)
                alice = xc.login(Client, prosody.c2s_port, "alice@localhost/a", "alicepw")
                dave = xc.login(Client, prosody.c2s_port, "dave@localhost/d", "davepw")
                for c, nick in ((alice, "alice"), (dave, "dave")):
                    run(c.plugin["xep_0045"].join_muc_wait(room, nick, maxstanzas=0))
                    bob.expect(rf"^:{nick}!\S+ JOIN :?#sid")
                live = {}
                for i in range(3):
                    bob.send(f"PRIVMSG #sid :r{round_} line {i}")
                alice.send_message(mto=room, mbody=f"r{round_} from alice", mtype="groupchat")
                bob.expect(rf"PRIVMSG #sid :r{round_} from alice")
                bodies = [f"r{round_} line {i}" for i in range(3)] + [f"r{round_} from alice"]
                for c in (alice, dave):
                    for body in bodies:
                        m = run(xc.next_where(c.group, lambda m, b=body: m["body"] == b))
                        live.setdefault(body, set()).add(sid_of(m, room))
                items, _, _, _ = mam_query(alice, room=room, max_=4, before="")
                assert [b for _, _, b, _ in items] == bodies, items
                mam_ids = {b: i for i, _, b, _ in items}
                for body, sids in live.items():
                    assert sids == {mam_ids[body]}, (body, sids, mam_ids)
                xc.bye(alice, dave)
        bob.c.close()
    finally:
        prosody.close()
        net.close()
        wd.cleanup()


if __name__ == "__main__":
    h.run_tests(globals())
