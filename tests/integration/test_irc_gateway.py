"""The IRC <-> XMPP gateway on Parley's own XMPP server (issue 11, first slice).

A real IRC network (ngircd on loopback) and a raw IRC client in #test; a slixmpp user of
Parley joins #test%local@irc.localhost (Biboumi addressing, the network named by its
irc.networks name) and gets its own IRC connection (a puppet). Checked both ways:
joins, messages, /me, topic, nick changes, parts and quits, private messages, roles from
channel prefixes, a nick collision, a refused network, and an XMPP body with CR/LF/NUL that
cannot inject an IRC command. Then ngircd is killed and restarted: the puppet reconnects,
rejoins, and what the XMPP user said meanwhile is delivered.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_irc_gateway.py
"""
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, codes, item, next_where, run  # noqa: E402

xc.configure_logging()
GW = "irc.localhost"
ROOM = f"#test%local@{GW}"


class Client(xc.BaseClient):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0045",))
        self.group = asyncio.Queue()
        self.mucpres = asyncio.Queue()
        self.chat = asyncio.Queue()
        self.errors = asyncio.Queue()
        self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))
        self.add_event_handler("groupchat_subject", lambda m: self.group.put_nowait(m))
        self.add_event_handler("groupchat_presence", lambda p: self.mucpres.put_nowait(p))
        self.add_event_handler("message", lambda m: m["type"] in ("chat", "normal") and self.chat.put_nowait(m))
        self.add_event_handler("presence_error", lambda p: self.errors.put_nowait(p))


class IrcNetwork:
    """An IRC server on a loopback port in its own temp dir: started, killed (SIGKILL) and
    started again on the same port. Subclasses name the tool, write its config and its command."""

    tool = ""

    def __init__(self, port=None):
        if not shutil.which(self.tool):
            raise h.Skip(f"{self.tool} is not installed (scripts/setup.sh)")
        self.port = port or h.free_port()
        self.tmp = tempfile.mkdtemp(prefix=f"{self.tool}-")
        self.conf = os.path.join(self.tmp, f"{self.tool}.conf")
        with open(self.conf, "w") as f:
            f.write(self.config())
        self.proc = None

    def config(self) -> str:
        raise NotImplementedError

    def argv(self) -> list:
        raise NotImplementedError

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.tool} exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.tool} did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def close(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Ngircd(IrcNetwork):
    tool = "ngircd"

    def config(self):
        return f"""[Global]
\tName = irc.test.local
\tInfo = test
\tListen = 127.0.0.1
\tPorts = {self.port}
\tMotdPhrase = "test"
\tPidFile = {self.tmp}/ngircd.pid
\tServerUID = {os.getuid()}
\tServerGID = {os.getgid()}
[Limits]
\tMaxConnectionsIP = 0
\tMaxNickLength = 30
\tPingTimeout = 120
\tPongTimeout = 60
[Options]
\tDNS = no
\tIdent = no
\tPAM = no
"""

    def argv(self):
        return ["ngircd", "--nodaemon", "--config", self.conf]


class Inspircd(IrcNetwork):
    """InspIRCd 3 with the IRCv3 modules a gateway meets on real networks (CAP,
    echo-message, server-time, multi-prefix)."""

    tool = "inspircd"
    modules = ("cap", "ircv3", "ircv3_echomessage", "ircv3_servertime", "namesx")

    def config(self):
        return f"""<server name="irc.test.local" description="test" network="test">
<admin name="test" nick="test" email="test@localhost">
<bind address="127.0.0.1" port="{self.port}" type="clients">
<pid file="{self.tmp}/inspircd.pid">
<connect name="test" allow="127.0.0.1" timeout="60" pingfreq="120" recvq="65536"
         threshold="1000" commandrate="100000" fakelag="no" localmax="1000" globalmax="1000"
         maxconnwarn="no" resolvehostnames="no" useident="no">
<performance clonesonconnect="no" nouserdns="yes">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{self.tmp}/inspircd.log">
<files motd="/etc/inspircd/inspircd.motd">
""" + "".join(f'<module name="{m}">\n' for m in self.modules)

    def argv(self):
        return ["inspircd", "--config", self.conf, "--nofork", "--runasroot"]


def gateway_config(port):
    return h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw"), ("dave", "davepw")],
                    irc_extra={"networks": [
                        {"name": "local", "host": "127.0.0.1", "port": port, "tls": False,
                         "throttle": {"burst": 20, "interval_ms": 100}}]})


def presence_of(q, room_jid, nick, unavailable=False):
    return run(next_where(q, lambda p: p["from"].bare == room_jid and p["from"].resource == nick
                          and (p["type"] == "unavailable") == unavailable))


def join_refused(client, room, nick="alice", password=None, timeout=20):
    """Joins `room` (no waiting for the join) and returns the error presence answering it."""
    client.plugin["xep_0045"].join_muc(room, nick, password=password or "")
    return run(next_where(client.errors, lambda p: p["from"].bare == room), timeout=timeout)


