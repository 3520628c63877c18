#!/usr/bin/python3
"""SIP (issue 12, first slice): registrar with digest authentication and pager-mode MESSAGE.

Real peers: sipp (Debian sip-tester) runs tests/integration/sip/*.xml as a SIP UA; a raw IRC
client (LineClient) is the user on another protocol; raw UDP sockets compute digests with
hashlib (MD5 and SHA-256) and attack the bounds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import parley_harness as h

SCENARIOS = h.SOURCE / "tests" / "integration" / "sip"
SIPP = shutil.which("sipp")


def sip_config(**sip_extra):
    cfg = h.config(irc=True, sip=True, accounts=[("alice", "alicepw"), ("bob", "bobpw")],
                   irc_extra={"guests": False})
    cfg["sip"].update(sip_extra)
    return cfg


def irc_login(port: int, user: str, password: str) -> h.LineClient:
    c = h.LineClient(port)
    c.send(f"PASS {user}:{password}")
    c.send(f"NICK {user}")
    c.send(f"USER {user} 0 * :{user}")
    c.expect(rf" 001 {user} ")
    return c


def run_sipp(scenario: str, port: int, user: str, password: str, timeout: float = 30,
             transport: str = "u1", local: int | None = None, keys: dict[str, str] | None = None,
             server: bool = False) -> subprocess.Popen:
    """sipp running one call of `scenario` (a UAC sending to parleyd, or with server=True a
    UAS waiting on `local`); -timeout bounds it."""
    if not SIPP:
        raise h.Skip("sipp is not installed (Debian sip-tester)")
    local = local or h.free_port(udp=True)
    args = [SIPP, "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(local), "-t", transport,
            "-m", "1", "-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin"]
    if not server:
        args += ["-s", user, "-au", user, "-ap", password]
    for k, v in (keys or {}).items():
        args += ["-key", k, v]
    if not server:
        args.append(f"127.0.0.1:{port}")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tempfile.mkdtemp(prefix="sipp-"))


def sipp_result(p: subprocess.Popen, timeout: float = 40) -> tuple[int, str]:
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return -1, out
    return p.returncode, out


# ---- a minimal UDP SIP client (stdlib) ----

class UdpUa:
    def __init__(self, port: int, user: str = "alice"):
        self.port = port
        self.user = user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3)
        self.local = self.sock.getsockname()[1]
        self.call_id = uuid.uuid4().hex
        self.cseq = 0

    def request(self, method: str, ruri: str, headers: list[str] = (), body: bytes = b"",
                to_user: str | None = None) -> bytes:
        self.cseq += 1
        to = to_user or self.user
        head = [f"{method} {ruri} SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.local};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport",
                f"From: <sip:{self.user}@localhost>;tag={self.local}",
                f"To: <sip:{to}@localhost>",
                f"Call-ID: {self.call_id}",
                f"CSeq: {self.cseq} {method}",
                "Max-Forwards: 70", *headers, f"Content-Length: {len(body)}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def recv(self, timeout: float = 3) -> str | None:
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        return data.decode(errors="replace")

    def transact(self, data: bytes, timeout: float = 3) -> str:
        self.send(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.recv(max(0.1, deadline - time.monotonic()))
            if r and r.startswith("SIP/2.0 ") and not r.startswith("SIP/2.0 1"):
                return r
        raise AssertionError(f"no final answer to {data[:60]!r}")


def status(resp: str) -> int:
    return int(resp.split(" ", 2)[1])


def challenges(resp: str) -> list[dict[str, str]]:
    out = []
    for line in resp.split("\r\n"):
        if line.lower().startswith("www-authenticate:"):
            pairs = re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', line.split(":", 1)[1])
            out.append({k: a or b for k, a, b in pairs})
    return out


def authorization(ch: dict[str, str], user: str, password: str, method: str, uri: str, nc: int = 1,
                  algorithm: str | None = None) -> str:
    alg = algorithm or ch.get("algorithm", "MD5")
    H = (lambda s: hashlib.md5(s.encode()).hexdigest()) if alg == "MD5" else \
        (lambda s: hashlib.sha256(s.encode()).hexdigest())
    ha1 = H(f"{user}:{ch['realm']}:{password}")
    ha2 = H(f"{method}:{uri}")
    cnonce = uuid.uuid4().hex[:8]
    ncs = f"{nc:08x}"
    resp = H(f"{ha1}:{ch['nonce']}:{ncs}:{cnonce}:auth:{ha2}")
    return (f'Authorization: Digest username="{user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", '
            f'uri="{uri}", response="{resp}", algorithm={alg}, cnonce="{cnonce}", nc={ncs}, qop=auth')


def register(ua: UdpUa, password: str, expires: int = 300, algorithm: str = "MD5",
             contact: str | None = None) -> str:
    contact = contact or f"<sip:{ua.user}@127.0.0.1:{ua.local}>"
    hdrs = [f"Contact: {contact}", f"Expires: {expires}"]
    r = ua.transact(ua.request("REGISTER", "sip:localhost", hdrs))
    assert status(r) == 401, r
    ch = [c for c in challenges(r) if c.get("algorithm", "MD5") == algorithm]
    assert ch, r
    return ua.transact(ua.request("REGISTER", "sip:localhost",
                                  hdrs + [authorization(ch[0], ua.user, password, "REGISTER", "sip:localhost")]))


# ---- tests ----

def test_register_digest_md5_and_sha256():
    with h.Parleyd(sip_config(digest_algorithms=["MD5", "SHA-256"])) as d:
        port = d.ports["sip"]
        ua = UdpUa(port)
        r = ua.transact(ua.request("REGISTER", "sip:localhost", [f"Contact: <sip:alice@127.0.0.1:{ua.local}>"]))
        assert status(r) == 401, r
        algs = [c.get("algorithm") for c in challenges(r)]
        assert "SHA-256" in algs and "MD5" in algs, r
        assert all(c.get("qop") == "auth" and c.get("realm") == "localhost" for c in challenges(r)), r
        r = register(ua, "alicepw", algorithm="MD5")
        assert status(r) == 200 and re.search(r"Contact: <sip:alice@127\.0\.0\.1:\d+>;expires=300", r), r
        ua2 = UdpUa(port)
        r = register(ua2, "alicepw", algorithm="SHA-256", expires=120)
        assert status(r) == 200 and r.count("Contact:") == 2, r
        # Wrong password: 403 (the nonce was fine, the response is not).
        ua3 = UdpUa(port)
        assert status(register(ua3, "wrong")) == 403
        # Someone else's address of record: 403 even with a right password for their own name.
        ua4 = UdpUa(port, user="bob")
        hdrs = [f"Contact: <sip:bob@127.0.0.1:{ua4.local}>"]
        r = ua4.transact(ua4.request("REGISTER", "sip:localhost", hdrs, to_user="alice"))
        ch = challenges(r)[-1]
        r = ua4.transact(ua4.request("REGISTER", "sip:localhost",
                                     hdrs + [authorization(ch, "bob", "bobpw", "REGISTER", "sip:localhost")],
                                     to_user="alice"))
        assert status(r) == 403, r
        d.wait_for_log(r"parleyd ready")


def test_expires_bounds_unregister_and_binding_limit():
    with h.Parleyd(sip_config(register_expires={"min": 60, "max": 600, "default": 300}, max_bindings=2)) as d:
        port = d.ports["sip"]
        ua = UdpUa(port)
        r = register(ua, "alicepw", expires=10)
        assert status(r) == 423 and "Min-Expires: 60" in r, r
        r = register(ua, "alicepw", expires=99999)
        assert status(r) == 200 and ";expires=600" in r, r  # clamped to max
        r = register(ua, "alicepw", contact="<sip:alice@127.0.0.1:1>")
        assert status(r) == 200 and r.count("Contact:") == 2, r
        r = register(ua, "alicepw", contact="<sip:alice@127.0.0.1:2>")
        assert status(r) == 403, r  # a third binding: over sip.max_bindings
        r = register(ua, "alicepw", expires=0, contact="<sip:alice@127.0.0.1:1>")
        assert status(r) == 200 and r.count("Contact:") == 1, r
        r = register(ua, "alicepw", expires=0, contact="*")
        assert status(r) == 200 and "Contact:" not in r, r


def test_nonce_count_replay_is_challenged_again():
    with h.Parleyd(sip_config()) as d:
        ua = UdpUa(d.ports["sip"])
        hdrs = [f"Contact: <sip:alice@127.0.0.1:{ua.local}>"]
        r = ua.transact(ua.request("REGISTER", "sip:localhost", hdrs))
        ch = [c for c in challenges(r) if c.get("algorithm") == "MD5"][0]
        auth = authorization(ch, "alice", "alicepw", "REGISTER", "sip:localhost", nc=1)
        assert status(ua.transact(ua.request("REGISTER", "sip:localhost", hdrs + [auth]))) == 200
        # The same Authorization again (a captured request replayed): 401 with stale=true.
        r = ua.transact(ua.request("REGISTER", "sip:localhost", hdrs + [auth]))
        assert status(r) == 401 and "stale=true" in r, r
        # The same nonce with a higher count is fine.
        auth2 = authorization(ch, "alice", "alicepw", "REGISTER", "sip:localhost", nc=2)
        assert status(ua.transact(ua.request("REGISTER", "sip:localhost", hdrs + [auth2]))) == 200
        # A forged nonce: a fresh challenge, not stale.
        forged = dict(ch, nonce="0" * 32 + "." + "0" * 32)
        r = ua.transact(ua.request("REGISTER", "sip:localhost",
                                   hdrs + [authorization(forged, "alice", "alicepw", "REGISTER", "sip:localhost")]))
        assert status(r) == 401 and "stale=true" not in r, r


def test_expired_nonce_is_stale():
    with h.Parleyd(sip_config(nonce_lifetime=10)) as d:
        ua = UdpUa(d.ports["sip"])
        hdrs = [f"Contact: <sip:alice@127.0.0.1:{ua.local}>"]
        ch = challenges(ua.transact(ua.request("REGISTER", "sip:localhost", hdrs)))[0]
        time.sleep(11.5)
        r = ua.transact(ua.request("REGISTER", "sip:localhost",
                                   hdrs + [authorization(ch, "alice", "alicepw", "REGISTER", "sip:localhost")]))
        # RFC 7616 §3.3: the password was right, the nonce old: stale=true, a fresh nonce.
        assert status(r) == 401 and "stale=true" in r, r
        fresh = challenges(r)[0]
        assert fresh["nonce"] != ch["nonce"]
        r = ua.transact(ua.request("REGISTER", "sip:localhost",
                                   hdrs + [authorization(fresh, "alice", "alicepw", "REGISTER", "sip:localhost")]))
        assert status(r) == 200, r


def test_sipp_register_and_messages_with_irc():
    with h.Parleyd(sip_config()) as d:
        bob = irc_login(d.ports["irc"], "bob", "bobpw")
        uas_port = h.free_port(udp=True)
        uas = run_sipp("message_uas.xml", d.ports["sip"], "", "", local=uas_port, server=True)
        uac = run_sipp("register_message.xml", d.ports["sip"], "alice", "alicepw",
                       keys={"contact_port": str(uas_port)})
        # sipp registers (401, then 200 with digest), then its MESSAGE reaches bob on IRC.
        bob.expect(r":alice!\S+ PRIVMSG bob :hello from sip", timeout=20)
        rc, out = sipp_result(uac)
        assert rc == 0, out[-3000:]
        # bob answers on IRC; parleyd sends it to the registered contact as a MESSAGE (200).
        bob.send("PRIVMSG alice :hello from irc")
        rc, out = sipp_result(uas)
        assert rc == 0, out[-3000:]
        assert not any("could not be delivered" in l for l in bob.lines), bob.lines


def test_sipp_wrong_password():
    with h.Parleyd(sip_config()) as d:
        rc, out = sipp_result(run_sipp("register_wrong.xml", d.ports["sip"], "alice", "nope"))
        assert rc == 0, out[-3000:]


def test_tcp_transport():
    with h.Parleyd(sip_config()) as d:
        # sipp over TCP: REGISTER challenged, then refused for the wrong password.
        rc, out = sipp_result(run_sipp("register_wrong.xml", d.ports["sip"], "alice", "nope", transport="t1"))
        assert rc == 0, out[-3000:]
        # A raw TCP OPTIONS is answered on the same connection.
        with socket.create_connection(("127.0.0.1", d.ports["sip"]), timeout=5) as c:
            c.sendall(b"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKtcp1\r\n"
                      b"From: <sip:x@localhost>;tag=1\r\nTo: <sip:localhost>\r\nCall-ID: tcp1\r\n"
                      b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
            data = c.recv(65536).decode()
            assert data.startswith("SIP/2.0 200 "), data


def _options_over(c: socket.socket, tag: str) -> str:
    c.sendall((f"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK{tag}\r\n"
               f"From: <sip:x@localhost>;tag=1\r\nTo: <sip:localhost>\r\nCall-ID: {tag}\r\n"
               f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode())
    return c.recv(65536).decode(errors="replace")


def _dial(port: int, source: str = "127.0.0.1") -> socket.socket:
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(5)
    c.bind((source, 0))
    c.connect(("127.0.0.1", port))
    return c


def _refused(c: socket.socket) -> bool:
    """The server closed this connection without answering (a refusal at accept)."""
    try:
        return _options_over(c, "refused") == ""
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_tcp_connections_are_under_server_connections():
    # server.connections applies to SIP over TCP as to every other listener, and the count is
    # shared: an address's SIP connections and its IRC connections draw on one allowance.
    cfg = sip_config()
    cfg["server"]["connections"] = {"per_address": 4, "rate": 0, "burst": 64}
    with h.Parleyd(cfg) as d:
        port = d.ports["sip"]
        held = [_dial(port) for _ in range(3)]
        for i, c in enumerate(held):
            assert _options_over(c, f"held{i}").startswith("SIP/2.0 200 "), i
        irc = socket.create_connection(("127.0.0.1", d.ports["irc"]), timeout=5)  # the 4th
        irc.sendall(b"PING :x\r\n")
        assert irc.recv(4096), "the IRC connection within the allowance is served"
        over = _dial(port)
        assert _refused(over), "a 5th connection from the same address is closed at accept"
        over.close()
        # Another address has its own allowance; UDP is not connection-counted.
        other = _dial(port, "127.0.0.2")
        assert _options_over(other, "other").startswith("SIP/2.0 200 ")
        other.close()
        ua = UdpUa(port)
        assert status(ua.transact(ua.request("OPTIONS", "sip:localhost"))) == 200
        # Closing connections gives their counts back (libre gives no event: the stack's
        # sweep notices within a few seconds).
        for c in held[:2]:
            c.close()
        deadline = time.monotonic() + 10
        while True:
            again = _dial(port)
            try:
                served = _options_over(again, "again").startswith("SIP/2.0 200 ")
            except (ConnectionResetError, BrokenPipeError):
                served = False
            again.close()
            if served:
                break
            assert time.monotonic() < deadline, "closed SIP connections still count"
            time.sleep(0.5)
        for c in held[2:]:
            c.close()
        irc.close()
        assert d.running()
        assert "not interposed" not in d.log()


def test_tls_transport():
    import ssl
    cfg = sip_config()
    tls_port = h.free_port()
    cfg["sip"]["listen"].append(f"tls:127.0.0.1:{tls_port}")
    with h.Parleyd(cfg) as d:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the generated self-signed certificate
        with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as c:
            assert c.getpeercert(binary_form=True)  # the server's certificate
            c.sendall(b"REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKtls1\r\n"
                      b"From: <sip:alice@localhost>;tag=1\r\nTo: <sip:alice@localhost>\r\nCall-ID: tls1\r\n"
                      b"CSeq: 1 REGISTER\r\nContact: <sip:alice@127.0.0.1:1;transport=tls>\r\n"
                      b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
            data = c.recv(65536).decode()
            assert data.startswith("SIP/2.0 401 ") and "WWW-Authenticate: Digest" in data, data


def test_message_rules():
    with h.Parleyd(sip_config(max_message=100)) as d:
        port = d.ports["sip"]
        bob = irc_login(d.ports["irc"], "bob", "bobpw")
        ua = UdpUa(port)
        assert status(register(ua, "alicepw")) == 200

        def message(body: bytes, ctype="text/plain;charset=UTF-8", to="bob", password="alicepw"):
            hdrs = [f"Content-Type: {ctype}"]
            r = ua.transact(ua.request("MESSAGE", f"sip:{to}@localhost", hdrs, body, to_user=to))
            if status(r) != 401:
                return r
            ch = [c for c in challenges(r) if c.get("algorithm") == "MD5"][0]
            return ua.transact(ua.request("MESSAGE", f"sip:{to}@localhost",
                                          hdrs + [authorization(ch, "alice", password, "MESSAGE",
                                                                f"sip:{to}@localhost")], body, to_user=to))

        # Unauthenticated: challenged, never delivered.
        r = ua.transact(ua.request("MESSAGE", "sip:bob@localhost", ["Content-Type: text/plain"], b"sneaky",
                                   to_user="bob"))
        assert status(r) == 401, r
        assert status(message(b"x", ctype="text/html")) == 415
        assert status(message(b"x" * 101)) == 413
        assert status(message(b"hi", to="nobody")) == 404
        assert status(message(b"hi", password="bad")) == 403
        assert status(message(b"\xff\xfe")) == 400
        # CR/LF and IRC commands in the body never become IRC lines of their own.
        r = message(b"line one\r\nQUIT :pwned\r\nline three")
        assert status(r) == 200, r
        bob.expect(r"PRIVMSG bob :line one$")
        bob.expect(r"PRIVMSG bob :QUIT :pwned$")
        bob.expect(r"PRIVMSG bob :line three$")
        assert not any("sneaky" in l or l.startswith("QUIT") for l in bob.lines), bob.lines


def test_failed_delivery_reaches_the_sender():
    with h.Parleyd(sip_config()) as d:
        bob = irc_login(d.ports["irc"], "bob", "bobpw")
        ua = UdpUa(d.ports["sip"])
        assert status(register(ua, "alicepw")) == 200
        bob.send("PRIVMSG alice :are you there")
        # The UA answers the MESSAGE with 486 Busy Here: bob is told (RFC 7572 §5).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            req = ua.recv(1)
            if req and req.startswith("MESSAGE "):
                assert "are you there" in req and "Content-Type: text/plain" in req, req
                head = req.split("\r\n\r\n", 1)[0].split("\r\n")
                keep = [l for l in head if l.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
                ua.send(("SIP/2.0 486 Busy Here\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode())
                break
        else:
            raise AssertionError("no MESSAGE reached the UA")
        bob.expect(r"NOTICE bob :Message \S+ could not be delivered: SIP 486 Busy Here")


def test_hostile_input_keeps_serving():
    with h.Parleyd(sip_config(max_request=2048)) as d:
        port = d.ports["sip"]
        ua = UdpUa(port)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(30):  # garbage datagrams: dropped
            s.sendto(os.urandom(1 + i * 37), ("127.0.0.1", port))
        s.sendto(b"REGISTER sip:localhost SIP/2.0\r\nContent-Length: 99999\r\n\r\n", ("127.0.0.1", port))
        s.sendto(b"INVITE\r\n\r\n", ("127.0.0.1", port))
        # Oversized: 413 (or dropped), never a crash.
        big = ua.request("OPTIONS", "sip:localhost", ["X-Pad: " + "a" * 4000])
        ua.send(big)
        r = ua.recv(2)
        assert r is None or status(r) == 413, r
        # Missing mandatory headers: 400 or dropped.
        ua.send(b"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n"
                b"Content-Length: 0\r\n\r\n")
        r = ua.recv(1)
        assert r is None or status(r) in (400,), r
        # Unknown method: 405; SUBSCRIBE without an Event header: 489 (RFC 6665 §8.2.1).
        assert status(ua.transact(ua.request("INVITE", "sip:alice@localhost"))) == 405
        assert status(ua.transact(ua.request("SUBSCRIBE", "sip:alice@localhost"))) == 489
        # Still serving.
        assert status(ua.transact(ua.request("OPTIONS", "sip:localhost"))) == 200
        assert d.running()


def test_register_flood_is_bounded():
    with h.Parleyd(sip_config(requests_per_second=5)) as d:
        port = d.ports["sip"]
        ua = UdpUa(port)
        for _ in range(300):
            ua.send(ua.request("REGISTER", "sip:localhost", [f"Contact: <sip:alice@127.0.0.1:{ua.local}>"]))
        answers = 0
        while ua.recv(0.5) is not None:
            answers += 1
        # burst 10 plus 5/s while the flood lasted: far fewer than 300.
        assert answers <= 30, answers
        time.sleep(2.5)
        assert status(ua.transact(ua.request("OPTIONS", "sip:localhost"))) == 200
        assert d.running()


def test_xmpp_user_and_sip_ua_exchange_messages_and_errors():
    try:
        import asyncio
        import xmpp_client as xc
    except ImportError:
        raise h.Skip("slixmpp missing")
    if xc.slixmpp is None:
        raise h.Skip("slixmpp missing")

    class Client(xc.BaseClient):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.inbox = asyncio.Queue()
            self.add_event_handler("message", lambda m: self.inbox.put_nowait(m))
            self.add_event_handler("message_error", lambda m: self.inbox.put_nowait(m))

    cfg = h.config(xmpp=True, sip=True, accounts=[("alice", "alicepw"), ("carol", "carolpw")])
    cfg["sip"]["digest_algorithms"] = ["MD5", "SHA-256"]
    with h.Parleyd(cfg) as d:
        carol = xc.login(Client, d.ports["xmpp"], "carol@localhost/t", "carolpw", timeout=20)
        ua = UdpUa(d.ports["sip"])
        assert status(register(ua, "alicepw")) == 200

        def answer(code: str) -> str:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                xc.run(asyncio.sleep(0.2))
                req = ua.recv(0.3)
                if req and req.startswith("MESSAGE "):
                    head = req.split("\r\n\r\n", 1)[0].split("\r\n")
                    keep = [l for l in head if l.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
                    ua.send((f"SIP/2.0 {code}\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode())
                    return req
            raise AssertionError("no MESSAGE reached the UA")

        # XMPP -> SIP: a MESSAGE from sip:carol@localhost, answered 200.
        carol.send_message(mto="alice@localhost", mbody="hi from xmpp", mtype="chat")
        req = answer("200 OK")
        assert "hi from xmpp" in req and "From: <sip:carol@localhost>" in req, req
        assert req.count("Max-Forwards:") == 1, req  # libre writes one; a proxy refuses two
        # The UA answers the next one 404: carol gets <message type='error'/> (RFC 7572 §5).
        m = carol.make_message(mto="alice@localhost", mbody="are you there", mtype="chat")
        m["id"] = "m-404"
        m.send()
        answer("404 Not Found")
        err = xc.run(xc.next_where(carol.inbox, lambda x: x["type"] == "error"), 10)
        assert err["id"] == "m-404" and err["error"]["condition"] == "item-not-found", err
        # SIP -> XMPP.
        r = ua.transact(ua.request("MESSAGE", "sip:carol@localhost", ["Content-Type: text/plain"], b"x",
                                   to_user="carol"))
        ch = [c for c in challenges(r) if c.get("algorithm") == "SHA-256"][0]
        r = ua.transact(ua.request("MESSAGE", "sip:carol@localhost",
                                   ["Content-Type: text/plain",
                                    authorization(ch, "alice", "alicepw", "MESSAGE", "sip:carol@localhost")],
                                   "hi from sip <b>&amp;</b>".encode(), to_user="carol"))
        assert status(r) == 200, r
        got = xc.run(xc.next_where(carol.inbox, lambda x: x["type"] != "error" and x["body"]), 10)
        assert got["body"] == "hi from sip <b>&amp;</b>" and str(got["from"]).startswith("alice@localhost"), got
        xc.bye(carol)


if __name__ == "__main__":
    h.run_tests(globals())
