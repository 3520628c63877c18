"""server.log_format: json - every line parleyd writes to stderr is one JSON object.

Starts parleyd with log_format json in a working directory whose name holds a quote, a
backslash, a tab and a byte that is not UTF-8 (it appears in the "starting with" line),
registers an IRC guest, reloads on SIGHUP (once valid, once broken), stops it, and parses
every stderr line with json.loads.
"""

import json
import os
import signal
import tempfile

import parley_harness as h

KEYS = {"time", "level", "component", "message"}


def parse_all(d: h.Parleyd) -> list[dict]:
    records = []
    for line in d.log().splitlines():
        # The harness decodes stderr with errors="replace": a raw U+FFFD would mean parleyd
        # wrote bytes that are not UTF-8. Escaped ones (\\ufffd) are what we want.
        assert "\ufffd" not in line, f"undecodable bytes in {line!r}"
        rec = json.loads(line)
        assert isinstance(rec, dict) and KEYS <= rec.keys(), line
        assert rec["level"] in {"trace", "debug", "info", "warning", "error", "critical"}, line
        assert rec["component"] == "parley", line
        assert rec["time"].endswith("Z") and "T" in rec["time"], line
        records.append(rec)
    return records


def test_every_line_is_json():
    base = tempfile.mkdtemp(prefix="parley-json-")
    odd = os.path.join(base, os.fsdecode(b'we"ird\\dir\tx\xff'))
    os.mkdir(odd)
    cfg = h.config(irc=True)
    cfg["server"]["log_format"] = "json"
    d = h.Parleyd(cfg, workdir=odd)
    try:
        with d:
            with h.LineClient(d.ports["irc"]) as c:
                c.send("NICK jsonguest")
                c.send("USER j 0 * :J")
                c.expect(r" 001 jsonguest ")
            mark = d.mark()
            d.signal(signal.SIGHUP)
            d.wait_for_log(r"configuration reloaded", after=mark)
            d.config_path.write_text("server:\n  threads: many\n")
            mark = d.mark()
            d.signal(signal.SIGHUP)
            d.wait_for_log(r"configuration not reloaded", after=mark)
        records = parse_all(d)
    finally:
        d.close()
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    messages = [r["message"] for r in records]
    assert any(m == "parleyd ready" or m.startswith("parleyd ready ") for m in messages), messages
    start = next(m for m in messages if m.startswith("parleyd ") and " starting with " in m)
    assert 'we"ird\\dir\tx\ufffd/parley.yaml' in start, start
    assert any(r["level"] == "error" and "server.threads" in r["message"] for r in records), messages
    assert messages[-1] == "parleyd stopped", messages[-3:]


def test_text_stays_the_default():
    with h.Parleyd(h.config(irc=True)) as d:
        pass
    first = d.log().splitlines()[0]
    assert not first.startswith("{"), first


if __name__ == "__main__":
    h.run_tests(globals())