def wait_gone(irc, nick, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        irc.send(f"WHOIS {nick}")
        line = irc.expect(rf" (311|401) {irc.nick} {nick} ")
        if " 401 " in line:
            return
        irc.expect(rf" 318 {irc.nick} {nick} ")
        assert time.monotonic() < deadline, f"{nick} is still connected"
        LOOP.run_until_complete(asyncio.sleep(0.2))


def irc_user_in(irc_port, nick, *channels):
    """A raw IRC client in these channels (their operator when it opened them)."""
    user = xc.LoopIrc(irc_port, nick)
    for channel in channels:
        user.send(f"JOIN {channel}")
        user.expect(rf" 366 {nick} {re.escape(channel)} ")
    return user


def bob_in_test(irc_port):
    """bob, a raw IRC client, in #test (its operator when he opened it)."""
    return irc_user_in(irc_port, "bob", "#test")


def bob_and_alice_in_test(irc_port, xmpp_port):
    """bob (raw IRC) in #test, then alice (XMPP) joined through the gateway; bob saw her JOIN."""
    bob = bob_in_test(irc_port)
    alice = xc.login(Client, xmpp_port, "alice@localhost/x", "alicepw")
    run(alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=0))
    bob.expect(r"^:alice!\S+ JOIN :?#test")
    return bob, alice


