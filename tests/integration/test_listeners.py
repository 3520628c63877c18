#!/usr/bin/env python3
"""Listener sets (adapters/common/listener_set.*): the TLS certificate is checked at start and
reloaded on SIGHUP for every plugin's listeners.

- After the certificate files are replaced and parleyd gets SIGHUP, a new XMPP STARTTLS
  connection, a new XMPP direct-TLS connection and a new IRC TLS connection are served the new
  certificate, while an IRC TLS session and an XMPP STARTTLS stream opened before stay up.
- A listen address added to the config is bound on SIGHUP, one removed is closed.
- parleyd refuses to start, with a message naming the file, when the XMPP certificate is
  unreadable.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

HEADER = (b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")


def make_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed EC certificate for localhost, in name.crt / name.key."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", f"/CN=localhost/O={name}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


def fingerprint_of_file(cert: Path) -> str:
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return hashlib.sha256(der).hexdigest()


def client_ctx() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def fingerprint(s: ssl.SSLSocket) -> str:
    return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def read_until(s, marker: bytes, timeout: float = 5) -> bytes:
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} in {data[-300:]!r}")
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError(f"closed before {marker!r}: {data[-300:]!r}")
        data += chunk
    return data


def xmpp_starttls(port: int) -> ssl.SSLSocket:
    """Opens a stream, negotiates STARTTLS (RFC 6120 §5.4) and returns the TLS socket."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.sendall(HEADER)
    read_until(raw, b"</stream:features>")
    raw.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    read_until(raw, b"<proceed")
    return client_ctx().wrap_socket(raw, server_hostname="localhost")


def xmpp_restart(s: ssl.SSLSocket) -> bytes:
    """The stream restart after TLS: the server answers with SASL features."""
    s.sendall(HEADER)
    return read_until(s, b"</stream:features>")


def tls_connect(port: int) -> ssl.SSLSocket:
    return client_ctx().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                    server_hostname="localhost")


def irc_register(s, nick: str) -> None:
    s.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    read_until(s, b" 001 ")


def irc_ping(s, token: str) -> None:
    s.sendall(f"PING :{token}\r\n".encode())
    read_until(s, token.encode())


def test_sighup_reloads_the_certificate_for_new_connections():
    cfg = h.config(irc=True, xmpp=True)
    irc_tls, xmpp_tls = h.free_port(), h.free_port()
    cfg["irc"]["listen"].append(f"tls:127.0.0.1:{irc_tls}")
    cfg["xmpp"]["c2s"]["listen"].append(f"tls:127.0.0.1:{xmpp_tls}")
    d = h.Parleyd(cfg)
    try:
        old_cert, old_key = make_pair(d.workdir, "old")
        new_cert, new_key = make_pair(d.workdir, "new")
        live_cert, live_key = d.workdir / "server.crt", d.workdir / "server.key"
        live_cert.write_bytes(old_cert.read_bytes())
        live_key.write_bytes(old_key.read_bytes())
        cfg["xmpp"]["c2s"]["tls"] = {"cert": str(live_cert), "key": str(live_key)}
        h.write_config(d.config_path, cfg)
        old_fp, new_fp = fingerprint_of_file(old_cert), fingerprint_of_file(new_cert)
        assert old_fp != new_fp
        with d:
            # Sessions opened before the reload.
            irc_old = tls_connect(irc_tls)
            assert fingerprint(irc_old) == old_fp
            irc_register(irc_old, "early")
            xmpp_old = xmpp_starttls(d.ports["xmpp"])
            assert fingerprint(xmpp_old) == old_fp
            with tls_connect(xmpp_tls) as s:
                assert fingerprint(s) == old_fp

            # Renew in place, then SIGHUP.
            live_cert.write_bytes(new_cert.read_bytes())
            live_key.write_bytes(new_key.read_bytes())
            mark = d.mark()
            d.signal(signal.SIGHUP)
            d.wait_for_log(rf"TLS: loaded certificate {live_cert}", after=mark)
            d.wait_for_log(r"configuration reloaded", after=mark)

            # New connections see the new certificate on every kind of TLS listener.
            with tls_connect(irc_tls) as s:
                assert fingerprint(s) == new_fp, "IRC TLS after SIGHUP"
                irc_register(s, "late")
            s = xmpp_starttls(d.ports["xmpp"])
            try:
                assert fingerprint(s) == new_fp, "XMPP STARTTLS after SIGHUP"
                assert b"<mechanisms" in xmpp_restart(s)
            finally:
                s.close()
            with tls_connect(xmpp_tls) as s:
                assert fingerprint(s) == new_fp, "XMPP direct TLS after SIGHUP"
                s.sendall(HEADER)
                assert b"<mechanisms" in read_until(s, b"</stream:features>")

            # The sessions from before are still up, on the old certificate.
            irc_ping(irc_old, "still-here")
            assert fingerprint(irc_old) == old_fp
            assert b"<mechanisms" in xmpp_restart(xmpp_old)
            irc_old.close()
            xmpp_old.close()

            # A key that does not match the certificate: logged, the running pair stays.
            live_key.write_bytes(old_key.read_bytes())
            mark = d.mark()
            d.signal(signal.SIGHUP)
            d.wait_for_log(r"TLS: .*key .*server\.key.*keeping the previous certificate", after=mark)
            d.wait_for_log(r"configuration reloaded", after=mark)
            with tls_connect(irc_tls) as s:
                assert fingerprint(s) == new_fp
    finally:
        d.close()


def test_sighup_rebinds_changed_listen_addresses():
    cfg = h.config(irc=True, xmpp=True)
    added = h.free_port()
    with h.Parleyd(cfg) as d:
        old_irc = d.ports["irc"]
        cfg["irc"]["listen"] = [f"127.0.0.1:{added}"]
        h.write_config(d.config_path, cfg)
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_for_log(rf"irc: listening on 127\.0\.0\.1:{added}", after=mark)
        d.wait_for_log(rf"irc: no longer listening on 127\.0\.0\.1:{old_irc}", after=mark)
        with h.LineClient(added) as c:
            c.send("NICK moved")
            c.send("USER moved 0 * :moved")
            c.expect(r" 001 moved ")
        try:
            socket.create_connection(("127.0.0.1", old_irc), timeout=2).close()
            raise AssertionError("the removed IRC address still accepts connections")
        except ConnectionRefusedError:
            pass


def test_unreadable_xmpp_certificate_refuses_to_start():
    cfg = h.config(xmpp=True)
    d = h.Parleyd(cfg)
    try:
        cert, key = make_pair(d.workdir, "pair")
        os.chmod(cert, 0)
        if os.access(cert, os.R_OK):  # root reads anything: use a missing file instead
            cert = d.workdir / "missing.crt"
        cfg["xmpp"]["c2s"]["tls"] = {"cert": str(cert), "key": str(key)}
        h.write_config(d.config_path, cfg)
        r = subprocess.run([h.PARLEYD, "--config", str(d.config_path)], cwd=d.workdir, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode != 0, r.stderr
        assert f"cannot load certificate {cert}" in r.stderr, r.stderr
        assert "parleyd ready" not in r.stderr
    finally:
        d.close()


if __name__ == "__main__":
    h.run_tests(globals())
