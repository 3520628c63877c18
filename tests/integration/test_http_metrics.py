"""/metrics over real HTTP (urllib over loopback) and what it counts.

- a scrape passes `promtool check metrics` (Debian prometheus) and has the Prometheus
  content type; IRC (TCP) and XMPP (RFC 7395 WebSocket) clients talk in one room, and the
  routed-message and live-delivery counters move by exactly the copies handed out;
- with http.metrics_listen set, /metrics is served there only: http.listen answers 404,
  and the metrics listener serves nothing else;
- an IRC client that never reads is closed when its sendq overflows, and
  parley_rejected_inputs_total{protocol="irc",reason="slow_reader"} counts it.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_http_metrics.py
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
from ws_clients import XmppWs  # noqa: E402


def http_config(metrics_listen=False, **kw):
    cfg = h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw")], **kw)
    cfg["_ports"]["http"] = h.free_port()
    cfg["http"] = {"listen": [f"127.0.0.1:{cfg['_ports']['http']}"]}
    if metrics_listen:
        cfg["_ports"]["metrics"] = h.free_port()
        cfg["http"]["metrics_listen"] = [f"127.0.0.1:{cfg['_ports']['metrics']}"]
    return cfg


def get(port, path="/metrics"):
    """(status, content type, body) of a GET; 4xx/5xx are answers too."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def scrape(port):
    status, ctype, body = get(port)
    assert status == 200, (status, body)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return body


def promtool_check(text):
    if not shutil.which("promtool"):
        raise h.Skip("promtool (Debian prometheus) not installed")
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    # promtool lints too (exit 3 for lint problems only); a parse error is exit 1. Neither.
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)


