"""A small IRC test client in the style a conformance suite uses: every read is synchronised
with a PING/PONG round trip, so "no reply" can be asserted, and lines are parsed into
tags, prefix, command and params. Used by test_irc_conformance.py.

    c = Client(port)
    c.register("alice", caps=["echo-message"])   # CAP LS 302 / REQ / NICK / USER / CAP END
    c.send("JOIN #chan")
    msgs = c.messages()                          # everything the server sent before our PONG
"""
from __future__ import annotations

import itertools
import socket
import time

_tokens = itertools.count(1)


def _unescape(v: str) -> str:
    out, i = [], 0
    while i < len(v):
        ch = v[i]
        if ch == "\\" and i + 1 < len(v):
            nxt = v[i + 1]
            out.append({":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}.get(nxt, nxt))
            i += 2
            continue
        if ch != "\\":
            out.append(ch)
        i += 1
    return "".join(out)


class Msg:
    def __init__(self, line: str):
        self.raw = line
        self.tags: dict[str, str | None] = {}
        self.prefix: str | None = None
        rest = line
        if rest.startswith("@"):
            tags, _, rest = rest[1:].partition(" ")
            for item in tags.split(";"):
                if not item:
                    continue
                k, eq, v = item.partition("=")
                self.tags[k] = _unescape(v) if eq else None
        if rest.startswith(":"):
            self.prefix, _, rest = rest[1:].partition(" ")
        self.params: list[str] = []
        while rest:
            rest = rest.lstrip(" ")
            if rest.startswith(":"):
                self.params.append(rest[1:])
                break
            word, _, rest = rest.partition(" ")
            if word:
                self.params.append(word)
        self.command = self.params.pop(0).upper() if self.params else ""

    @property
    def nick(self) -> str | None:
        return self.prefix.split("!")[0] if self.prefix else None

    def __repr__(self) -> str:
        return f"Msg({self.raw!r})"


class Client:
    def __init__(self, port: int, timeout: float = 10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.isupport: dict[str, str | None] = {}
        self.nick = "*"

    # --- raw I/O ---
    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode()
        self.sock.sendall(data + b"\r\n")

    def read_line(self, timeout: float | None = None) -> str | None:
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        return raw.rstrip(b"\r").decode("utf-8", "replace")

    def read_raw_line(self) -> bytes:
        """One line exactly as sent (CRLF included), for length checks."""
        self.sock.settimeout(self.timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        return raw + b"\n"

    def message(self, timeout: float | None = None) -> Msg:
        """The next message, without synchronising (fails on timeout or close)."""
        line = self.read_line(timeout)
        if line is None:
            raise ConnectionError("connection closed")
        return Msg(line)

    def messages(self) -> list[Msg]:
        """Everything received until the server answers a PING sent now (PING/PONG excluded)."""
        token = f"sync{next(_tokens)}"
        self.send(f"PING {token}")
        out = []
        while True:
            m = self.message()
            if m.command == "PONG" and m.params and m.params[-1] == token:
                return out
            out.append(m)

    def closed(self, timeout: float = 5) -> bool:
        """True if the server closes the connection (after any pending lines) within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.read_line(max(0.1, deadline - time.monotonic())) is None:
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True
        return False

    # --- registration ---
    def register(self, nick: str, caps=(), user: str = "username", realname: str = "Realname",
                 sasl: tuple[str, str] | None = None) -> list[Msg]:
        """Registers like a modern client; returns the messages after 001 (005 parsed)."""
        import base64

        if caps or sasl:
            self.send("CAP LS 302")
            assert self.message().command == "CAP"
            want = list(caps) + (["sasl"] if sasl and "sasl" not in caps else [])
            self.send("CAP REQ :" + " ".join(want))
            ack = self.message()
            assert ack.command == "CAP" and ack.params[1] == "ACK", ack
        if sasl:
            self.send("AUTHENTICATE PLAIN")
            assert self.message().params == ["+"]
            blob = f"{sasl[0]}\0{sasl[0]}\0{sasl[1]}".encode()
            self.send("AUTHENTICATE " + base64.b64encode(blob).decode())
            assert self.message().command == "900"
            assert self.message().command == "903"
        self.send(f"NICK {nick}")
        self.send(f"USER {user} 0 * :{realname}")
        if caps or sasl:
            self.send("CAP END")
        while True:
            m = self.message()
            if m.command == "001":
                break
            assert m.command not in ("432", "433", "464", "ERROR"), m
        self.nick = nick
        after = self.messages()
        for m in after:
            if m.command == "005":
                for tok in m.params[1:-1]:
                    k, eq, v = tok.partition("=")
                    self.isupport[k] = v if eq else None
        return after

    def join(self, chan: str) -> list[Msg]:
        self.send(f"JOIN {chan}")
        msgs = self.messages()
        assert any(m.command == "366" for m in msgs), msgs
        return msgs

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def commands(msgs) -> list[str]:
    return [m.command for m in msgs]