def test_gateway_both_ways():
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            bob.send("TOPIC #test :first topic")
            bob.expect(r"TOPIC #test :first topic")

            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            muc = alice.plugin["xep_0045"]
            # clients ask the room's disco#info before joining (XEP-0045 §6.4)
            info = run(alice.plugin["xep_0030"].get_info(jid=ROOM))
            assert "http://jabber.org/protocol/muc" in info["disco_info"]["features"], info
            assert any(i[0] == "conference" and i[1] == "irc" for i in info["disco_info"]["identities"]), info
            run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")
            # bob created #test: op -> admin/moderator (Biboumi's mapping)
            p = presence_of(alice.mucpres, ROOM, "bob")
            assert item(p).get("affiliation") == "admin" and item(p).get("role") == "moderator", p
            m = run(next_where(alice.group, lambda m: m["subject"] == "first topic"))
            assert m["from"].bare == ROOM

            # IRC -> XMPP, markup-looking text stays text
            bob.send("PRIVMSG #test :hello <b>&amp;</b>")
            m = run(next_where(alice.group, lambda m: m["body"].startswith("hello")))
            assert m["body"] == "hello <b>&amp;</b>" and m["from"].resource == "bob", m
            # XMPP -> IRC (and the gateway reflects the message to the sender, XEP-0045 §7.4)
            alice.send_message(mto=ROOM, mbody="hi from xmpp", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :hi from xmpp$")
            m = run(next_where(alice.group, lambda m: m["body"] == "hi from xmpp"))
            assert m["from"].resource == "alice"
            # /me both ways
            bob.send("PRIVMSG #test :\x01ACTION waves\x01")
            m = run(next_where(alice.group, lambda m: "waves" in m["body"]))
            assert m["body"] == "/me waves", m["body"]
            alice.send_message(mto=ROOM, mbody="/me bows", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :\x01ACTION bows\x01$")

            # CR/LF/NUL from XMPP split lines; nothing becomes a command
            alice.send_message(mto=ROOM, mbody="one\r\nQUIT :pwned\rJOIN #evil\nNICK mallory", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :one$")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :QUIT :pwned$")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :JOIN #evil$")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :NICK mallory$")
            bob.send("WHOIS alice")
            line = bob.expect(r" (319|318) bob alice ")
            if " 319 " in line:
                assert "#evil" not in line and "#test" in line, line
            bob.send("NAMES #evil")
            line = bob.expect(r" (353|366) bob ")
            assert "alice" not in line, line

            # topic both ways
            alice.send_message(mto=ROOM, msubject="set from xmpp", mtype="groupchat")
            bob.expect(r"^:alice!\S+ TOPIC #test :set from xmpp$")
            bob.send("TOPIC #test :set from irc")
            m = run(next_where(alice.group, lambda m: m["subject"] == "set from irc"))
            assert m["from"].resource == "bob", m

            # private messages both ways: nick%network@gw
            bob.send("PRIVMSG alice :psst <x>")
            m = run(next_where(alice.chat, lambda m: "psst" in m["body"]))
            assert str(m["from"].bare) == f"bob%local@{GW}" and m["body"] == "psst <x>", m
            alice.send_message(mto=f"bob%local@{GW}", mbody="back at you", mtype="chat")
            bob.expect(r"^:alice!\S+ PRIVMSG bob :back at you$")

            # other IRC users: join, voice, nick change, part, quit
            carol = xc.LoopIrc(irc_net.port, "carol")
            carol.send("JOIN #test")
            p = presence_of(alice.mucpres, ROOM, "carol")
            assert item(p).get("role") == "participant" and item(p).get("affiliation") == "none", p
            bob.send("MODE #test +v carol")
            p = presence_of(alice.mucpres, ROOM, "carol")
            assert item(p).get("affiliation") == "member", p
            carol.send("NICK carole")
            p = presence_of(alice.mucpres, ROOM, "carol", unavailable=True)
            assert 303 in codes(p) and item(p).get("nick") == "carole", p
            presence_of(alice.mucpres, ROOM, "carole")
            carol.send("PART #test :see you")
            p = presence_of(alice.mucpres, ROOM, "carole", unavailable=True)
            assert p["status"] == "see you", p
            carol.send("JOIN #test")
            presence_of(alice.mucpres, ROOM, "carole")
            bob.send("KICK #test carole :out")  # XEP-0045 §9.2: 307 and the reason
            p = presence_of(alice.mucpres, ROOM, "carole", unavailable=True)
            assert 307 in codes(p) and item(p).findtext("{http://jabber.org/protocol/muc#user}reason") == "out", p
            carol.send("JOIN #test")
            presence_of(alice.mucpres, ROOM, "carole")
            carol.send("QUIT :bye")
            p = presence_of(alice.mucpres, ROOM, "carole", unavailable=True)
            assert "bye" in p["status"], p
            carol.c.close()

            # a second XMPP user asking for a nick in use gets another one (XEP-0045 210)
            dave = xc.login(Client, d.ports["xmpp"], "dave@localhost/y", "davepw")
            dmuc = dave.plugin["xep_0045"]
            dave.plugin["xep_0045"].join_muc(ROOM, "bob")
            p = run(next_where(dave.mucpres, lambda p: 110 in codes(p)))
            assert 210 in codes(p) and p["from"].resource != "bob", p
            new_nick = p["from"].resource
            bob.expect(rf"^:{new_nick}!\S+ JOIN :?#test")
            presence_of(alice.mucpres, ROOM, new_nick)

            # a network that is not configured is refused (open_networks: false)
            alice.send_presence(pto=f"#x%irc.example.org@{GW}/alice")
            p = run(next_where(alice.errors, lambda p: p["from"].bare == f"#x%irc.example.org@{GW}"))
            assert p["error"]["condition"] == "not-allowed", p

            # leaving the room is PART; leaving everything closes the IRC connection
            muc.leave_muc(ROOM, "alice", "gone fishing")
            bob.expect(r"^:alice!\S+ PART #test :gone fishing$")
            # (no channel shared any more, so bob sees no QUIT: WHOIS says alice is gone)
            wait_gone(bob, "alice")
            p = presence_of(dave.mucpres, ROOM, "alice", unavailable=True)
            # dave's session ends: its puppet leaves too
            dave.disconnect()
            bob.expect(rf"^:{new_nick}!\S+ (PART|QUIT) ")
            wait_gone(bob, new_nick)
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_pm_opens_raw_ctcp_notice_and_unavailable():
    """A PM with no connection opens one; raw commands to net@gw go to the user's own
    connection; a PM to a nick not on IRC is an error to that message; CTCP VERSION/PING
    are answered; NOTICEs arrive prefixed "[notice] "; an
    unavailable presence to the occupant JID leaves the channel, and one to the PM contact
    closes a connection opened for PMs."""
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            merrors = asyncio.Queue()
            alice.add_event_handler("message_error", lambda m: merrors.put_nowait(m))

            # raw commands before any connection exists: refused, nothing reaches IRC
            alice.send_message(mto=f"local@{GW}", mbody="PRIVMSG bob :too early", mtype="chat")
            m = run(next_where(merrors, lambda m: m["from"].bare == f"local@{GW}"))
            assert m["error"]["condition"] == "recipient-unavailable", m

            # a private message with no connection opens one (nick: the JID's localpart)
            alice.send_message(mto=f"bob%local@{GW}", mbody="hello first", mtype="chat")
            bob.expect(r"^:alice!\S+ PRIVMSG bob :hello first$", timeout=15)
            bob.send("PRIVMSG alice :reply <1>")
            m = run(next_where(alice.chat, lambda m: "reply" in m["body"]))
            assert str(m["from"].bare) == f"bob%local@{GW}" and m["body"] == "reply <1>", m
            # a nick not on IRC (401): an error to the message, from the JID it was sent to
            pm = alice.make_message(mto=f"nobody%local@{GW}", mbody="anyone?", mtype="chat")
            pm["id"] = "pm401"
            pm.send()
            m = run(next_where(merrors, lambda m: m["id"] == "pm401"))
            assert m["from"].bare == f"nobody%local@{GW}" and m["error"]["condition"] == "recipient-unavailable", m

            # raw commands to the server JID, one per line; CR/LF end a command, no more
            alice.send_message(mto=f"local@{GW}", mbody="PRIVMSG bob :via raw\nNOTICE bob :raw notice", mtype="chat")
            bob.expect(r"^:alice!\S+ PRIVMSG bob :via raw$")
            bob.expect(r"^:alice!\S+ NOTICE bob :raw notice$")

            # CTCP VERSION and PING are answered for the XMPP user and not shown to her
            bob.send("PRIVMSG alice :\x01VERSION\x01")
            line = bob.expect(r"^:alice!\S+ NOTICE bob :\x01VERSION ")
            assert "Parley" in line, line
            bob.send("PRIVMSG alice :\x01PING 1234567\x01")
            bob.expect(r"^:alice!\S+ NOTICE bob :\x01PING 1234567\x01$")

            # NOTICEs are shown distinctly, private and in a channel
            bob.send("NOTICE alice :heads up")
            m = run(next_where(alice.chat, lambda m: "heads up" in m["body"]))
            assert m["body"] == "[notice] heads up" and m["type"] == "chat", m
            muc = alice.plugin["xep_0045"]
            run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")
            bob.send("NOTICE #test :chan notice")
            m = run(next_where(alice.group, lambda m: "chan notice" in m["body"]))
            assert m["body"] == "[notice] chan notice" and m["from"].resource == "bob", m
            # a private chat begun through the room (XEP-0045 §7.5) goes on there: the reply
            # comes from the occupant JID written to, not from a JID the user never wrote to
            pm = alice.make_message(mto=f"{ROOM}/bob", mbody="psst via the room", mtype="chat")
            pm.send()
            bob.expect(r"^:alice!\S+ PRIVMSG bob :psst via the room$")
            bob.send("PRIVMSG alice :answer via the room")
            m = run(next_where(alice.chat, lambda m: m["body"] == "answer via the room"))
            assert m["from"] == f"{ROOM}/bob", m
            # ... and follows bob's nick change (the room tells it with 303)
            bob.send("NICK bobby")
            bob.expect(r"^:bob!\S+ NICK :?bobby")
            bob.send("PRIVMSG alice :renamed")
            m = run(next_where(alice.chat, lambda m: m["body"] == "renamed"))
            assert m["from"] == f"{ROOM}/bobby", m
            bob.send("NICK bob")
            bob.expect(r"^:bobby!\S+ NICK :?bob")
            # the same for a MUC private message (XEP-0045 §7.5) to a nick that is gone
            pm = alice.make_message(mto=f"{ROOM}/nobody", mbody="anyone?", mtype="chat")
            pm["id"] = "muc401"
            pm.send()
            m = run(next_where(merrors, lambda m: m["id"] == "muc401"))
            assert m["from"] == f"{ROOM}/nobody" and m["error"]["condition"] == "item-not-found", m
            # an occupant JID naming a list or a channel is no occupant: nothing reaches IRC
            for i, nick in enumerate(("bob,alice", "#other", "bob carol")):
                pm = alice.make_message(mto=f"{ROOM}/{nick}", mbody="to many", mtype="chat")
                pm["id"] = f"bad{i}"
                pm.send()
                m = run(next_where(merrors, lambda m, i=i: m["id"] == f"bad{i}"))
                assert m["error"]["condition"] == "item-not-found", m
            bob.send("PING :after-bad")
            bob.expect(r"PONG .*after-bad")
            assert not any("to many" in l for l in bob.c.lines), bob.c.lines[-5:]
            # nothing of the CTCP requests reached XMPP as text
            assert all("VERSION" not in m["body"] and "PING" not in m["body"] for m in drain(alice.chat))

            # unavailable presence to the occupant JID: PART, the connection stays (PMs open)
            alice.send_presence(pto=f"{ROOM}/alice", ptype="unavailable", pstatus="off now")
            bob.expect(r"^:alice!\S+ PART #test :off now$")
            bob.send("PRIVMSG alice :still there?")
            m = run(next_where(alice.chat, lambda m: "still there" in m["body"]))
            assert m["from"] == f"bob%local@{GW}", m  # out of the room: from the nick's own JID
            # ... and unavailable to the PM contact closes the connection opened for PMs
            alice.send_presence(pto=f"bob%local@{GW}", ptype="unavailable")
            wait_gone(bob, "alice")
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_formatting_xhtml_im():
    """mIRC bold/italic/colours <-> XEP-0071 XHTML-IM, the plain body unchanged."""
    import xml.etree.ElementTree as ET
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob, alice = bob_and_alice_in_test(irc_net.port, d.ports["xmpp"])
            XHTML = "{http://www.w3.org/1999/xhtml}"
            # IRC -> XMPP
            bob.send("PRIVMSG #test :hi \x02bold\x02 \x1dit\x1d \x0304red\x03 <&>")
            m = run(next_where(alice.group, lambda m: m["body"].startswith("hi ")))
            assert m["body"] == "hi bold it red <&>", m["body"]
            html = m.xml.find("{http://jabber.org/protocol/xhtml-im}html")
            assert html is not None, m
            body = html.find(XHTML + "body")
            assert body.find(XHTML + "strong").text == "bold", ET.tostring(html)
            assert body.find(XHTML + "em").text == "it", ET.tostring(html)
            span = [e for e in body.iter(XHTML + "span") if e.text == "red"]
            assert span and "color" in span[0].get("style", ""), ET.tostring(html)
            assert "".join(body.itertext()) == m["body"]
            # XMPP -> IRC
            msg = alice.make_message(mto=ROOM, mbody="yo bold it", mtype="groupchat")
            msg.xml.append(ET.fromstring(
                "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>"
                "yo <strong>bold</strong> <em>it</em></body></html>"))
            msg.send()
            line = bob.expect(r"^:alice!\S+ PRIVMSG #test :yo ")
            assert "\x02bold" in line and "\x1dit" in line, repr(line)
            # a plain message stays plain
            alice.send_message(mto=ROOM, mbody="plain one", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :plain one$")
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_a_refused_line_is_told_without_echo_message():
    """ngircd has no echo-message: alice's line is reflected when queued, and when the channel
    refuses it (+m, 404) the room tells her so instead of leaving it taken for delivered
    (test_gateway_echo.py: the same with echo-message, where the reflection waits)."""
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob, alice = bob_and_alice_in_test(irc_net.port, d.ports["xmpp"])  # bob opened #test: op
            bob.send("MODE #test +m")
            bob.expect(r"MODE #test :?\+m")
            alice.send_message(mto=ROOM, mbody="muted", mtype="groupchat")
            m = run(next_where(alice.group, lambda m: m["from"].resource == "" and m["body"]))
            assert m["from"].bare == ROOM and "send" in m["body"].lower(), m
            bob.send("MODE #test -m")
            bob.expect(r"MODE #test :?-m")
            alice.send_message(mto=ROOM, mbody="heard", mtype="groupchat")
            line = bob.expect(r"^:alice!\S+ PRIVMSG #test :")
            assert line.endswith(":heard"), line  # the muted line never reached the channel
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


class InspircdRedirect(Inspircd):
    modules = Inspircd.modules + ("redirect",)


def test_gateway_a_forwarded_join_is_an_error():
    """A full channel that forwards elsewhere (InspIRCd's +L, Solanum's +f: numeric 470,
    then a forced JOIN there): the user's join fails with the server's reason and where it
    forwards, at once, instead of waiting for ever; the puppet does not stay in the other
    channel."""
    irc_net = InspircdRedirect().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = irc_user_in(irc_net.port, "bob", "#overflow", "#full")
            bob.send("MODE #full +l 1")
            bob.expect(r"MODE #full \+l :?1")
            bob.send("MODE #full +L #overflow")
            bob.expect(r"MODE #full \+L :?#overflow")
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            p = join_refused(alice, f"#full%local@{GW}")
            assert p["error"]["condition"] == "not-allowed", p
            assert "#overflow" in p["error"]["text"], p
            # forced into #overflow, the puppet leaves it (and, in no channel, quits)
            bob.expect(r"^:alice!\S+ JOIN :?#overflow", timeout=10)
            bob.expect(r"^:alice!\S+ (PART #overflow|QUIT)", timeout=10)
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_a_channel_key_and_the_refusals_a_client_understands():
    """A +k channel: a join without its key is refused as XEP-0045 §7.2.6 says (auth,
    not-authorized: the client asks for a password), and the join's <password/> is the key.
    A ban is forbidden (§7.2.7), invite-only registration-required (§7.2.8). All were
    not-allowed, and no key could be given."""
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = irc_user_in(irc_net.port, "bob", "#locked", "#banned", "#invite")
            for mode in ("#locked +k sekrit", "#banned +b *!*@*", "#invite +i"):  # any nick: a ghost may hold "alice"
                bob.send(f"MODE {mode}")
                bob.expect(rf"MODE {re.escape(mode.split()[0])} ")
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            muc = alice.plugin["xep_0045"]
            for channel, condition in (("#locked", "not-authorized"), ("#banned", "forbidden"),
                                       ("#invite", "registration-required")):
                p = join_refused(alice, f"{channel}%local@{GW}")
                assert p["error"]["condition"] == condition and p["error"]["type"] == "auth", p
                assert p["from"].resource == "alice", p
            # a "key" that would carry a second command is no key: not sent, refused as none
            for bad in ("sekrit\nPRIVMSG bob :pwned", "sekrit PRIVMSG bob :pwned", ":sekrit"):
                p = join_refused(alice, f"#locked%local@{GW}", password=bad)
                assert p["error"]["condition"] == "not-authorized", p
            bob.send("PING :no-pwned")
            bob.expect(r"PONG .*no-pwned")
            assert not any("pwned" in line for line in bob.c.lines if "PONG" not in line), bob.c.lines[-5:]
            room = f"#locked%local@{GW}"
            run(muc.join_muc_wait(room, "alice", password="sekrit", maxstanzas=0))
            bob.expect(r"^:alice_*!\S+ JOIN :?#locked")  # alice_: the last puppet's ghost may hold alice
            alice.send_message(mto=room, mbody="in with the key", mtype="groupchat")
            bob.expect(r"^:alice_*!\S+ PRIVMSG #locked :in with the key$")
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_a_network_that_closes_before_registering_is_an_error():
    """A network that closes the connection before 001 without an ERROR (a TLS port spoken to
    in plain text; SASL that never answers until the registration deadline): the join fails
    with the reason, remote-server-not-found like an unreachable server's. It reconnected for
    ever with the join left unanswered."""
    closer = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closer.bind(("127.0.0.1", 0))
    closer.listen(8)
    closer.settimeout(0.2)
    stop = threading.Event()
    accepted = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = closer.accept()
            except OSError:
                continue
            accepted.append(conn.recv(4096))  # the registration's first lines, then closed
            conn.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with h.Parleyd(gateway_config(closer.getsockname()[1])) as d:
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            p = join_refused(alice, f"#x%local@{GW}")
            assert p["error"]["condition"] == "remote-server-not-found", p
            assert "closed the connection before registration" in p["error"]["text"], p
            assert p["from"].resource == "alice", p
            time.sleep(1.5)  # no reconnection after it (the backoff's first retry is ~1 s)
            assert len(accepted) == 1, accepted
            xc.bye(alice)
    finally:
        stop.set()
        server.join(timeout=5)
        closer.close()


def test_gateway_a_failed_sasl_login_is_told():
    """The network's SASL refuses the configured account (here parleyd's own IRC listener as
    the network: SCRAM-SHA-256, then PLAIN, both refused): the user is told, from the server's
    JID, and the join goes on without an account. It was silent."""
    cfg = h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw")])
    irc_port = int(cfg["irc"]["listen"][0].rsplit(":", 1)[1])
    cfg["irc"]["networks"] = [{"name": "self", "host": "127.0.0.1", "port": irc_port, "tls": False,
                               "sasl": {"user": "alice", "password": "not-her-password"}}]
    with h.Parleyd(cfg) as d:
        alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
        room = f"#s%self@{GW}"
        run(alice.plugin["xep_0045"].join_muc_wait(room, "alice", maxstanzas=0))
        m = run(next_where(alice.chat, lambda m: "SASL login as alice" in m["body"]))
        assert str(m["from"]) == f"self@{GW}", m
        assert "failed (904" in m["body"] and "without an account" in m["body"], m
        xc.bye(alice)


def drain(q):
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_gateway_reconnects_and_delivers_queued():
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            muc = alice.plugin["xep_0045"]
            run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")

            irc_net.kill()  # the network goes away: bob and the puppet lose their links
            bob.c.close()
            d.wait_for_log(r"gateway: alice@localhost lost 127\.0\.0\.1", timeout=10)
            alice.send_message(mto=ROOM, mbody="said while down", mtype="groupchat")
            m = run(next_where(alice.group, lambda m: m["body"] == "said while down"))  # reflected, queued
            # A failed attempt: the next one is at least the backoff floor (1 s) away, time
            # enough for bob to be back in #test before the puppet is.
            mark = d.mark()
            d.wait_for_log(r"gateway: alice@localhost -> 127\.0\.0\.1:\d+: .*retry in", timeout=15, after=mark)
            irc_net.start()  # same port
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            # the puppet reconnects (backoff >= 1 s), rejoins #test, then sends the queued line
            bob.expect(r"^:alice!\S+ JOIN :?#test", timeout=20)
            bob.expect(r"^:alice!\S+ PRIVMSG #test :said while down$", timeout=10)
            bob.send("PRIVMSG #test :welcome back")
            m = run(next_where(alice.group, lambda m: m["body"] == "welcome back"), timeout=10)
            assert m["from"].resource == "bob"
            # parleyd stops with the puppet connected: it QUITs, and parleyd exits cleanly
            assert d.stop() == 0
            bob.expect(r"^:alice!\S+ QUIT :.*Gateway shutting down", timeout=5)
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_a_join_while_the_link_is_down_is_sent_once():
    """A channel joined while the network is down is joined once at the reconnection (the
    JOIN queued then and the rejoin of every channel were both sent); counted on a relay
    between parleyd and ngircd."""
    irc_net = Ngircd().start()
    proxy = h.TcpProxy(irc_net.port)
    try:
        with h.Parleyd(gateway_config(proxy.port)) as d:
            bob = irc_user_in(irc_net.port, "bob", "#test", "#other")
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            muc = alice.plugin["xep_0045"]
            run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")
            irc_net.kill()
            bob.c.close()
            d.wait_for_log(r"gateway: alice@localhost lost 127\.0\.0\.1", timeout=10)
            muc.join_muc(f"#other%local@{GW}", "alice")
            xc.settle(0.2)  # sent now, before the first retry (>= 1 s after the loss)
            mark = d.mark()
            d.wait_for_log(r"gateway: alice@localhost .*(retry in|lost)", timeout=15, after=mark)
            irc_net.start()
            bob = irc_user_in(irc_net.port, "bob", "#test", "#other")
            run(next_where(alice.mucpres, lambda p: p["from"].bare == f"#other%local@{GW}" and 110 in codes(p)),
                timeout=20)
            joins = re.findall(rb"JOIN #other\r\n", proxy.up)
            assert len(joins) == 1, proxy.up[-400:]
            xc.bye(alice)
            bob.c.close()
    finally:
        proxy.close()
        irc_net.close()


def test_gateway_private_chat_only_reconnects_and_delivers_queued():
    """A user who only chats privately with an IRC user (no channel): when the network goes
    away the puppet reconnects all the same, and what the user said meanwhile arrives."""
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = xc.LoopIrc(irc_net.port, "bob")
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            alice.send_message(mto=f"bob%local@{GW}", mbody="hi bob", mtype="chat")
            bob.expect(r"^:alice!\S+ PRIVMSG bob :hi bob$", timeout=20)

            irc_net.kill()
            bob.c.close()
            d.wait_for_log(r"gateway: alice@localhost lost 127\.0\.0\.1", timeout=10)
            mark = d.mark()
            d.wait_for_log(r"gateway: alice@localhost -> 127\.0\.0\.1:\d+: .*retry in", timeout=15, after=mark)
            irc_net.start()  # same port
            bob = xc.LoopIrc(irc_net.port, "bob")
            alice.send_message(mto=f"bob%local@{GW}", mbody="said while down", mtype="chat")
            bob.expect(r"^:alice!\S+ PRIVMSG bob :said while down$", timeout=20)
            bob.send("PRIVMSG alice :back")
            m = run(next_where(alice.chat, lambda m: m["body"] == "back"), timeout=10)
            assert str(m["from"].bare) == f"bob%local@{GW}", m
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_throttles_outgoing_lines():
    """irc.networks[].throttle: one line at once, then one per interval_ms; nothing lost."""
    irc_net = Ngircd().start()
    try:
        cfg = gateway_config(irc_net.port)
        cfg["irc"]["networks"][0]["throttle"] = {"burst": 1, "interval_ms": 400}
        with h.Parleyd(cfg) as d:
            bob, alice = bob_and_alice_in_test(irc_net.port, d.ports["xmpp"])
            LOOP.run_until_complete(asyncio.sleep(0.5))  # the bucket refills after the JOIN
            alice.send_message(mto=ROOM, mbody="l1\nl2\nl3\nl4", mtype="groupchat")
            times = []
            for n in range(1, 5):
                bob.expect(rf"^:alice!\S+ PRIVMSG #test :l{n}$")
                times.append(time.monotonic())
            span = times[-1] - times[0]
            assert span >= 0.9, f"4 lines in {span:.2f} s: not throttled"
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_a_join_passes_a_full_queue():
    """The user's lines fill the puppet's queue (irc.gateway_queue 3, a throttle of one line
    per 3 s): a further message is refused (resource-constraint), but a join still goes out
    (it jumps the queue) instead of hanging without a word."""
    irc_net = Ngircd().start()
    try:
        cfg = gateway_config(irc_net.port)
        cfg["irc"]["gateway_queue"] = 3
        cfg["irc"]["networks"][0]["throttle"] = {"burst": 1, "interval_ms": 3000}
        with h.Parleyd(cfg) as d:
            bob = irc_user_in(irc_net.port, "bob", "#test", "#more")
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            merrors = asyncio.Queue()
            alice.add_event_handler("message_error", lambda m: merrors.put_nowait(m))
            muc = alice.plugin["xep_0045"]
            run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")
            for i in range(4):
                alice.send_message(mto=ROOM, mbody=f"q{i}", mtype="groupchat")
            m = run(next_where(merrors, lambda m: True), timeout=10)
            assert m["error"]["condition"] == "resource-constraint", m
            more = f"#more%local@{GW}"
            run(muc.join_muc_wait(more, "alice", maxstanzas=0), timeout=15)
            bob.expect(r"^:alice!\S+ JOIN :?#more", timeout=10)
            bob.expect(r"^:alice!\S+ PRIVMSG #test :q0$", timeout=15)  # the queue drains after it
            xc.bye(alice)
            bob.c.close()
    finally:
        irc_net.close()


def test_gateway_pings_a_silent_server_and_reconnects():
    """A server that registers the puppet and then says nothing (a dead path): the puppet
    PINGs after irc.ping_interval, drops the link after irc.ping_timeout and connects again."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(0.05)
    port = lsock.getsockname()[1]

    def accept(timeout=20):  # lets slixmpp's loop run while waiting
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                return lsock.accept()
            except socket.timeout:
                LOOP.run_until_complete(asyncio.sleep(0.05))
        raise AssertionError("the puppet did not connect")

    cfg = gateway_config(port)
    cfg["irc"].update({"ping_interval": 5, "ping_timeout": 10})
    try:
        with h.Parleyd(cfg) as d:
            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            alice.send_presence(pto=ROOM + "/alice")
            conn, _ = accept()
            conn.settimeout(0.2)
            buf = b""
            deadline = time.monotonic() + 15
            lines = []

            def read_until(pred):
                nonlocal buf
                while time.monotonic() < deadline:
                    try:
                        chunk = conn.recv(4096)
                        if not chunk:
                            return "closed"
                        buf += chunk
                    except socket.timeout:
                        LOOP.run_until_complete(asyncio.sleep(0.05))
                    while b"\r\n" in buf:
                        line, buf = buf.split(b"\r\n", 1)
                        lines.append(line.decode())
                        if pred(lines[-1]):
                            return lines[-1]
                raise AssertionError(f"timed out; got {lines}")

            read_until(lambda l: l.startswith("USER "))
            conn.sendall(b":srv 001 alice :Welcome\r\n")
            read_until(lambda l: l.startswith("JOIN #test"))
            t0 = time.monotonic()
            read_until(lambda l: l.startswith("PING "))  # after ~ping_interval of silence
            assert time.monotonic() - t0 >= 3, "PING came too early"
            deadline = time.monotonic() + 15
            assert read_until(lambda l: False) == "closed"  # dropped after ping_timeout
            conn.close()
            conn2, _ = accept()  # and connected again (backoff)
            conn2.close()
            xc.bye(alice)
    finally:
        lsock.close()


def test_gateway_a_flooding_network_does_not_slow_another():
    """One IRC network floods its puppet (unsolicited PONGs, as fast as the socket takes
    them, for 4 s): another user's channel on another network (ngircd) keeps carrying lines
    both ways meanwhile, each within 2 s, and the flooded puppet keeps reading: every read
    is bounded (protocols/common/net.cpp) and goes back to the reactor behind the others."""
    irc_net = Ngircd().start()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    flood_port = lsock.getsockname()[1]
    cfg = gateway_config(irc_net.port)
    cfg["irc"]["networks"].append({"name": "flood", "host": "127.0.0.1", "port": flood_port, "tls": False})
    result = {"sent": 0, "error": None}
    flooding = threading.Event()

    def flooder():
        try:
            lsock.settimeout(20)
            conn, _ = lsock.accept()
            conn.settimeout(10)
            buf = b""
            while b"USER " not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    raise AssertionError("the puppet closed before registering")
                buf += chunk
            conn.sendall(b":flood 001 dave :Welcome\r\n")
            chunk = b":flood PONG flood :unasked\r\n" * 2000  # 60 KB
            flooding.set()
            end = time.monotonic() + 4
            while time.monotonic() < end:
                conn.sendall(chunk)  # blocks while the puppet does not read: 10 s is a failure
                result["sent"] += len(chunk)
            conn.close()
        except Exception as e:  # noqa: BLE001 (reported by the test below)
            result["error"] = repr(e)
            flooding.set()

    t = threading.Thread(target=flooder, daemon=True)
    t.start()
    try:
        with h.Parleyd(cfg) as d:
            bob, alice = bob_and_alice_in_test(irc_net.port, d.ports["xmpp"])
            dave = xc.login(Client, d.ports["xmpp"], "dave@localhost/x", "davepw")
            dave.send_presence(pto=f"#x%flood@{GW}/dave")  # opens the flooded puppet
            while not flooding.is_set():
                LOOP.run_until_complete(asyncio.sleep(0.05))
            assert result["error"] is None, result["error"]
            n = 0
            while t.is_alive():
                n += 1
                t0 = time.monotonic()
                bob.send(f"PRIVMSG #test :line {n} during the flood")
                m = run(next_where(alice.group, lambda m, n=n: m["body"] == f"line {n} during the flood"), timeout=2)
                assert m["from"].resource == "bob"
                alice.send_message(mto=ROOM, mbody=f"answer {n}", mtype="groupchat")
                bob.expect(rf"^:alice!\S+ PRIVMSG #test :answer {n}$", timeout=2)
                assert time.monotonic() - t0 < 4
            t.join(15)
            assert result["error"] is None, result["error"]
            assert n >= 3, f"only {n} round trips while the network flooded"
            assert result["sent"] > 1_000_000, result  # the puppet kept reading the flood
            print(f"      {n} round trips while {result['sent'] / 1e6:.0f} MB flooded the other puppet")
            xc.bye(dave)
            xc.bye(alice)
            bob.c.close()
    finally:
        lsock.close()
        irc_net.close()

if __name__ == "__main__":
    h.run_tests(globals())
