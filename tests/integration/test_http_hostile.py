"""The HTTP listener under attack: every bound answers or closes, and others keep being served.

404/405/426, oversized headers (431) and body (413), a slowloris request (read timeout), a
non-upgrade GET and a bad WebSocket handshake on a WebSocket path, an oversized and a
fragment-flooding WebSocket message, a WebSocket peer that never reads (the write-queue
bound closes it), per-address connection limits (503), keep-alive request limits, and
/metrics kept to http.metrics_listen when that is set.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_http_hostile.py
"""
import base64
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
from ws_clients import IrcWs, close_code  # noqa: E402


def cfg_with(limits=None, connections=None, metrics=False):
    cfg = h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw")])
    cfg["_ports"]["http"] = h.free_port()
    cfg["http"] = {"listen": [f"127.0.0.1:{cfg['_ports']['http']}"]}
    if limits:
        cfg["http"]["limits"] = limits
    if metrics:
        cfg["_ports"]["metrics"] = h.free_port()
        cfg["http"]["metrics_listen"] = [f"127.0.0.1:{cfg['_ports']['metrics']}"]
    if connections:
        cfg["server"]["connections"] = connections
    return cfg


def request(port, raw: bytes, timeout=5) -> bytes:
    """Sends raw bytes, returns everything until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out


def status(resp: bytes) -> int:
    assert resp.startswith(b"HTTP/1.1 "), resp[:100]
    return int(resp[9:12])


def ws_request(path, key="dGhlIHNhbXBsZSBub25jZQ==", version="13", proto=None) -> bytes:
    r = (f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n")
    if proto:
        r += f"Sec-WebSocket-Protocol: {proto}\r\n"
    return (r + "\r\n").encode()


def test_routes_404_405_426_and_handshake_errors():
    with h.Parleyd(cfg_with()) as d:
        p = d.ports["http"]
        assert status(request(p, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 404
        r = request(p, b"POST /irc HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        assert status(r) == 405 and b"Allow: GET" in r, r
        # a plain GET on a WebSocket path
        r = request(p, b"GET /xmpp-websocket HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status(r) == 426 and b"Upgrade: websocket" in r, r
        assert status(request(p, ws_request("/irc", version="8"))) == 426
        assert status(request(p, ws_request("/irc", key="short"))) == 400
        assert status(request(p, ws_request("/xmpp-websocket"))) == 400  # no "xmpp" subprotocol
        r = request(p, ws_request("/xmpp-websocket", proto="foo, xmpp"), timeout=1)
        assert status(r) == 101 and b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in r, r
        assert b"Sec-WebSocket-Protocol: xmpp" in r, r
        # garbage is a 400 and a close
        assert status(request(p, b"\x16\x03\x01 not http\r\n\r\n")) == 400
        # keep-alive: two pipelined requests, two answers in order
        r = request(p, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert r.count(b"HTTP/1.1 404") == 2, r


def test_size_bounds_and_timeouts():
    limits = {"header_bytes": 1024, "body_bytes": 1024, "read_timeout": 2, "idle_timeout": 2,
              "requests_per_connection": 2}
    with h.Parleyd(cfg_with(limits)) as d:
        p = d.ports["http"]
        big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4000 + b"\r\n\r\n"
        assert status(request(p, big)) == 431
        body = b"POST /irc HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"b" * 5000
        assert status(request(p, body)) == 413
        # slowloris: a header line that never ends is closed after read_timeout
        with socket.create_connection(("127.0.0.1", p), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            for _ in range(8):
                try:
                    s.sendall(b"X")
                except OSError:
                    break
                time.sleep(0.5)
            s.settimeout(5)
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
            assert time.monotonic() - t0 < 6
        # idle keep-alive connection closed after idle_timeout; requests_per_connection ends it
        r = request(p, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        assert r.count(b"HTTP/1.1 404") == 1 and b"Connection: close" not in r
        r = request(p, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\n\r\n")
        assert r.count(b"HTTP/1.1 404") == 2 and b"Connection: close" in r, r


def test_websocket_message_bounds_and_a_peer_that_never_reads():
    limits = {"websocket_message": 4096, "websocket_fragments": 4, "write_queue": 65536}
    with h.Parleyd(cfg_with(limits)) as d:
        url = f"ws://127.0.0.1:{d.ports['http']}/irc"
        c = IrcWs(url, "big")
        c.ws.send("PRIVMSG x :" + "a" * 5000)
        assert close_code(c.ws) == 1009
        c = IrcWs(url, "frag")
        import websocket
        c.ws.send_frame(websocket.ABNF.create_frame("P", websocket.ABNF.OPCODE_TEXT, fin=0))
        sent = 0
        for _ in range(6):
            try:
                c.ws.send_frame(websocket.ABNF.create_frame("I", websocket.ABNF.OPCODE_CONT, fin=0))
                sent += 1
            except OSError:  # the server closed at the fragment over the bound: the rest cannot go
                break
        assert sent >= 4, sent  # up to the bound (4 fragments) nothing was refused
        assert close_code(c.ws) == 1008
        # A peer that never reads: ping frames (answered with pongs) until the write queue
        # bound closes it (counted as slow_reader); the server goes on serving others. The
        # small receive buffer is set before connecting: shrinking it on an open connection
        # makes the client's own kernel drop the server's segments (and the ACKs they carry),
        # which stalls the client's sends in TCP backoff before the server sees enough pings.
        lazy = IrcWs(url, "lazy", sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        lazy.ws.settimeout(10)
        reset = None
        t0 = time.monotonic()
        for _ in range(100000):  # at most ~13 MB, 30 s
            try:
                lazy.ws.ping(b"x" * 125)
            except Exception as e:
                reset = e
                break
            if time.monotonic() - t0 > 30:
                break
        assert isinstance(reset, (ConnectionResetError, BrokenPipeError)), reset
        ok = IrcWs(url, "alive")
        ok.send("JOIN #still")
        ok.expect(r" 366 alive #still ")
        ok.close()
        # The count is made on the connection's strand as it closes; give a loaded machine
        # a moment (bounded) before reading it.
        deadline = time.monotonic() + 5
        while True:
            scrape = request(d.ports["http"], b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
            m = re.search(rb'parley_rejected_inputs_total\{protocol="irc",reason="slow_reader"\} (\d+)\n', scrape)
            counted = int(m.group(1)) if m else 0
            if counted >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert counted == 1, scrape


def test_per_address_connection_limit():
    with h.Parleyd(cfg_with(connections={"per_address": 4, "rate": 0, "burst": 64})) as d:
        p = d.ports["http"]
        held = [socket.create_connection(("127.0.0.1", p), timeout=5) for _ in range(4)]
        time.sleep(0.3)
        r = request(p, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        assert status(r) == 503, r
        for s in held:
            s.close()
        time.sleep(0.3)
        assert status(request(p, b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 404


def test_metrics_only_on_its_own_listener():
    with h.Parleyd(cfg_with(metrics=True)) as d:
        # /metrics is served on the metrics listener only, and that listener serves nothing else
        assert status(request(d.ports["http"], b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")) == 404
        assert status(request(d.ports["metrics"], b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")) == 200
        assert status(request(d.ports["metrics"], ws_request("/irc"))) == 404
        assert status(request(d.ports["http"], ws_request("/irc"), timeout=1)) == 101


if __name__ == "__main__":
    h.run_tests(globals())
