"""The HTTP listener's WebSocket endpoints with real clients (python3-websocket).

- XMPP over WebSocket (RFC 7395, /xmpp-websocket): a WS client logs in with SASL PLAIN (no
  STARTTLS offered, §3.5), binds, joins a MUC room where a raw TCP IRC client talks, and both
  see each other's messages; the same over wss:// (the tls: listener).
- IRC over WebSocket (IRCv3, /irc): text and binary subprotocols (and none = text) into the
  same IRC server; messages both ways with a TCP IRC client; invalid UTF-8 from a TCP client
  reaches a text-mode WS client as U+FFFD, a binary-mode one as the bytes.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_http_websocket.py
"""
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
from ws_clients import IrcWs, XmppWs, close_code  # noqa: E402


def http_config(**kw):
    cfg = h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw"), ("bob", "bobpw")], **kw)
    cfg["_ports"]["http"] = h.free_port()
    cfg["_ports"]["https"] = h.free_port()
    cfg["http"] = {"listen": [f"127.0.0.1:{cfg['_ports']['http']}", f"tls:127.0.0.1:{cfg['_ports']['https']}"]}
    return cfg


def test_xmpp_websocket_login_and_muc_with_irc():
    with h.Parleyd(http_config()) as d:
        irc = h.LineClient(d.ports["irc"])
        irc.send("NICK ircbob")
        irc.send("USER ircbob 0 * :Bob")
        irc.expect(r" 001 ircbob ")
        irc.send("JOIN #dev")
        irc.expect(r" 366 ircbob #dev ")

        x = XmppWs(f"ws://127.0.0.1:{d.ports['http']}/xmpp-websocket")
        assert x.ws.subprotocol == "xmpp", x.ws.subprotocol
        jid = x.login("alice", "alicepw")
        assert jid.startswith("alice@localhost/"), jid
        x.send("<presence xmlns='jabber:client' to='dev@conference.localhost/Alice'>"
               "<x xmlns='http://jabber.org/protocol/muc'/></presence>")
        x.expect(r"from='dev@conference.localhost/Alice'|from=\"dev@conference.localhost/Alice\"")
        irc.expect(r"^:Alice!\S+ JOIN #dev")
        irc.send("PRIVMSG #dev :hello from tcp irc")
        m = x.expect(r"hello from tcp irc")
        # every message is one standalone element with its namespace (RFC 7395 §3.3.3)
        assert m.startswith("<message") and "xmlns='jabber:client'" in m, m
        x.send("<message xmlns='jabber:client' to='dev@conference.localhost' type='groupchat'>"
               "<body>hello from websocket</body></message>")
        irc.expect(r"^:Alice!\S+ PRIVMSG #dev :hello from websocket$")
        # and an IRC-over-WebSocket client in the same room: all three see each other
        wi = IrcWs(f"ws://127.0.0.1:{d.ports['http']}/irc", "webirc")
        wi.send("JOIN #dev")
        wi.expect(r" 366 webirc #dev ")
        x.expect(r"from='dev@conference.localhost/webirc'")
        wi.send("PRIVMSG #dev :hello from irc over websocket")
        x.expect(r"hello from irc over websocket")
        irc.expect(r"^:webirc!\S+ PRIVMSG #dev :hello from irc over websocket$")
        x.send("<message xmlns='jabber:client' to='dev@conference.localhost' type='groupchat'>"
               "<body>xmpp to web irc</body></message>")
        wi.expect(r"^:Alice!\S+ PRIVMSG #dev :xmpp to web irc$")
        wi.close()
        # <close/> is answered with <close/> and the WebSocket closes (§3.6)
        x.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
        x.expect(r"^<close ")
        irc.expect(r"^:Alice!\S+ (PART|QUIT)")
        x.close()
        irc.close()


