"""An IRC user and an XMPP user (slixmpp) talk directly (/msg bob reaches bob on XMPP; bob's chat
to ann@localhost reaches IRC ann), WHOIS shows the XMPP occupant, and its disconnect is a QUIT.
Room messages both ways are test_xmpp_irc_room.py's."""
import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import LOOP, next_where, slixmpp  # noqa: E402  (slixmpp is None when missing)

logging.basicConfig(level=logging.CRITICAL)


def run(coro, timeout=20):
    return xc.run(coro, timeout)


def pump(seconds):
    LOOP.run_until_complete(asyncio.sleep(seconds))


def test_irc_and_xmpp_users_talk():
    if slixmpp is None:
        print("SKIP: slixmpp missing")
        return

    class Client(xc.BaseClient):
        def __init__(self, jid, password):
            super().__init__(jid, password, plugins=("xep_0045",))
            self.messages = asyncio.Queue()
            self.group = asyncio.Queue()
            self.add_event_handler("message", lambda m: self.messages.put_nowait(m))
            self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))

    with h.Parleyd(h.config(irc=True, xmpp=True, accounts=[("bob", "bobpw")])) as d:
        bob = xc.login(Client, d.ports["xmpp"], "bob@localhost/test", "bobpw", timeout=20)
        irc = h.LineClient(d.ports["irc"])
        irc.send("NICK ann")
        irc.send("USER ann 0 * :Ann")
        irc.expect(r" 001 ann ")
        irc.send("JOIN #dev")
        irc.expect(r" 366 ann #dev ")
        run(bob.plugin["xep_0045"].join_muc_wait("dev@conference.localhost", "Bob", maxstanzas=0))
        irc.expect(r"^:Bob!bob@xmpp\.parley JOIN #dev$")
        irc.send("PRIVMSG bob :direct to bob")
        m = run(next_where(bob.messages, lambda m: m["body"] == "direct to bob" and m["type"] in ("chat", "normal")))
        bob.send_message(mto="ann@localhost", mbody="direct to ann", mtype="chat")
        pump(0.2)
        irc.expect(r"^:bob!bob@xmpp\.parley PRIVMSG ann :direct to ann$")
        irc.send("WHOIS Bob")
        irc.expect(r" 311 ann Bob bob xmpp\.parley ")
        irc.expect(r" 318 ann Bob ")
        bob.disconnect()
        pump(0.5)
        irc.expect(r"^:Bob!bob@xmpp\.parley (QUIT|PART) ")
        irc.send("QUIT")
        irc.close()


if __name__ == "__main__":
    h.run_tests(globals())
