"""XMPP bench against parleyd with slixmpp clients (Debian python3-slixmpp).

Reports one-to-one throughput and latency p50/p99, server CPU per delivered stanza
(/proc/PID/stat utime+stime), logins/s and RSS per idle authenticated session.
Prosody/ejabberd are not run side by side here (not installed).

  PARLEYD=build/parleyd /usr/bin/python3 bench/xmpp_bench.py [messages] [idle_sessions]
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import parley_harness as h  # noqa: E402
import test_xmpp_c2s as t  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
IDLE = int(sys.argv[2]) if len(sys.argv) > 2 else 50
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    accounts = [("alice", "alicepw"), ("bob", "bobpw")] + [(f"u{i}", "pw") for i in range(IDLE)]
    cfg = h.config(xmpp=True, accounts=accounts, log_level="info")
    cfg["xmpp"]["c2s"]["rate"] = {"bytes_per_second": 0, "stanzas_per_second": 0}  # shaper off: a bench floods
    cfg["server"]["connections"] = {"per_address": 0, "rate": 0}  # every client is 127.0.0.1
    with h.Parleyd(cfg) as d:
        port, pid = d.ports["xmpp"], d.proc.pid
        alice = t.login(port, "alice", "alicepw")
        bob = t.login(port, "bob", "bobpw")
        sent = {}
        lat = []
        done = t.LOOP.create_future()

        def on_msg(m):
            i = int(m["body"])
            lat.append(time.perf_counter() - sent[i])
            if len(lat) == N and not done.done():
                done.set_result(True)
        bob.add_event_handler("message", on_msg)
        c0 = cpu_s(pid)
        t0 = time.perf_counter()

        async def pump():
            for i in range(N):
                sent[i] = time.perf_counter()
                alice.send_message(mto="bob@localhost/test", mbody=str(i), mtype="chat")
                if i % 20 == 19:
                    await asyncio.sleep(0.005)  # paced, so latency is not queueing in the client
            await done
        t.run(pump(), timeout=300)
        el = time.perf_counter() - t0
        c1 = cpu_s(pid)
        lat.sort()
        print(f"one-to-one: {N} msgs in {el:.2f} s = {N / el:.0f} msg/s; latency p50 {lat[N // 2] * 1e3:.2f} ms "
              f"p99 {lat[int(N * 0.99)] * 1e3:.2f} ms (client-side slixmpp included)")
        print(f"server CPU per delivered message: {(c1 - c0) / N * 1e6:.1f} us (includes TLS both ways)")
        # logins/s and memory per idle session
        r0 = rss_kib(pid)
        t0 = time.perf_counter()
        idle = [t.login(port, f"u{i}", "pw") for i in range(IDLE)]
        el = time.perf_counter() - t0
        t.run(asyncio.sleep(1))
        r1 = rss_kib(pid)
        print(f"logins: {IDLE} sequential STARTTLS+SCRAM-SHA-256 logins in {el:.2f} s = {IDLE / el:.1f}/s")
        print(f"memory per idle authenticated session: {(r1 - r0) / IDLE:.1f} KiB (RSS delta over {IDLE})")
        t.bye(alice, bob, *idle)


if __name__ == "__main__":
    main()
