"""XEP-0198 §4 against a running parleyd: a client that acknowledges more stanzas than the
server sent gets the stream error <undefined-condition/> with <handled-count-too-high/>
(h as received, send-count as sent); an honest client on the same server goes on.

Raw sockets (the Raw client of test_harden_delivery.py), so the h sent is exact.
Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_xmpp_sm_ack.py
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import test_harden_delivery as raw  # noqa: E402

ACCOUNTS = [("alice", "alicepw"), ("bob", "bobpw")]
SM = raw.SM
STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"


def test_an_ack_beyond_what_was_sent_ends_only_that_stream():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice = raw.login(port, "alice", "alicepw", "a", sm=True, presence=False)
        # No presence: the only stanzas bob's stream carries are the two messages below.
        bob = raw.login(port, "bob", "bobpw", "phone", sm=True, presence=False)
        raw.send_to(alice, "bob@localhost/phone", ["one", "two"])
        bob.wait_bodies(["one", "two"])
        bob.send(f"<a xmlns='{SM}' h='999'/>")
        bob.until(b"</stream:stream>")
        err = bob.buf[bob.buf.index(b"<stream:error>"):].decode()
        assert f"<undefined-condition xmlns='{STREAMS}'/>" in err, err
        m = re.search(r"<handled-count-too-high xmlns='urn:xmpp:sm:3' h='(\d+)' send-count='(\d+)'/>", err)
        assert m, err
        assert m.group(1) == "999" and m.group(2) == "2", err
        # RFC 6120 §4.9.4: the application condition follows the defined one (and the text).
        assert err.index("undefined-condition") < err.index("handled-count-too-high"), err
        # The honest client is unaffected: a correct ack, then a message to itself.
        alice.send(f"<r xmlns='{SM}'/>")
        alice.until(b"<a xmlns='urn:xmpp:sm:3'")
        alice.send(f"<a xmlns='{SM}' h='0'/>")
        raw.send_to(alice, "alice@localhost/a", ["still here"])
        alice.wait_bodies(["still here"])
        alice.send(f"<a xmlns='{SM}' h='1'/>")
        raw.send_to(alice, "alice@localhost/a", ["and again"])
        alice.wait_bodies(["and again"])
        alice.close()


def test_a_resume_acking_more_than_was_sent_is_refused_and_loses_nothing():
    cfg = h.config(xmpp=True, accounts=ACCOUNTS)
    cfg["xmpp"]["c2s"]["resume_timeout"] = 60
    with h.Parleyd(cfg) as d:
        port = d.ports["xmpp"]
        alice = raw.login(port, "alice", "alicepw", "a", sm=True, presence=False)
        bob = raw.login(port, "bob", "bobpw", "phone", sm=True, resume=True, presence=False)
        sm_id = bob.sm_id
        raw.send_to(alice, "bob@localhost/phone", ["one", "two"])
        bob.wait_bodies(["one", "two"])
        bob.reset()  # the connection drops without an ack: both stay unacknowledged
        again = raw.Raw(port, "bob", "bobpw")
        again.send(f"<resume xmlns='{SM}' previd='{sm_id}' h='999'/>")
        again.until(b"</failed>")
        failed = again.buf[again.buf.index(b"<failed"):].decode()
        assert "undefined-condition" in failed, failed
        m = re.search(r"<handled-count-too-high xmlns='urn:xmpp:sm:3' h='(\d+)' send-count='(\d+)'/>", failed)
        assert m and m.group(1) == "999" and m.group(2) == "2", failed
        again.close()
        # The session was left as it was: an honest resume still gets both retransmitted.
        honest = raw.Raw(port, "bob", "bobpw")
        honest.send(f"<resume xmlns='{SM}' previd='{sm_id}' h='0'/>")
        honest.until(b"<resumed")
        honest.wait_bodies(["one", "two"])
        honest.close()
        alice.close()


if __name__ == "__main__":
    h.run_tests(globals())
