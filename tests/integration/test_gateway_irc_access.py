"""How the gateway's puppets present themselves to an IRC network, against a real ngircd
on loopback (issue 11):

- WEBIRC: a network with irc.networks[].webirc gets `WEBIRC password gateway host ip`
  first, and ngircd shows the XMPP user's address (the slixmpp client connects from
  127.0.0.2) instead of the gateway's (127.0.0.1); a network without it shows 127.0.0.1.
- identd (irc.identd): ngircd with Ident = yes asks port 113 of the puppet's address and
  shows the answer ("alice", no "~"); raw RFC 1413 queries get NO-USER for a connection the
  gateway does not own, INVALID-PORT, and hostile input (garbage, an endless line, idle
  connections, too many at once) is closed. ngircd always asks port 113, so this test binds
  127.0.0.1:113 (it runs as root in the test container) and is skipped if that is taken.
- TLS fingerprint pinning: ngircd serving TLS with a self-signed certificate made here;
  the right pin joins, a wrong one (and verification without a pin) is refused with a
  clear error presence, and nothing retries in a loop.
- irc.open_networks: a host that resolves to loopback is refused (not-allowed) unless
  irc.open_networks_allow_private is set.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_irc_access.py
"""
import asyncio
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import test_irc_gateway as g  # noqa: E402  (Ngircd, Client)
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, next_where, run  # noqa: E402

GW = "irc.localhost"


class Ngircd(g.Ngircd):
    """ngircd with the extras these tests need, in its own temp dir."""

    def __init__(self, webirc=None, ident=False, tls=False, password=None):
        super().__init__()
        self.tls_port = None
        self.fingerprint = None
        with open(self.conf) as f:
            conf = f.read()
        if ident:  # ngircd asks ident only along with its DNS lookups
            conf = conf.replace("\tDNS = no\n", "\tDNS = yes\n").replace("\tIdent = no\n", "\tIdent = yes\n")
        if webirc:
            conf += f"\tWebircPassword = {webirc}\n"
        if password:  # a server password ([Global]): a client without it gets ERROR
            conf = conf.replace("[Global]\n", f"[Global]\n\tPassword = {password}\n")
        if tls:
            self.tls_port = h.free_port()
            cert, key, self.fingerprint = h.self_signed_cert(self.tmp)
            os.chmod(key, 0o644)  # ngircd reads it after dropping to nobody
            os.chmod(self.tmp, 0o755)
            conf += f"[SSL]\n\tCertFile = {cert}\n\tKeyFile = {key}\n\tPorts = {self.tls_port}\n"
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        super().start()
        if self.tls_port:  # ready once the TLS port answers too (DH parameters take a moment)
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.5).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "ngircd's TLS port did not open"
                    time.sleep(0.1)
        return self


def network(name, port, **kw):
    n = {"name": name, "host": "127.0.0.1", "port": port, "tls": False, "throttle": {"burst": 20, "interval_ms": 100}}
    n.update(kw)
    return n


def config(networks, **irc_extra):
    return h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw")],
                    irc_extra={"networks": networks, **irc_extra})


def login_from(source_ip, port, jid, password):
    """A slixmpp login whose TCP connection comes from source_ip (any 127/8 address works
    on Linux loopback): the address parleyd sees, and WEBIRC passes on."""
    orig = LOOP.create_connection

    async def from_source(*a, **kw):
        kw.setdefault("local_addr", (source_ip, 0))
        return await orig(*a, **kw)

    LOOP.create_connection = from_source
    try:
        return xc.login(g.Client, port, jid, password)
    finally:
        del LOOP.create_connection  # the loop's own method again


def join_error(alice, room):
    """Joins room (a MUC presence with <x/>) and returns the error presence it gets."""
    alice.plugin["xep_0045"].join_muc(room, "alice")
    return run(next_where(alice.errors, lambda p: p["from"].bare == room.split("/")[0]), timeout=20)


def whois_host(bob, nick):
    bob.send(f"WHOIS {nick}")
    line = bob.expect(rf" 311 bob {nick} ")
    bob.expect(rf" 318 bob {nick} ")
    return line.split()[5], line.split()[4]  # host, user


