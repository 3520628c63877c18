"""packaging/parleyd.service: `systemd-analyze verify` accepts it, and it keeps its hardening.

verify needs the ExecStart binary and the Documentation= man pages to exist: the test
verifies a copy whose ExecStart is the parleyd under test, with MANPATH on the tree's man
pages. Skips when systemd-analyze is missing.
"""

import gzip
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import parley_harness as h

UNIT = h.SOURCE / "packaging" / "parleyd.service"


def unit_settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def test_hardening_settings():
    s = unit_settings()
    want = {
        "Type": "notify", "User": "parley", "Group": "parley", "StateDirectory": "parley",
        "RuntimeDirectory": "parley", "ConfigurationDirectory": "parley", "ProtectSystem": "strict",
        "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "NoNewPrivileges": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "SystemCallFilter": "@system-service",
        "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE", "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
        "LimitNOFILE": "65536", "WatchdogSec": "30", "ExecReload": "/bin/kill -HUP $MAINPID",
        "ExecStart": "/usr/sbin/parleyd --config /etc/parley/parley.yaml", "WorkingDirectory": "/var/lib/parley",
    }
    for k, v in want.items():
        assert s.get(k) == [v], f"{k}={s.get(k)}, want {v}"
    assert "DynamicUser" not in s


def test_systemd_analyze_verify():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        raise h.Skip("systemd-analyze not installed (Debian package systemd)")
    with tempfile.TemporaryDirectory(prefix="parley-unit-") as tmp:
        tmp = Path(tmp)
        unit = tmp / "parleyd.service"
        unit.write_text(UNIT.read_text().replace("/usr/sbin/parleyd", h.PARLEYD))
        for name, section in (("parleyd.8", "man8"), ("parley.yaml.5", "man5")):
            (tmp / "man" / section).mkdir(parents=True, exist_ok=True)
            (tmp / "man" / section / (name + ".gz")).write_bytes(
                gzip.compress((h.SOURCE / "packaging" / name).read_bytes()))
        env = {**os.environ, "MANPATH": f"{tmp / 'man'}:", "SYSTEMD_LOG_LEVEL": "notice"}
        r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, env=env, timeout=60)
        out = (r.stdout + r.stderr).strip()
        assert r.returncode == 0, f"systemd-analyze verify failed ({r.returncode}):\n{out}"
        # verify exits 0 on some warnings; lines naming our unit are findings about it.
        ours = [l for l in out.splitlines() if "parleyd.service" in l]
        assert not ours, "\n".join(ours)
        # The hardening as systemd scores it (0 = locked down, 10 = fully exposed); 1.8 today.
        r = subprocess.run([tool, "security", "--offline=true", "--man=no", str(unit)], capture_output=True,
                           text=True, env=env, timeout=60)
        m = re.search(r"Overall exposure level for parleyd.service: ([0-9.]+)", r.stdout + r.stderr)
        assert m, r.stdout + r.stderr
        assert float(m.group(1)) <= 2.5, f"exposure {m.group(1)} > 2.5:\n{r.stdout}"


if __name__ == "__main__":
    h.run_tests(globals())
