"""A web XMPP client and an IRC client share a room: Converse.js over WebSocket.

Converse.js (npm converse.js, pinned in tests/browser/package-lock.json) runs in Debian's
headless chromium, driven by puppeteer-core (tests/browser/converse_login.mjs). It logs in
as a seeded account over parleyd's XMPP-over-WebSocket endpoint (RFC 7395,
wss://localhost:PORT/xmpp-websocket on the `http.listen` TLS listener), joins
dev@conference.localhost and says something; a raw IRC client in #dev sees it and answers;
the answer must show up in the browser's DOM. A screenshot of the page is written to the
test output dir (PARLEY_TEST_OUTPUT, else test-output/ beside parleyd) and its path printed.

Chromium trusts only parleyd's generated self-signed certificate (its SPKI hash, not
--ignore-certificate-errors), resolves no name but loopback, and the page's requests to
anything but the loopback static server are aborted.

Setup: scripts/setup.sh installs chromium and runs `npm ci` in tests/browser.
Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_browser_converse.py
(PARLEY_BROWSER_VERBOSE=1 also prints chromium's console; CONVERSE_LOGLEVEL=debug adds Converse's.)
"""
import base64
import functools
import hashlib
import http.server
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

BROWSER_DIR = h.SOURCE / "tests" / "browser"
OUTPUT_DIR = Path(os.environ.get("PARLEY_TEST_OUTPUT", Path(h.PARLEYD).parent / "test-output"))
ROOM, CHANNEL = "dev@conference.localhost", "#dev"
DEADLINE = 45  # seconds for the browser part (chromium start, login, join, both messages)


def require_tools() -> tuple[str, str]:
    """chromium and node, and tests/browser/node_modules; missing ones skip the test, except
    in CI (CI=true), where scripts/setup.sh installed them and a skip would hide a failure."""
    chromium, node = shutil.which("chromium"), shutil.which("node")
    missing = [name for name, path in (("chromium", chromium), ("node", node)) if not path]
    if not (BROWSER_DIR / "node_modules" / "converse.js" / "dist" / "converse.min.js").exists():
        missing.append("tests/browser/node_modules (npm ci)")
    if missing:
        why = f"{', '.join(missing)} missing: run scripts/setup.sh"
        if os.environ.get("CI"):
            raise AssertionError(why)
        raise h.Skip(why)
    return chromium, node


def spki_sha256(cert: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: what chromium's
    --ignore-certificate-errors-spki-list takes."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"], check=True,
                         capture_output=True, timeout=10).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True,
                         capture_output=True, timeout=10).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class StaticServer:
    """tests/browser over plain HTTP on loopback: the page and Converse.js from node_modules."""

    def __init__(self):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(BROWSER_DIR))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Driver:
    """converse_login.mjs as a child process; its stdout lines arrive in a queue."""

    def __init__(self, node: str, chromium: str, args: list[str]):
        self.profile = tempfile.TemporaryDirectory(prefix="parley-chromium-")
        self.proc = subprocess.Popen([node, str(BROWSER_DIR / "converse_login.mjs"), "--chromium", chromium,
                                      "--profile", self.profile.name, *args],
                                     cwd=BROWSER_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        self.chromium_pid: int | None = None
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _pump(stream, put):
        for line in stream:
            put(line.rstrip("\n"))

    def expect(self, prefix: str, timeout: float) -> str:
        """The next stdout line starting with prefix; fails on FAILED, exit or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"browser: timed out after {timeout} s waiting for {prefix}")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    raise AssertionError(f"browser driver exited ({self.proc.returncode}) before {prefix}")
                continue
            if line.startswith("PID "):
                self.chromium_pid = int(line.split()[1])
            if line.startswith(prefix):
                return line
            if line == "FAILED":
                raise AssertionError(f"browser driver failed before {prefix}")

    def close(self):
        """Ends the driver (SIGTERM: it screenshots the page first, then SIGKILL after 5 s)
        and chromium by PID (chromium leads its own process group)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self.chromium_pid is not None:
            try:
                os.killpg(self.chromium_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # puppeteer closed it
        self.profile.cleanup()


def test_converse_over_websocket_talks_with_irc():
    chromium, node = require_tools()
    http_port = h.free_port()
    cfg = h.config(irc=True, xmpp=True, accounts=[("alice", "alicepw")],
                   http={"listen": [f"tls:127.0.0.1:{http_port}"]})
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT_DIR / "browser_converse.png"
    shot.unlink(missing_ok=True)
    token = secrets.token_hex(3)
    from_browser, from_irc = f"hello from the browser {token}", f"hello back from irc {token}"

    static = StaticServer()
    driver = None
    try:
        with h.Parleyd(cfg) as d:
            irc = h.LineClient(d.ports["irc"], timeout=10)
            irc.send("NICK ircbob")
            irc.send("USER ircbob 0 * :IRC Bob")
            irc.expect(r" 001 ircbob ")
            irc.send(f"JOIN {CHANNEL}")
            irc.expect(rf" 366 ircbob {CHANNEL} ")

            started = time.monotonic()
            driver = Driver(node, chromium, [
                "--page", f"http://127.0.0.1:{static.port}/converse.html",
                # localhost: the name in the generated certificate's SAN (daemon/tls.cpp).
                "--websocket-url", f"wss://localhost:{http_port}/xmpp-websocket",
                "--spki", spki_sha256(d.data_dir / "tls" / "cert.pem"),
                "--jid", "alice@localhost", "--password", "alicepw",
                "--room", ROOM, "--nick", "alice",
                "--send", from_browser, "--expect", from_irc,
                "--screenshot", str(shot), "--timeout", str(DEADLINE),
            ])
            try:
                driver.expect("JOINED", DEADLINE)
                # The browser's occupant shows up on IRC, then its message.
                irc.expect(rf"^:alice\S* JOIN :?{CHANNEL}\b", timeout=10)
                line = irc.expect(rf"PRIVMSG {CHANNEL} :{re.escape(from_browser)}$", timeout=15)
                assert line.startswith(":alice"), f"the browser's message comes from alice on IRC: {line}"
                irc.send(f"PRIVMSG {CHANNEL} :{from_irc}")
                driver.expect(f"SEEN {from_irc}", 15)
                driver.expect("SCREENSHOT ", 10)
                driver.expect("DONE", 10)
                assert driver.proc.wait(10) == 0
            except BaseException:
                # While parleyd still runs: the driver screenshots the page as it is now.
                driver.close()
                print(f"screenshot at failure: {shot}", flush=True)
                sys.stderr.write("---- browser driver ----\n" + "\n".join(driver.stderr[-80:]) + "\n---- end ----\n")
                raise
            took = time.monotonic() - started
            irc.close()
        png = shot.read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000, f"{shot} is not a real screenshot"
        print(f"screenshot: {shot} (browser part {took:.1f} s)", flush=True)
        if os.environ.get("PARLEY_BROWSER_VERBOSE"):
            sys.stderr.write("---- browser driver ----\n" + "\n".join(driver.stderr) + "\n---- end ----\n")
        blocked = [line for line in driver.stderr if line.startswith("BLOCKED ")]
        if blocked:
            print(f"the page tried {len(blocked)} off-loopback request(s), all aborted: {blocked[0]} ...", flush=True)
    finally:
        if driver is not None:
            driver.close()
        static.close()

if __name__ == "__main__":
    h.run_tests(globals())
