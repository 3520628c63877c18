"""The gateway decides channel vs nick by the network's CHANTYPES (issue 11, Biboumi's rule).

ngircd announces CHANTYPES=#&+ in ISUPPORT. Once alice's IRC connection has registered (she
is in #test), `+plus%local@irc.localhost` is a channel: joining it makes her puppet JOIN
+plus, a message there reaches the raw IRC client in it, and a self-ping says she is in.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_gateway_chantypes.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402
import xmpp_client as xc  # noqa: E402
from test_irc_gateway import GW, ROOM, Client, Ngircd, gateway_config, presence_of  # noqa: E402
from xmpp_client import next_where, run  # noqa: E402

xc.configure_logging()


def test_chantypes_from_isupport_make_plus_a_channel():
    irc_net = Ngircd().start()
    try:
        with h.Parleyd(gateway_config(irc_net.port)) as d:
            bob = xc.LoopIrc(irc_net.port, "bob")
            bob.send("JOIN #test")
            bob.expect(r" 366 bob #test ")
            bob.send("JOIN +plus")
            bob.expect(r" 366 bob \+plus ")
            isupport = " ".join(line for line in bob.c.lines if " 005 " in line)
            if "CHANTYPES=" in isupport and "+" not in isupport.split("CHANTYPES=")[1].split()[0]:
                raise h.Skip("this ngircd has no '+' channels")

            alice = xc.login(Client, d.ports["xmpp"], "alice@localhost/x", "alicepw")
            muc = alice.plugin["xep_0045"]
            run(muc.join_muc_wait(ROOM, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?#test")
            plus = f"+plus%local@{GW}"
            run(muc.join_muc_wait(plus, "alice", maxstanzas=0))
            bob.expect(r"^:alice!\S+ JOIN :?\+plus")
            presence_of(alice.mucpres, plus, "bob")
            alice.send_message(mto=plus, mbody="plus works", mtype="groupchat")
            bob.expect(r"^:alice!\S+ PRIVMSG \+plus :plus works$")
            bob.send("PRIVMSG +plus :and back")
            m = run(next_where(alice.group, lambda m: m["body"] == "and back"))
            assert m["from"].bare == plus, m
            # XEP-0410 self-ping there: joined (it was service-unavailable, the address read
            # as a nick's before CHANTYPES applied, so clients rejoined at every ping)
            alice.register_plugin("xep_0199")
            run(alice.plugin["xep_0199"].send_ping(f"{plus}/alice", timeout=10))
            # and disco#info says it is a room (MUC, self-ping optimisation)
            info = run(alice.plugin["xep_0030"].get_info(jid=plus, timeout=10))
            features = info["disco_info"]["features"]
            assert "http://jabber.org/protocol/muc" in features, features
            # A user with no puppet on the network (after a restart, say): not joined, so the
            # client joins again (service-unavailable would tell it that it is still in)
            dave = xc.login(Client, d.ports["xmpp"], "dave@localhost/x", "davepw")
            dave.register_plugin("xep_0199")
            try:
                run(dave.plugin["xep_0199"].send_ping(f"{plus}/dave", timeout=10))
                raise AssertionError("a self-ping with no puppet was answered")
            except IqError as e:
                assert e.iq["error"]["condition"] == "not-acceptable", e.iq
            xc.bye(alice, dave)
            bob.c.close()
    finally:
        irc_net.close()


if __name__ == "__main__":
    h.run_tests(globals())
