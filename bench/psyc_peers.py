#!/usr/bin/python3
"""A room spread over two PSYC-linked parleyd nodes (issue 13): delivered messages/s and
the bytes that cross the peer link per message.

Starts two parleyd (PARLEYD, default build-rel/parleyd: a Release build) as PSYC peers,
node A (psyc://a.bench) dialing node B (psyc://b.bench) through a byte-counting TCP relay
in this script (LinkMeter). --members IRC clients (the cheapest client: a registration is
three lines) join one channel, half on each node. Then a sender on A, and afterwards one
on B, each send --messages PRIVMSGs to the channel as fast as the server reads them;
every receiver counts the PRIVMSG lines it gets.

Reports per phase: delivered messages/s (receiver lines / time from the first send to the
last delivery), both servers' CPU time per delivered line (utime+stime from /proc), and
the link: bytes and room-message packets that crossed it per message sent. One copy per
message means ~1 packet per message, whatever the number of members on the other node.

  bench/psyc_peers.py [--members 1000] [--messages 500]

Everything is bounded: every wait has a deadline (--timeout), the servers are children of
this script, killed by PID at the end.
"""
from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("PARLEYD", str(HERE.parent / "build-rel" / "parleyd"))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
import parley_harness as h  # noqa: E402

SECRET = "bench-link-secret"
A, B = "a.bench", "b.bench"
ROOM = "#big"


class LinkMeter(h.TcpProxy):
    """h.TcpProxy that counts bytes and message packets each way instead of keeping them."""

    def __init__(self, target: int):
        self.bytes = {"A->B": 0, "B->A": 0}
        self.messages = {"A->B": 0, "B->A": 0}  # _message_public packets
        self.tail = {"A->B": b"", "B->A": b""}
        super().__init__(target)

    def relayed(self, data, up):
        needle = b"\n_message_public\n"
        way = "A->B" if up else "B->A"
        self.bytes[way] += len(data)
        chunk = self.tail[way] + data
        self.messages[way] += chunk.count(needle)
        self.tail[way] = chunk[-(len(needle) - 1):]

    def snapshot(self):
        with self.lock:
            return dict(self.bytes), dict(self.messages)


