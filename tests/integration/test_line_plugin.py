"""The line plugin (adapters/line, docs/PLUGINS.md), the smallest protocol plugin: a line
client and an IRC client in the same room (line `dev` = IRC #dev) see each other's joins and
messages; LOGIN checks the account's password; an over-long line closes the connection.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_line_plugin.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402


def line_config(**kw):
    cfg = h.config(irc=True, accounts=[("alice", "alicepw")], **kw)
    port = h.free_port()
    cfg["line"] = {"listen": [f"127.0.0.1:{port}"], "max_line": 256}
    cfg["_ports"]["line"] = port
    return cfg


def irc_client(port, nick):
    c = h.LineClient(port)
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :{nick}")
    c.expect(rf" 001 {nick} ")
    return c


def test_line_and_irc_share_a_room():
    with h.Parleyd(line_config()) as d:
        line = h.LineClient(d.ports["line"])
        line.send("JOIN dev")
        line.expect(r"^ERR LOGIN or GUEST first$")
        line.send("GUEST lina")
        line.expect(r"^OK lina$")
        line.send("JOIN dev")
        line.expect(r"^JOINED dev lina$")

        irc = irc_client(d.ports["irc"], "ann")
        irc.send("JOIN #dev")
        irc.expect(r" 353 ann = #dev :.*\blina\b")
        line.expect(r"^JOINED dev ann$")

        line.send("MSG dev hello from line")
        irc.expect(r"^:lina!\S+ PRIVMSG #dev :hello from line$")
        irc.send("PRIVMSG #dev :hello from irc")
        line.expect(r"^MSG dev ann hello from irc$")
        # the line client's own message is not echoed back to it
        assert not any("hello from line" in l for l in line.lines), line.lines

        irc.send("PART #dev :bye")
        line.expect(r"^LEFT dev ann$")
        line.send("QUIT")
        line.expect(r"^BYE quit$")
        assert line.read_line(timeout=5) is None
        irc.send("QUIT")
        irc.close()


def test_login_checks_the_password():
    with h.Parleyd(line_config()) as d:
        c = h.LineClient(d.ports["line"])
        c.send("LOGIN alice wrong")
        # the next command waits for the verdict (input is held while PBKDF2 runs)
        c.send("JOIN dev")
        c.expect(r"^ERR login failed$")
        c.expect(r"^ERR LOGIN or GUEST first$")
        c.send("LOGIN alice alicepw")
        c.expect(r"^OK alice$")
        # an account's name is not open to guests
        g = h.LineClient(d.ports["line"])
        g.send("GUEST alice")
        g.expect(r"^ERR nick in use$")
        c.close()
        g.close()


def test_a_line_longer_than_max_line_closes_the_connection():
    with h.Parleyd(line_config()) as d:
        c = h.LineClient(d.ports["line"])
        c.send("GUEST lina")
        c.expect(r"^OK lina$")
        c.send("MSG dev " + "x" * 300)  # max_line is 256
        c.expect(r"^BYE line too long$")
        assert c.read_line(timeout=5) is None
        # without a newline the read buffer is the bound
        c2 = h.LineClient(d.ports["line"])
        c2.sock.sendall(b"y" * 4096)
        c2.expect(r"^BYE line too long$")
        assert c2.read_line(timeout=5) is None
        # the server still serves others
        c3 = h.LineClient(d.ports["line"])
        c3.send("GUEST other")
        c3.expect(r"^OK other$")
        c3.close()


def test_an_unidentified_connection_is_closed_after_the_handshake_timeout():
    cfg = line_config(server_extra={"connections": {"handshake_timeout": 1}})
    with h.Parleyd(cfg) as d:
        idle = h.LineClient(d.ports["line"])
        ok = h.LineClient(d.ports["line"])
        ok.send("GUEST stays")
        ok.expect(r"^OK stays$")
        start = time.monotonic()
        assert idle.read_line(timeout=8) is None  # closed by the server, no GUEST/LOGIN
        assert time.monotonic() - start < 5
        # an identified client is past the deadline
        time.sleep(1.5)
        ok.send("JOIN dev")
        ok.expect(r"^JOINED dev stays$")
        ok.close()


if __name__ == "__main__":
    h.run_tests(globals())