def test_webirc_passes_the_xmpp_users_address():
    net = Ngircd(webirc="w3bpass").start()
    try:
        cfg = config([network("web", net.port, webirc={"password": "w3bpass", "gateway": "parleygw"}),
                      network("plain", net.port)])
        with h.Parleyd(cfg) as d:
            bob = xc.LoopIrc(net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            alice = login_from("127.0.0.2", d.ports["xmpp"], "alice@localhost/x", "alicepw")
            muc = alice.plugin["xep_0045"]
            run(muc.join_muc_wait(f"#test%web@{GW}", "alice", maxstanzas=0))
            # ngircd takes the host from WEBIRC (and, its own reading, the user from the
            # gateway field): the network sees 127.0.0.2, the XMPP client's address
            bob.expect(r"^:alice!\S+@127\.0\.0\.2 JOIN :?#test")
            assert whois_host(bob, "alice")[0] == "127.0.0.2"
            # the same user through a network without webirc: the gateway's own address
            run(muc.join_muc_wait(f"#test%plain@{GW}", "alice2", maxstanzas=0))
            bob.expect(r"^:alice2!\S+@127\.0\.0\.1 JOIN :?#test")
            assert whois_host(bob, "alice2")[0] == "127.0.0.1"
            xc.bye(alice)
            bob.c.close()
    finally:
        net.close()


def port_113_free():
    try:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 113))
        return True
    except OSError:
        return False


def ident_query(line, timeout=5):
    """Sends one raw line to the identd; returns what it answered before closing."""
    with socket.create_connection(("127.0.0.1", 113), timeout=timeout) as s:
        s.sendall(line)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data.decode()
            data += chunk


