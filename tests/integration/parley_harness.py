"""Shared helpers for Parley's integration tests (tests/integration/test_*.py).

ctest runs every test_*.py with /usr/bin/python3 and sets:
  PARLEYD        path to the parleyd binary under test
  PARLEY_SOURCE  the repository root
Each script picks its own free loopback ports, so scripts run in parallel. Standard library
only (no PyYAML): configs are written as JSON, which is valid YAML.

Typical use:

    import parley_harness as h

    def test_something():
        with h.Parleyd(h.config(irc=True, accounts=[("alice", "alicepw")])) as d:
            port = d.ports["irc"]                      # the IRC listener's port
            ...                                        # talk to 127.0.0.1:port
            d.wait_for_log(r"some log line")           # regex on parleyd's stderr
        # leaving the block sends SIGTERM and checks parleyd exited 0 within 5 s

    if __name__ == "__main__":
        h.run_tests(globals())                         # runs every test_* function

API:
  free_port(udp=False) -> int            a loopback port free for TCP (and UDP if udp=True)
  config(**kw) -> dict                   a parleyd config with the chosen protocols on free ports
  write_config(path, cfg) -> path        writes cfg (dict, or YAML text) to path
  Parleyd(cfg, workdir=None, args=(), env=None)  a parleyd process (env: extra variables); .start(), .stop(), .signal(sig),
                                         .wait_for_log(regex), .log(), .ports, .data_dir,
                                         .config_path, .workdir, .proc; a context manager
  run_parleyd(*args, input=None) -> CompletedProcess   one-shot CLI run (--check-config, account ...)
  LineClient(port)                       a CRLF line client (IRC, PSYC...): .send(line), .expect(regex)
  run_tests(namespace)                   runs test_* functions in order, prints results, exits 1 on failure
  Skip(reason)                           raise it in a test whose tool is missing: counted as skipped;
                                         a script whose every test skipped exits 77 (ctest: "Skipped")
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

# Absolute, because parleyd runs in its own temporary working directory.
SOURCE = Path(os.environ.get("PARLEY_SOURCE", Path(__file__).resolve().parents[2])).resolve()
PARLEYD = os.path.abspath(os.environ.get("PARLEYD", str(SOURCE / "build" / "parleyd")))

_handed_out: set[int] = set()


def self_signed_cert(directory: str, cn: str = "irc.test.local") -> tuple[str, str, str]:
    """cert.pem and key.pem (RSA, 2 days) made in directory for an IRC server under test, and
    the certificate's SHA-256 fingerprint as operators copy it (AB:CD:...) for pinning."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={cn}"], check=True, capture_output=True)
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, text=True).stdout
    return cert, key, out.strip().split("=", 1)[1]


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out for outgoing connections and bind(0)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_port_picker = random.Random(os.getpid() ^ time.monotonic_ns())


def free_port(udp: bool = False) -> int:
    """A loopback port that is free right now for TCP (and for UDP too if udp=True).

    Picked at random from below the kernel's ephemeral range: a port taken with bind(0) and
    released is free for any connection another test opens meanwhile (the harden tests open
    thousands), and a server that binds it a moment later would then fail with "Address
    already in use" (seen in CI). Outgoing connections never take a port below that range.
    Ports handed out earlier in this process are never repeated.
    """
    high = _ephemeral_low()
    low = max(1024, high - 12000)
    for _ in range(200):
        port = _port_picker.randrange(low, high)
        if port in _handed_out:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
            if udp:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
        except OSError:
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


def config(irc: bool = False, xmpp: bool = False, sip: bool = False, psyc: bool = False,
           accounts=(), domain: str = "localhost", log_level: str = "debug", threads: int = 2,
           **sections) -> dict:
    """A config dict with the chosen protocols listening on free loopback ports.

    data_dir is left relative ("./var"): Parleyd runs in its own temporary workdir.
    Extra keyword arguments become top-level sections or override generated ones, e.g.
    config(irc=True, irc_extra={"guests": False}) merges into the irc section.
    The chosen ports are in cfg["_ports"] (removed before writing): irc, xmpp, sip, psyc.
    """
    ports: dict[str, int] = {}
    cfg: dict = {
        "server": {"domain": domain, "data_dir": "./var", "threads": threads, "log_level": log_level},
        "accounts": [{"user": u, "password": p} for u, p in accounts],
    }
    if irc:
        ports["irc"] = free_port()
        cfg["irc"] = {"listen": [f"127.0.0.1:{ports['irc']}"], "guests": True}
    if xmpp:
        ports["xmpp"] = free_port()
        cfg["xmpp"] = {"c2s": {"listen": [f"127.0.0.1:{ports['xmpp']}"]}, "muc": {"domain": f"conference.{domain}"}}
    if sip:
        ports["sip"] = free_port(udp=True)
        cfg["sip"] = {"listen": [f"udp:127.0.0.1:{ports['sip']}", f"tcp:127.0.0.1:{ports['sip']}"]}
    if psyc:
        ports["psyc"] = free_port()
        cfg["psyc"] = {"listen": [f"127.0.0.1:{ports['psyc']}"]}
    for key, value in sections.items():
        if key.endswith("_extra"):
            cfg.setdefault(key[: -len("_extra")], {}).update(value)
        else:
            cfg[key] = value
    cfg["_ports"] = ports
    return cfg


