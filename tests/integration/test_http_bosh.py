"""BOSH (XEP-0124 + XEP-0206) at /http-bind with a raw client: Python http.client over
loopback, speaking the protocol by hand.

- login: session creation, SASL PLAIN, xmpp:restart, resource binding, a MUC room shared
  with a raw TCP IRC client, messages both ways, terminate;
- long-poll: an empty request is held up to `wait`; with hold=1 a new request answers the
  held one; a payload stanza goes to the held request;
- hostile: unknown sid, rid replay (the cached answer) and out of window (item-not-found),
  a body over http.limits.body_bytes, too many sessions from one address, a session that
  never polls again (inactivity ends it: its MUC occupant leaves), CORS preflight.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_http_bosh.py
"""
import base64
import http.client
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

NS = "http://jabber.org/protocol/httpbind"


def http_config(bosh=None, **kw):
    cfg = h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw"), ("bob", "bobpw")], **kw)
    cfg["_ports"]["http"] = h.free_port()
    cfg["http"] = {"listen": [f"127.0.0.1:{cfg['_ports']['http']}"]}
    if bosh:
        cfg["http"]["bosh"] = bosh
    return cfg


def post(port, body, timeout=15, method="POST", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hd = {"Content-Type": "text/xml; charset=utf-8"}
    hd.update(headers or {})
    c.request(method, "/http-bind", body=body, headers=hd)
    r = c.getresponse()
    data = r.read().decode()
    c.close()
    return r, data


class Bosh:
    def __init__(self, port, wait=2, hold=1):
        self.port = port
        self.rid = 1000
        r, data = post(port, f"<body xmlns='{NS}' rid='{self.rid}' to='localhost' wait='{wait}' hold='{hold}' "
                             "xml:lang='en' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>")
        assert r.status == 200, (r.status, data)
        assert r.getheader("Content-Type") == "text/xml; charset=utf-8", r.getheader("Content-Type")
        m = re.search(r"sid='([0-9a-f]+)'", data)
        assert m, data
        self.sid = m.group(1)
        self.first = data
        self.buffer = data

    def body(self, payload="", extra="", rid=None):
        if rid is None:
            self.rid += 1
            rid = self.rid
        return f"<body xmlns='{NS}' rid='{rid}' sid='{self.sid}' xmlns:xmpp='urn:xmpp:xbosh'{extra}>{payload}</body>"

    def send(self, payload="", extra="", rid=None):
        r, data = post(self.port, self.body(payload, extra, rid))
        assert r.status == 200, (r.status, data)
        self.buffer += data
        return data

    def expect(self, pattern, timeout=10):
        end = time.time() + timeout
        while True:
            m = re.search(pattern, self.buffer, re.S)
            if m:
                self.buffer = self.buffer[m.end():]
                return m.group(0)
            assert time.time() < end, f"no {pattern!r} in {self.buffer!r}"
            self.send()

    def login(self, user, password, resource="bosh"):
        self.expect(r"<mechanism>PLAIN</mechanism>")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        self.expect(r"<success ")
        self.send("", " xmpp:restart='true' to='localhost'")
        self.expect(r"urn:ietf:params:xml:ns:xmpp-bind")
        self.send(f"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  f"<resource>{resource}</resource></bind></iq>")
        return re.search(r"<jid>([^<]+)</jid>", self.expect(r"<jid>[^<]+</jid>")).group(1)


def test_bosh_login_and_muc_with_irc():
    with h.Parleyd(http_config()) as d:
        irc = h.LineClient(d.ports["irc"])
        irc.send("NICK ircbob")
        irc.send("USER ircbob 0 * :Bob")
        irc.expect(r" 001 ircbob ")
        irc.send("JOIN #dev")
        irc.expect(r" 366 ircbob #dev ")

        b = Bosh(d.ports["http"])
        # session creation attributes (XEP-0124 §7.1, XEP-0206 §3) and the stream features
        for a in ("wait='2'", "hold='1'", "requests='2'", "inactivity=", "from='localhost'", "authid="):
            assert a in b.first, (a, b.first)
        assert "starttls" not in b.first, b.first  # TLS is HTTP's, as for WebSocket
        jid = b.login("alice", "alicepw")
        assert jid == "alice@localhost/bosh", jid
        b.send("<presence to='dev@conference.localhost/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        b.expect(r"from='dev@conference.localhost/Alice'")
        irc.expect(r"^:Alice!\S+ JOIN #dev")
        irc.send("PRIVMSG #dev :hello from tcp irc")
        m = b.expect(r"<message[^>]*>.*?hello from tcp irc.*?</message>")
        assert "xmlns='jabber:client'" in m, m
        b.send("<message to='dev@conference.localhost' type='groupchat'><body>hello from bosh</body></message>")
        irc.expect(r"^:Alice!\S+ PRIVMSG #dev :hello from bosh$")
        # terminate (XEP-0124 §13): the stream ends, the occupant leaves
        data = b.send("<presence type='unavailable'/>", " type='terminate'")
        assert "type='terminate'" in data, data
        irc.expect(r"^:Alice!\S+ (PART|QUIT)")
        r, data = post(d.ports["http"], b.body())
        assert "condition='item-not-found'" in data, data
        irc.close()


def test_bosh_long_poll_hold_and_push():
    with h.Parleyd(http_config()) as d:
        b = Bosh(d.ports["http"], wait=3, hold=1)
        b.login("bob", "bobpw")
        # an empty request is held until `wait` passes
        t0 = time.time()
        data = b.send()
        held = time.time() - t0
        assert 2.0 < held < 6, held
        assert data.endswith("/>") and "<message" not in data, data
        # hold=1: a second request answers the first one (empty) at once
        results = {}

        def long_poll(name, body):
            r, data = post(d.ports["http"], body)
            results[name] = (time.time(), data)

        b.rid += 1
        first = threading.Thread(target=long_poll, args=("first", b.body(rid=b.rid)))
        first.start()
        time.sleep(0.5)
        t1 = time.time()
        b.rid += 1
        second = threading.Thread(target=long_poll, args=("second", b.body(rid=b.rid)))
        second.start()
        first.join(5)
        assert "first" in results and results["first"][0] - t1 < 1.5, results
        # a stanza for the held request: bob pings himself through a third request
        time.sleep(0.3)
        b.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        second.join(5)
        got = results.get("second", (0, ""))[1] + b.buffer
        assert "id='p1'" in got, results


def test_bosh_hostile():
    cfg = http_config(bosh={"sessions_per_address": 2, "inactivity": 2, "wait_max": 2})
    cfg["http"]["limits"] = {"body_bytes": 4096}
    with h.Parleyd(cfg) as d:
        port = d.ports["http"]
        # unknown sid
        r, data = post(port, f"<body xmlns='{NS}' rid='5' sid='nosuchsid'/>")
        assert "type='terminate'" in data and "item-not-found" in data, data
        # not a BOSH body / not XML
        r, data = post(port, "<body rid='5'/>")
        assert r.status == 400 and "bad-request" in data, (r.status, data)
        r, data = post(port, f"<body xmlns='{NS}' rid='x'/>")
        assert r.status == 400, (r.status, data)
        r, data = post(port, "<!DOCTYPE x [<!ENTITY a 'aaaa'>]><body xmlns='" + NS + "' rid='1'>&a;</body>")
        assert r.status == 400, (r.status, data)
        # a body over http.limits.body_bytes
        r, data = post(port, f"<body xmlns='{NS}' rid='5'>" + "<a/>" * 4000 + "</body>")
        assert r.status == 413, r.status
        # rid replay: the same answer again; out of window: the session ends
        b = Bosh(port, wait=1, hold=1)
        first = b.send()
        again = b.send(rid=b.rid)
        assert again == first, (first, again)
        data = b.send(rid=b.rid + 50)
        assert "item-not-found" in data, data
        r, data = post(port, b.body())
        assert "item-not-found" in data, data
        # hold flood: hold=100 is capped at http.bosh.hold_max (2)
        c = Bosh(port, wait=1, hold=100)
        assert "hold='2'" in c.first, c.first
        # sessions per address: 2 live (c and e), the third refused
        e = Bosh(port, wait=1)
        r, data = post(port, f"<body xmlns='{NS}' rid='1' to='localhost' wait='1' hold='1'/>")
        assert "policy-violation" in data, data
        # a session that never polls again ends after inactivity (2 s): its slot is free
        time.sleep(4)
        r, data = post(port, c.body())
        assert "item-not-found" in data, data
        f = Bosh(port, wait=1)
        assert f.sid not in (c.sid, e.sid)
        # an occupant whose session goes silent leaves the room
        irc = h.LineClient(d.ports["irc"])
        irc.send("NICK watcher")
        irc.send("USER watcher 0 * :W")
        irc.expect(r" 001 watcher ")
        irc.send("JOIN #quiet")
        irc.expect(r" 366 watcher #quiet ")
        g = Bosh(port, wait=1)
        g.login("alice", "alicepw")
        g.send("<presence to='quiet@conference.localhost/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        irc.expect(r"^:Alice!\S+ JOIN #quiet")
        irc.expect(r"^:Alice!\S+ (PART|QUIT)", timeout=10)
        irc.close()
        assert d.proc.poll() is None, "parleyd died"


def test_bosh_cors():
    with h.Parleyd(http_config(bosh={"allow_origin": "https://chat.example"})) as d:
        r, data = post(d.ports["http"], "", method="OPTIONS",
                       headers={"Origin": "https://chat.example", "Access-Control-Request-Method": "POST"})
        assert r.status == 204, r.status
        assert r.getheader("Access-Control-Allow-Origin") == "https://chat.example"
        assert "POST" in r.getheader("Access-Control-Allow-Methods")
        b = Bosh(d.ports["http"])
        r, data = post(d.ports["http"], b.body())
        assert r.getheader("Access-Control-Allow-Origin") == "https://chat.example"
    with h.Parleyd(http_config()) as d:
        r, data = post(d.ports["http"], "", method="OPTIONS")
        assert r.getheader("Access-Control-Allow-Origin") is None


if __name__ == "__main__":
    h.run_tests(globals())
