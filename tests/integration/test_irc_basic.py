"""IRC listener end to end with raw sockets: register, join, talk, part, quit; two clients in
one channel; error numerics; a flooder is disconnected while another client is unaffected;
SASL PLAIN login of a seeded account; an overlong line gets 417 and the connection lives."""
import base64
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parley_harness as h  # noqa: E402


def register(port, nick, caps=None):
    c = h.LineClient(port)
    if caps:
        c.send("CAP LS 302")
        c.send("CAP REQ :" + caps)
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :Real {nick}")
    if caps:
        c.expect(r"CAP \S+ ACK")
        c.send("CAP END")
    c.expect(rf" 001 {nick} ")
    c.expect(r" (376|422) ")
    return c


def test_register_join_talk_part_quit():
    with h.Parleyd(h.config(irc=True, irc_extra={"server_name": "irc.test", "motd": "hello\nworld"})) as d:
        port = d.ports["irc"]
        a = register(port, "ann")
        assert any(" 005 ann " in l and "CASEMAPPING=ascii" in l for l in a.lines)
        assert any(" 372 ann :- world" in l for l in a.lines)
        b = register(port, "bea")
        a.send("JOIN #dev")
        a.expect(r"^:ann!~ann@127\.0\.0\.1 JOIN #dev$")
        a.expect(r" 353 ann = #dev :@ann$")
        a.expect(r" 366 ann #dev ")
        b.send("JOIN #dev")
        b.expect(r" 353 bea = #dev :")
        a.expect(r"^:bea!~bea@\S+ JOIN #dev$")
        a.send("PRIVMSG #dev :hello bea \u00e9")
        b.expect(r"^:ann!~ann@\S+ PRIVMSG #dev :hello bea \u00e9$")
        b.send("PRIVMSG ann :private hi")
        a.expect(r"^:bea!\S+ PRIVMSG ann :private hi$")
        a.send("PING :tok")
        a.expect(r"PONG irc\.test :tok")
        b.send("PART #dev :later")
        a.expect(r"^:bea!\S+ PART #dev :later$")
        b.send("QUIT :bye")
        b.expect(r"^ERROR :Closing Link")
        assert b.read_line(5) is None  # closed by the server
        a.send("JOIN #other")
        a.expect(r"JOIN #other")
        a.send("QUIT")
        a.expect(r"^ERROR ")
        a.close()


def test_error_numerics():
    with h.Parleyd(h.config(irc=True, accounts=[("alice", "alicepw")])) as d:
        c = h.LineClient(d.ports["irc"])
        c.send("JOIN #x")
        c.expect(r" 451 \* ")
        c.send("NICK 9nine")
        c.expect(r" 432 \* 9nine ")
        c.send("NICK guest1")
        c.send("USER g 0 * :G")
        c.expect(r" 001 guest1 ")
        c.send("NOSUCHCMD")
        c.expect(r" 421 guest1 NOSUCHCMD ")
        c.send("JOIN")
        c.expect(r" 461 guest1 JOIN ")
        c.send("PRIVMSG nobody :x")
        c.expect(r" 401 guest1 nobody ")
        c.send("PRIVMSG #none :x")
        c.expect(r" 403 guest1 #none ")
        c.send("NICK alice")  # an account name: reserved for its owner
        c.expect(r" 433 guest1 alice ")
        c.send("OPER x y")
        c.expect(r" 491 guest1 ")
        c.send("KILL alice :x")
        c.expect(r" 481 guest1 ")
        c.send("PRIVMSG #x :" + "y" * 600)
        c.expect(r" 417 guest1 ")
        c.send("PING :still-here")
        c.expect(r"PONG \S+ :still-here")
        c.close()


def test_flood_is_disconnected_others_unaffected():
    cfg = h.config(irc=True, irc_extra={"flood_burst": 10, "flood_interval_ms": 1000, "recvq": 9000})
    with h.Parleyd(cfg) as d:
        port = d.ports["irc"]
        calm = register(port, "calm")
        calm.send("JOIN #room")
        calm.expect(r"366 calm #room")
        flooder = register(port, "flood")
        flooder.send("JOIN #room")
        flooder.expect(r"366 flood #room")
        payload = "".join(f"PRIVMSG #room :flood line {i}\r\n" for i in range(2000)).encode()
        try:
            flooder.sock.sendall(payload)
        except OSError:
            pass
        flooder.expect(r"^ERROR :Closing Link: \S+ \(Excess Flood\)", timeout=15)
        calm.expect(r"QUIT :Excess Flood", timeout=10)
        received = sum(1 for l in calm.lines if "flood line" in l)
        assert received <= 12, received  # the burst, never the whole flood
        t0 = time.monotonic()
        calm.send("PING :alive")
        calm.expect(r"PONG \S+ :alive")
        assert time.monotonic() - t0 < 2
        calm.close()


