"""XEP-0050 ad-hoc commands on the IRC gateway, and persistent channels across a restart
(issue 11).

A real IRC network (ngircd on loopback) with a raw IRC client (bob) in #test; slixmpp users
of Parley's own XMPP server: alice (a user) and dave (listed in irc.gateway_admins).
Checked: the commands listed by disco#items (admin ones to admins only); the per-network
configure command sets nick and realname, used from the next connection (bob sees the new
nick and WHOIS shows the realname); hostile values (CR/LF in a nick or realname, ports out
of range, unknown fields) are refused with bad-request and never reach IRC; bad sessions,
cancel, unknown nodes; a non-admin gets forbidden on admin commands. Then #test is marked
persistent, parleyd is SIGKILLed and restarted on the same data_dir: the puppet rejoins
#test with nobody online (bob sees the JOIN and NAMES), keeps what is said meanwhile, and
alice gets it (XEP-0203 delayed) when she comes back and joins. The admin lists the links
and disconnects alice's.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_adhoc.py
"""
import asyncio
import os
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402
from test_gateway_history import mam_query  # noqa: E402
from test_irc_gateway import Client, Ngircd, wait_gone  # noqa: E402
from xmpp_client import LOOP, next_where, run  # noqa: E402

xc.configure_logging()
GW = "irc.localhost"
ROOM = f"#test%local@{GW}"
SERVER = f"local@{GW}"
CMD = "http://jabber.org/protocol/commands"
DATA = "jabber:x:data"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def command(c, to, node, action="execute", sessionid=None, fields=None):
    """One XEP-0050 request; returns the <command/> element of the result."""
    iq = c.make_iq_set(ito=to)
    el = ET.Element(f"{{{CMD}}}command", node=node)
    if action:
        el.set("action", action)
    if sessionid:
        el.set("sessionid", sessionid)
    if fields is not None:
        x = ET.SubElement(el, f"{{{DATA}}}x", type="submit")
        for var, vals in fields.items():
            f = ET.SubElement(x, f"{{{DATA}}}field", var=var)
            for v in vals if isinstance(vals, list) else [vals]:
                ET.SubElement(f, f"{{{DATA}}}value").text = v
    iq.append(el)
    resp = run(iq.send())
    return resp.xml.find(f"{{{CMD}}}command")


def command_error(c, to, node, **kw):
    """(condition, XEP-0050 condition or None, text) of a refused request."""
    try:
        command(c, to, node, **kw)
    except IqError as e:
        err = e.iq.xml.find("{jabber:client}error")
        cond = app = None
        for child in err:
            if child.tag.startswith(f"{{{STANZAS}}}") and not child.tag.endswith("}text"):
                cond = child.tag.split("}")[1]
            if child.tag.startswith(f"{{{CMD}}}"):
                app = child.tag.split("}")[1]
        return cond, app, e.iq["error"]["text"]
    raise AssertionError(f"{node} on {to} was accepted")


def fields_of(cmd):
    x = cmd.find(f"{{{DATA}}}x")
    assert x is not None, ET.tostring(cmd)
    return {f.get("var"): [v.text or "" for v in f.findall(f"{{{DATA}}}value")] for f in x.findall(f"{{{DATA}}}field")}


def command_nodes(c, to):
    items = run(c.plugin["xep_0030"].get_items(jid=to, node=CMD))
    return {i[1] for i in items["disco_items"]["items"]}


def gateway_config(port):
    return h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw"), ("dave", "davepw")],
                    irc_extra={"gateway_admins": ["dave@localhost"], "gateway_adhoc_sessions": 3,
                               "networks": [{"name": "local", "host": "127.0.0.1", "port": port, "tls": False,
                                             "throttle": {"burst": 20, "interval_ms": 100}}]})


def whois_realname(irc, nick):
    irc.send(f"WHOIS {nick}")
    line = irc.expect(rf" 311 {irc.nick} {nick} ")
    irc.expect(rf" 318 {irc.nick} {nick} ")
    return line.split(" :", 1)[1]


