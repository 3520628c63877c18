#!/usr/bin/python3
"""SIMPLE presence fan-out: parleyd vs Kamailio 5.6 (presence + presence_xml), one run (issue 12).

For N watchers of one presentity (N in --watchers, default 10,100,1000,10000) the presentity
PUBLISHes M state changes (each PIDF carries its sequence number in <dm:note>seq-K</dm:note>);
the watchers, a pool of asyncio UDP sockets in this script, answer every NOTIFY with 200 and
record the sequence it carries. Reported per server and N:
  - NOTIFYs/s: state NOTIFYs received / (last one - first PUBLISH sent)
  - CPU µs per NOTIFY: run time of the server and all its processes (Kamailio forks
    several; every thread's /proc/PID/task/T/schedstat, ns), around the PUBLISH phase only,
    divided by the NOTIFYs received
  - stale %: NOTIFYs whose state is older than one that watcher had already received
  - complete %: watchers whose last NOTIFY carried the last published state

Fairness: Kamailio runs without authentication; parleyd always authenticates (digest MD5),
but only the set-up (REGISTER, SUBSCRIBE) is challenged - the measured phase (PUBLISH ->
NOTIFYs) costs one challenged PUBLISH per change on parleyd against N NOTIFYs. parleyd's
watchers are W accounts (seed accounts are hashed at start, so not one per watcher) that
each hold N/W subscription dialogs; Kamailio's watchers use the same From users. Kamailio
keeps subscriptions in memory (subs_db_mode 0) with db_text for the presentity table, and its
UDP receive buffer may grow to 32 MiB (maxbuffer) as parleyd's sip.udp_buffer;
parleyd has sip.notify_interval_ms 0 (no pacing), requests_per_second and max_pending raised
(every watcher is 127.0.0.1). Both listen on UDP on loopback only.

Every server is a child process killed by PID; every loop is bounded in count and time; a
step that exceeds its time bound is reported as such (and the larger N skipped).

  /usr/bin/python3 bench/sip_presence_vs_kamailio.py [--watchers 10,100] [--changes M] [--json FILE]
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as b  # noqa: E402
import kamailio_peer as kp  # noqa: E402  (tests/integration: the Kamailio config, shared with the tests)

PARLEYD = os.path.abspath(os.environ.get("PARLEYD", str(b.SOURCE / "build-release" / "parleyd")))
KAMAILIO = os.environ.get("KAMAILIO", "/usr/sbin/kamailio")
DOMAIN = "localhost"
PW = "benchpw"
PIDF = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
        'entity="sip:p@localhost"><tuple id="t1"><status><basic>{basic}</basic></status></tuple>'
        '<dm:person id="p1"><dm:note>seq-{seq}</dm:note></dm:person></presence>')
SEQ_RE = re.compile(rb"seq-(\d+)")
COMPACT = {b"i": b"call-id", b"v": b"via", b"f": b"from", b"t": b"to"}
KEEP = (b"via", b"from", b"to", b"call-id", b"cseq")


def user_seconds(pid: int) -> float:
    """User-mode CPU time of the server's processes (utime, 10 ms ticks): the part of
    cpu_seconds that parsing and rendering spend, without the sends' and wake-ups' kernel
    time that makes most of the run-to-run noise."""
    total = 0.0
    for p in [pid, *b.descendants(pid)]:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(f[11]) / os.sysconf("SC_CLK_TCK")  # utime (field 14)
        except (OSError, IndexError, ValueError):
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time of the server and all its processes (Kamailio forks several), each the sum of
    its live threads' /proc/PID/task/T/schedstat run times (ns; the scheduler's own count,
    the same for both servers), else utime + stime from /proc/PID/stat (10 ms ticks: at
    N = 10, 4,000 changes are ~0.8 s of parleyd, 80 ticks, and each of Kamailio's ~12
    processes rounds on its own)."""
    total = 0.0
    for p in [pid, *b.descendants(pid)]:
        try:
            total += sum(int((t / "schedstat").read_text().split()[0])
                         for t in Path(f"/proc/{p}/task").iterdir()) / 1e9
            continue
        except (OSError, IndexError, ValueError):
            pass
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            pass
    return total