def test_sasl_plain_login():
    with h.Parleyd(h.config(irc=True, accounts=[("alice", "alicepw")], irc_extra={"guests": False})) as d:
        port = d.ports["irc"]
        c = h.LineClient(port)
        c.send("CAP LS 302")
        c.expect(r"CAP \* LS :.*sasl=PLAIN,SCRAM-SHA-256")
        c.send("NICK alice")
        c.send("USER alice 0 * :Alice")
        c.send("CAP REQ :sasl")
        c.expect(r"CAP alice ACK :sasl")
        c.send("AUTHENTICATE PLAIN")
        c.expect(r"^AUTHENTICATE \+$")
        c.send("AUTHENTICATE " + base64.b64encode(b"\0alice\0alicepw").decode())
        c.expect(r" 900 alice \S+ alice :")
        c.expect(r" 903 alice ")
        c.send("CAP END")
        c.expect(r" 001 alice ")
        c.send("WHOIS alice")
        c.expect(r" 330 alice alice alice :is logged in as")
        # A guest is refused on this server.
        g = h.LineClient(port)
        g.send("NICK guest")
        g.send("USER g 0 * :G")
        g.expect(r" 464 ")
        g.expect(r"^ERROR ")
        g.close()
        # A wrong password fails with 904.
        w = h.LineClient(port)
        w.send("CAP REQ :sasl")
        w.send("NICK alice2")
        w.send("USER a 0 * :A")
        w.send("AUTHENTICATE PLAIN")
        w.expect(r"^AUTHENTICATE \+$")
        w.send("AUTHENTICATE " + base64.b64encode(b"\0alice\0bad").decode())
        w.expect(r" 904 ")
        w.close()
        c.close()


def test_sasl_scram_sha256():
    import hashlib
    import hmac
    import os
    with h.Parleyd(h.config(irc=True, accounts=[("alice", "alicepw")])) as d:
        c = h.LineClient(d.ports["irc"])
        c.send("CAP REQ :sasl")
        c.send("NICK alice")
        c.send("USER alice 0 * :Alice")
        c.expect(r"ACK :sasl")
        c.send("AUTHENTICATE SCRAM-SHA-256")
        c.expect(r"^AUTHENTICATE \+$")
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=alice,r={nonce}"
        c.send("AUTHENTICATE " + base64.b64encode(("n,," + first_bare).encode()).decode())
        server_first = base64.b64decode(c.expect(r"^AUTHENTICATE \S+$").split()[1]).decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", b"alicepw", base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        final_wo = f"c=biws,r={attrs['r']}"
        auth_msg = f"{first_bare},{server_first},{final_wo}".encode()
        sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        c.send("AUTHENTICATE " + base64.b64encode(f"{final_wo},p={base64.b64encode(proof).decode()}".encode()).decode())
        server_final = base64.b64decode(c.expect(r"^AUTHENTICATE \S+$").split()[1]).decode()
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        assert server_final == "v=" + base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256).digest()).decode()
        c.send("AUTHENTICATE +")
        c.expect(r" 903 alice ")
        c.send("CAP END")
        c.expect(r" 001 alice ")
        c.close()


def test_tls_listener():
    import socket
    import ssl
    plain, tls_port = h.free_port(), h.free_port()
    cfg = h.config(irc=True, irc_extra={"listen": [f"127.0.0.1:{plain}", f"tls:127.0.0.1:{tls_port}"]})
    with h.Parleyd(cfg) as d:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # parleyd's generated self-signed certificate
        raw = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
        s = ctx.wrap_socket(raw)
        s.sendall(b"NICK sec\r\nUSER sec 0 * :Secure\r\nWHOIS sec\r\n")
        data = b""
        deadline = time.monotonic() + 10
        while b" 318 " not in data and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        text = data.decode()
        assert " 001 sec " in text, text
        assert " 671 sec sec :is using a secure connection" in text, text
        s.close()
        c = register(plain, "plainuser")  # the plain listener works alongside
        c.close()


if __name__ == "__main__":
    h.run_tests(globals())
