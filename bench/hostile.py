#!/usr/bin/python3
"""Hostile-load benchmark (issue 9): honest IRC and XMPP users chatting at a fixed rate,
first alone (phase A), then against hostile connections of mixed kinds (phase B), each on a
fresh parleyd from the same binary. Reports, per phase, the honest users' losses and
latency percentiles and parleyd's RSS and CPU; then p99(B)/p99(A) and three verdicts:
honest users lose nothing, p99 within 2x, RSS bounded.

    bench/hostile.py                          # 2 x 60 s phases, 200 attackers; ~2.5 min
    bench/hostile.py --duration 5 --hostile 20   # smoke run, ~35 s

Pieces: parley_loadgen `chat` (C++) is the honest side, bench/hostile_attacks.py (asyncio,
one process) the hostile side, this script starts parleyd, samples its VmRSS and CPU
from /proc every 0.5 s, and prints the tables. Standard library only. Everything it starts
is a child process, killed by PID; every phase is bounded in time. See bench/README.md,
"Hostile load".
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent
DEFAULT_BUILD = SOURCE / "build-release"

# The default mix of the 200 hostile connections (scaled to --hostile N).
MIX = {"slow_irc": 25, "slow_xmpp": 20, "tls_idle": 15, "half_tag": 25, "flood_irc": 20, "flood_xmpp": 20,
       "wrongpw_xmpp": 20, "wrongpw_irc": 15, "amplify": 10, "never_ack": 30}
XMPP_ACCOUNT_KINDS = ("flood_xmpp", "amplify", "never_ack")
DOMAIN = "localhost"
HONEST_PASSWORD = "honest-pw"
ATTACKER_PASSWORD = "attacker-pw"
VICTIMS = 5


def log(msg: str) -> None:
    print(f"[hostile] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaled_mix(total: int, overrides: str) -> dict[str, int]:
    base = dict(MIX)
    for item in filter(None, overrides.split(",")):
        k, _, v = item.partition("=")
        if k not in MIX:
            sys.exit(f"--mix: unknown kind {k!r} (kinds: {', '.join(MIX)})")
        base[k] = int(v)
    s = sum(base.values())
    if s == 0 or total == 0:
        return {k: 0 for k in base}
    counts = {k: v * total // s for k, v in base.items()}
    # Hand out the remainder to the largest weights so the counts add up to `total`.
    for k in sorted(base, key=lambda k: (-(base[k] * total % s), k))[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def proc_sample(pid: int) -> tuple[int, float] | None:
    """(VmRSS KiB, utime+stime seconds) of pid, or None once it is gone."""
    try:
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss, cpu
    except (OSError, ValueError, IndexError):
        return None


class Sampler(threading.Thread):
    """Samples parleyd's RSS and CPU every 0.5 s; kills it (SIGKILL, by PID) if its RSS
    passes the safety limit, so a runaway server cannot take the shared machine down."""

    def __init__(self, pid: int, limit_kib: int):
        super().__init__(daemon=True)
        self.pid, self.limit_kib = pid, limit_kib
        self.samples: list[tuple[float, int, float]] = []  # (monotonic, rss KiB, cpu s)
        self.killed_for_rss = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            s = proc_sample(self.pid)
            if s is not None:
                self.samples.append((time.monotonic(), *s))
                if s[0] > self.limit_kib and not self.killed_for_rss:
                    self.killed_for_rss = s[0]
                    log(f"parleyd RSS {s[0] // 1024} MiB is over the safety limit: killing it (pid {self.pid})")
                    try:
                        os.kill(self.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self._halt.wait(0.5)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)

    def window(self, t0: float, t1: float) -> list[tuple[float, int, float]]:
        return [s for s in self.samples if t0 <= s[0] <= t1]

    def at(self, t: float) -> tuple[float, int, float] | None:
        before = [s for s in self.samples if s[0] <= t]
        return before[-1] if before else (self.samples[0] if self.samples else None)


def parleyd_config(a, ports: dict, counts: dict[str, int]) -> dict:
    accounts = [{"user": f"hx{j}", "password": HONEST_PASSWORD} for j in range(a.honest_xmpp)]
    i = 0
    for kind, n in counts.items():  # hostile_attacks.py numbers attackers in this order
        for _ in range(n):
            if kind in XMPP_ACCOUNT_KINDS:
                accounts.append({"user": f"ax{i}", "password": ATTACKER_PASSWORD})
            i += 1
    accounts += [{"user": f"victim{k}", "password": f"victim-secret-{k}"} for k in range(VICTIMS)]
    # Limits stay at parleyd's defaults (absent keys): the point is to measure the defaults.
    # Honest users each connect from their own loopback address (127.0.1.x) and attackers
    # from --sources addresses (127.0.2.x), so per-address limits apply as they would on a
    # real network. log_level stays the default (info): logging under attack is a real cost.
    cfg = {
        "server": {"domain": DOMAIN, "data_dir": "./var"},
        "accounts": accounts,
        "irc": {"listen": [f"127.0.0.1:{ports['irc']}", f"tls:127.0.0.1:{ports['irc_tls']}"],
                "server_name": "irc.bench.local", "guests": True},
        "xmpp": {"c2s": {"listen": [f"127.0.0.1:{ports['xmpp']}", f"tls:127.0.0.1:{ports['xmpp_tls']}"]},
                 "muc": {"domain": f"conference.{DOMAIN}"}},
    }
    if a.threads is not None:
        cfg["server"]["threads"] = a.threads
    for kv in a.set:
        key, _, value = kv.partition("=")
        node = cfg
        *path, last = key.split(".")
        for p in path:
            node = node.setdefault(p, {})
        node[last] = json.loads(value) if value[:1] in "0123456789-[{tf\"" else value
    return cfg


def wait_ready(proc: subprocess.Popen, logfile: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"parleyd exited with {proc.returncode}: {tail(logfile)}")
        if "parleyd ready" in logfile.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"parleyd not ready after {timeout:.0f} s: {tail(logfile)}")


def tail(path: Path, n: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def kill_tree(proc: subprocess.Popen | None, grace: float) -> int | None:
    """SIGTERM, then SIGKILL after `grace` s, to the child we started (by PID)."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def run_phase(a, name: str, counts: dict[str, int]) -> dict:
    hostile = sum(counts.values())
    tmp = Path(tempfile.mkdtemp(prefix=f"parley-hostile-{name}-"))
    ports = {k: free_port() for k in ("irc", "irc_tls", "xmpp", "xmpp_tls")}
    cfgpath = tmp / "parley.yaml"
    cfgpath.write_text(json.dumps(parleyd_config(a, ports, counts), indent=1) + "\n")
    logfile = tmp / "parleyd.log"
    out: dict = {"phase": name, "hostile": hostile, "dir": str(tmp)}
    parleyd = loadgen = attackers = None
    sampler = None
    try:
        log(f"phase {name}: starting parleyd ({a.parleyd}) in {tmp}")
        parleyd = subprocess.Popen([a.parleyd, "--config", str(cfgpath)], cwd=tmp, stdin=subprocess.DEVNULL,
                                   stdout=open(logfile, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_ready(parleyd, logfile, 60)
        sampler = Sampler(parleyd.pid, a.rss_limit_mib * 1024)
        sampler.start()
        argv = [a.loadgen, "chat", "--port", str(ports["xmpp"]), "--irc-port", str(ports["irc"]),
                "--server-pid", str(parleyd.pid), "--domain", DOMAIN, "--user-prefix", "hx",
                "--password", HONEST_PASSWORD, "--irc-users", str(a.honest_irc), "--xmpp-users", str(a.honest_xmpp),
                "--rooms", str(a.rooms), "--rate", str(a.rate), "--seconds", str(a.duration),
                "--start-delay", str(a.start_delay), "--drain", str(a.drain), "--setup-timeout", "90"]
        loadgen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(tmp / "loadgen.err", "ab"),
                                   stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        events: dict[str, float] = {}
        result: dict = {}
        disconnects: list[str] = []
        budget = 90 + a.start_delay + a.duration + a.drain + 30
        timer = threading.Timer(budget, lambda: loadgen.poll() is None and loadgen.kill())
        timer.start()
        for line in loadgen.stdout:  # ends when loadgen exits (or is killed by the timer)
            line = line.rstrip("\n")
            if line.startswith("READY"):
                events["ready"] = time.monotonic()
                if hostile:
                    attackers = start_attackers(a, tmp, ports, counts)
            elif line.startswith("SENDING"):
                events["sending"] = time.monotonic()
            elif line.startswith("DISCONNECT "):
                disconnects.append(line[len("DISCONNECT "):])
            elif line.startswith("RESULT "):
                result = dict(kv.split("=", 1) for kv in line.split()[1:])
        loadgen.wait()
        timer.cancel()
        events["end"] = time.monotonic()
        out["loadgen_exit"] = loadgen.returncode
        if loadgen.returncode != 0:
            out["error"] = f"loadgen exit {loadgen.returncode}: {tail(tmp / 'loadgen.err', 3)}"
        out["result"], out["disconnects"] = result, disconnects
        out["attackers"] = stop_attackers(attackers)
        out["parleyd_alive"] = parleyd.poll() is None
        if not out["parleyd_alive"]:
            out["parleyd_exit"] = parleyd.returncode
        sampler.stop()
        out.update(resource_figures(sampler, events))
        t = time.monotonic()
        code = kill_tree(parleyd, 15)
        out["parleyd_stop_s"] = round(time.monotonic() - t, 2)
        if out["parleyd_alive"]:
            out["parleyd_exit"] = code
        out["log_lines"] = sum(1 for _ in open(logfile, errors="replace"))
    except Exception as e:  # noqa: BLE001 - reported in the table; the other phase still runs
        out["error"] = str(e)
        log(f"phase {name}: FAILED: {e}")
    finally:
        # Each step on its own, so that one failing cannot leave a child running.
        for step in (lambda: sampler and sampler.stop(), lambda: kill_tree(loadgen, 2),
                     lambda: attackers and attackers.poll() is None and stop_attackers(attackers),
                     lambda: kill_tree(parleyd, 10)):
            try:
                step()
            except Exception as e:  # noqa: BLE001
                log(f"phase {name}: cleanup: {e}")
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def start_attackers(a, tmp: Path, ports: dict, counts: dict[str, int]) -> subprocess.Popen:
    spec = {
        "duration": a.start_delay + a.duration + a.drain + 5,
        "irc_port": ports["irc"], "irc_tls_port": ports["irc_tls"], "xmpp_port": ports["xmpp"],
        "xmpp_tls_port": ports["xmpp_tls"], "domain": DOMAIN, "muc": f"conference.{DOMAIN}",
        "rooms": [f"hroom{r}" for r in range(a.rooms)], "counts": counts, "sources": a.sources,
        "source_base": "127.0.2.1", "attacker_prefix": "ax", "attacker_password": ATTACKER_PASSWORD,
        "victim_prefix": "victim", "victims": VICTIMS, "trickle": a.trickle, "half_tag_bytes": a.half_tag_bytes,
        "flood_rate": a.flood_rate, "amp_interval": a.amp_interval, "amp_id_bytes": a.amp_id_bytes,
        "amp_lines": a.amp_lines, "max_reconnects": 5000,
    }
    path = tmp / "attack.json"
    path.write_text(json.dumps(spec))
    log(f"starting {sum(counts.values())} attackers (nice {a.attacker_nice})")
    return subprocess.Popen(["nice", "-n", str(a.attacker_nice), sys.executable, str(HERE / "hostile_attacks.py"),
                             "--spec", str(path)], stdout=subprocess.PIPE, stderr=open(tmp / "attackers.err", "ab"),
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)


def stop_attackers(p: subprocess.Popen | None) -> dict:
    if p is None:
        return {}
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        stdout, _ = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        stdout, _ = p.communicate(timeout=5)
    for line in (stdout or "").splitlines():
        if line.startswith("STATS "):
            return json.loads(line[6:])
    return {"error": f"attackers exited {p.returncode} without statistics"}


def resource_figures(sampler: Sampler, ev: dict[str, float]) -> dict:
    s = sampler.samples
    if not s:
        return {}
    t_send = ev.get("sending", ev.get("ready", s[0][0]))
    t_end = ev.get("end", s[-1][0])
    win = sampler.window(t_send, t_end) or s[-1:]
    half = t_send + (t_end - t_send) / 2
    first = [x[1] for x in win if x[0] < half] or [win[0][1]]
    second = [x[1] for x in win if x[0] >= half] or [win[-1][1]]
    c0, c1 = sampler.at(t_send), sampler.at(t_end)
    ready = sampler.at(ev.get("ready", s[0][0]))
    wall = max(1e-3, t_end - t_send)
    return {
        "rss_start_mib": round(s[0][1] / 1024, 1),
        "rss_ready_mib": round(ready[1] / 1024, 1) if ready else None,
        "rss_sending_mib": round(c0[1] / 1024, 1) if c0 else None,
        "rss_max_mib": round(max(x[1] for x in s) / 1024, 1),
        "rss_end_mib": round(s[-1][1] / 1024, 1),
        "rss_max_first_half_mib": round(max(first) / 1024, 1),
        "rss_max_second_half_mib": round(max(second) / 1024, 1),
        # the maximum of every 5 s from READY on, to see whether the RSS levels off
        "rss_series_mib": series_max([x for x in s if x[0] >= ev.get("ready", 0)], 5.0),
        "cpu_s": round(c1[2] - c0[2], 2) if c0 and c1 else None,
        "cpu_util": round((c1[2] - c0[2]) / wall, 2) if c0 and c1 else None,
        "killed_for_rss_mib": round(sampler.killed_for_rss / 1024) if sampler.killed_for_rss else 0,
    }


def series_max(samples: list[tuple[float, int, float]], step: float) -> list[int]:
    out: list[int] = []
    if not samples:
        return out
    t0 = samples[0][0]
    for t, rss, _ in samples:
        k = int((t - t0) // step)
        while len(out) <= k:
            out.append(0)
        out[k] = max(out[k], round(rss / 1024))
    return out


def fnum(v, nd=1) -> str:
    if v is None or v == "":
        return "n/a"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f.is_integer() and nd == 0 else f"{f:.{nd}f}"


def report(a, counts: dict[str, int], phases: list[dict], load_before: float, when: str) -> dict:
    print(f"\n## Hostile load, {when}, {os.cpu_count()} CPUs, "
          f"load average before the run {load_before:.1f}\n")
    print(f"parleyd: {a.parleyd}")
    print(f"honest: {a.honest_irc} IRC guests + {a.honest_xmpp} XMPP accounts, {a.rooms} rooms (2 per user), "
          f"{a.rate:g} msg/s each (every 3rd a direct message), {a.duration:g} s per phase")
    mix = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    print(f"hostile (phase B): {sum(counts.values())} connections from {a.sources} addresses: {mix}; "
          f"floods {a.flood_rate:g}/s each, amplification every {a.amp_interval:g} s "
          f"({a.amp_id_bytes} B id, {a.amp_lines} lines), attackers at nice {a.attacker_nice}\n")
    rows = [
        ("messages sent", "sent", 0), ("not sent: sender disconnected", "not_sent_disconnected", 0),
        ("deliveries expected", "expected", 0), ("delivered", "delivered", 0),
        ("lost", "lost", 0), ("lost to IRC users", "lost_to_irc", 0), ("lost to XMPP users", "lost_to_xmpp", 0),
        ("honest users disconnected", "disconnected", 0), ("duplicates", "duplicates", 0),
        ("error replies", "error_messages", 0), ("attack messages seen by honest users", "foreign", 0),
        ("p50 ms", "p50_ms", 2), ("p90 ms", "p90_ms", 2), ("p99 ms", "p99_ms", 2), ("p99.9 ms", "p999_ms", 2),
        ("max ms", "max_ms", 1), ("p99 to IRC users ms", "p99_to_irc_ms", 2),
        ("p99 to XMPP users ms", "p99_to_xmpp_ms", 2), ("loadgen CPU s", "loadgen_cpu_s", 2),
    ]
    own = [
        ("parleyd RSS when users ready MiB", "rss_ready_mib", 1), ("parleyd RSS max MiB", "rss_max_mib", 1),
        ("parleyd RSS max, 1st / 2nd half MiB", None, 1), ("parleyd RSS at end MiB", "rss_end_mib", 1),
        ("parleyd CPU s (chatting + drain)", "cpu_s", 2), ("parleyd CPU use (cores)", "cpu_util", 2),
        ("parleyd alive at the end", "parleyd_alive", 0), ("parleyd exit code after SIGTERM", "parleyd_exit", 0),
        ("parleyd log lines", "log_lines", 0),
    ]
    names = [f"{p['phase']}: {p['hostile']} attackers" for p in phases]
    width = 38
    print("| " + "figure".ljust(width) + " | " + " | ".join(n.rjust(18) for n in names) + " |")
    print("|-" + "-" * width + "-|" + "|".join("-" * 20 for _ in names) + "|")
    for label, key, nd in rows:
        cells = [fnum(p.get("result", {}).get(key), nd) if "result" in p else "error" for p in phases]
        print("| " + label.ljust(width) + " | " + " | ".join(c.rjust(18) for c in cells) + " |")
    for label, key, nd in own:
        if key is None:
            cells = [f"{fnum(p.get('rss_max_first_half_mib'))} / {fnum(p.get('rss_max_second_half_mib'))}" for p in phases]
        else:
            cells = [fnum(p.get(key), nd) if not isinstance(p.get(key), bool) else ("yes" if p[key] else "NO")
                     for p in phases]
        print("| " + label.ljust(width) + " | " + " | ".join(c.rjust(18) for c in cells) + " |")
    for p in phases:
        if p.get("rss_series_mib"):
            print(f"\n{p['phase']}: parleyd RSS, maximum of each 5 s from READY on (MiB): "
                  f"{' '.join(map(str, p['rss_series_mib']))}")
        if p.get("killed_for_rss_mib"):
            print(f"{p['phase']}: parleyd KILLED by the safety limit at {p['killed_for_rss_mib']} MiB RSS "
                  f"(--rss-limit-mib {a.rss_limit_mib})")
        if p.get("error"):
            print(f"{p['phase']}: ERROR: {p['error']}")
        for d in p.get("disconnects", [])[:5]:
            print(f"{p['phase']}: honest user disconnected: {d}")
        if len(p.get("disconnects", [])) > 5:
            print(f"{p['phase']}: ... {len(p['disconnects']) - 5} more disconnected")
    verdict = verdicts(a, phases)
    for p in phases:
        st = p.get("attackers") or {}
        if not st.get("kinds"):
            continue
        print(f"\n{p['phase']}: attackers (CPU {st.get('cpu_s')} s)\n")
        cols = ["attackers", "connects", "connect_errors", "closed_by_server", "open_at_end", "held_median_s",
                "held_max_s",
                "messages", "auth_attempts", "auth_failures", "auth_success", "sm_requests"]
        print("| kind          | " + " | ".join(c.replace("_", " ") for c in cols) + " | errors seen |")
        print("|---------------|" + "|".join("-" * (len(c) + 2) for c in cols) + "|---|")
        for kind, k in st["kinds"].items():
            errs = "; ".join(f"{e} (x{n})" for e, n in list(k.get("errors", {}).items())[:3])
            print(f"| {kind:<13} | " + " | ".join(str(k.get(c, "")).rjust(len(c.replace("_", " ")))
                                                   for c in cols) + f" | {errs} |")
    print()
    for line in verdict["lines"]:
        print(line)
    sys.stdout.flush()
    return verdict


def verdicts(a, phases: list[dict]) -> dict:
    by = {p["phase"]: p for p in phases}
    lines, ok = [], True
    A, B = by.get("A", {}), by.get("B", {})
    ra, rb = A.get("result", {}), B.get("result", {})
    out: dict = {}
    if rb:
        lost = int(rb.get("lost", -1))
        unsent = int(rb.get("not_sent_disconnected", 0))
        out["lost_B"] = lost
        good = lost == 0 and unsent == 0 and int(rb.get("disconnected", 0)) == 0 and int(rb.get("sent", 0)) > 0
        lines.append(f"honest users lose nothing (B): {'PASS' if good else 'FAIL'} — lost {lost} of "
                     f"{rb.get('expected')} deliveries, {rb.get('disconnected')} users disconnected, "
                     f"{unsent} messages not sent by them")
        ok &= good
    if ra and rb:
        pa, pb = float(ra.get("p99_ms", "nan")), float(rb.get("p99_ms", "nan"))
        ratio = pb / pa if pa > 0 else float("nan")
        out["p99_ratio"] = round(ratio, 2)
        good = ratio <= a.max_p99_ratio
        lines.append(f"p99(B)/p99(A) = {pb:.2f} / {pa:.2f} ms = {ratio:.2f}: "
                     f"{'PASS' if good else 'FAIL'} (limit {a.max_p99_ratio:g})")
        ok &= good
    if B.get("rss_max_mib") is not None:
        mx, h1, h2 = B["rss_max_mib"], B.get("rss_max_first_half_mib", 0), B.get("rss_max_second_half_mib", 0)
        growth = h2 - h1
        # The budget: the honest load's own RSS (A's maximum, else B's before the attack) plus
        # an allowance per hostile connection (default 256 KiB: the size of the largest stanza
        # a connection could park in the old framer, for each of them at once).
        base = A.get("rss_max_mib") or B.get("rss_ready_mib") or 0
        budget = a.rss_budget_mib if getattr(a, "rss_budget_mib", None) else \
            base + B.get("hostile", 0) * getattr(a, "rss_per_attacker_kib", 256) / 1024
        good = mx <= budget and growth <= max(8.0, 0.10 * h1) and not B.get("killed_for_rss_mib")
        out["rss_max_mib_B"] = mx
        lines.append(f"parleyd RSS bounded (B): {'PASS' if good else 'FAIL'} — max {mx:.1f} MiB (budget "
                     f"{budget:.1f} MiB), 2nd-half max {h2:.1f} vs 1st-half {h1:.1f} MiB (allowed growth "
                     f"{max(8.0, 0.10 * h1):.1f})")
        ok &= good
    if any(p.get("error") for p in phases) or any(not p.get("result") for p in phases):
        ok = False
        lines.append("a phase did not complete: see ERROR above")
    out["ok"] = ok
    out["lines"] = lines
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parleyd", default=os.environ.get("PARLEYD", str(DEFAULT_BUILD / "parleyd")))
    ap.add_argument("--loadgen", default=os.environ.get("LOADGEN", str(DEFAULT_BUILD / "bench/loadgen/parley_loadgen")))
    ap.add_argument("--duration", type=float, default=60, help="seconds of chatting per phase (default 60)")
    ap.add_argument("--hostile", type=int, default=200, help="hostile connections in phase B (default 200)")
    ap.add_argument("--mix", default="", help="kind=weight,... overriding the default mix before scaling")
    ap.add_argument("--phases", default="AB", help="AB (default), A or B")
    ap.add_argument("--honest-irc", type=int, default=25)
    ap.add_argument("--honest-xmpp", type=int, default=25)
    ap.add_argument("--rooms", type=int, default=5)
    ap.add_argument("--rate", type=float, default=1.0, help="messages per second per honest user")
    ap.add_argument("--start-delay", type=float, default=5, help="attackers ramp up this long before measuring")
    ap.add_argument("--drain", type=float, default=10)
    ap.add_argument("--sources", type=int, default=20, help="loopback addresses the attackers come from")
    ap.add_argument("--flood-rate", type=float, default=20, help="messages/s per flooder")
    ap.add_argument("--amp-interval", type=float, default=5)
    ap.add_argument("--amp-id-bytes", type=int, default=30000)
    ap.add_argument("--amp-lines", type=int, default=100)
    ap.add_argument("--trickle", type=float, default=5, help="seconds between slowloris bytes")
    ap.add_argument("--half-tag-bytes", type=int, default=240 * 1024)
    ap.add_argument("--attacker-nice", type=int, default=0, help="nice level of the attacker process (default 0)")
    ap.add_argument("--threads", type=int, default=None, help="parleyd server.threads (default: its default)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra parleyd config, e.g. --set xmpp.c2s.resume_timeout=30 (repeatable)")
    ap.add_argument("--rss-limit-mib", type=int, default=3072, help="safety: kill parleyd above this RSS")
    ap.add_argument("--rss-per-attacker-kib", type=int, default=256,
                    help="verdict: B's max RSS may exceed A's by this much per hostile connection")
    ap.add_argument("--rss-budget-mib", type=int, default=None, help="verdict: a fixed RSS budget instead")
    ap.add_argument("--max-p99-ratio", type=float, default=2.0)
    ap.add_argument("--json", help="also write every figure to this file")
    ap.add_argument("--keep", action="store_true", help="keep each phase's directory (config, logs)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a verdict fails")
    ap.add_argument("--report", metavar="FILE", help="only print the report of a run saved with --json")
    a = ap.parse_args()
    if a.report:
        saved = json.load(open(a.report))
        a = argparse.Namespace(**saved["args"])
        report(a, saved["counts"], saved["phases"], saved.get("load_before", float("nan")), saved.get("when", "?"))
        return 0
    for path in (a.parleyd, a.loadgen):
        if not os.access(path, os.X_OK):
            sys.exit(f"not executable: {path} (build: see bench/README.md, 'Hostile load')")
    if not (1 <= a.duration <= 600 and 0 <= a.hostile <= 2000 and 2 <= a.honest_irc + a.honest_xmpp <= 256):
        sys.exit("--duration 1..600, --hostile 0..2000, honest users 2..256 please")
    counts = scaled_mix(a.hostile, a.mix)
    load_before = os.getloadavg()[0]
    when = time.strftime("%Y-%m-%d %H:%M")
    t0 = time.monotonic()
    phases = []
    for name in a.phases:
        phases.append(run_phase(a, name, counts if name == "B" else {k: 0 for k in counts}))
        time.sleep(1)
    verdict = report(a, counts, phases, load_before, when)
    log(f"done in {time.monotonic() - t0:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "counts": counts, "phases": phases, "verdict": verdict,
                       "load_before": load_before, "when": when}, f, indent=1)
    if any(p.get("error") for p in phases):
        return 2
    return 1 if a.check and not verdict["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