def write_config(path, cfg) -> Path:
    """Writes cfg (a dict from config(), or YAML text) to path and returns the path."""
    path = Path(path)
    if isinstance(cfg, str):
        path.write_text(cfg)
    else:
        path.write_text(json.dumps({k: v for k, v in cfg.items() if not k.startswith("_")}, indent=2) + "\n")
    return path


def run_parleyd(*args: str, input: str | None = None, cwd=None, timeout: float = 30) -> subprocess.CompletedProcess:
    """Runs parleyd once (e.g. --check-config FILE, account list --config FILE)."""
    return subprocess.run([PARLEYD, *args], input=input, capture_output=True, text=True, cwd=cwd, timeout=timeout)


class Parleyd:
    """One parleyd process with its own workdir, config file and data_dir.

    Its stderr is collected line by line (and echoed to this script's stderr if a test
    fails, see run_tests). start() waits for "parleyd ready"; stop() sends SIGTERM and
    returns the exit code, failing if it takes longer than `timeout` seconds.
    """

    READY = r"parleyd ready"

    def __init__(self, cfg, workdir=None, args=(), env=None):
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="parley-it-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.ports: dict[str, int] = dict(cfg.get("_ports", {})) if isinstance(cfg, dict) else {}
        self.config_path = write_config(self.workdir / "parley.yaml", cfg)
        self.data_dir = self.workdir / "var"
        self.args = list(args)
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        _running.append(self)

    def start(self, timeout: float = 30) -> "Parleyd":
        self.proc = subprocess.Popen([PARLEYD, "--config", str(self.config_path), *self.args], cwd=self.workdir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, errors="replace", env={**os.environ, **self.env})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for_log(self.READY, timeout)
        return self

    def _read(self):
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            with self._cond:
                self._lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def control(self, line: str, path: str = "var/control") -> str:
        """One request on the control socket (daemon/control_protocol.hpp; the config must
        set server.control_socket to ./var/control), its whole answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(self.workdir / path))
            s.sendall(line.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()

    def log(self) -> str:
        """Everything parleyd wrote to stderr so far."""
        with self._cond:
            return "\n".join(self._lines)

    def wait_for_log(self, pattern: str, timeout: float = 10, after: int = 0) -> str:
        """Waits until a stderr line (from line index `after` on) matches the regex; returns it.

        Fails if parleyd exits first or the timeout passes. Use `mark()` for `after` to wait
        only for lines written after some action.
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = after
        with self._cond:
            while True:
                for line in self._lines[seen:]:
                    if rx.search(line):
                        return line
                seen = len(self._lines)
                if self.proc is not None and self.proc.poll() is not None and not self._reader_alive():
                    raise AssertionError(f"parleyd exited ({self.proc.returncode}) before logging /{pattern}/")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for /{pattern}/ in parleyd's log")
                self._cond.wait(min(left, 0.2))

    def mark(self) -> int:
        """The number of log lines so far, for wait_for_log(after=...)."""
        with self._cond:
            return len(self._lines)

    def _reader_alive(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 5) -> int:
        """SIGTERM, then waits up to `timeout` s; kills it and fails if it is slower."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"parleyd did not exit within {timeout} s of SIGTERM")
        if self._reader:
            self._reader.join(5)
        return self.proc.returncode

    def close(self) -> None:
        """Kills parleyd if still running and removes the temporary workdir."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in _running:
            _running.remove(self)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "Parleyd":
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        code = 0
        try:
            if exc_type is None:
                code = self.stop()
                assert code == 0, f"parleyd exited with {code} after SIGTERM"
        finally:
            # A failing test or an unclean exit (a sanitizer report, a stuck shutdown) shows
            # the daemon's log: without it a CI failure cannot be read.
            if exc_type is not None or code != 0:
                _dump(self)
            self.close()


_running: list[Parleyd] = []


