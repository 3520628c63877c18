"""Memory per idle authenticated XMPP session (issue 4 target: at most 16 KiB).

Opens N raw c2s sessions (STARTTLS, SASL PLAIN, bind, initial presence; or direct TLS
with --direct-tls) to a fresh parleyd, lets them sit idle, and reports the daemon's RSS
growth divided by N. Not a ctest test (it wants a Release build); run:

  cmake -S . -B build-xmpp2-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARLEY_SANITIZE=OFF -DPARLEY_TESTS=OFF
  cmake --build build-xmpp2-rel --target parleyd -j2
  PARLEYD=build-xmpp2-rel/parleyd /usr/bin/python3 tests/integration/xmpp_idle_memory.py 300
"""
import base64
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

HEADER = ("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>").encode()


def read_until(s, marker, buf=b""):
    deadline = time.monotonic() + 10
    while marker not in buf:
        if time.monotonic() > deadline:
            raise AssertionError(f"timeout waiting for {marker!r}; got {buf[-300:]!r}")
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"closed waiting for {marker!r}; got {buf[-300:]!r}")
        buf += chunk
    return buf


def session(port, user, password, i, direct_tls=False):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    if direct_tls:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    else:
        raw.sendall(HEADER)
        read_until(raw, b"</stream:features>")
        raw.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        read_until(raw, b"<proceed")
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(HEADER)
    read_until(s, b"</stream:features>")
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    s.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode())
    read_until(s, b"<success")
    s.sendall(HEADER)
    read_until(s, b"</stream:features>")
    s.sendall(f"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r{i}</resource>"
              f"</bind></iq>".encode())
    read_until(s, b"</iq>")
    s.sendall(b"<presence/>")
    read_until(s, b"<presence")
    return s


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def measure(n, direct_tls=False, users=10):
    accounts = [(f"user{k}", f"pw{k}") for k in range(users)]
    cfg = h.config(xmpp=True, accounts=accounts, log_level="info")
    cfg["server"]["connections"] = {"per_address": 0, "rate": 0}  # every client is 127.0.0.1
    if direct_tls:
        port = h.free_port()
        cfg["xmpp"]["c2s"]["listen"] = [f"tls:127.0.0.1:{port}"]
    with h.Parleyd(cfg) as d:
        port = port if direct_tls else d.ports["xmpp"]
        pid = d.proc.pid
        # warm up: one session of each kind (TLS, SASL, allocator arenas), then close it
        for _ in range(2):
            session(port, *accounts[0], 999999, direct_tls).close()
        time.sleep(0.5)
        before = rss_kib(pid)
        socks = [session(port, *accounts[i % users], i, direct_tls) for i in range(n)]
        time.sleep(2)
        after = rss_kib(pid)
        for s in socks:
            s.close()
        per = (after - before) / n
        print(f"{'direct TLS' if direct_tls else 'STARTTLS'}: {n} idle sessions: RSS {before} -> {after} KiB, "
              f"{per:.1f} KiB per session", flush=True)
        return per


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    measure(n)
    measure(n, direct_tls=True)
