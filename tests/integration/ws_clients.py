"""WebSocket clients for Parley's HTTP listener (python3-websocket, i.e. websocket-client).

XmppWs: XMPP over WebSocket (RFC 7395), raw stanzas, SASL PLAIN, bind, MUC join and talk.
IrcWs:  IRC over WebSocket (IRCv3), one line per message, text or binary subprotocol.
Every wait has a timeout.
"""
from __future__ import annotations

import base64
import re
import time

import websocket  # python3-websocket

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"


def close_code(ws, timeout: float = 5) -> int | None:
    """Reads until the server's close frame; its status code (None: closed without one)."""
    ws.settimeout(timeout)
    try:
        while True:
            # recv_frame, not recv_data: recv_data answers a close frame with one of its own, and
            # when the server has already closed (a reset, as it closes with our excess frames
            # unread) that send raises and the code it received would be lost.
            frame = ws.recv_frame()
            if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data
                return int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    except Exception:
        return None


class XmppWs:
    def __init__(self, url: str, timeout: float = 10, subprotocols=("xmpp",), **kw):
        self.ws = websocket.create_connection(url, timeout=timeout, subprotocols=list(subprotocols), **kw)
        self.timeout = timeout
        self.seen: list[str] = []

    def send(self, xml: str) -> None:
        self.ws.send(xml)

    def recv(self, timeout: float | None = None) -> str:
        self.ws.settimeout(timeout or self.timeout)
        data = self.ws.recv()
        return data.decode() if isinstance(data, bytes) else data

    def expect(self, pattern: str, timeout: float | None = None) -> str:
        """The next message matching pattern (others are kept in .seen)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no message matching {pattern!r}; saw {self.seen[-10:]}")
            m = self.recv(left)
            self.seen.append(m)
            if re.search(pattern, m, re.S):
                return m

    def open(self, domain: str = "localhost") -> str:
        self.send(f"<open xmlns='{FRAMING}' to='{domain}' version='1.0'/>")
        self.expect(r"^<open ")
        return self.expect(r"^<stream:features")

    def login(self, user: str, password: str, resource: str = "ws", domain: str = "localhost") -> str:
        features = self.open(domain)
        assert "PLAIN" in features and "starttls" not in features, features
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        self.expect(r"^<success")
        features = self.open(domain)
        assert "bind" in features, features
        self.send(f"<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  f"<resource>{resource}</resource></bind></iq>")
        m = self.expect(r"id='b1'|id=\"b1\"")
        jid = re.search(r"<jid>([^<]+)</jid>", m)
        assert jid, m
        return jid.group(1)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


class IrcWs:
    def __init__(self, url: str, nick: str | None = None, subprotocols=("text.ircv3.net",), timeout: float = 10,
                 **kw):
        self.ws = websocket.create_connection(url, timeout=timeout,
                                              subprotocols=list(subprotocols) if subprotocols else None, **kw)
        self.timeout = timeout
        self.seen: list[str] = []
        self.frames: list[int] = []  # opcodes of the messages received
        if nick:
            self.send(f"NICK {nick}")
            self.send(f"USER {nick} 0 * :{nick}")
            self.expect(rf" 001 {nick} ")

    def send(self, line: str, binary: bool = False) -> None:
        if binary:
            self.ws.send_binary(line.encode())
        else:
            self.ws.send(line)

    def recv(self, timeout: float | None = None) -> str:
        self.ws.settimeout(timeout or self.timeout)
        op, data = self.ws.recv_data()
        self.frames.append(op)
        line = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else data
        if line.startswith("PING "):
            self.send("PONG " + line[5:])
        return line

    def expect(self, pattern: str, timeout: float | None = None) -> str:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r}; saw {self.seen[-10:]}")
            line = self.recv(left)
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
