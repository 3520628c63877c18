"""The write-behind store (core/store/write_behind_store.hpp): commits run on the store's
writer thread, after the core has moved on, so shutdown must drain them.

  - SIGTERM right after a burst of offline messages loses none of them: after a restart the
    recipient gets every one, in order;
  - a burst to a persistent room is in its history after a restart (group commits).

Raw sockets (test_harden_flood.RawXmpp) so a burst is not limited by a client library.
Every loop is bounded in count and time.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
from test_harden_flood import RawXmpp  # noqa: E402

ACCOUNTS = [("alice", "alicepw"), ("bob", "bobpw")]
NO_SHAPER = {"rate": {"stanzas_per_second": 0, "bytes_per_second": 0}}


def restart(d):
    """Starts parleyd again on the same data; waits for this run's ready line (start() alone
    would find the last run's)."""
    mark = d.mark()
    d.start()
    d.wait_for_log(h.Parleyd.READY, 30, after=mark)


def settle(alice):
    """A message to alice's own full JID goes through the core after everything alice sent
    before it (one session's stanzas reach the core in order): once it is back, the core
    has handled the burst, and its writes are queued or committed."""
    alice.send("<message to='alice@localhost/r' type='chat'><body>settled</body></message>")
    alice.expect(rb"<body>settled</body>", timeout=60)


def test_sigterm_right_after_an_offline_burst_loses_nothing():
    n = 500
    cfg = h.config(xmpp=True, accounts=ACCOUNTS, log_level="info")
    cfg["xmpp"]["c2s"].update(NO_SHAPER)
    cfg["server"]["limits"] = {"offline_messages": 100000, "offline_bytes": 1 << 30, "offline_sender_share": 100}
    d = h.Parleyd(cfg).start()
    try:
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw")
        alice.send("".join(f"<message to='bob@localhost' type='chat'><body>o{i}</body></message>"
                           for i in range(n)))
        settle(alice)
        assert d.stop(timeout=30) == 0  # SIGTERM at once: the store drains before exit
        alice.close()
        log = d.log()
        m = re.search(r"store: (\d+) writes in (\d+) commits", log)
        assert m, "no store summary at shutdown"
        assert int(m.group(1)) >= n, m.group(0)

        restart(d)
        bob = RawXmpp(d.ports["xmpp"], "bob", "bobpw")
        got = []
        for _ in range(n):
            got.append(int(bob.expect(rb"<body>o(\d+)</body>", timeout=30).group(1)))
        assert got == list(range(n)), f"lost or reordered: {len(got)} of {n}"
        bob.close()
        assert d.stop(timeout=30) == 0
    except BaseException:
        h._dump(d)
        raise
    finally:
        d.close()


def join_persistent_room(alice, room):
    alice.send(f"<presence to='{room}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
    alice.expect(rb"<presence[^>]*from='" + room.encode() + rb"/Alice'")
    alice.send(f"<iq type='set' id='cfg' to='{room}'><query xmlns='http://jabber.org/protocol/muc#owner'>"
               "<x xmlns='jabber:x:data' type='submit'>"
               "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
               "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
               "</x></query></iq>")
    alice.expect(rb"<iq[^>]*id='cfg'[^>]*type='result'|<iq[^>]*type='result'[^>]*id='cfg'")


def test_a_burst_to_a_persistent_room_survives_a_restart():
    n = 300  # within the default room history (100 kept): the last 100 come back
    cfg = h.config(xmpp=True, accounts=ACCOUNTS, log_level="info")
    cfg["xmpp"]["c2s"].update(NO_SHAPER)
    room = "kept@conference.localhost"
    d = h.Parleyd(cfg).start()
    try:
        alice = RawXmpp(d.ports["xmpp"], "alice", "alicepw")
        join_persistent_room(alice, room)
        alice.send("".join(f"<message to='{room}' type='groupchat'><body>r{i}</body></message>" for i in range(n)))
        alice.expect(rf"<body>r{n - 1}</body>".encode(), timeout=60)  # the last reflection
        assert d.stop(timeout=30) == 0
        alice.close()
        m = re.search(r"store: (\d+) writes in (\d+) commits", d.log())
        assert m, "no store summary at shutdown"
        writes, commits = int(m.group(1)), int(m.group(2))
        assert writes >= n and commits < writes, m.group(0)  # grouped, not one commit per write

        restart(d)
        bob = RawXmpp(d.ports["xmpp"], "bob", "bobpw")
        bob.send(f"<presence to='{room}/Bob'><x xmlns='http://jabber.org/protocol/muc'>"
                 "<history maxstanzas='100'/></x></presence>")
        got = [int(bob.expect(rb"<body>r(\d+)</body>", timeout=30).group(1)) for _ in range(100)]
        assert got == list(range(n - 100, n)), got[:5]
        bob.close()
        assert d.stop(timeout=30) == 0
    except BaseException:
        h._dump(d)
        raise
    finally:
        d.close()


if __name__ == "__main__":
    h.run_tests(globals())