def puppet_local_port(net_port, exclude):
    """The local port of parleyd's connection to ngircd (loopback, from /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for row in f.readlines()[1:]:
            local, remote, st = row.split()[1:4]
            lport, rport = int(local.split(":")[1], 16), int(remote.split(":")[1], 16)
            if rport == net_port and st == "01" and lport not in exclude:
                return lport
    raise AssertionError("no puppet connection found")


def test_identd_answers_for_puppets_only():
    if not port_113_free():
        raise h.Skip("127.0.0.1:113 is taken: ngircd asks ident on port 113 only")
    net = Ngircd(ident=True).start()
    try:
        cfg = config([network("local", net.port)],
                     identd={"listen": ["127.0.0.1:113"], "max_connections": 3, "timeout": 2})
        with h.Parleyd(cfg) as d:
            bob = xc.LoopIrc(net.port, "bob")  # bob has no identd answer for him: "~bob"
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            alice = xc.login(g.Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            run(alice.plugin["xep_0045"].join_muc_wait(f"#test%local@{GW}", "alice", maxstanzas=0))
            # ngircd asked our identd and believed it: "alice", not "~alice"
            bob.expect(r"^:alice!alice@\S+ JOIN :?#test")
            assert whois_host(bob, "alice")[1] == "alice"
            assert whois_host(bob, "bob")[1] == "~bob"

            # raw RFC 1413 queries, as ngircd sends them
            bob_port = bob.c.sock.getsockname()[1]
            pport = puppet_local_port(net.port, {bob_port})
            assert ident_query(f"{pport} , {net.port}\r\n".encode()) == \
                f"{pport} , {net.port} : USERID : UNIX : alice\r\n"
            assert ident_query(f" {pport},{net.port}\n".encode()).endswith(" : USERID : UNIX : alice\r\n")
            # a connection the gateway does not own, the right ports swapped, a bad port
            assert ident_query(f"{bob_port} , {net.port}\r\n".encode()) == \
                f"{bob_port} , {net.port} : ERROR : NO-USER\r\n"
            assert "NO-USER" in ident_query(f"{net.port} , {pport}\r\n".encode())
            assert ident_query(b"0 , 70000\r\n") == "0 , 0 : ERROR : INVALID-PORT\r\n"
            # hostile input: closed without an answer
            assert ident_query(b"GET / HTTP/1.0\r\n") == ""
            assert ident_query(b"1 , 2 : USERID : UNIX : root\r\n") == ""
            assert ident_query(b"9" * 5000) == ""  # no line end within 1000 bytes
            # an idle connection is closed after irc.identd.timeout (2 s)
            with socket.create_connection(("127.0.0.1", 113), timeout=6) as s:
                t0 = time.monotonic()
                assert s.recv(10) == b""
                assert 1.5 <= time.monotonic() - t0 < 5.5
            # at most max_connections (3) at once: the 4th is closed at accept
            idle = [socket.create_connection(("127.0.0.1", 113), timeout=5) for _ in range(3)]
            time.sleep(0.3)  # the accepts reach the core strand (nothing to await on the wire)
            with socket.create_connection(("127.0.0.1", 113), timeout=1.5) as extra:
                try:  # closed unread: a reset, or an end of stream if it came first
                    extra.sendall(f"{pport} , {net.port}\r\n".encode())
                    assert extra.recv(100) == b""
                except ConnectionResetError:
                    pass
            for s in idle:
                s.close()
            # and it still answers afterwards, once it has seen those three close (until then a
            # new connection is still over the bound and is reset: bounded retry)
            deadline = time.monotonic() + 5
            while True:
                try:
                    answer = ident_query(f"{pport} , {net.port}\r\n".encode())
                    if answer:  # an empty answer is the same refusal, closed before our line arrived
                        break
                except ConnectionResetError:
                    pass
                assert time.monotonic() < deadline, "identd never accepted again after the idle ones closed"
                time.sleep(0.1)
            assert answer.endswith(": alice\r\n"), answer
            xc.bye(alice)
            bob.c.close()
    finally:
        net.close()


def test_tls_fingerprint_pinning():
    net = Ngircd(tls=True).start()
    try:
        wrong = ":".join(["00"] * 32)
        cfg = config([network("pinned", net.tls_port, tls=True, verify=False, fingerprint=net.fingerprint),
                      network("wrongpin", net.tls_port, tls=True, verify=False, fingerprint=wrong),
                      network("verified", net.tls_port, tls=True)])
        with h.Parleyd(cfg) as d:
            bob = xc.LoopIrc(net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            alice = xc.login(g.Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            muc = alice.plugin["xep_0045"]
            run(muc.join_muc_wait(f"#test%pinned@{GW}", "alice", maxstanzas=0), timeout=20)
            bob.expect(r"^:alice!\S+ JOIN :?#test")
            alice.send_message(mto=f"#test%pinned@{GW}", mbody="over pinned tls", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG #test :over pinned tls$")

            mark = d.mark()
            p = join_error(alice, f"#test%wrongpin@{GW}/alice")
            assert p["error"]["condition"] == "remote-server-not-found", p
            assert "is not the pinned" in p["error"]["text"], p
            assert "0000000000" in p["error"]["text"], p
            # refused once, not retried in a loop: 3 s later still one attempt
            LOOP.run_until_complete(asyncio.sleep(3))
            tries = [l for l in d.log().splitlines()[mark:] if "is not the pinned" in l]
            assert len(tries) == 1, tries

            p = join_error(alice, f"#test%verified@{GW}/alice")
            assert p["error"]["condition"] == "remote-server-not-found", p
            assert "not trusted" in p["error"]["text"], p
            xc.bye(alice)
            bob.c.close()
    finally:
        net.close()


def test_a_refused_registration_is_told_not_retried():
    """A network that refuses the puppet's registration (here a server password the gateway
    does not have: ngircd answers ERROR) is not retried for ever without a word: the join
    fails with the server's reason, a private message gets an error, nothing loops."""
    net = Ngircd(password="letmein").start()
    try:
        with h.Parleyd(config([network("closed", net.port)])) as d:
            alice = xc.login(g.Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            merrors = asyncio.Queue()
            alice.add_event_handler("message_error", lambda m: merrors.put_nowait(m))
            p = join_error(alice, f"#test%closed@{GW}/alice")
            assert p["error"]["condition"] == "not-authorized", p
            assert "refused the connection" in p["error"]["text"], p
            alice.send_message(mto=f"bob%closed@{GW}", mbody="hello?", mtype="chat")
            m = run(next_where(merrors, lambda m: True), timeout=20)
            assert m["error"]["condition"] == "not-authorized", m
            assert "refused the connection" in m["error"]["text"], m
            LOOP.run_until_complete(asyncio.sleep(3))
            tries = [l for l in d.log().splitlines() if "registration failed" in l]
            assert len(tries) == 2, tries  # one for the join, one for the private message
            xc.bye(alice)
    finally:
        net.close()


def test_open_networks_refuse_internal_hosts():
    cfg = config([], open_networks=True)
    with h.Parleyd(cfg) as d:
        alice = xc.login(g.Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
        for host in ("127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254"):
            p = join_error(alice, f"#x%{host}@{GW}/alice")
            assert p["error"]["condition"] == "not-allowed", (host, p)
            assert "not a public address" in p["error"]["text"], (host, p)
            assert "open_networks_allow_private" in p["error"]["text"], (host, p)
        log = d.log()
        assert "-> 10.1.2.3:6697: 10.1.2.3 resolves to 10.1.2.3, not a public address" in log, log
        xc.bye(alice)
    # allowed: the same host is tried (nothing listens on 127.0.0.1:6697 TLS here, or
    # something that is not this IRC network: either way it is not the policy's refusal)
    with h.Parleyd(config([], open_networks=True, open_networks_allow_private=True)) as d:
        alice = xc.login(g.Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
        p = join_error(alice, f"#x%127.0.0.1@{GW}/alice")
        assert p["error"]["condition"] == "remote-server-not-found", p
        assert "not a public address" not in p["error"]["text"], p
        xc.bye(alice)


if __name__ == "__main__":
    only = set(sys.argv[1:])  # test names to run; none: all
    h.run_tests({k: v for k, v in globals().items() if not only or k in only})