def sleeps(pid: int) -> int:
    """Voluntary context switches of the server's threads (and its processes'): each is one
    sleep and wake-up, which on this VM costs more than most of the work between them."""
    total = 0
    for p in [pid, *b.descendants(pid)]:
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for t in tasks:
            try:
                m = re.search(r"^voluntary_ctxt_switches:\s*(\d+)", (t / "status").read_text(), re.M)
                total += int(m.group(1)) if m else 0
            except OSError:
                pass
    return total


def digest(ch: dict, user: str, method: str, uri: str, nc: int) -> str:
    H = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1, ha2, cn, ncs = H(f"{user}:{ch['realm']}:{PW}"), H(f"{method}:{uri}"), uuid.uuid4().hex[:8], f"{nc:08x}"
    resp = H(f"{ha1}:{ch['nonce']}:{ncs}:{cn}:auth:{ha2}")
    return (f'Authorization: Digest username="{user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", '
            f'uri="{uri}", response="{resp}", algorithm=MD5, cnonce="{cn}", nc={ncs}, qop=auth')


class Dialog:
    __slots__ = ("call_id", "tag", "user", "sock", "cseq", "to_tag", "fut", "max_seq", "state_notifies",
                 "stale", "any_notify", "etag", "cseqs", "retrans")

    def __init__(self, user: str, sock):
        self.call_id = uuid.uuid4().hex
        self.tag = uuid.uuid4().hex[:10]
        self.user, self.sock = user, sock
        self.cseq, self.to_tag, self.fut, self.etag = 0, "", None, ""
        self.max_seq, self.state_notifies, self.stale, self.any_notify = -1, 0, 0, 0
        self.cseqs: set[bytes] = set()  # NOTIFY CSeqs seen: a repeat is a retransmission
        self.retrans = 0


class Sock(asyncio.DatagramProtocol):
    def __init__(self, pool: "Pool"):
        self.pool, self.transport, self.port = pool, None, 0

    def connection_made(self, transport):
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data, addr):
        self.pool.on_msg(self, data, addr)

    def error_received(self, exc):  # ICMP etc.: ignored, retransmission covers it
        pass