class TcpProxy:
    """Relays 127.0.0.1:port -> 127.0.0.1:target (a real byte relay, no mock) and keeps the
    bytes sent toward target. down_open cleared: what target sends waits, in order.
    hold_up(): what the dialers send is read (and kept in self.up) but not passed on until
    release_up(), which passes it on in order.
    blackhole(): what the current connections send toward target is dropped from then on,
    as on a TCP path that died; drop() closes them (new ones relay as before)."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.up = b""  # everything the dialer sent, over all connections
        self.lock = threading.Lock()
        self.accepting = True
        self.conns = []
        self.dead = set()  # sockets whose bytes toward target are dropped (blackhole)
        self.down_open = threading.Event()  # cleared: what target sends waits here, in order
        self.down_open.set()
        self.up_lock = threading.Lock()
        self.holding = False  # hold_up(): chunks toward target wait in self.held
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if not self.accepting:
                c.close()
                continue
            try:
                s = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            s.settimeout(None)
            self.conns += [c, s]
            threading.Thread(target=self._pump, args=(c, s, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, False), daemon=True).start()

    def _pump(self, src, dst, count):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if count and src in self.dead:
                    continue
                with self.lock:
                    self.relayed(data, count)
                if count:
                    with self.up_lock:  # in order with release_up's
                        if self.holding:
                            self.held.append((dst, data))
                        else:
                            dst.sendall(data)
                    continue
                self.down_open.wait(30)
                dst.sendall(data)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def relayed(self, data, up):
        """Each chunk relayed, under self.lock; up: toward target. Kept in self.up."""
        if up:
            self.up += data

    def hold_up(self):
        with self.up_lock:
            self.holding = True

    def release_up(self):
        with self.up_lock:
            self.holding = False
            for dst, data in self.held:
                try:
                    dst.sendall(data)
                except OSError:
                    pass
            self.held = []

    def blackhole(self):
        self.dead.update(self.conns[0::2])  # the accepted (dialer's) sockets

    def drop(self):
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns = []

    def mark(self):
        with self.lock:
            return len(self.up)

    def close(self):
        self.lsock.close()
        self.drop()


class LineClient:
    """A TCP client for line protocols (IRC): send lines, wait for a line matching a regex.

        c = LineClient(d.ports["irc"])
        c.send("NICK alice"); c.send("USER alice 0 * :Alice")
        c.expect(r" 001 alice ")       # returns the matching line; earlier lines are kept in c.lines
    """

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10, eol: str = "\r\n"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.eol = eol
        self.timeout = timeout
        self.lines: list[str] = []  # every line received, in order
        self._buf = b""
        self._next = 0  # index in self.lines where the next expect() starts

    def send(self, line: str) -> None:
        self.sock.sendall((line + self.eol).encode())

    def read_line(self, timeout: float | None = None) -> str | None:
        """The next line (without its line ending), or None if the peer closed."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\n", 1)
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        self.lines.append(line)
        return line

    def expect(self, pattern: str, timeout: float | None = None) -> str:
        """Waits for a line matching the regex (skipping others); fails on timeout or close."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            while self._next < len(self.lines):
                line = self.lines[self._next]
                self._next += 1
                if rx.search(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching /{pattern}/; got: {self.lines[-20:]}")
            try:
                if self.read_line(left) is None:
                    raise AssertionError(f"connection closed before /{pattern}/; got: {self.lines[-20:]}")
            except socket.timeout:
                raise AssertionError(f"no line matching /{pattern}/ within the timeout; got: {self.lines[-20:]}")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "LineClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _dump(d: Parleyd) -> None:
    sys.stderr.write(f"---- parleyd log ({d.workdir}) ----\n{d.log()}\n---- end of parleyd log ----\n")


class Skip(Exception):
    """Raised by a test that cannot run here (a tool is missing); the message says why."""


SKIP_EXIT = 77  # tests/CMakeLists.txt sets it as SKIP_RETURN_CODE


def run_tests(namespace: dict) -> None:
    """Runs every test_* function of `namespace` in definition order; exits 1 if any failed,
    77 if every test raised Skip, else 0."""
    tests = [(name, f) for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    failed = 0
    skipped = 0
    for name, f in tests:
        start = time.monotonic()
        try:
            f()
            print(f"ok    {name} ({time.monotonic() - start:.1f} s)", flush=True)
        except Skip as why:
            skipped += 1
            print(f"skip  {name}: {why}", flush=True)
            for d in list(_running):
                d.close()
        except Exception:
            failed += 1
            print(f"FAIL  {name}", flush=True)
            traceback.print_exc()
            for d in list(_running):
                _dump(d)
                d.close()
    if skipped:
        print(f"{len(tests) - failed - skipped}/{len(tests)} passed, {skipped} skipped", flush=True)
    else:
        print(f"{len(tests) - failed}/{len(tests)} passed", flush=True)
    sys.exit(1 if failed else SKIP_EXIT if tests and skipped == len(tests) else 0)
