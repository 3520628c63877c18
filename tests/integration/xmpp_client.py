"""Shared slixmpp client helpers for the XMPP integration tests (test_xmpp_*.py,
test_irc_xmpp.py): one event loop, a ClientXMPP base with certificate checks off (parleyd
generates a self-signed cert), login, queue matching and MUC status helpers.

Each test file subclasses BaseClient to add its own plugins, queues and handlers.
"""
import asyncio
import logging
import os
import ssl
import time

try:
    import slixmpp
except ImportError:  # pragma: no cover - test_irc_xmpp.py reports a skip
    slixmpp = None

LOOP = asyncio.new_event_loop()
asyncio.set_event_loop(LOOP)
MUC_USER = "{http://jabber.org/protocol/muc#user}"


def configure_logging():
    logging.basicConfig(level=logging.DEBUG if os.environ.get("XMPP_DEBUG") else logging.CRITICAL)


if slixmpp is not None:
    class BaseClient(slixmpp.ClientXMPP):
        """Registers `plugins` in order; `started` resolves once the session has begun and
        initial presence was sent. Extra keyword arguments go to ClientXMPP (e.g. sasl_mech)."""

        def __init__(self, jid, password, plugins=(), **kw):
            super().__init__(jid, password, **kw)
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE  # parleyd's generated self-signed cert
            for p in plugins:
                self.register_plugin(p)
            self.started = LOOP.create_future()
            self.add_event_handler("session_start", self._start)

        async def _start(self, _):
            self.send_presence()
            if not self.started.done():
                self.started.set_result(True)


def run(coro, timeout=15):
    return LOOP.run_until_complete(asyncio.wait_for(coro, timeout))


def settle(seconds):
    """Runs the clients' loop for a while: what has arrived gets read (a bounded wait)."""
    LOOP.run_until_complete(asyncio.sleep(seconds))


def login(cls, port, jid, password, timeout=15, **kw):
    c = cls(jid, password, **kw)
    c.connect(("127.0.0.1", port))
    run(c.started, timeout)
    return c


async def next_where(queue, pred, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        item = await asyncio.wait_for(queue.get(), max(0.1, deadline - time.monotonic()))
        if pred(item):
            return item


def bye(*clients):
    for c in clients:
        c.disconnect()
    LOOP.run_until_complete(asyncio.sleep(0.3))


def codes(p):
    return {int(s.get("code")) for s in p.xml.findall(f"{MUC_USER}x/{MUC_USER}status")}


def item(p):
    return p.xml.find(f"{MUC_USER}x/{MUC_USER}item")


class LoopIrc:
    """A raw IRC client (parley_harness.LineClient) for tests that also run slixmpp clients:
    expect() polls the socket in short slices and lets the asyncio loop run in between."""

    def __init__(self, port, nick):
        import parley_harness as h  # the harness is beside this file

        self.nick = nick
        self.c = h.LineClient(port, timeout=10)
        self.c.send(f"NICK {nick}")
        self.c.send(f"USER {nick} 0 * :Real {nick}")
        self.expect(rf" 001 {nick} ")
        self.expect(r" (376|422) ")

    def send(self, line):
        self.c.send(line)

    def expect(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.c.expect(pattern, timeout=0.05)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                LOOP.run_until_complete(asyncio.sleep(0.02))

    def names(self, chan):
        """The NAMES list of chan as {nick: prefixes}."""
        import re

        self.send(f"NAMES {chan}")
        line = self.expect(rf" 353 {self.nick} [=@*] {chan} :")
        self.expect(rf" 366 {self.nick} {chan} ")
        out = {}
        for entry in line.split(" :", 1)[1].split():
            m = re.match(r"([@%+]*)(.*)", entry)
            out[m.group(2)] = m.group(1)
        return out