class Pool:
    """UDP user agents: dialogs by Call-ID over a few sockets; NOTIFYs answered at once."""

    def __init__(self, server: tuple[str, int], nsocks: int, auth: bool):
        self.server, self.nsocks, self.auth = server, nsocks, auth
        self.socks: list[Sock] = []
        self.dialogs: dict[bytes, Dialog] = {}
        self.last_notify = 0.0
        self.notifies = 0
        self.creds: dict[str, list] = {}  # user -> [challenge, last nonce count]

    async def open(self):
        loop = asyncio.get_running_loop()
        for _ in range(self.nsocks):
            _, s = await loop.create_datagram_endpoint(lambda: Sock(self), local_addr=("127.0.0.1", 0))
            try:
                s.transport.get_extra_info("socket").setsockopt(1, 8, 4 << 20)  # SO_RCVBUF
            except OSError:
                pass
            self.socks.append(s)

    def close(self):
        for s in self.socks:
            s.transport.close()

    def on_msg(self, sock: Sock, data: bytes, addr) -> None:
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        first = lines[0]
        if first.startswith(b"SIP/2.0 "):
            cid = None
            for l in lines[1:]:
                k, _, v = l.partition(b":")
                k = k.strip().lower()
                if COMPACT.get(k, k) == b"call-id":
                    cid = v.strip()
                    break
            d = self.dialogs.get(cid)
            code = int(first[8:11])
            if d is not None and code >= 200 and d.fut is not None and not d.fut.done():
                d.fut.set_result((code, head.decode(errors="replace")))
            return
        # A request (NOTIFY, or anything else): 200 with the transaction's headers.
        keep, cid, cseq = [], None, b""
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            k = k.strip().lower()
            k = COMPACT.get(k, k)
            if k in KEEP:
                keep.append(l)
                if k == b"call-id":
                    cid = v.strip()
                elif k == b"cseq":
                    cseq = v.strip()
        sock.transport.sendto(b"SIP/2.0 200 OK\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n", addr)
        if not first.startswith(b"NOTIFY "):
            return
        d = self.dialogs.get(cid)
        if d is None:
            return
        d.any_notify += 1
        if cseq in d.cseqs:  # a retransmission (our 200 was late): the same transaction, not a new state
            d.retrans += 1
            return
        if len(d.cseqs) < 100000:
            d.cseqs.add(cseq)
        m = SEQ_RE.search(body)
        if m:
            seq = int(m.group(1))
            d.state_notifies += 1
            self.notifies += 1
            self.last_notify = time.monotonic()
            if seq < d.max_seq:
                d.stale += 1
            else:
                d.max_seq = seq

    def build(self, d: Dialog, method: str, target: str, headers=(), body: bytes = b"") -> bytes:
        d.cseq += 1
        uri = "sip:localhost" if method == "REGISTER" else f"sip:{target}@{DOMAIN}"
        to = f"<sip:{target}@{DOMAIN}>" + (f";tag={d.to_tag}" if d.to_tag else "")
        head = [f"{method} {uri} SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{d.sock.port};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport",
                f"From: <sip:{d.user}@{DOMAIN}>;tag={d.tag}", f"To: {to}", f"Call-ID: {d.call_id}",
                f"CSeq: {d.cseq} {method}", f"Contact: <sip:{d.user}@127.0.0.1:{d.sock.port}>",
                "Max-Forwards: 70", *headers, f"Content-Length: {len(body)}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def transact(self, d: Dialog, data: bytes, timeout: float = 2.0, tries: int = 4):
        """Sends one request (retransmitted as is, RFC 3261 §17.1.2 style) -> (code, head) or None."""
        d.fut = asyncio.get_running_loop().create_future()
        for _ in range(tries):
            d.sock.transport.sendto(data, self.server)
            try:
                return await asyncio.wait_for(asyncio.shield(d.fut), timeout)
            except asyncio.TimeoutError:
                continue
        return None

    async def request(self, d: Dialog, method: str, target: str, headers=(), body: bytes = b""):
        """One request; on parleyd digest-authenticated like a real UA: the user's last
        challenge again with the next nonce count, a fresh challenge only after a 401
        (parleyd refuses a user's nonces issued in the same second once it tracks too many)."""
        uri = "sip:localhost" if method == "REGISTER" else f"sip:{target}@{DOMAIN}"
        for _ in range(4):
            extra = []
            cred = self.creds.get(d.user) if self.auth else None
            if cred:
                cred[1] += 1
                extra = [digest(cred[0], d.user, method, uri, cred[1])]
            r = await self.transact(d, self.build(d, method, target, [*headers, *extra], body))
            if not (r and r[0] == 401 and self.auth):
                break
            pairs = re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', re.search(r"WWW-Authenticate:(.*)", r[1], re.I).group(1))
            self.creds[d.user] = [{k: a or c for k, a, c in pairs}, 0]
        if r and d.cseq and method == "SUBSCRIBE" and not d.to_tag:
            m = re.search(r"^(?:To|t):.*;tag=([^;\r\n]+)", r[1], re.M | re.I)
            if m:
                d.to_tag = m.group(1).strip()
        return r


async def run_case(server, n: int, m: int, users: int, time_bound: float) -> dict:
    pool = Pool(("127.0.0.1", server.port), min(n + 2, 128), auth=server.auth)
    await pool.open()
    res = {"watchers": n, "changes": m}
    try:
        loop_deadline = time.monotonic() + time_bound
        pub = Dialog("p", pool.socks[0])
        pool.dialogs[pub.call_id.encode()] = pub
        if server.auth:  # parleyd: the presentity and the watcher accounts register
            regs = []
            for j in range(users):
                dj = Dialog(f"w{j}", pool.socks[j % len(pool.socks)])
                pool.dialogs[dj.call_id.encode()] = dj
                regs.append(pool.request(dj, "REGISTER", f"w{j}", ["Expires: 3600"]))
            r = await pool.request(pub, "REGISTER", "p", ["Expires: 3600"])
            assert r and r[0] == 200, f"presentity REGISTER: {r}"
            rr = await asyncio.gather(*regs)
            assert all(x and x[0] == 200 for x in rr), f"watcher REGISTER: {[x and x[0] for x in rr]}"
            # The presentity watches each watcher account: SIP has no authorisation channel,
            # so parleyd takes that as allowing them to watch back (presence_agent.cpp).
            pre = []
            for j in range(users):
                dj = Dialog("p", pool.socks[j % len(pool.socks)])
                pool.dialogs[dj.call_id.encode()] = dj
                pre.append(pool.request(dj, "SUBSCRIBE", f"w{j}", ["Event: presence", "Expires: 3600"]))
            await asyncio.gather(*pre)
        r = await pool.request(pub, "PUBLISH", "p", ["Event: presence", "Content-Type: application/pidf+xml",
                                                     "Expires: 3600"], PIDF.format(basic="open", seq=0).encode())
        assert r and r[0] == 200, f"initial PUBLISH: {r}"
        pub.etag = re.search(r"SIP-ETag:\s*(\S+)", r[1], re.I).group(1)

        # N watchers subscribe (at most 200 transactions in flight).
        sem = asyncio.Semaphore(200)
        # One transaction at a time per user on parleyd: a user's nonce counts must arrive in
        # order (parleyd refuses a reordered count; then every dialog of that user re-challenges).
        locks = {f"w{j}": asyncio.Lock() for j in range(users)}
        watchers = []
        codes: dict = {}

        async def sub(i: int):
            d = Dialog(f"w{i % users}", pool.socks[i % len(pool.socks)])
            pool.dialogs[d.call_id.encode()] = d
            watchers.append(d)
            async with sem, locks[d.user]:
                if time.monotonic() > loop_deadline:
                    codes["timeout"] = codes.get("timeout", 0) + 1
                    return
                r = await pool.request(d, "SUBSCRIBE", "p", ["Event: presence", "Accept: application/pidf+xml",
                                                             "Expires: 3600"])
                c = r[0] if r else "none"
                codes[c] = codes.get(c, 0) + 1

        t = time.monotonic()
        await asyncio.gather(*(sub(i) for i in range(n)))
        res["subscribe_s"] = round(time.monotonic() - t, 2)
        res["subscribe_codes"] = {str(k): v for k, v in codes.items()}
        # Every watcher's first NOTIFY (seq-0), bounded.
        end = min(loop_deadline, time.monotonic() + 30)
        while time.monotonic() < end and sum(1 for d in watchers if d.max_seq >= 0) < n:
            await asyncio.sleep(0.05)
        res["initial_notified"] = sum(1 for d in watchers if d.max_seq >= 0)
        if time.monotonic() > loop_deadline:
            res["error"] = f"set-up exceeded {time_bound:.0f} s"
            return res
        for d in watchers:
            d.state_notifies, d.stale, d.retrans = 0, 0, 0
        pool.notifies = 0

        # Measured phase: M changes, each PUBLISH awaiting its 200 (a UA publishes one at a time).
        cpu0, t0, me0, sl0 = cpu_seconds(server.pid), time.monotonic(), os.times(), sleeps(server.pid)
        user0 = user_seconds(server.pid)
        published = 0
        for k in range(1, m + 1):
            r = await pool.request(pub, "PUBLISH", "p", ["Event: presence", "Content-Type: application/pidf+xml",
                                                         f"SIP-If-Match: {pub.etag}", "Expires: 3600"],
                                   PIDF.format(basic="open", seq=k).encode())
            if not r or r[0] != 200:
                res["publish_error"] = f"change {k}: {r and r[1].splitlines()[0]}"
                break
            pub.etag = re.search(r"SIP-ETag:\s*(\S+)", r[1], re.I).group(1)
            published = k
        t_pub = time.monotonic() - t0
        # A change whose PUBLISH got no answer (4 tries, 8 s) may still have been applied.
        want = n * (published + (1 if "publish_error" in res else 0))
        idle_end = time.monotonic() + 3
        while time.monotonic() < loop_deadline and pool.notifies < want:
            before = pool.notifies
            await asyncio.sleep(0.05)
            if pool.notifies != before:
                idle_end = time.monotonic() + 3
            elif time.monotonic() > idle_end:
                break
        cpu1, me1, sl1 = cpu_seconds(server.pid), os.times(), sleeps(server.pid)
        user1 = user_seconds(server.pid)
        res["client_cpu_s"] = round(me1.user + me1.system - me0.user - me0.system, 2)  # this script's share
        got = pool.notifies
        elapsed = max(1e-6, (pool.last_notify or time.monotonic()) - t0)
        res.update({
            "published": published, "notifies": got, "expected": want, "publish_s": round(t_pub, 3), "elapsed_s": round(elapsed, 3),
            "notifies_per_s": round(got / elapsed), "cpu_s": round(cpu1 - cpu0, 3),
            "cpu_us_per_notify": round((cpu1 - cpu0) * 1e6 / got, 1) if got else None,
            "user_us_per_notify": round((user1 - user0) * 1e6 / got, 2) if got else None,
            "stale": sum(d.stale for d in watchers), "retransmissions": sum(d.retrans for d in watchers),
            "stale_pct": round(100 * sum(d.stale for d in watchers) / got, 2) if got else None,
            "complete_pct": round(100 * sum(1 for d in watchers if d.max_seq == want // n) / n, 1),
            "sleeps_per_publish": round((sl1 - sl0) / published, 2) if published else None,
        })
        if time.monotonic() > loop_deadline:
            res["error"] = f"exceeded {time_bound:.0f} s"
        return res
    finally:
        pool.close()


async def run_rates(server, users: int, count: int, time_bound: float) -> dict:
    """REGISTERs/s, then MESSAGE transactions/s: `users` accounts, one transaction in flight
    per account (a UA's nonce counts must arrive in order), `count` transactions per phase.
    REGISTER refreshes the account's one binding (the pool socket); MESSAGE goes from
    account j to account j+1's registered contact, where the pool answers it 200, and is
    counted when the sender has its final 2xx - a relay through the server on both sides."""
    pool = Pool(("127.0.0.1", server.port), min(users, 128), auth=server.auth)
    await pool.open()
    res: dict = {"users": users}
    try:
        deadline = time.monotonic() + time_bound
        ds = []
        for j in range(users):
            d = Dialog(f"w{j}", pool.socks[j % len(pool.socks)])
            pool.dialogs[d.call_id.encode()] = d
            ds.append(d)
        rr = await asyncio.gather(*(pool.request(d, "REGISTER", d.user, ["Expires: 3600"]) for d in ds))
        if not all(x and x[0] == 200 for x in rr):
            res["error"] = f"set-up REGISTER: {[x and x[0] for x in rr][:10]}"
            return res

        async def phase(name: str, make) -> None:
            per = count // users
            fails: dict = {}

            async def one(j: int) -> int:
                ok = 0
                for _ in range(per):
                    if time.monotonic() > deadline:
                        break
                    r = await make(ds[j], j)
                    if r and 200 <= r[0] < 300:
                        ok += 1
                    else:
                        c = str(r[0] if r else "none")
                        fails[c] = fails.get(c, 0) + 1
                return ok

            cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
            me0 = os.times()
            done = sum(await asyncio.gather(*(one(j) for j in range(users))))
            el = max(1e-6, time.monotonic() - t0)
            cpu1, me1 = cpu_seconds(server.pid), os.times()
            res[name] = {"done": done, "per_s": round(done / el), "elapsed_s": round(el, 3),
                         "cpu_us_per": round((cpu1 - cpu0) * 1e6 / done, 1) if done else None,
                         "client_cpu_s": round(me1.user + me1.system - me0.user - me0.system, 2),
                         "failures": fails}

        def fresh(d: Dialog) -> Dialog:
            # A new Call-ID per transaction: many UAs registering once each, pager-mode
            # MESSAGEs. (parleyd's libre checks merged requests, RFC 3261 §8.2.2.2, in a hash
            # by Call-ID: one UA reusing a Call-ID for thousands of requests within timer J's
            # 32 s makes that a walk; see README.)
            pool.dialogs.pop(d.call_id.encode(), None)
            d.call_id, d.cseq = uuid.uuid4().hex, 0
            pool.dialogs[d.call_id.encode()] = d
            return d

        await phase("register", lambda d, j: pool.request(fresh(d), "REGISTER", d.user, ["Expires: 3600"]))
        body = b"hello from the bench"
        await phase("message", lambda d, j: pool.request(
            fresh(d), "MESSAGE", f"w{(j + 1) % users}", ["Content-Type: text/plain"], body))
        if time.monotonic() > deadline:
            res["error"] = f"exceeded {time_bound:.0f} s"
        return res
    finally:
        pool.close()


class Parleyd(b.Server):
    name = "parleyd"
    auth = True
    binary = PARLEYD
    # The same socket buffer Kamailio gets (maxbuffer probes up to net.core.rmem_max, 4 MiB
    # here, which the kernel doubles); parleyd-32m has parleyd's default (SO_RCVBUFFORCE).
    extra: dict = {"udp_buffer": 4 << 20}

    def __init__(self, users: int, max_n: int):
        super().__init__()
        self.users, self.max_n = users, max_n
        self.port = b.h.free_port(udp=True)

    def start(self):
        accounts = [("p", PW)] + [(f"w{j}", PW) for j in range(self.users)]
        cfg = b.h.config(log_level="warn", threads=2, accounts=accounts, domain=DOMAIN)
        cfg["sip"] = {"listen": [f"udp:127.0.0.1:{self.port}", f"tcp:127.0.0.1:{self.port}"],
                      "notify_interval_ms": 0, "requests_per_second": 100000, "max_pending": 1000000,
                      "max_subscriptions": 100000, "max_bindings": 1000, **self.extra}
        cfg["server"]["connections"] = {"per_address": 0, "rate": 0}
        cfg["server"]["limits"] = {"roster_size": 100000}
        path = b.h.write_config(self.tmp / "parley.yaml", cfg)
        self.spawn([self.binary, "--config", str(path)])
        b.wait_port(self.port, 60, self.proc)
        return self


class ParleydBase(Parleyd):
    """PARLEYD_BASE (an earlier build) in the same run: before/after on a noisy machine."""
    name = "parleyd-base"
    binary = os.path.abspath(os.environ.get("PARLEYD_BASE", "")) if os.environ.get("PARLEYD_BASE") else ""


class ParleydBigBuf(Parleyd):
    """parleyd with its default sip.udp_buffer, 32 MiB (root here: SO_RCVBUFFORCE lifts rmem_max)."""
    name = "parleyd-32m"
    extra = {"udp_buffer": 32 << 20}


class ParleydSmallBuf(Parleyd):
    """parleyd with sip.udp_buffer 0 (the kernel's ~208 KiB): what the buffer alone does."""
    name = "parleyd-208k"
    extra = {"udp_buffer": 0}


class ParleydLibreTimers(Parleyd):
    """parleyd as before issue 12's fan-out work, as far as a switch can tell: libre's own
    timer list (PARLEY_LIBRE_TIMERS=libre) and the kernel's default UDP buffer."""
    name = "parleyd-before"
    extra = {"udp_buffer": 0}

    def spawn(self, argv, env=None, cwd=None):
        return super().spawn(argv, env={**os.environ, "PARLEY_LIBRE_TIMERS": "libre", **(env or {})}, cwd=cwd)


class Kamailio(b.Server):
    name = "kamailio"
    auth = False

    def __init__(self, users: int, max_n: int):
        super().__init__()
        self.port = b.h.free_port(udp=True)

    def start(self):
        db = self.tmp / "db"
        kp.prepare_db(db)
        cfg = self.tmp / "kamailio.cfg"
        cfg.write_text(kp.config_text(self.port, db, DOMAIN, children=4, location=True, maxbuffer=33554432))
        self.spawn([KAMAILIO, "-f", str(cfg), "-DD", "-E", "-w", str(self.tmp), "-P", str(self.tmp / "k.pid"),
                    "-m", "512", "-M", "32"])
        b.wait_port(self.port, 30, self.proc)
        return self


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--watchers", default="10,100,1000,10000")
    ap.add_argument("--changes", type=int, default=0, help="M; 0 (default): 50, lowered so that a case sends at most 50,000 NOTIFYs (min 5); a value given is used as is")
    ap.add_argument("--users", type=int, default=100, help="watcher accounts (parleyd) / From users")
    ap.add_argument("--servers", default="parleyd,kamailio")
    ap.add_argument("--time-bound", type=float, default=120, help="seconds per server and N")
    ap.add_argument("--json")
    ap.add_argument("--rate-users", type=int, default=50, help="accounts for the REGISTER/MESSAGE rates (0: skip)")
    ap.add_argument("--rate-count", type=int, default=10000, help="transactions per rate phase")
    ap.add_argument("--udp-buffer", type=int, default=0, help="parleyd's sip.udp_buffer (0: its default)")
    a = ap.parse_args()
    if a.udp_buffer:
        Parleyd.extra = {"udp_buffer": a.udp_buffer}
    ParleydLibreTimers.extra = {**Parleyd.extra, "udp_buffer": 0}
    ns = [int(x) for x in a.watchers.split(",")] if a.watchers else []
    classes = {"parleyd": Parleyd, "parleyd-base": ParleydBase, "parleyd-208k": ParleydSmallBuf, "parleyd-32m": ParleydBigBuf,
               "parleyd-before": ParleydLibreTimers,
               "kamailio": Kamailio}
    names = a.servers.split(",")
    if "parleyd-base" in names and not ParleydBase.binary:
        ap.error("parleyd-base needs PARLEYD_BASE=path/to/an/earlier/parleyd")
    results: dict = {name: {} for name in names}
    stop_after = {name: False for name in names}
    # Interleaved (each N on every server before the next N): load drifts hit all alike.
    for n in ns:
        for name in names:
            if stop_after[name]:
                results[name][n] = {"watchers": n, "error": "skipped: the previous N exceeded its bound"}
                continue
            m = a.changes or max(5, min(50, 50000 // n))
            srv = classes[name](a.users, n)
            try:
                srv.start()
                b.log(f"{name} N={n} M={m} (pid {srv.pid}) load {os.getloadavg()[0]:.2f}")
                r = asyncio.run(asyncio.wait_for(run_case(srv, n, m, min(a.users, n), a.time_bound),
                                                 a.time_bound + 60))
            except Exception as e:  # noqa: BLE001 - one failed case must not stop the others
                r = {"watchers": n, "error": f"{type(e).__name__}: {e}", "log": srv.log_tail(8)}
            finally:
                srv.cleanup()
            r["load"] = round(os.getloadavg()[0], 2)
            b.log(json.dumps(r))
            results[name][n] = r
            stop_after[name] = "exceeded" in str(r.get("error", ""))
    rates: dict = {}
    if a.rate_users > 0:
        for name in names:
            srv = classes[name](a.rate_users, 0)
            try:
                srv.start()
                b.log(f"{name} rates: {a.rate_users} accounts, {a.rate_count} per phase (pid {srv.pid})")
                r = asyncio.run(asyncio.wait_for(run_rates(srv, a.rate_users, a.rate_count, a.time_bound),
                                                 a.time_bound + 60))
            except Exception as e:  # noqa: BLE001
                r = {"error": f"{type(e).__name__}: {e}", "log": srv.log_tail(8)}
            finally:
                srv.cleanup()
            r["load"] = round(os.getloadavg()[0], 2)
            b.log(json.dumps(r))
            rates[name] = r
    servers = list(results)
    print(f"\nSIMPLE presence fan-out, one presentity, PUBLISH -> NOTIFY to N watchers (UDP, loopback)")
    print(f"{'N':>6} {'M':>3} | " + " | ".join(f"{s:^51}" for s in servers))
    print(f"{'':>6} {'':>3} | " + " | ".join(f"{'NOTIFY/s':>9} {'µs CPU/N':>9} {'stale%':>7} {'got%':>6} {'done%':>6} {'retx':>6}"
                                              for _ in servers))
    for n in ns:
        cells, m = [], ""
        for s in servers:
            r = results[s].get(n, {})
            m = r.get("changes", m)
            if "notifies_per_s" in r:
                cells.append(f"{r['notifies_per_s']:>9} {r['cpu_us_per_notify'] or 0:>9} {r['stale_pct']:>7} "
                             f"{100 * r['notifies'] / r['expected']:>6.1f} {r['complete_pct']:>6} {r['retransmissions']:>6}" +
                             ("*" if "error" in r else "!" if "publish_error" in r else " "))
            else:
                cells.append(f"{str(r.get('error', 'n/a'))[:51]:<51}")
        print(f"{n:>6} {m:>3} | " + " | ".join(cells))
    print("NOTIFY/s: state NOTIFYs received / (last received - first PUBLISH); µs CPU/N: server run time, schedstat "
          "(all processes) per NOTIFY;\nstale%: NOTIFYs older than one that watcher already had; got%: of N*M; "
          "done%: watchers that ended on the last state; retx: NOTIFYs the watchers got again (retransmissions);\n*: hit the time bound; "
          "!: a PUBLISH got no answer in 8 s (4 tries): publishing stopped there (M = changes sent)")
    if rates:
        print(f"\nREGISTER and MESSAGE transactions, {a.rate_users} accounts, one transaction in flight each (UDP, loopback)")
        print(f"{'server':<14} | {'REGISTER/s':>10} {'µs CPU/tx':>10} | {'MESSAGE/s':>10} {'µs CPU/tx':>10} | load")
        for name, r in rates.items():
            if "register" not in r or "message" not in r:
                print(f"{name:<14} | {str(r.get('error', 'n/a'))[:60]}")
                continue
            g, m = r["register"], r["message"]
            print(f"{name:<14} | {g['per_s']:>10} {g['cpu_us_per'] or 0:>10} | {m['per_s']:>10} {m['cpu_us_per'] or 0:>10} |"
                  f" {r['load']}" + (f"  failures: {g['failures']} {m['failures']}" if g['failures'] or m['failures'] else ""))
        print("REGISTER: a refresh of the account's binding (parleyd: digest-authenticated, nonce count checked; "
              "Kamailio: save(\"location\"), no auth);\nMESSAGE: to the next account's registered contact, "
              "relayed and answered 200 there, counted at the sender's 2xx (parleyd: digest-authenticated; "
              "Kamailio: lookup + t_relay, no auth)")
    if a.json:
        Path(a.json).write_text(json.dumps({"fanout": results, "rates": rates}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