class Crowd:
    """Many IRC clients on non-blocking sockets, driven from one selector."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.clients = {}  # fd -> state dict

    def add(self, port: int, nick: str):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        st = {"sock": s, "nick": nick, "buf": b"", "joined": False, "got": 0, "tail": b""}
        self.clients[s.fileno()] = st
        self.sel.register(s, selectors.EVENT_READ, st)
        s.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN {ROOM}\r\n".encode())
        return st

    def pump(self, seconds: float):
        """Reads whatever arrives for up to `seconds`; answers PINGs; counts room lines."""
        end = time.monotonic() + seconds
        needle = f" PRIVMSG {ROOM} :".encode()
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            for key, _ in self.sel.select(min(left, 0.05)):
                st = key.data
                try:
                    data = st["sock"].recv(1 << 18)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    raise RuntimeError(f"{st['nick']}: connection closed by the server")
                chunk = st["tail"] + data
                st["got"] += chunk.count(needle)
                st["tail"] = chunk[-(len(needle) - 1):]
                if not st["joined"] or b"PING " in data:
                    seen = st["buf"] + data
                    if f" 366 {st['nick']} {ROOM} ".encode() in seen:
                        st["joined"] = True
                    for line in seen.split(b"\r\n"):
                        if line.startswith(b"PING "):
                            st["sock"].sendall(b"PONG " + line[5:] + b"\r\n")
                    st["buf"] = seen[-256:]

    def wait(self, cond, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            self.pump(0.2)

    def close(self):
        for st in self.clients.values():
            try:
                st["sock"].close()
            except OSError:
                pass


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_config(domain: str, peer_port: int, peer_domain: str):
    cfg = h.config(irc=True, psyc=True, domain=domain, log_level="info")
    cfg["server"]["connections"] = {"per_address": 0, "rate": 0}  # every client is 127.0.0.1
    cfg["irc"].update({"flood_burst": 0, "sendq": 64 * 1024 * 1024, "recvq": 1024 * 1024,
                       "ping_interval": 3600, "ping_timeout": 3600})
    cfg["psyc"].update({"peer_queue": 100000,
                        "peers": [{"host": "127.0.0.1", "port": peer_port, "uniform": f"psyc://{peer_domain}",
                                   "secret": SECRET}]})
    return cfg


def phase(name, crowd, sender, receivers, count, meter, pids, timeout):
    before_bytes, before_msgs = meter.snapshot()
    before_cpu = [cpu_seconds(p) for p in pids]
    me = os.times()
    for r in receivers:
        r["got"] = 0
    expected = count * len(receivers)
    payload = "x" * 40
    start = time.monotonic()
    lines = "".join(f"PRIVMSG {ROOM} :{i} {payload}\r\n" for i in range(count)).encode()
    sock = sender["sock"]
    sock.setblocking(True)
    sock.sendall(lines)
    sock.setblocking(False)
    crowd.wait(lambda: sum(r["got"] for r in receivers) >= expected, timeout, f"{expected} deliveries ({name})")
    elapsed = time.monotonic() - start
    after_cpu = [cpu_seconds(p) for p in pids]
    me_cpu = (os.times().user - me.user) + (os.times().system - me.system)
    crowd.pump(0.5)  # anything late (or extra) on the link is counted too
    after_bytes, after_msgs = meter.snapshot()
    delivered = sum(r["got"] for r in receivers)
    link_bytes = sum(after_bytes.values()) - sum(before_bytes.values())
    link_msgs = sum(after_msgs.values()) - sum(before_msgs.values())
    cpu = sum(a - b for a, b in zip(after_cpu, before_cpu))
    print(f"{name}: {count} messages x {len(receivers)} receivers = {delivered} deliveries in {elapsed:.2f} s: "
          f"{delivered / elapsed:,.0f} delivered messages/s; servers' CPU {cpu:.2f} s "
          f"({cpu / delivered * 1e6:.1f} us per delivery); link: {link_bytes / count:.1f} bytes and "
          f"{link_msgs / count:.3f} message packets per message; this client's CPU {me_cpu:.2f} s")
    return {"deliveries_per_s": delivered / elapsed, "link_bytes_per_msg": link_bytes / count,
            "link_packets_per_msg": link_msgs / count}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    if not 2 <= args.members <= 5000 or not 1 <= args.messages <= 100000:
        ap.error("--members 2..5000, --messages 1..100000")
    print(f"parleyd: {h.PARLEYD}")

    pa, pb = h.free_port(), h.free_port()
    meter = LinkMeter(pb)
    ca = node_config(A, meter.port, B)
    cb = node_config(B, pa, A)
    ca["psyc"]["listen"], cb["psyc"]["listen"] = [f"127.0.0.1:{pa}"], [f"127.0.0.1:{pb}"]
    crowd = Crowd()
    with h.Parleyd(cb) as b, h.Parleyd(ca) as a:
        a.wait_for_log(r"psyc peer psyc://b.bench: link up", 30)
        b.wait_for_log(r"psyc peer psyc://a.bench: link up", 10)
        t0 = time.monotonic()
        on_a, on_b = [], []
        for i in range(args.members):
            # Alternate nodes; join in batches so the JOIN fan-out (n^2 lines) keeps draining.
            (on_a if i % 2 == 0 else on_b).append(crowd.add(a.ports["irc"] if i % 2 == 0 else b.ports["irc"], f"m{i}"))
            if i % 50 == 49:
                crowd.pump(0.01)
        crowd.wait(lambda: all(st["joined"] for st in crowd.clients.values()), args.timeout, "every member to join")
        # Membership crossed as context state: wait until the last member's JOIN reached the other node.
        crowd.pump(2.0)
        print(f"{args.members} members joined {ROOM} ({len(on_a)} on A, {len(on_b)} on B) in "
              f"{time.monotonic() - t0:.1f} s")
        pids = [a.proc.pid, b.proc.pid]
        res_a = phase("sender on A", crowd, on_a[0], on_a[1:] + on_b, args.messages, meter, pids, args.timeout)
        res_b = phase("sender on B", crowd, on_b[0], on_b[1:] + on_a, args.messages, meter, pids, args.timeout)
        for n in (a, b):
            if "link down" in n.log():
                print("WARNING: the link went down during the run", file=sys.stderr)
        crowd.close()
    print("RESULT " + " ".join(f"{k}_{side}={v:.3f}" for side, r in (("a", res_a), ("b", res_b)) for k, v in r.items()))


if __name__ == "__main__":
    main()
