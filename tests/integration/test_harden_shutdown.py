"""SIGTERM with everything live: the shutdown path (daemon.cpp: plugin stop() in reverse
order, then Sessions::terminate_all on the core strand while the io threads still run) is
where the core's plain SessionSink pointers, the strands and the owners of each sink meet.

Each round starts a parleyd (node A) with, at the moment SIGTERM lands:
  - XMPP streams with XEP-0198 resumption: live ones in a MUC room and hibernated ones
    (their TCP connection reset: owned by the resume table and a resume timer only), one
    of them dropped a moment before the signal; a resource conflict in flight;
  - an XMPP user's IRC gateway puppet, connected to a real IRC server (ngircd);
  - a puppet-mode bridge between an ngircd channel and a local room (bridge sessions);
  - PSYC circuits in the room, and a PSYC peer node (node B) whose person is mirrored on A
    as a core session of the PeerHub;
  - a SIP binding (REGISTER) and a SIP presence dialog (SUBSCRIBE, a libre notifier);
  - IRC clients sending to the room in a tight loop, so deliveries are in flight.
The second test first KILLs every one of those sessions through the control socket (each
kind of sink's on_terminate under load, bridge members then reopen theirs), then SIGTERMs.
parleyd must exit 0 within 3 s of SIGTERM, without reaching the drain limit (4 s: a pending
timer of a stopped bridge bot or gateway puppet used to hold it there), and with no
sanitizer report (the ASan build exits non-zero on one; its report is in the dumped log). PARLEY_SHUTDOWN_ROUNDS (default 3)
bounds the rounds; each round is bounded in time by the harness's timeouts.

The narrow interleavings behind such bugs are pinned down deterministically by unit tests
(tests/unit/adapters/xmpp/link_test.cpp "hibernated", bridge/local_endpoint_test.cpp); this
test is the attack that looks for the ones nobody thought of. PARLEY_SHUTDOWN_HIBERNATED
(default 8) sets the number of hibernated streams. It did not reproduce the race fixed by
ddd8ddf (Link::on_terminate) in 25 rounds with 24 hibernated and 12 live streams.

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_harden_shutdown.py
"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
from test_harden_delivery import login  # noqa: E402
from test_irc_gateway import Ngircd  # noqa: E402
from test_psyc import PsycClient  # noqa: E402
import test_sip_presence as tsp  # noqa: E402

ROUNDS = int(os.environ.get("PARLEY_SHUTDOWN_ROUNDS", "3"))
LIVE = 12  # live XEP-0198 streams in the room at SIGTERM
# Hibernated ones: XmppPlugin::stop cancels their resume timers, whose handlers (io threads)
# race terminate_all (core strand) for the same Links.
HIBERNATED = int(os.environ.get("PARLEY_SHUTDOWN_HIBERNATED", "8"))
SECRET = "shutdown-peer-secret"
ACCOUNTS = [("alice", "alicepw"), ("bob", "bobpw"), ("carol", "carolpw"), ("dave", "davepw")]
MUC = "http://jabber.org/protocol/muc"
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer")


def nodes(irc_port):
    pa, pb = h.free_port(), h.free_port()
    a = h.config(irc=True, xmpp=True, sip=True, psyc=True, accounts=ACCOUNTS, log_level="info", threads=4,
                 # flood_burst 0: the load clients stay (no Excess Flood) and keep deliveries in flight.
                 irc_extra={"flood_burst": 0,
                            "networks": [{"name": "local", "host": "127.0.0.1", "port": irc_port, "tls": False,
                                          "throttle": {"burst": 50, "interval_ms": 20}}]},
                 bridges=[{"name": "pup", "mode": "puppet", "max_puppets": 3,
                           "rooms": ["irc://local/#pup", "parley:#pup"]}])
    a["xmpp"]["c2s"]["resume_timeout"] = 120
    a["psyc"] = {"listen": [f"127.0.0.1:{pa}"], "peer_backoff_max": 1,
                 "peers": [{"host": "127.0.0.1", "port": pb, "uniform": "psyc://b.test", "secret": SECRET}]}
    a["_ports"]["psyc"] = pa
    b = h.config(irc=True, psyc=True, domain="b.test", log_level="info")
    b["psyc"] = {"listen": [f"127.0.0.1:{pb}"], "peer_backoff_max": 1,
                 "peers": [{"host": "127.0.0.1", "port": pa, "uniform": "psyc://localhost", "secret": SECRET}]}
    b["_ports"]["psyc"] = pb
    return a, b


def psyc_in_dev(port, domain, name):
    c = PsycClient(port)
    c.send("_request_link", f"psyc://{domain}/~{name}")
    c.expect("_notice_link")
    c.send("_request_context_enter", f"psyc://{domain}/@dev")
    c.expect("_echo_context_enter")
    return c


def muc_join(stream, room, nick):
    stream.send(f"<presence to='{room}@conference.localhost/{nick}'><x xmlns='{MUC}'/></presence>")
    stream.until(b"status code='110'")  # XEP-0045 §7.2.3: our own presence came back


def flood(port, nick, chan, count, joined, stop):
    """An IRC client saying `count` lines in `chan` as fast as the socket takes them, then
    staying connected until `stop`."""
    try:
        c = h.LineClient(port, timeout=10)
        c.send(f"NICK {nick}")
        c.send(f"USER {nick} 0 * :{nick}")
        c.expect(rf" 001 {nick} ")
        c.send(f"JOIN {chan}")
        c.expect(rf" 366 {nick} {chan} ")
        joined.release()
        for i in range(count):
            if stop.is_set():
                break
            c.send(f"PRIVMSG {chan} :{nick} line {i}")
        stop.wait(30)
    except (OSError, AssertionError):
        pass  # the server went away under us: that is the point


def kick_everyone(d):
    """KILLs every session (Sessions::terminate: each kind of sink's on_terminate) while the
    load runs; returns how many were kicked. Bridge members reopen theirs after a delay."""
    rows = d.control("sessions").splitlines()
    assert rows and rows[0] == "ok", rows[:3]
    kicked = 0
    for row in rows[1:]:
        sid = row.split()[0]
        if d.control(f"kick {sid} attack").startswith("ok"):
            kicked += 1
    return kicked


def one_round(irc_net, n, kick=False):
    ca, cb = nodes(irc_net.port)
    if kick:
        ca["server"]["control_socket"] = "./var/control"
    keep = []
    stop = threading.Event()
    threads = []
    with h.Parleyd(cb) as b:
        a = h.Parleyd(ca)
        with a:
            a.wait_for_log(r"psyc peer psyc://b.test: link up", 15)
            xport, iport, pport = a.ports["xmpp"], a.ports["irc"], a.ports["psyc"]
            # PSYC: a circuit on A and a person on B, both in dev (B's is mirrored on A).
            keep.append(psyc_in_dev(pport, "localhost", f"pete{n}"))
            keep.append(psyc_in_dev(b.ports["psyc"], "b.test", f"quinn{n}"))
            # XMPP: live and hibernated XEP-0198 streams in the MUC room dev.
            alice = login(xport, "alice", "alicepw", "live", sm=True, resume=True)
            muc_join(alice, "dev", "alice")
            keep.append(alice)
            for i in range(HIBERNATED):
                s = login(xport, "bob", "bobpw", f"gone{i}", sm=True, resume=True)
                muc_join(s, "dev", f"bob{i}")
                s.reset()  # hibernated: only the resume table and its timer own the session
            # Live resumable streams that never read: at SIGTERM their connections close on
            # their own strands (XmppPlugin::stop) while terminate_all ends their sessions on
            # the core strand, with room messages still in their outboxes (the hand-off).
            for i in range(LIVE):
                s = login(xport, "dave", "davepw", f"r{i}", sm=True, resume=True)
                muc_join(s, "dev", f"dave{i}")
                keep.append(s)
            # The IRC gateway: carol's puppet on ngircd.
            carol = login(xport, "carol", "carolpw", "gw", sm=True, resume=True)
            carol.send(f"<presence to='#gw%local@irc.localhost/carol'><x xmlns='{MUC}'/></presence>")
            carol.until(b"status code='110'", timeout=20)
            keep.append(carol)
            # The puppet bridge: an ngircd user speaks in #pup, a local puppet session says it.
            nina = h.LineClient(irc_net.port, timeout=10)
            nina.send(f"NICK nina{n}")
            nina.send(f"USER nina 0 * :nina")
            nina.expect(rf" 001 nina{n} ")
            nina.send("JOIN #pup")
            nina.expect(rf" 366 nina{n} #pup ")
            a.wait_for_log(r"bridge: pup joined local room pup", 15)
            keep.append(nina)
            # SIP: a binding and a presence dialog (libre notifier).
            ua = tsp.Ua(a.ports["sip"], "dave", "davepw")
            ua.register()
            r = ua.subscribe("alice")
            assert tsp.ts.status(r) in (200, 202), r
            keep.append(ua)
            # Load: IRC clients in dev and #pup, the ngircd user in #pup, XMPP in the room.
            joined = threading.Semaphore(0)
            for i, chan in enumerate(["#dev", "#dev", "#pup"]):
                t = threading.Thread(target=flood, args=(iport, f"load{n}x{i}", chan, 2000, joined, stop),
                                     daemon=True)
                t.start()
                threads.append(t)
            for _ in threads:
                assert joined.acquire(timeout=15), "a load client did not get in"
            for i in range(50):
                nina.send(f"PRIVMSG #pup :nina says {i}")
                alice.send(f"<message to='dev@conference.localhost' type='groupchat'><body>a{i}</body></message>")
            if kick:
                # KILL: every sink kind's on_terminate with its connection live or hibernated.
                rows = a.control("sessions").splitlines()[1:]
                kinds = {row.split()[1] for row in rows}
                assert {"xmpp", "irc", "psyc", "sip", "local"} <= kinds, rows
                assert kick_everyone(a) > 20
                assert a.control("status").startswith("ok")  # still serving
            # Right before the signal: one more stream drops (its resume timer is new) and a
            # resource conflict replaces a live session.
            last = login(xport, "bob", "bobpw", "late", sm=True, resume=True)
            muc_join(last, "dev", "bob-late")
            dup = login(xport, "alice", "alicepw", "dup", sm=True, resume=True)
            last.reset()
            login(xport, "alice", "alicepw", "dup", sm=True, resume=True, presence=False)  # conflict
            keep.append(dup)
            start = time.monotonic()
            code = a.stop(timeout=5)
            took = time.monotonic() - start
            log = a.log()
            if os.environ.get("PARLEY_SHUTDOWN_LOG"):
                with open(os.environ["PARLEY_SHUTDOWN_LOG"], "a") as f:
                    f.write(f"==== round {n}\n{log}\n")
            bad = [line for line in log.splitlines() if any(s in line for s in SANITIZER)]
            assert not bad, "\n".join(bad[:20])
            assert code == 0, f"round {n}: parleyd exited {code}"
            # Nothing may hold the io_context past the drain limit (daemon.cpp kDrain): then
            # the io threads are stopped with tasks still queued, a path meant for emergencies.
            assert "stopping the io threads" not in log, f"round {n}: the shutdown hit the drain limit"
            assert took < 3, f"round {n}: shutdown took {took:.1f} s"
        stop.set()
        for t in threads:
            t.join(10)
        for c in keep:
            try:
                c.close() if hasattr(c, "close") else c.sock.close()
            except OSError:
                pass


def test_a_client_that_never_reads_does_not_hold_the_shutdown():
    # An IRC client that reads nothing has megabytes queued toward it when SIGTERM lands. Its
    # ERROR cannot be flushed; the wait for it is capped at shutdown (Connection::
    # cap_flush_wait) so that it ends well inside the drain limit instead of server.
    # connections.close_timeout (10 s) holding the io_context past it.
    cfg = h.config(irc=True, irc_extra={"sendq": 64 << 20, "flood_burst": 0})
    with h.Parleyd(cfg) as d:
        lazy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        lazy.settimeout(10)
        lazy.connect(("127.0.0.1", d.ports["irc"]))
        lazy.sendall(b"NICK lazy\r\nUSER lazy 0 * :lazy\r\nJOIN #sink\r\n")
        talker = h.LineClient(d.ports["irc"], timeout=10)
        talker.send("NICK talker")
        talker.send("USER talker 0 * :talker")
        talker.expect(r" 001 talker ")
        talker.send("JOIN #sink")
        talker.expect(r" 366 talker #sink ")
        time.sleep(0.3)  # lazy's JOIN is in (it is read, only its replies are not)
        line = "PRIVMSG #sink :" + "x" * 400
        for _ in range(4):  # ~16 MB toward lazy: past any kernel buffer, under its sendq
            talker.sock.sendall(("\r\n".join([line] * 10000) + "\r\n").encode())
        talker.send("PING :done")
        talker.expect(r"PONG .*done")
        start = time.monotonic()
        code = d.stop(timeout=8)
        took = time.monotonic() - start
        log = d.log()
        assert code == 0, code
        assert "stopping the io threads" not in log, "a client that never reads held the shutdown"
        assert took < 3.5, f"shutdown took {took:.1f} s"
        lazy.close()


def test_sigterm_with_everything_live():
    irc_net = Ngircd().start()
    try:
        for n in range(ROUNDS):
            one_round(irc_net, n)
    finally:
        irc_net.close()


def test_kill_every_session_under_load_then_sigterm():
    irc_net = Ngircd().start()
    try:
        for n in range(ROUNDS):
            one_round(irc_net, 100 + n, kick=True)
    finally:
        irc_net.close()


if __name__ == "__main__":
    h.run_tests(globals())
