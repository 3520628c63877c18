#!/usr/bin/python3
"""A burst of groupchat messages to a persistent room: how long until the sender has the
reflection of the last one (every message is appended to the room's history in the store
first, so this is the store's write path on the core strand). Issue 10: SQLite commits
moved off the core strand onto a group-committing writer thread.

  bench/persistent_room.py --parleyd build-release/parleyd [--messages 2000] [--runs 3]
  PARLEYD_BASE=/work/main/build-release/parleyd bench/persistent_room.py ...   # before/after

Loopback only, parleyd on a private data dir (tests/integration/parley_harness.py), killed
by PID at the end; every wait is bounded.
"""
import argparse
import os
import re
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import parley_harness as h  # noqa: E402
from test_harden_flood import RawXmpp  # noqa: E402
from test_store_durability import join_persistent_room  # noqa: E402


def one_run(parleyd, n, persistent):
    h.PARLEYD = parleyd  # the harness reads $PARLEYD once, at import
    cfg = h.config(xmpp=True, accounts=[("alice", "alicepw")], log_level="info")
    cfg["xmpp"]["c2s"].update({"rate": {"stanzas_per_second": 0, "bytes_per_second": 0}})
    room = "bench@conference.localhost"
    with h.Parleyd(cfg) as d:
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw", timeout=120)
        if persistent:
            join_persistent_room(alice, room)
        else:
            alice.send(f"<presence to='{room}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
            alice.expect(rb"<presence[^>]*from='" + room.encode() + rb"/Alice'")
        payload = "".join(f"<message to='{room}' type='groupchat'><body>b{i}</body></message>" for i in range(n))
        t0 = time.monotonic()
        alice.send(payload)
        alice.expect(rf"<body>b{n - 1}</body>".encode(), timeout=300)
        took = time.monotonic() - t0
        alice.close()
        d.stop(timeout=60)
        m = re.search(r"store: (\d+) writes in (\d+) commits; (\d+) reads", d.log())
        summary = m.group(0) if m else "(no write-behind store)"
    return took, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parleyd", default=os.environ.get("PARLEYD", os.path.join(ROOT, "build-release", "parleyd")))
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--transient", action="store_true", help="also measure a non-persistent room")
    a = ap.parse_args()
    binaries = [("parleyd", a.parleyd)]
    if os.environ.get("PARLEYD_BASE"):
        binaries.insert(0, ("parleyd-base", os.environ["PARLEYD_BASE"]))
    kinds = [True, False] if a.transient else [True]
    for persistent in kinds:
        for name, path in binaries:
            times = []
            for _ in range(a.runs):  # interleaving would be fairer; runs are short and few
                took, summary = one_run(path, a.messages, persistent)
                times.append(took)
            med = statistics.median(times)
            print(f"{name:13} {'persistent' if persistent else 'transient':10} {a.messages} msgs: "
                  f"median {med:.3f} s ({a.messages / med:,.0f} msgs/s), runs {', '.join(f'{t:.3f}' for t in times)}"
                  f"; last run {summary}", flush=True)


if __name__ == "__main__":
    main()
