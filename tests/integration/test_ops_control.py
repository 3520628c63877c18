"""The control socket and `parleyd ctl` against a running daemon, with real clients.

An IRC client (raw socket) and an XMPP client (slixmpp) connect: `ctl status` counts them
per protocol, `ctl sessions` lists them, `ctl kick` ends the IRC session (the client gets
ERROR and the close), `ctl reload` reloads, `ctl account add` makes an account that logs in
at once, and `ctl metrics` passes `promtool check metrics` with counters that move when the
clients talk. Hostile: oversized and garbage requests, more idle connections than the
bound, a client that never reads its answer, and the socket's mode.
"""
import asyncio
import os
import re
import shutil
import select
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, next_where, slixmpp  # noqa: E402


def pump(seconds):
    LOOP.run_until_complete(asyncio.sleep(seconds))


def ctl(d, *words, input=None, ok=True):
    r = h.run_parleyd("ctl", "--config", str(d.config_path), *words, input=input, cwd=d.workdir)
    if ok:
        assert r.returncode == 0, (words, r.stdout, r.stderr)
    return r


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-z_]+)(?:\{([^}]*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return None


def raw(path, data: bytes, read=True, timeout=5.0) -> bytes:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(data)
    out = b""
    if read:
        try:
            while chunk := s.recv(65536):
                out += chunk
        except socket.timeout:
            pass
    s.close()
    return out


def cfg():
    c = h.config(irc=True, xmpp=True, accounts=[("bob", "bobpw")])
    c["server"]["control_socket"] = "./var/control"
    c["server"]["control_clients"] = 4
    return c


def test_ctl_against_real_clients():
    if slixmpp is None:
        raise h.Skip("slixmpp missing")

    class Client(xc.BaseClient):
        def __init__(self, jid, password):
            super().__init__(jid, password, plugins=("xep_0045",))
            self.messages = asyncio.Queue()
            self.add_event_handler("message", lambda m: self.messages.put_nowait(m))

    with h.Parleyd(cfg()) as d:
        path = str(d.workdir / "var" / "control")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert stat.S_ISSOCK(os.stat(path).st_mode) and mode == 0o660, oct(mode)

        bob = xc.login(Client, d.ports["xmpp"], "bob@localhost/ctl", "bobpw", timeout=20)
        irc = h.LineClient(d.ports["irc"])
        irc.send("NICK ann")
        irc.send("USER ann 0 * :Ann")
        irc.expect(r" 001 ann ")
        irc.send("JOIN #ops")
        irc.expect(r" 366 ann #ops ")

        st = ctl(d, "status").stdout
        assert re.search(r"^uptime \d+$", st, re.M), st
        assert re.search(r"^sessions 2$", st, re.M), st
        assert re.search(r"^sessions\.irc 1$", st, re.M), st
        assert re.search(r"^sessions\.xmpp 1$", st, re.M), st
        assert re.search(r"^rooms 1$", st, re.M), st

        rows = [line.split() for line in ctl(d, "sessions").stdout.splitlines()]
        by_proto = {r[1]: r for r in rows}
        assert set(by_proto) == {"irc", "xmpp"}, rows
        assert by_proto["irc"][2] == "ann" and by_proto["xmpp"][2] == "bob", rows
        assert by_proto["irc"][3] == "127.0.0.1", rows
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", by_proto["irc"][4]), rows

        # Messages move the counters: IRC -> XMPP and back.
        before = ctl(d, "metrics").stdout
        irc.send("PRIVMSG bob :hello bob")
        xc.run(next_where(bob.messages, lambda m: m["body"] == "hello bob"))
        bob.send_message(mto="ann@localhost", mbody="hello ann", mtype="chat")
        pump(0.3)
        irc.expect(r"PRIVMSG ann :hello ann$")
        after = ctl(d, "metrics").stdout
        for frm, to in (("irc", "xmpp"), ("xmpp", "irc")):
            b = metric(before, "parley_messages_routed_total", **{"from": frm, "to": to})
            a = metric(after, "parley_messages_routed_total", **{"from": frm, "to": to})
            assert b is not None and a == b + 1, (frm, to, b, a)
        assert metric(after, "parley_sessions", protocol="irc") == 1
        assert metric(after, "parley_connections", protocol="xmpp") == 1
        assert metric(after, "parley_deliveries_total", path="live") >= 2
        assert metric(after, "parley_store_commit_seconds_count") is not None
        assert 'parley_store_commit_seconds_bucket{le="+Inf"}' in after
        promtool = shutil.which("promtool")
        if promtool:
            p = subprocess.run([promtool, "check", "metrics"], input=after, capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p.stdout + p.stderr
        else:
            print("note: promtool missing (Debian package prometheus); format check skipped")

        # kick: the IRC client is told, and its connection ends.
        r = ctl(d, "kick", by_proto["irc"][0], "see", "you")
        assert r.stdout.strip() == f"kicked {by_proto['irc'][0]}"
        irc.expect(r"^ERROR :.*see you")
        deadline = time.monotonic() + 5
        while irc.read_line(timeout=0.5) is not None and time.monotonic() < deadline:
            pass
        assert re.search(r"^sessions\.irc", ctl(d, "status").stdout, re.M) is None
        assert "no session" in ctl(d, "kick", "999999", ok=False).stderr
        assert ctl(d, "kick", "x", ok=False).returncode == 1

        # account add through the running daemon; the new account logs in without a restart.
        assert ctl(d, "account", "add", "carol", input="carolpw\n").stdout.strip() == "added carol"
        assert "carol" in ctl(d, "account", "list").stdout.split()
        assert ctl(d, "account", "add", "carol", input="x\n", ok=False).returncode == 1
        carol = h.LineClient(d.ports["irc"])
        carol.send("PASS carolpw")
        carol.send("NICK carol")
        carol.send("USER carol 0 * :Carol")
        carol.expect(r" 001 carol ")
        carol.close()
        assert ctl(d, "account", "passwd", "carol", input="newpw\n").stdout.strip() == "changed password of carol"
        assert ctl(d, "account", "remove", "carol").stdout.strip() == "removed carol"

        # reload, like SIGHUP
        mark = d.mark()
        assert ctl(d, "reload").stdout.strip() == "reloading"
        d.wait_for_log(r"configuration reloaded", after=mark)

        xc.bye(bob)
        irc.close()


def test_ctl_hostile_clients():
    with h.Parleyd(cfg()) as d:
        path = str(d.workdir / "var" / "control")
        assert raw(path, b"x" * 10000 + b"\n").startswith(b"error request too long")
        assert raw(path, b"\x00\x01\xff garbage\n").startswith(b"error ")
        assert raw(path, b"\n").startswith(b"error empty request")
        assert raw(path, b"frobnicate\n").startswith(b"error unknown command")
        # Over control_clients (4) idle connections: the next is refused at once; the idle
        # ones are closed after the request timeout (5 s), then ctl works again.
        # The four requests above count as open until the daemon has seen each close (it
        # drains after answering): until it has, one of the idle four would be told "busy".
        # Retry (bounded) until all four are taken as real clients, i.e. none was answered.
        for _attempt in range(20):
            idle = []
            for _ in range(4):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                idle.append(s)
            time.sleep(0.3)
            answered = [s for s in idle if select.select([s], [], [], 0)[0]]
            if not answered:
                break
            for s in idle:
                s.close()
        else:
            raise AssertionError("earlier control connections never closed on the daemon's side")
        busy = raw(path, b"status\n")
        assert busy.startswith(b"error busy"), busy
        for s in idle:
            s.settimeout(8)
            assert s.recv(100) == b""  # closed by the daemon's deadline
            s.close()
        assert ctl(d, "status").stdout.startswith("uptime ")
        # A client that asks for metrics and never reads: closed by the deadline, nothing grows.
        lazy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lazy.connect(path)
        lazy.sendall(b"metrics\n")
        time.sleep(6)
        assert ctl(d, "status").stdout.startswith("uptime ")
        lazy.close()
    assert not os.path.exists(path)  # removed at shutdown


def test_unusable_socket_path_is_logged_and_the_daemon_serves():
    c = cfg()
    c["server"]["control_socket"] = "./not-a-socket"
    d = h.Parleyd(c)
    (d.workdir / "not-a-socket").write_text("a regular file is never replaced\n")
    with d:
        d.wait_for_log(r"control socket ./not-a-socket: exists and is not a socket; running without")
        with h.LineClient(d.ports["irc"]) as irc:
            irc.send("NICK solo")
            irc.send("USER s 0 * :S")
            irc.expect(r" 001 solo ")
        assert (d.workdir / "not-a-socket").read_text().startswith("a regular file")


def test_ctl_without_daemon():
    r = h.run_parleyd("ctl", "--control", "/nonexistent/parley/control", "status")
    assert r.returncode == 1 and "cannot connect" in r.stderr, r.stderr
    r = h.run_parleyd("ctl", "--control", "/nonexistent/parley/control", "account", "add", "x", input="")
    assert r.returncode == 1 and "password" in r.stderr, r.stderr


if __name__ == "__main__":
    h.run_tests(globals())
