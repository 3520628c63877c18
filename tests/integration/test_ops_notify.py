"""systemd readiness protocol without systemd: the test is the NOTIFY_SOCKET listener.

sd_notify(3) sends datagrams of KEY=VALUE lines to the unix socket named in $NOTIFY_SOCKET.
The test opens one, starts parleyd with it and checks: READY=1 comes once and only when
every listener accepts; SIGHUP brings RELOADING=1 then READY=1 (also when the new file is
broken); SIGTERM brings STOPPING=1; WATCHDOG=1 arrives at half of WATCHDOG_USEC, and never
without it. Skips if parleyd was built without libsystemd.
"""

import os
import signal
import socket
import tempfile
import threading
import time

import parley_harness as h


class NotifyListener:
    def __init__(self, ports: dict[str, int]):
        self._dir = tempfile.TemporaryDirectory(prefix="parley-notify-")
        self.path = os.path.join(self._dir.name, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.ports = ports
        self.messages: list[tuple[float, dict[str, str]]] = []
        # For each READY=1: did every listener accept a connection right then?
        self.accepting_at_ready: list[dict[str, bool]] = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            if fields.get("READY") == "1":
                self.accepting_at_ready.append({name: _accepts(port) for name, port in self.ports.items()})
            with self._cond:
                self.messages.append((time.monotonic(), fields))
                self._cond.notify_all()

    def keys(self) -> list[str]:
        """The state keys received, in order, without WATCHDOG and STATUS."""
        with self._cond:
            return [k for _, f in self.messages for k in f if k not in ("WATCHDOG", "STATUS", "MONOTONIC_USEC")]

    def wait_for(self, key: str, count: int = 1, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for _, f in self.messages if key in f) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"no {key}= (x{count}) within {timeout} s; got {self.messages}"
                self._cond.wait(left)

    def count(self, key: str) -> int:
        with self._cond:
            return sum(1 for _, f in self.messages if key in f)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()
        self._dir.cleanup()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _skip_unless_supported(d: h.Parleyd) -> None:
    if "built without libsystemd" in d.log():
        raise h.Skip("parleyd was built without libsystemd (install libsystemd-dev and rebuild)")


def test_ready_reload_stopping():
    cfg = h.config(irc=True, xmpp=True)
    n = NotifyListener(cfg["_ports"])
    d = h.Parleyd(cfg, env={"NOTIFY_SOCKET": n.path})
    try:
        d.start()
        _skip_unless_supported(d)
        n.wait_for("READY")
        assert n.accepting_at_ready == [{"irc": True, "xmpp": True}], n.accepting_at_ready
        assert n.keys() == ["READY"], n.messages
        assert any(f.get("STATUS", "").startswith("running") for _, f in n.messages), n.messages

        d.signal(signal.SIGHUP)
        n.wait_for("READY", 2)
        assert n.keys() == ["READY", "RELOADING", "READY"], n.messages

        d.config_path.write_text("server:\n  threads: many\n")  # a broken file: the old config stays
        d.signal(signal.SIGHUP)
        n.wait_for("READY", 3)
        assert n.keys() == ["READY", "RELOADING", "READY", "RELOADING", "READY"], n.messages
        assert "reload failed" in n.messages[-1][1].get("STATUS", ""), n.messages[-1]

        assert d.stop() == 0
        n.wait_for("STOPPING", timeout=2)
        assert n.keys()[-1] == "STOPPING", n.messages
        assert n.count("WATCHDOG") == 0, "WATCHDOG=1 without WATCHDOG_USEC"
    finally:
        d.close()
        n.close()


def test_watchdog_pings_at_half_the_interval():
    cfg = h.config(irc=True)
    n = NotifyListener(cfg["_ports"])
    # 400 ms: parleyd pings every 200 ms (sanitizer builds are slow; the bound below is loose).
    d = h.Parleyd(cfg, env={"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "400000"})
    try:
        d.start()
        _skip_unless_supported(d)
        n.wait_for("READY")
        first = n.count("WATCHDOG")
        time.sleep(1.5)
        pings = n.count("WATCHDOG") - first
        assert 4 <= pings <= 10, f"{pings} WATCHDOG=1 in 1.5 s at a 200 ms interval"
        d.wait_for_log(r"systemd watchdog: pinging every 200 ms")
        assert d.stop() == 0
        n.wait_for("STOPPING", timeout=2)
        after_stop = n.count("WATCHDOG")
        time.sleep(0.5)
        assert n.count("WATCHDOG") == after_stop, "pings after the process stopped"
    finally:
        d.close()
        n.close()


if __name__ == "__main__":
    h.run_tests(globals())