def test_adhoc_commands_and_persistent_channels():
    irc_net = Ngircd().start()
    try:
        cfg = gateway_config(irc_net.port)
        d = h.Parleyd(cfg).start()
        bob = xc.LoopIrc(irc_net.port, "bob")
        bob.send("JOIN #test")
        bob.expect(r" 366 bob #test ")

        alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
        dave = xc.login(Client, d.ports["xmpp"], "dave@localhost/x", "davepw")

        # ---- listing (XEP-0050 §2.2): admin commands only to admins ----
        assert command_nodes(alice, GW) == {"configure"}
        assert command_nodes(dave, GW) == {"configure", "links", "disconnect"}
        assert command_nodes(alice, SERVER) == {"configure"}
        assert command_nodes(alice, ROOM) == {"configure"}
        info = run(alice.plugin["xep_0030"].get_info(jid=GW))
        assert CMD in info["disco_info"]["features"], info

        # ---- a non-admin is forbidden; unknown nodes and targets are item-not-found ----
        assert command_error(alice, GW, "links")[0] == "forbidden"
        assert command_error(alice, GW, "disconnect")[0] == "forbidden"
        assert command_error(alice, GW, "nope")[0] == "item-not-found"
        assert command_error(alice, f"local@{GW}", "links")[0] == "item-not-found"
        assert command_error(alice, f"#test%nowhere@{GW}", "configure")[0] == "item-not-found"
        assert command_error(alice, GW, "configure", action="dance") == ("bad-request", "malformed-action",
                                                                        "unknown action")

        # alice joins first with her MUC nick: that connection is the "before"
        muc = alice.plugin["xep_0045"]
        run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
        bob.expect(r"^:alice!\S+ JOIN :?#test")
        assert whois_realname(bob, "alice") == "alice@localhost"

        # ---- the per-network configure command ----
        cmd = command(alice, SERVER, "configure")
        assert cmd.get("status") == "executing", ET.tostring(cmd)
        sid = cmd.get("sessionid")
        assert sid
        form = fields_of(cmd)
        for var in ("nick", "realname", "sasl_user", "sasl_password", "port", "tls", "verify", "encoding",
                    "throttle_burst", "throttle_interval_ms", "persistent_channels"):
            assert var in form, form
        # hostile values: refused whole, nothing reaches IRC
        for bad in ({"realname": "x\nQUIT :pwned"}, {"nick": "evil\nJOIN #evil"}, {"nick": "a b"},
                    {"port": "99999"}, {"tls": "maybe"}, {"throttle_burst": "-1"}, {"bogus": "1"},
                    {"persistent_channels": ["#ok", "#bad\nPART #test"]}, {"realname": "r" * 2000},
                    {"nick": ["a", "b"]}):
            cond, app, text = command_error(alice, SERVER, "configure", action="complete", sessionid=sid,
                                            fields=bad)
            assert (cond, app) == ("bad-request", "bad-payload"), (bad, cond, app, text)
        # a session belongs to its requester, target and node
        assert command_error(alice, SERVER, "configure", action="complete", sessionid="nope",
                             fields={"nick": "x"})[:2] == ("bad-request", "bad-sessionid")
        assert command_error(dave, SERVER, "configure", action="complete", sessionid=sid,
                             fields={"nick": "x"})[:2] == ("bad-request", "bad-sessionid")
        assert command_error(alice, SERVER, "configure", action="next", sessionid=sid)[:2] == \
            ("bad-request", "bad-action")
        done = command(alice, SERVER, "configure", action="complete", sessionid=sid,
                       fields={"nick": "AliceNew", "realname": "Alice In IRC", "port": str(irc_net.port),
                               "tls": "false", "encoding": "latin1"})
        assert done.get("status") == "completed", ET.tostring(done)
        assert done.find(f"{{{CMD}}}note") is not None
        # the session is over
        assert command_error(alice, SERVER, "configure", action="complete", sessionid=sid,
                             fields={"nick": "x"})[:2] == ("bad-request", "bad-sessionid")
        # the form shows what is stored now
        again = command(alice, SERVER, "configure")
        form = fields_of(again)
        assert form["nick"] == ["AliceNew"] and form["realname"] == ["Alice In IRC"], form
        cancelled = command(alice, SERVER, "configure", action="cancel", sessionid=again.get("sessionid"))
        assert cancelled.get("status") == "canceled"
        # the gateway-wide defaults command too
        g = command(alice, GW, "configure")
        assert set(fields_of(g)) == {"nick", "realname"}
        assert command(alice, GW, "configure", action="complete", sessionid=g.get("sessionid"),
                       fields={"realname": "Default RN"}).get("status") == "completed"
        # nothing of the hostile values ever reached the IRC network
        bob.send("WHOIS evil")
        bob.expect(r" 401 bob evil ")

        # ---- the next connection uses the settings ----
        muc.leave_muc(ROOM, "alice")
        bob.expect(r"^:alice!\S+ PART #test")
        wait_gone(bob, "alice")  # the puppet QUIT: the next join is a new connection
        run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
        bob.expect(r"^:AliceNew!\S+ JOIN :?#test")
        assert whois_realname(bob, "AliceNew") == "Alice In IRC"  # the network's beats the default

        # ---- a persistent channel ----
        c = command(alice, ROOM, "configure")
        assert fields_of(c)["persistent"] == ["0"]
        assert command_error(alice, ROOM, "configure", action="complete", sessionid=c.get("sessionid"),
                             fields={"persistent": "perhaps"})[:2] == ("bad-request", "bad-payload")
        assert command(alice, ROOM, "configure", action="complete", sessionid=c.get("sessionid"),
                       fields={"persistent": "true"}).get("status") == "completed"
        # leaving the MUC does not PART a persistent channel
        muc.leave_muc(ROOM, "alice")
        LOOP.run_until_complete(asyncio.sleep(0.5))
        assert "AliceNew" in bob.names("#test")

        # the admin's view
        links = command(dave, GW, "links")
        assert links.get("status") == "completed"
        lines = fields_of(links)["links"]
        assert any(line.startswith("alice@localhost local AliceNew 1 up") for line in lines), lines

        # ---- parleyd is killed; the restart rejoins with nobody online ----
        xc.bye(alice, dave)
        d.proc.kill()
        d.proc.wait(10)
        bob.expect(r"^:AliceNew!\S+ QUIT", timeout=15)
        d2 = h.Parleyd(cfg, workdir=d.workdir).start()
        try:
            bob.expect(r"^:AliceNew!\S+ JOIN :?#test", timeout=20)
            assert "AliceNew" in bob.names("#test")
            d2.wait_for_log(r"rejoining 1 persistent channel")
            bob.send("PRIVMSG #test :said while alice was away")
            bob.send("PRIVMSG AliceNew :a private word")
            # ngircd paces a busy client: its PONG says both lines were relayed
            bob.send("PING :relayed")
            bob.expect(r" PONG \S+ :?relayed")
            LOOP.run_until_complete(asyncio.sleep(0.5))

            alice = xc.login(Client, d2.ports["xmpp"], "alice@localhost/y", "alicepw")
            muc = alice.plugin["xep_0045"]
            # The channel archive (irc.gateway_record_history, on by default) holds what was
            # said meanwhile: the join's history gives it, as XEP-0045 history asked for.
            run(muc.join_muc_wait(ROOM, "alice", maxstanzas=10))
            m = run(next_where(alice.group, lambda m: m["body"] == "said while alice was away"))
            assert m["from"].resource == "bob", m
            delay = m.xml.find("{urn:xmpp:delay}delay")
            assert delay is not None and delay.get("stamp"), m
            # and under the channel's own archive: MAM finds it (a channel rejoined as
            # persistent archived under an empty key, shared by every such channel)
            alice.mam = asyncio.Queue()  # what mam_query reads its results from
            alice.register_handler(Callback("mam result", MatchXPath("{jabber:client}message/{urn:xmpp:mam:2}result"),
                                            lambda m: alice.mam.put_nowait(m)))
            rows = mam_query(alice, room=ROOM)[0]
            assert any(body == "said while alice was away" for _, _, body, _ in rows), rows
            pm = run(next_where(alice.chat, lambda m: m["body"] == "a private word"))
            assert str(pm["from"]) == f"bob%local@{GW}", pm
            # live traffic flows as usual, and no JOIN was needed (the puppet stayed)
            bob.send("PRIVMSG #test :live again")
            run(next_where(alice.group, lambda m: m["body"] == "live again"))

            # ---- the admin disconnects alice's link ----
            dave = xc.login(Client, d2.ports["xmpp"], "dave@localhost/x", "davepw")
            cmd = command(dave, GW, "disconnect")
            assert command_error(dave, GW, "disconnect", action="complete", sessionid=cmd.get("sessionid"),
                                 fields={"jid": "not a jid\n"})[:2] == ("bad-request", "bad-payload")
            done = command(dave, GW, "disconnect", action="complete", sessionid=cmd.get("sessionid"),
                           fields={"jid": "alice@localhost"})
            assert done.get("status") == "completed"
            assert "1 IRC link" in done.find(f"{{{CMD}}}note").text
            bob.expect(r"^:AliceNew!\S+ QUIT")
            kicked = run(next_where(alice.mucpres, lambda p: p["type"] == "unavailable"))
            assert 307 in xc.codes(kicked), kicked
            xc.bye(alice, dave)
        finally:
            d2.close()
        d.close()
    finally:
        irc_net.close()


if __name__ == "__main__":
    h.run_tests(globals())
