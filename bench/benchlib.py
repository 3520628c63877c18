"""Helpers for bench/compare_*.sh: run servers as child processes on private configs and
free loopback ports, drive them with parley_loadgen, and print side-by-side tables.

Every server is a child of this script (never a system service), found by PID and killed
by PID (its whole process group) at the end. Server CPU (utime+stime) and RSS are read
from /proc by parley_loadgen itself (--server-pid), around the measured phase only.
"""
from __future__ import annotations

import json
import statistics
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent
sys.path.insert(0, str(SOURCE / "tests" / "integration"))
import parley_harness as h  # noqa: E402  (free_port, config writing)

LOADGEN = os.path.abspath(os.environ.get("LOADGEN", str(SOURCE / "build-bench" / "bench" / "loadgen" / "parley_loadgen")))
PARLEYD = os.path.abspath(os.environ.get("PARLEYD", str(SOURCE / "build-bench" / "parleyd")))
# A second parleyd (e.g. the build before a change) measured in the same run, as the
# column "parleyd-base": before/after ratios from one run on a noisy machine.
PARLEYD_BASE = os.environ.get("PARLEYD_BASE")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f} s")


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        for k in kids:
            out.append(int(k))
            todo.append(int(k))
    return out


def proc_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class Server:
    """A server child process in its own process group; `pid` is the process to measure."""

    name = "?"

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix=f"parley-bench-{self.name}-"))
        self.proc: subprocess.Popen | None = None
        self.pid = 0
        self.port = h.free_port()
        self.logfile = self.tmp / "server.log"

    def spawn(self, argv, env=None, cwd=None):
        self.proc = subprocess.Popen(argv, cwd=cwd or self.tmp, env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(self.logfile, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid

    def start(self) -> "Server":
        raise NotImplementedError

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        kids = descendants(self.proc.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None and not any(Path(f"/proc/{k}").exists() for k in kids):
                break
            for p in [self.proc.pid, *kids]:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.3)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


def self_signed(dirpath: Path, cn: str = "localhost") -> tuple[Path, Path]:
    cert, key = dirpath / "cert.pem", dirpath / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=DNS:{cn},DNS:*.{cn}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def loadgen(args: list[str], server: Server, timeout: float = 600) -> dict:
    """Runs parley_loadgen against `server`; returns its RESULT fields, or raises with its error."""
    argv = [LOADGEN, *args, "--port", str(server.port), "--server-pid", str(server.pid)]
    log(f"{server.name}: {' '.join(args)}")
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"loadgen timed out after {timeout:.0f} s")
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    err = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
    raise RuntimeError(f"loadgen exit {r.returncode}: {err}")


def run_case(results: dict, server: Server, case: str, args: list[str], timeout: float = 600) -> None:
    """Stores the RESULT dict (or the error text) under results[case][server.name]."""
    try:
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"server exited ({server.proc.returncode})")
        results.setdefault(case, {})[server.name] = loadgen(args, server, timeout)
    except Exception as e:  # noqa: BLE001 - one failed case must not hide the others
        results.setdefault(case, {})[server.name] = {"error": str(e)}
        log(f"{server.name}: {case}: FAILED: {e}")


def print_table(title: str, servers: list[str], rows: list[tuple[str, str, str]], results: dict,
                missing: dict[str, str]) -> None:
    """rows: (label, case, field). A cell is the field's value, or 'error' / 'n/a'."""
    print(f"\n## {title}\n")
    cols = [s for s in servers]
    width = max(len(r[0]) for r in rows) + 2
    print("| " + "case".ljust(width) + " | " + " | ".join(c.rjust(12) for c in cols) + " |")
    print("|-" + "-" * width + "-|" + "|".join("-" * 14 for _ in cols) + "|")
    notes = []
    for label, case, field in rows:
        cells = []
        for s in cols:
            if s in missing:
                cells.append("missing")
                continue
            r = results.get(case, {}).get(s)
            if r is None:
                cells.append("n/a")
            elif "error" in r:
                cells.append("error")
                notes.append(f"{s} / {label}: {r['error']}")
            else:
                v = r.get(field, "n/a")
                if field in ("lost", "error_messages") and v == "0":
                    v = "0"
                cells.append(v)
        print("| " + label.ljust(width) + " | " + " | ".join(c.rjust(12) for c in cells) + " |")
    for s, why in missing.items():
        print(f"\n- {s} missing: {why}")
    for n in dict.fromkeys(notes):
        print(f"- {n}")
    sys.stdout.flush()


def _median_result(runs: list[dict]) -> dict:
    """One result from repeated runs: the median of each numeric field (errors win)."""
    for r in runs:
        if "error" in r:
            return r
    out = dict(runs[0])
    for key in out:
        try:
            vals = sorted(float(r[key]) for r in runs if key in r)
        except ValueError:
            continue
        m = statistics.median(vals)
        out[key] = str(int(m)) if all(v.is_integer() for v in vals) and m.is_integer() else f"{m:.3f}".rstrip("0").rstrip(".")
    if len(runs) > 1:
        out["runs"] = str(len(runs))
    return out


def compare(title: str, server_classes, cases, rows, case_args=lambda srv, args: args) -> None:
    """Runs every case against each server named on the command line (all when none are)
    and prints one side-by-side table; with BENCH_JSON=FILE also writes every raw result.

    All servers are started first and stay up; each case then runs on one server after the
    other, BENCH_REPEAT times (default 3) in turn — A B C A B C A B C — and the table shows
    each field's median. The machines are shared and their speed drifts over minutes, so
    interleaving keeps the ratio between servers honest where one server's whole run after
    the other's would compare two different machines. Idle-memory cases (loadgen "*-idle")
    run once, first, on the fresh servers. A server that fails to start is listed as missing
    with why. BENCH_CASES=name,name runs only those cases (the names of the CASES list)."""
    only = set(sys.argv[1:])
    classes = [s for s in server_classes if not only or s.name in only]
    repeat = max(1, int(os.environ.get("BENCH_REPEAT", "3")))
    load_before = os.getloadavg()[0]
    raw: dict = {}
    missing: dict = {}
    servers = []
    try:
        for cls in classes:
            srv = cls()
            try:
                log(f"starting {srv.name} on 127.0.0.1:{srv.port}")
                srv.start()
                servers.append(srv)
            except Exception as e:  # noqa: BLE001
                missing[srv.name] = f"setup failed: {e}; log: {srv.log_tail(5)!r}"
                log(f"{srv.name}: {missing[srv.name]}")
                srv.cleanup()
        wanted = set(filter(None, os.environ.get("BENCH_CASES", "").split(",")))
        ordered = sorted((c for c in cases if not wanted or c[0] in wanted),
                         key=lambda c: 0 if c[1][0].endswith("-idle") else 1)
        for case, args in ordered:
            rounds = 1 if args[0].endswith("-idle") else repeat
            for _ in range(rounds):
                for srv in servers:
                    one: dict = {}
                    run_case(one, srv, case, case_args(srv, args))
                    raw.setdefault(case, {}).setdefault(srv.name, []).append(one[case][srv.name])
                    time.sleep(0.5)
    finally:
        for srv in servers:
            srv.cleanup()
    results = {case: {name: _median_result(runs) for name, runs in per.items()} for case, per in raw.items()}
    print(f"\n{title}, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"load average before the run {load_before:.1f}; median of {repeat} interleaved runs per case")
    print_table(title, [c.name for c in classes], rows, results, missing)
    out = os.environ.get("BENCH_JSON")
    if out:
        with open(out, "w") as f:
            json.dump({"results": results, "raw": raw, "missing": missing}, f, indent=1)
