"""The hostile side of bench/hostile.py: N attacker connections of mixed kinds against a
running parleyd, in one asyncio process (standard library only).

    hostile_attacks.py --spec SPEC.json

runs every attacker until spec["duration"] seconds have passed or SIGTERM arrives, then
prints one JSON line of per-kind statistics on stdout. Every attacker is bounded: in time
(the run's deadline cancels it), in reconnections (spec["max_reconnects"] per attacker),
and in bytes (flood and amplification rates are fixed). Attackers connect from
spec["sources"] loopback addresses (127.0.2.1, 127.0.2.2, ...), so per-address limits see a
small botnet rather than one address.

Kinds (the attacks of issue 9):
  slow_irc      TCP to the IRC port, "NICK " then one byte every `trickle` seconds, never a line end
  slow_xmpp     TCP to the XMPP port, the stream header one byte every `trickle` seconds
  tls_idle      TLS without a handshake: connect to the IRC / XMPP direct-TLS port and send
                nothing, or STARTTLS on the XMPP port and stop after <proceed/> (rotating)
  half_tag      XMPP stream header, then half a tag: an attribute value that grows in 4 KiB
                chunks up to `half_tag_bytes` and never ends
  flood_irc     IRC guest in an honest room, PRIVMSGs at `flood_rate` lines/s
  flood_xmpp    XMPP account in an honest room (MUC), groupchat at `flood_rate` stanzas/s
  wrongpw_xmpp  STARTTLS then SASL with wrong passwords, PLAIN and SCRAM-SHA-256 alternately,
                for an existing (victim) account or an unknown one, as fast as answered
  wrongpw_irc   IRC SASL PLAIN with wrong passwords in a loop on one connection, and
                PASS account:wrong registrations
  amplify       XMPP account in an honest room sends, every `amp_interval` s, a groupchat
                message with an `amp_id_bytes` id and an `amp_lines`-line body (the IRC
                members each get one line per body line, each with the id as msgid tag)
  never_ack     XMPP account enables stream management (XEP-0198), joins an honest room,
                reads everything, never answers <r/>
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import ssl
import statistics
import sys
import time

KINDS = ("slow_irc", "slow_xmpp", "tls_idle", "half_tag", "flood_irc", "flood_xmpp", "wrongpw_xmpp",
         "wrongpw_irc", "amplify", "never_ack")

STREAM_NS = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"


class Stats:
    def __init__(self):
        self.attackers = 0
        self.connects = 0          # connections opened
        self.connect_errors = 0    # refused / reset before or at connect
        self.closed_by_server = 0  # EOF, reset or stream error while we still wanted to talk
        self.held: list[float] = []  # seconds from connect to the server closing (pre-auth kinds)
        self.messages = 0          # flood lines/stanzas, amplification stanzas
        self.auth_attempts = 0
        self.auth_failures = 0     # failure answers received
        self.auth_success = 0      # must stay 0: wrong passwords never succeed
        self.sm_requests = 0       # <r/> received by never_ack (never answered)
        self.live = 0              # connections open now
        self.open_at_end = 0       # connections the server still held when the run ended
        self.bytes_out = 0
        self.bytes_in = 0
        self.errors: dict[str, int] = {}

    def error(self, e: BaseException | str) -> None:
        key = (e if isinstance(e, str) else f"{type(e).__name__}: {e}")[:70]
        if key in self.errors or len(self.errors) < 6:
            self.errors[key] = self.errors.get(key, 0) + 1

    def summary(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("held", "live")}
        if self.held:
            d["held_n"] = len(self.held)
            d["held_median_s"] = round(statistics.median(self.held), 2)
            d["held_max_s"] = round(max(self.held), 2)
        return d


class Closed(Exception):
    """The server closed the connection (or sent a stream error / IRC ERROR)."""


class Link:
    """One attacker connection: an asyncio stream plus a receive buffer for pattern waits."""

    def __init__(self, st: Stats, reader, writer):
        self.st, self.r, self.w, self.buf = st, reader, writer, b""
        self.t0 = time.monotonic()
        self.open = True
        st.live += 1

    @classmethod
    async def open(cls, st: Stats, port: int, source: str, tls: ssl.SSLContext | None = None) -> "Link":
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0), ssl=tls,
                                        server_hostname="localhost" if tls else None,
                                        ssl_handshake_timeout=10 if tls else None), 10)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as e:
            st.connect_errors += 1
            st.error(e)
            raise Closed() from e
        st.connects += 1
        return cls(st, r, w)

    async def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.w.write(data)
        self.st.bytes_out += len(data)
        try:
            await self.w.drain()
        except (OSError, ssl.SSLError) as e:
            raise Closed(str(e)) from e

    async def read_some(self, n: int = 65536) -> bytes:
        try:
            b = await self.r.read(n)
        except (OSError, ssl.SSLError) as e:
            raise Closed(str(e)) from e
        if not b:
            raise Closed("eof")
        self.st.bytes_in += len(b)
        return b

    async def expect(self, pattern: bytes, timeout: float = 15) -> re.Match:
        """Reads until the regex matches the buffer; consumes through the match."""
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if b"<stream:error" in self.buf or b"</stream:stream>" in self.buf or self.buf.startswith(b"ERROR "):
                raise Closed(self.buf[-200:].decode(errors="replace"))
            if len(self.buf) > 1 << 20:
                self.buf = self.buf[-65536:]
            left = deadline - time.monotonic()
            if left <= 0:
                raise asyncio.TimeoutError(f"waiting for {pattern!r}")
            self.buf += await asyncio.wait_for(self.read_some(), left)

    async def start_tls(self, ctx: ssl.SSLContext) -> None:
        try:
            await asyncio.wait_for(self.w.start_tls(ctx, server_hostname="localhost"), 10)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
            raise Closed(f"TLS: {e}") from e

    async def drain_forever(self, on_chunk=None) -> None:
        """Reads and discards until the server closes (then raises Closed)."""
        while True:
            b = await self.read_some()
            if on_chunk:
                await on_chunk(b)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.st.live -= 1
        try:
            self.w.transport.abort()
        except Exception:  # noqa: BLE001 - already gone
            pass


class Attack:
    def __init__(self, spec: dict):
        self.spec = spec
        self.stats = {k: Stats() for k in KINDS}
        self.deadline = time.monotonic() + float(spec["duration"])
        self.tls = ssl.create_default_context()
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE
        self.rooms = spec["rooms"]  # honest room names (IRC #name, XMPP name@muc)

    def source(self, i: int) -> str:
        base = [int(x) for x in self.spec["source_base"].split(".")]
        n = base[3] + i % int(self.spec["sources"])
        return f"{base[0]}.{base[1]}.{base[2] + n // 256}.{n % 256 or 1}"

    def left(self) -> float:
        return self.deadline - time.monotonic()

    # ---- helpers ---------------------------------------------------------------------------

    async def xmpp_stream(self, link: Link) -> bytes:
        await link.send(f"<?xml version='1.0'?><stream:stream to='{self.spec['domain']}' {STREAM_NS}>")
        return (await link.expect(rb"<stream:features.*?</stream:features>")).group(0)

    async def xmpp_tls(self, link: Link) -> bytes:
        f = await self.xmpp_stream(link)
        if b"<starttls" in f:
            await link.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            await link.expect(rb"<proceed[^>]*>")
            link.buf = b""
            await link.start_tls(self.tls)
            f = await self.xmpp_stream(link)
        return f

    async def xmpp_login(self, st: Stats, i: int, user: str) -> Link:
        link = await Link.open(st, self.spec["xmpp_port"], self.source(i))
        try:
            await self.xmpp_tls(link)
            creds = base64.b64encode(f"\0{user}\0{self.spec['attacker_password']}".encode()).decode()
            await link.send(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{creds}</auth>")
            m = await link.expect(rb"<(success|failure)[^>]*?(/>|>.*?</\1>)")
            if m.group(1) != b"success":
                raise Closed(f"login of {user} refused")
            await self.xmpp_stream(link)
            await link.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                            "<resource>x</resource></bind></iq>")
            await link.expect(rb"<iq[^>]*id=['\"]b1['\"].*?</iq>|<iq[^>]*id=['\"]b1['\"][^>]*/>")
            await link.send("<presence/>")
            return link
        except BaseException:
            link.close()
            raise

    async def muc_join(self, link: Link, room: str, nick: str, sm: bool = False) -> str:
        jid = f"{room}@{self.spec['muc']}"
        await link.send(f"<presence to='{jid}/{nick}'><x xmlns='http://jabber.org/protocol/muc'>"
                        "<history maxstanzas='0'/></x></presence>")
        await link.expect(rf"<presence[^>]*from=['\"]{re.escape(jid)}/{re.escape(nick)}['\"]".encode(), 20)
        return jid

    async def irc_register(self, link: Link, nick: str, extra: str = "") -> None:
        await link.send(f"{extra}NICK {nick}\r\nUSER {nick} 0 * :hostile\r\n")
        await link.expect(rb" 001 ")

    async def looped(self, kind: str, i: int, once, pause: float) -> None:
        """Runs `once` (one connection's life) again and again until the deadline."""
        st = self.stats[kind]
        st.attackers += 1
        for _ in range(int(self.spec["max_reconnects"])):
            if self.left() <= 0:
                return
            try:
                await asyncio.wait_for(once(st, i), max(0.1, self.left()))
            except asyncio.TimeoutError:
                if self.left() <= 0:
                    return
                st.error("timeout waiting for the server")
            except Closed as e:
                if str(e):
                    st.error(str(e)[:120])
            except (OSError, ssl.SSLError, ValueError) as e:
                st.error(e)
            await asyncio.sleep(min(pause, max(0.0, self.left())))

    # ---- the attacks -----------------------------------------------------------------------

    async def held(self, st: Stats, link: Link, trickle: bytes | None, interval: float) -> None:
        """Keeps a connection open, sending one byte of `trickle` (cycled) every `interval`
        s, until the server closes it; records how long it was held."""
        k = 0
        reader = asyncio.ensure_future(link.drain_forever())
        try:
            while True:
                done, _ = await asyncio.wait({reader}, timeout=interval)
                if done:
                    reader.result()  # raises Closed
                if trickle:
                    await link.send(trickle[k % len(trickle): k % len(trickle) + 1])
                    k += 1
        except Closed:
            st.closed_by_server += 1
            st.held.append(time.monotonic() - link.t0)
            raise
        finally:
            reader.cancel()
            link.close()

    async def slow_irc(self, st: Stats, i: int) -> None:
        link = await Link.open(st, self.spec["irc_port"], self.source(i))
        await self.held(st, link, b"NICK slow" + b"a" * 400, self.spec["trickle"])

    async def slow_xmpp(self, st: Stats, i: int) -> None:
        link = await Link.open(st, self.spec["xmpp_port"], self.source(i))
        hdr = f"<?xml version='1.0'?><stream:stream to='{self.spec['domain']}' {STREAM_NS}>".encode()
        await self.held(st, link, hdr, self.spec["trickle"])

    async def tls_idle(self, st: Stats, i: int) -> None:
        variant = i % 3
        if variant == 2 or not self.spec.get("xmpp_tls_port") or not self.spec.get("irc_tls_port"):
            link = await Link.open(st, self.spec["xmpp_port"], self.source(i))
            await self.xmpp_stream(link)
            await link.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            await link.expect(rb"<proceed[^>]*>")
        else:
            port = self.spec["irc_tls_port"] if variant == 0 else self.spec["xmpp_tls_port"]
            link = await Link.open(st, port, self.source(i))  # plain TCP: the handshake never starts
        await self.held(st, link, None, self.spec["trickle"])

    async def half_tag(self, st: Stats, i: int) -> None:
        link = await Link.open(st, self.spec["xmpp_port"], self.source(i))
        try:
            await self.xmpp_stream(link)
            await link.send(f"<message to='nobody@{self.spec['domain']}' id='")
            sent, chunk = 0, b"A" * 4096
            while sent < int(self.spec["half_tag_bytes"]):
                await link.send(chunk)
                sent += len(chunk)
                st.messages += 1
                if link.r.at_eof():
                    raise Closed()
                await asyncio.sleep(0.25)
        except Closed:
            st.closed_by_server += 1
            st.held.append(time.monotonic() - link.t0)
            link.close()
            raise
        await self.held(st, link, b"A", self.spec["trickle"])

    async def flood_irc(self, st: Stats, i: int) -> None:
        link = await Link.open(st, self.spec["irc_port"], self.source(i))
        try:
            nick = f"fl{i}x{st.connects}"
            await self.irc_register(link, nick)
            chan = "#" + self.rooms[i % len(self.rooms)]
            await link.send(f"JOIN {chan}\r\n")
            await link.expect(rb" 366 ")
            await self.flood(st, link, lambda n: f"PRIVMSG {chan} :flood {n} {'x' * 80}\r\n", irc=True)
        finally:
            link.close()

    async def flood(self, st: Stats, link: Link, render, irc: bool = False) -> None:
        """Sends render(n) at flood_rate per second (in 0.1 s batches) while draining input."""

        async def pong(b: bytes) -> None:
            if irc and b"PING" in b:
                for m in re.finditer(rb"(?m)^PING (.*?)\r?$", b):
                    link.w.write(b"PONG " + m.group(1) + b"\r\n")

        reader = asyncio.ensure_future(link.drain_forever(pong))
        per_tick = max(1, round(float(self.spec["flood_rate"]) / 10))
        n = 0
        try:
            while True:
                t = time.monotonic()
                await link.send("".join(render(n + k) for k in range(per_tick)))
                n += per_tick
                st.messages += per_tick
                if reader.done():
                    reader.result()
                await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - t)))
        except Closed:
            st.closed_by_server += 1
            raise
        finally:
            reader.cancel()

    async def flood_xmpp(self, st: Stats, i: int) -> None:
        link = await self.xmpp_login(st, i, f"{self.spec['attacker_prefix']}{i}")
        try:
            jid = await self.muc_join(link, self.rooms[i % len(self.rooms)], f"fx{i}")
            await self.flood(st, link, lambda n: f"<message to='{jid}' type='groupchat'><body>flood {n} "
                                                 f"{'x' * 80}</body></message>")
        finally:
            link.close()

    def wrong_target(self, i: int, k: int) -> str:
        # Half the attempts name an existing account (a victim), half an unknown one.
        return f"{self.spec['victim_prefix']}{(i + k) % int(self.spec['victims'])}" if k % 2 == 0 else f"nobody{i}x{k}"

    async def wrongpw_xmpp(self, st: Stats, i: int) -> None:
        link = await Link.open(st, self.spec["xmpp_port"], self.source(i))
        try:
            await self.xmpp_tls(link)
            for k in range(1000):
                user = self.wrong_target(i, k)
                st.auth_attempts += 1
                if k % 2 == 0:
                    creds = base64.b64encode(f"\0{user}\0wrong{k}".encode()).decode()
                    await link.send(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{creds}</auth>")
                else:
                    nonce = base64.b64encode(os.urandom(18)).decode()
                    first = base64.b64encode(f"n,,n={user},r={nonce}".encode()).decode()
                    await link.send(f"<auth xmlns='{SASL_NS}' mechanism='SCRAM-SHA-256'>{first}</auth>")
                    m = await link.expect(rb"<(challenge|failure|success)[^>]*?(/>|>(.*?)</\1>)")
                    if m.group(1) == b"challenge":
                        server_first = base64.b64decode(m.group(3)).decode()
                        r = dict(kv.split("=", 1) for kv in server_first.split(",") if "=" in kv)["r"]
                        proof = base64.b64encode(os.urandom(32)).decode()  # any proof: the password is wrong
                        final = base64.b64encode(f"c=biws,r={r},p={proof}".encode()).decode()
                        await link.send(f"<response xmlns='{SASL_NS}'>{final}</response>")
                    elif m.group(1) == b"failure":
                        st.auth_failures += 1
                        continue
                    else:
                        st.auth_success += 1
                        return
                m = await link.expect(rb"<(failure|success)[^>]*?(/>|>.*?</\1>)")
                if m.group(1) == b"success":
                    st.auth_success += 1
                    return
                st.auth_failures += 1
        except Closed:
            st.closed_by_server += 1
            raise
        finally:
            link.close()

    async def wrongpw_irc(self, st: Stats, i: int) -> None:
        link = await Link.open(st, self.spec["irc_port"], self.source(i))
        try:
            nick = f"wp{i}x{st.connects}"
            if i % 2 == 1:
                # PASS account:wrong: one attempt per connection (464 and ERROR), reconnecting
                st.auth_attempts += 1
                user = self.wrong_target(i, st.connects)
                await link.send(f"PASS {user}:wrong{st.connects}\r\nNICK {nick}\r\nUSER {nick} 0 * :x\r\n")
                m = await link.expect(rb" (001|464) ", 15)
                if m.group(1) == b"001":
                    st.auth_success += 1
                    return
                st.auth_failures += 1
                await link.drain_forever()
                return
            await link.send(f"CAP LS 302\r\nNICK {nick}\r\nUSER {nick} 0 * :x\r\nCAP REQ :sasl\r\n")
            await link.expect(rb"CAP \S+ ACK")
            for k in range(1000):
                user = self.wrong_target(i, k)
                st.auth_attempts += 1
                await link.send("AUTHENTICATE PLAIN\r\n")
                await link.expect(rb"AUTHENTICATE \+")
                creds = base64.b64encode(f"\0{user}\0wrong{k}".encode()).decode()
                await link.send(f"AUTHENTICATE {creds}\r\n")
                m = await link.expect(rb" (90[0-9]) ")
                if m.group(1) in (b"900", b"903"):
                    st.auth_success += 1
                    return
                st.auth_failures += 1
        except Closed:
            st.closed_by_server += 1
            raise
        finally:
            link.close()

    async def amplify(self, st: Stats, i: int) -> None:
        link = await self.xmpp_login(st, i, f"{self.spec['attacker_prefix']}{i}")
        reader = None
        try:
            jid = await self.muc_join(link, self.rooms[i % len(self.rooms)], f"amp{i}")
            reader = asyncio.ensure_future(link.drain_forever())
            body = "\n".join(f"amplified line {k}" for k in range(int(self.spec["amp_lines"])))
            n = 0
            while True:
                mid = f"{i}x{n}" + "a" * int(self.spec["amp_id_bytes"])
                await link.send(f"<message to='{jid}' type='groupchat' id='{mid}'><body>{body}</body></message>")
                st.messages += 1
                n += 1
                done, _ = await asyncio.wait({reader}, timeout=float(self.spec["amp_interval"]))
                if done:
                    reader.result()
        except Closed:
            st.closed_by_server += 1
            raise
        finally:
            if reader:
                reader.cancel()
            link.close()

    async def never_ack(self, st: Stats, i: int) -> None:
        link = await self.xmpp_login(st, i, f"{self.spec['attacker_prefix']}{i}")
        try:
            await link.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
            await link.expect(rb"<(enabled|failed)[^>]*>")
            await self.muc_join(link, self.rooms[i % len(self.rooms)], f"na{i}")

            async def count(b: bytes) -> None:
                st.sm_requests += len(re.findall(rb"<r xmlns=['\"]urn:xmpp:sm:3['\"]", b))

            await link.drain_forever(count)
        except Closed:
            st.closed_by_server += 1
            raise
        finally:
            link.close()

    # ---- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        counts = self.spec["counts"]
        pauses = {"wrongpw_xmpp": 0.05, "wrongpw_irc": 0.05}
        tasks = []
        i = 0
        for kind in KINDS:
            for _ in range(int(counts.get(kind, 0))):
                tasks.append(asyncio.ensure_future(self.looped(kind, i, getattr(self, kind), pauses.get(kind, 0.5))))
                i += 1
        stop = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
        print(f"ATTACKING {len(tasks)}", flush=True)
        await asyncio.wait([stop, *tasks], timeout=max(0.0, self.left()), return_when=asyncio.FIRST_COMPLETED)
        while not stop.done() and self.left() > 0 and not all(t.done() for t in tasks):
            await asyncio.wait([stop], timeout=min(1.0, max(0.0, self.left())))
        for st in self.stats.values():
            st.open_at_end = st.live
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "--spec":
        sys.exit("usage: hostile_attacks.py --spec SPEC.json")
    with open(sys.argv[2]) as f:
        spec = json.load(f)
    attack = Attack(spec)
    t0 = time.process_time()
    try:
        asyncio.run(attack.run())
    finally:
        out = {k: s.summary() for k, s in attack.stats.items() if s.attackers}
        print("STATS " + json.dumps({"kinds": out, "cpu_s": round(time.process_time() - t0, 2)}), flush=True)


if __name__ == "__main__":
    main()
