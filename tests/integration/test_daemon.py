#!/usr/bin/env python3
"""parleyd as a process: config checking, start-up, SIGHUP reload, SIGTERM shutdown, TLS
files, and the account subcommand."""
import os
import signal
import socket
import stat
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import parley_harness as h  # noqa: E402


def test_check_config_reports_every_error_with_its_line():
    with tempfile.TemporaryDirectory() as tmp:
        bad = h.write_config(Path(tmp) / "broken.yaml",
                             "server:\n  domain: localhost\nirc:\n  listn: [\"127.0.0.1:6667\"]\n"
                             "  guests: maybe\n")
        r = h.run_parleyd("--check-config", str(bad))
        assert r.returncode == 1, r
        assert f"{bad}:4:3: irc.listn: unknown key 'listn'" in r.stderr, r.stderr
        assert f"{bad}:5:11: irc.guests: expected a boolean" in r.stderr, r.stderr

        syntax = h.write_config(Path(tmp) / "syntax.yaml", "server:\n  domain: [localhost\n")
        r = h.run_parleyd("--check-config", str(syntax))
        assert r.returncode == 1, r
        assert f"{syntax}:" in r.stderr and "YAML syntax error" in r.stderr, r.stderr


def test_check_config_accepts_the_shipped_default():
    r = h.run_parleyd("--check-config", str(h.SOURCE / "config" / "parley.yaml"))
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr


def test_version():
    r = h.run_parleyd("--version")
    assert r.returncode == 0 and r.stdout.startswith("parleyd "), r
    # One version string: CMake's project version is what parleyd and its IRC server say.
    import re
    project = re.search(r"project\(parley VERSION (\S+)", (h.SOURCE / "CMakeLists.txt").read_text()).group(1)
    assert r.stdout.split() == ["parleyd", project], r.stdout
    with h.Parleyd(h.config(irc=True)) as d:
        c = h.LineClient(d.ports["irc"])
        c.send("NICK v")
        c.send("USER v 0 * :v")
        c.expect(rf" 002 v :Your host is \S+, running version parley-{re.escape(project)}$")
        c.send("VERSION")
        c.expect(rf" 351 v parley-{re.escape(project)} ")
        c.close()


def test_start_reload_and_stop():
    cfg = h.config(irc=True, xmpp=True, sip=True, psyc=True, accounts=[("alice", "alicepw")])
    with h.Parleyd(cfg) as d:
        # First start: a self-signed certificate for the domain, key readable by owner only.
        cert = d.data_dir / "tls" / "cert.pem"
        key = d.data_dir / "tls" / "key.pem"
        assert cert.exists() and key.exists()
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert (d.data_dir / "parley.db").exists()

        # Each enabled protocol either listens on its port (one log line per listener) or,
        # while its adapter is not built in yet, says so.
        for proto, port in d.ports.items():
            line = d.wait_for_log(rf"{proto}\b.*(listening\b.*:{port}\b|no {proto} adapter)")
            if "listening" in line and proto != "sip":
                socket.create_connection(("127.0.0.1", port), timeout=5).close()

        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_for_log(r"configuration reloaded", after=mark)
        assert d.running()

        # A broken file on SIGHUP: errors logged with file:line, old config kept.
        good = d.config_path.read_text()
        d.config_path.write_text("server:\n  threads: lots\n")
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_for_log(r"parley\.yaml:2:\d+: server\.threads: expected an integer", after=mark)
        d.wait_for_log(r"configuration not reloaded", after=mark)
        time.sleep(0.2)
        assert d.running()
        d.config_path.write_text(good)

        start = time.monotonic()
        assert d.stop(timeout=5) == 0
        assert time.monotonic() - start < 5

        # The seed account was created in the store.
        r = h.run_parleyd("account", "list", "--config", str(d.config_path), cwd=d.workdir)
        assert r.returncode == 0 and r.stdout.split() == ["alice"], r


def test_account_subcommand():
    with tempfile.TemporaryDirectory() as tmp:
        conf = str(h.write_config(Path(tmp) / "parley.yaml", h.config()))
        r = h.run_parleyd("account", "add", "bob", "--config", conf, input="bobpw\n", cwd=tmp)
        assert r.returncode == 0, r.stderr
        r = h.run_parleyd("account", "add", "bob", "--config", conf, input="again\n", cwd=tmp)
        assert r.returncode == 1 and "bob" in r.stderr, r
        r = h.run_parleyd("account", "passwd", "bob", "--config", conf, input="newpw\n", cwd=tmp)
        assert r.returncode == 0, r.stderr
        r = h.run_parleyd("account", "list", "--config", conf, cwd=tmp)
        assert r.stdout.split() == ["bob"], r
        r = h.run_parleyd("account", "remove", "bob", "--config", conf, cwd=tmp)
        assert r.returncode == 0, r.stderr
        r = h.run_parleyd("account", "list", "--config", conf, cwd=tmp)
        assert r.returncode == 0 and r.stdout == "", r


if __name__ == "__main__":
    h.run_tests(globals())