def value(text, name, **labels):
    """The sample `name{labels}` (label order as written), 0 if absent."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    rx = re.compile(rf"^{re.escape(name)}(?:\{{{re.escape(want)}\}})? (\S+)$" if want else
                    rf"^{re.escape(name)} (\S+)$", re.M)
    m = rx.search(text)
    return float(m.group(1)) if m else 0.0


def routed(text, frm, to):
    return value(text, "parley_messages_routed_total", **{"from": frm, "to": to})


def irc_client(port, nick):
    c = h.LineClient(port)
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :{nick}")
    c.expect(rf" 001 {nick} ")
    return c


def test_scrape_passes_promtool_and_counters_move_by_the_copies_sent():
    with h.Parleyd(http_config()) as d:
        port = d.ports["http"]
        first = scrape(port)
        promtool_check(first)
        for family in ("parley_sessions", "parley_connections", "parley_messages_routed_total",
                       "parley_deliveries_total", "parley_store_queue_depth", "parley_store_commit_seconds",
                       "parley_auth_failures_total", "parley_rejected_inputs_total"):
            assert f"# TYPE {family} " in first, (family, first)
        assert 'reason="slow_reader"' in first, first

        a, b = irc_client(d.ports["irc"], "ann"), irc_client(d.ports["irc"], "ben")
        for c, n in ((a, "ann"), (b, "ben")):
            c.send("JOIN #ops")
            c.expect(rf" 366 {n} #ops ")
        x = XmppWs(f"ws://127.0.0.1:{port}/xmpp-websocket")
        x.login("alice", "alicepw")
        x.send("<presence xmlns='jabber:client' to='ops@conference.localhost/alice'>"
               "<x xmlns='http://jabber.org/protocol/muc'/></presence>")
        x.expect(r"from='ops@conference.localhost/alice'")
        a.expect(r"^:alice!\S+ JOIN #ops")
        b.expect(r"^:alice!\S+ JOIN #ops")
        time.sleep(0.3)  # joins and room history settle

        before = scrape(port)
        assert value(before, "parley_sessions", protocol="irc") == 2, before
        assert value(before, "parley_sessions", protocol="xmpp") == 1, before
        assert value(before, "parley_connections", protocol="irc") == 2, before

        # 3 lines from ann: each copy goes to every member (ann, ben, alice), so
        # irc->irc +6 (ann's own copy is counted and not echoed) and irc->xmpp +3.
        for i in range(3):
            a.send(f"PRIVMSG #ops :from irc {i}")
        for i in range(3):
            b.expect(rf"^:ann!\S+ PRIVMSG #ops :from irc {i}$")
            x.expect(rf"from irc {i}")
        # 2 groupchat messages from alice: xmpp->irc +4, xmpp->xmpp +2 (her reflection,
        # XEP-0045 §7.4).
        for i in range(2):
            x.send("<message xmlns='jabber:client' to='ops@conference.localhost' type='groupchat'>"
                   f"<body>from xmpp {i}</body></message>")
        for i in range(2):
            a.expect(rf"^:alice!\S+ PRIVMSG #ops :from xmpp {i}$")
            b.expect(rf"^:alice!\S+ PRIVMSG #ops :from xmpp {i}$")
            x.expect(rf"from xmpp {i}")
        # One private message ann -> ben: irc->irc +1.
        a.send("PRIVMSG ben :psst")
        b.expect(r"^:ann!\S+ PRIVMSG ben :psst$")

        after = scrape(port)
        promtool_check(after)
        delta = {(f, t): routed(after, f, t) - routed(before, f, t)
                 for f in ("irc", "xmpp") for t in ("irc", "xmpp")}
        assert delta == {("irc", "irc"): 7, ("irc", "xmpp"): 3, ("xmpp", "irc"): 4, ("xmpp", "xmpp"): 2}, delta
        live = value(after, "parley_deliveries_total", path="live") - value(before, "parley_deliveries_total",
                                                                            path="live")
        assert live == 16, live
        # the store commits what it persists (room history): the histogram counted some
        assert value(after, "parley_store_commit_seconds_count") >= value(before, "parley_store_commit_seconds_count")
        x.close()
        a.close()
        b.close()


def test_metrics_listen_serves_metrics_only_there():
    with h.Parleyd(http_config(metrics_listen=True)) as d:
        status, _, _ = get(d.ports["http"])
        assert status == 404, status
        promtool_check(scrape(d.ports["metrics"]))
        status, _, _ = get(d.ports["metrics"], "/xmpp-websocket")
        assert status == 404, status
        # only GET
        req = urllib.request.Request(f"http://127.0.0.1:{d.ports['metrics']}/metrics", data=b"x", method="POST")
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("POST /metrics was answered")
        except urllib.error.HTTPError as e:
            assert e.code == 405, e.code
        # the main listener still serves its WebSocket endpoints
        x = XmppWs(f"ws://127.0.0.1:{d.ports['http']}/xmpp-websocket")
        x.login("alice", "alicepw")
        x.close()


def test_without_metrics_listen_metrics_is_on_http_listen():
    with h.Parleyd(http_config()) as d:
        status, ctype, body = get(d.ports["http"])
        assert status == 200 and "parley_sessions" in body, (status, body)


def test_a_client_that_never_reads_is_closed_and_counted_as_slow_reader():
    motd = "\n".join("m" * 400 for _ in range(40))  # ~16 KB per MOTD, a quarter of the sendq
    cfg = http_config(irc_extra={"flood_burst": 0, "sendq": 64 * 1024, "motd": motd})
    with h.Parleyd(cfg) as d:
        port = d.ports["http"]
        before = value(scrape(port), "parley_rejected_inputs_total", protocol="irc", reason="slow_reader")
        assert before == 0, before
        sink = socket.socket()
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        sink.settimeout(10)
        sink.connect(("127.0.0.1", d.ports["irc"]))
        watcher = irc_client(d.ports["irc"], "watcher")
        watcher.send("JOIN #slow")
        watcher.expect(r" 366 watcher #slow ")
        sink.sendall(b"NICK sink\r\nUSER sink 0 * :sink\r\nJOIN #slow\r\n")
        watcher.expect(r"^:sink!\S+ JOIN #slow")
        sink.sendall(b"MOTD\r\n" * 300)  # ~5 MB asked for, never read
        deadline = time.monotonic() + 15
        count = before
        while count == before and time.monotonic() < deadline:
            time.sleep(0.2)
            count = value(scrape(port), "parley_rejected_inputs_total", protocol="irc", reason="slow_reader")
        assert count == before + 1, count
        quit = watcher.expect(r"^:sink!\S+ QUIT ")
        assert "SendQ exceeded" in quit, quit
        # the connection is gone: reading drains what the kernel held, then EOF (or a reset)
        t0 = time.monotonic()
        try:
            while sink.recv(65536):
                assert time.monotonic() - t0 < 15, "the slow reader was not closed"
        except ConnectionResetError:
            pass
        sink.close()
        # others are served, and nobody else was counted
        watcher.send("PING :x")
        watcher.expect(r"PONG")
        watcher.close()
        assert value(scrape(port), "parley_rejected_inputs_total", protocol="irc", reason="slow_reader") == count


if __name__ == "__main__":
    h.run_tests(globals())