def test_xmpp_websocket_over_tls():
    with h.Parleyd(http_config()) as d:
        x = XmppWs(f"wss://127.0.0.1:{d.ports['https']}/xmpp-websocket",
                   sslopt={"cert_reqs": ssl.CERT_NONE, "check_hostname": False})
        jid = x.login("bob", "bobpw", resource="tls")
        assert jid == "bob@localhost/tls", jid
        x.send("<iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
        x.expect(r"type='result'.*id='p1'|id='p1'.*type='result'")
        # XEP-0198 over WebSocket, as over TCP
        x.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        x.expect(r"^<enabled ")
        x.send("<r xmlns='urn:xmpp:sm:3'/>")
        x.expect(r"^<a [^>]*h=")
        x.close()


def test_xmpp_websocket_requires_subprotocol_and_one_element_per_message():
    with h.Parleyd(http_config()) as d:
        url = f"ws://127.0.0.1:{d.ports['http']}/xmpp-websocket"
        try:
            XmppWs(url, subprotocols=())
            raise AssertionError("upgrade without the xmpp subprotocol was accepted")
        except Exception as e:  # websocket-client raises WebSocketBadStatusException
            assert "400" in str(e), e
        x = XmppWs(url)
        x.open()
        # half an element in one message: the connection fails (policy violation)
        x.send("<iq type='get' id='half'>")
        assert close_code(x.ws) == 1008
        x.close()
        # the same over TCP-style pipelining: two elements in one message
        x = XmppWs(url)
        x.open()
        x.send("<presence/><presence/>")
        assert close_code(x.ws) == 1008
        x.close()


def test_irc_websocket_text_binary_and_none():
    with h.Parleyd(http_config()) as d:
        tcp = h.LineClient(d.ports["irc"])
        tcp.send("NICK tcpnick")
        tcp.send("USER tcpnick 0 * :T")
        tcp.expect(r" 001 tcpnick ")
        tcp.send("JOIN #web")
        tcp.expect(r" 366 tcpnick #web ")
        url = f"ws://127.0.0.1:{d.ports['http']}/irc"
        text = IrcWs(url, "wstext", subprotocols=("text.ircv3.net",))
        assert text.ws.subprotocol == "text.ircv3.net"
        binary = IrcWs(url, "wsbin", subprotocols=("binary.ircv3.net",))
        assert binary.ws.subprotocol == "binary.ircv3.net"
        plain = IrcWs(url, "wsnone", subprotocols=None)
        for c, n in ((text, "wstext"), (binary, "wsbin"), (plain, "wsnone")):
            c.send("JOIN #web")
            c.expect(rf" 366 {n} #web ")
            tcp.expect(rf"^:{n}!\S+ JOIN #web")
        text.send("PRIVMSG #web :hi from text")
        tcp.expect(r"^:wstext!\S+ PRIVMSG #web :hi from text$")
        binary.send("PRIVMSG #web :hi from binary", binary=True)
        tcp.expect(r"^:wsbin!\S+ PRIVMSG #web :hi from binary$")
        tcp.send("PRIVMSG #web :hi from tcp")
        for c in (text, binary, plain):
            line = c.expect(r"PRIVMSG #web :hi from tcp")
            assert not line.endswith("\r\n") and "\n" not in line, repr(line)
        assert text.frames[-1] == 1 and plain.frames[-1] == 1 and binary.frames[-1] == 2, \
            (text.frames[-1], plain.frames[-1], binary.frames[-1])
        # Latin-1 from a TCP client: the server transcodes it (fallback_encoding) or not;
        # either way a text-mode WebSocket client gets valid UTF-8.
        tcp.sock.sendall(b"PRIVMSG #web :caf\xe9 \xff\r\n")
        line = text.expect(r"PRIVMSG #web :caf")
        assert line.encode("utf-8"), line
        # a message with CR/LF inside is refused: that connection fails, others go on
        plain.send("PRIVMSG #web :a\r\nQUIT :injected")
        assert close_code(plain.ws) == 1008
        tcp.expect(r"^:wsnone!\S+ QUIT")
        text.send("PRIVMSG #web :still here")
        tcp.expect(r"^:wstext!\S+ PRIVMSG #web :still here$")
        for c in (text, binary, plain):
            c.close()
        tcp.close()


def test_websocket_origin_check():
    """http.websocket.allowed_origins (RFC 6455 §10.2): a browser page from another origin
    gets 403 on both endpoints; a listed one and a client without Origin connect; the
    default (empty list) lets any origin in."""
    import websocket
    cfg = http_config()
    cfg["http"]["websocket"] = {"allowed_origins": ["https://chat.example"]}
    with h.Parleyd(cfg) as d:
        base = f"ws://127.0.0.1:{d.ports['http']}"
        for path, sub in (("/irc", ["text.ircv3.net"]), ("/xmpp-websocket", ["xmpp"])):
            try:
                websocket.create_connection(base + path, timeout=10, subprotocols=sub,
                                            origin="https://evil.example")
                raise AssertionError(f"{path}: a foreign origin was let in")
            except websocket.WebSocketBadStatusException as e:
                assert e.status_code == 403, (path, e.status_code)
        ok = IrcWs(base + "/irc", "listed", origin="HTTPS://Chat.Example")  # case-insensitive
        ok.send("JOIN #o")
        ok.expect(r" 366 listed #o ")
        bare = IrcWs(base + "/irc", "bare", suppress_origin=True)  # not a browser
        bare.send("JOIN #o")
        bare.expect(r" 366 bare #o ")
        x = XmppWs(base + "/xmpp-websocket", origin="https://chat.example")
        x.login("alice", "alicepw")
        for c in (ok, bare, x):
            c.close()
    with h.Parleyd(http_config()) as d:
        c = IrcWs(f"ws://127.0.0.1:{d.ports['http']}/irc", "any", origin="https://anywhere.example")
        c.send("JOIN #o")
        c.expect(r" 366 any #o ")
        c.close()


if __name__ == "__main__":
    h.run_tests(globals())
