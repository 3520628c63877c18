"""A smoke run of bench/gateway_vs_biboumi.py (issue 11): tiny counts (--quick), so the
bench keeps working as the gateway changes. It checks only that the run completes and
that every message arrived exactly once through both gateways, both ways; it asserts no
speed (the machine is shared). Skipped when biboumi, prosody or ngircd is missing.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_bench_gateway_smoke.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "gateway_vs_biboumi.py")


def test_gateway_bench_quick_run_loses_nothing():
    for tool in ("biboumi", "prosody", "ngircd", "openssl"):
        if not shutil.which(tool):
            raise h.Skip(f"{tool} is not installed (scripts/setup.sh)")
    with tempfile.TemporaryDirectory(prefix="gwbench-smoke-") as tmp:
        out = os.path.join(tmp, "result.json")
        r = subprocess.run(["/usr/bin/python3", BENCH, "--quick", "--cases", "i2x,x2i,standalone",
                            "--parleyd", h.PARLEYD, "--json", out],
                           capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        with open(out) as f:
            results = json.load(f)["results"]
    for gw in ("biboumi", "parley", "parley-standalone"):
        assert gw in results and "error" not in results[gw], results.get(gw)
        for case in ("i2x", "x2i"):
            c = results[gw][case]
            assert c["sent"] > 0, (gw, case, c)
            assert c["xmpp_lost"] == 0 and c["irc_lost"] == 0 and c["dups"] == 0, (gw, case, c)
    assert results["parley-standalone"]["max"]["xmpp_lost"] == 0, results["parley-standalone"]["max"]


if __name__ == "__main__":
    h.run_tests(globals())
