"""IRC listener conformance, in the style of a third-party server conformance suite (irctest):
exact numerics and parameters, ordering, and what must NOT be sent, against a real parleyd
configured the way such a suite configures a server (server name My.Little.Server, an oper
block operuser/operpassword, flood control off, seeded SASL accounts)."""
import base64
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parley_harness as h  # noqa: E402
from irc_conformance_client import Client, commands  # noqa: E402

SERVER = "My.Little.Server"


def server(accounts=(("jilles", "sesame"), ("val", "sesame")), **irc):
    extra = {"server_name": SERVER, "opers": [{"name": "operuser", "password": "operpassword"}],
             "flood_burst": 0}
    extra.update(irc)
    return h.Parleyd(h.config(irc=True, accounts=list(accounts), irc_extra=extra))


class World:
    """A parleyd plus clients registered on it; closes them all at the end."""

    def __init__(self, d):
        self.d = d
        self.clients = []

    def client(self) -> Client:
        c = Client(self.d.ports["irc"])
        self.clients.append(c)
        return c

    def connect(self, nick, caps=(), **kw) -> Client:
        c = self.client()
        c.register(nick, caps, **kw)
        return c

    def close(self):
        for c in self.clients:
            c.close()


def world(test):
    """Decorator: runs the test with a fresh World on a fresh parleyd."""
    def run():
        with server() as d:
            w = World(d)
            try:
                test(w)
            finally:
                w.close()
    run.__name__ = test.__name__
    return run


def match(m, command, params=None, prefix_nick=None):
    assert m.command == command, f"expected {command}, got {m}"
    if params is not None:
        assert len(m.params) == len(params), f"expected params {params}, got {m}"
        for want, got in zip(params, m.params):
            assert want is None or want == got, f"expected params {params}, got {m}"
    if prefix_nick is not None:
        assert m.nick == prefix_nick, f"expected prefix {prefix_nick}, got {m}"


# ---------------------------------------------------------------------------------------
# Registration, CAP, PING


@world
def test_registration_errors(w):
    c = w.client()
    c.send("NICK foo")
    c.send("USER username * * :")  # empty realname: 461 (Modern, ERR_NEEDMOREPARAMS)
    match(c.message(), "461", [None, "USER", None])
    s = w.client()
    s.send("NICK *")  # 432, and no welcome
    s.send("USER u s e r")
    assert "432" in commands(s.messages())
    s.send("NICK valid")
    m = s.message()
    while m.command != "001":
        m = s.message()
    e = w.client()
    e.send("NICK :")
    e.send("USER u s e r")
    got = commands(e.messages())
    assert "431" in got and "001" not in got, got


@world
def test_cap_negotiation(w):
    c = w.client()
    c.send("CAP LIST")
    match(c.message(), "CAP", ["*", "LIST", ""])
    c.send("CAP LS")  # 3.1: one line, no values
    ls = c.message()
    assert ls.params[2] != "*" and "=" not in ls.params[2], ls
    c.send("CAP LS 302")
    caps = c.message().params[-1].split()
    for want in ("multi-prefix", "invite-notify", "account-notify", "setname", "sasl=PLAIN,SCRAM-SHA-256"):
        assert want in caps, caps
    c.send("CAP REQ :foo qux bar baz qux quux")
    match(c.message(), "CAP", [None, "NAK", "foo qux bar baz qux quux"])
    c.send("CAP REQ :foo multi-prefix")
    match(c.message(), "CAP", [None, "NAK", "foo multi-prefix"])
    c.send("CAP REQ :multi-prefix")
    match(c.message(), "CAP", [None, "ACK", "multi-prefix"])
    c.send("USER foo foo foo :foo")
    c.send("NICK foo")
    c.send("CAP END")
    match(c.message(), "001")


@world
def test_sasl_after_registration_and_odd_commands(w):
    c = w.connect("foo", caps=["sasl", "labeled-response", "batch"])
    c.send("AUTHENTICATE PLAIN")  # no reauthentication: 462 (IRCv3 sasl-3.2 allows refusing)
    match(c.message(), "462", ["foo", None])
    c.send("@label=deadbeef NONEXISTENT_COMMAND")  # not letters only, still a command
    got = c.messages()
    assert len(got) == 1 and got[0].command == "421" and got[0].tags.get("label") == "deadbeef", got
    other = w.connect("bar", caps=["message-tags"])
    c.join("#xyz")
    other.join("#xyz")
    c.messages()
    c.send("@+clientOnlyTagExample=" + "a" * 4096 + " PRIVMSG #xyz hi!")
    assert "417" in commands(c.messages())
    assert other.messages() == []


@world
def test_ping(w):
    c = w.connect("foo")
    c.send("PING abcdef")
    match(c.message(), "PONG", [SERVER, "abcdef"])
    c.send("PING")
    match(c.message(), "461", ["foo", "PING", None])
    c.send("PING :")
    match(c.message(), "PONG", [SERVER, ""])


@world
def test_nick_changes(w):
    a = w.connect("alice")
    b = w.connect("bob")
    b.send("NICK alice")  # in use: exactly one 433
    assert commands(b.messages()) == ["433"]
    a.send("PRIVMSG bob hi")
    assert a.messages() == []
    match(b.messages()[0], "PRIVMSG", ["bob", "hi"])
    a.join("#test")
    b.join("#test")
    a.messages()
    a.send("NICK Alice")  # case change: seen by both
    match(a.messages()[0], "NICK", ["Alice"])
    match(b.messages()[0], "NICK", ["Alice"])
    a.send("NICK Alice")  # no-op: nothing to anyone
    assert a.messages() == [] and b.messages() == []
    nicklen = int(a.isupport["NICKLEN"])
    a.send("NICK " + "a" * nicklen)
    match(a.message(), "NICK", ["a" * nicklen])
    a.send("NICK " + "b" * (nicklen + 5))
    match(a.message(), "432", ["a" * nicklen, "b" * (nicklen + 5), None])


# ---------------------------------------------------------------------------------------
# Channels


@world
def test_join_names_part(w):
    n1 = w.connect("nick1")
    n1.send("JOIN #chan")
    msgs = n1.messages()
    match(msgs[0], "JOIN", ["#chan"], "nick1")
    n2 = w.connect("nick2")
    n2.join("#chan")
    n1.messages()
    n1.send("NAMES #chan")
    names = n1.messages()
    match(names[0], "353", ["nick1", "=", "#chan", None])
    assert names[0].params[3] in ("@nick1 nick2", "nick2 @nick1"), names[0]
    match(names[1], "366", ["nick1", "#chan", None])
    n1.send("NAMES #nonexisting")
    match(n1.message(), "366", ["nick1", "#nonexisting", None])
    n1.send("NAMES invalid")
    match(n1.message(), "366", ["nick1", "invalid", None])
    n1.send("JOIN #chan1,#chan2")
    n1.messages()
    n1.send("NAMES #chan1,#chan2")
    multi = n1.messages()
    assert commands(multi) == ["353", "353", "366"], multi
    match(multi[2], "366", ["nick1", "#chan1,#chan2", None])
    n2.send("PART #chan1")  # not on it
    assert commands(n2.messages()) == ["442"]
    n2.send("PART #chan :bye everyone")
    match(n2.message(), "PART", ["#chan", "bye everyone"])
    match(n1.messages()[0], "PART", ["#chan", "bye everyone"])


@world
def test_channel_name_limits(w):
    c = w.connect("foo")
    chanlen = int(c.isupport["CHANNELLEN"])
    ok = "#" + "a" * (chanlen - 1)
    c.send(f"JOIN {ok}")
    match(c.message(), "JOIN", [ok])
    c.messages()
    bad = "#" + "b" * chanlen
    c.send(f"JOIN {bad}")
    match(c.message(), "403", ["foo", bad, None])


@world
def test_chanlimit(w):
    c = w.connect("foo")
    limit = int(c.isupport["CHANLIMIT"].split(":")[1])
    for i in range(limit):
        c.send(f"JOIN #chan{i}")
        match(c.message(), "JOIN", [f"#chan{i}"])
        c.messages()
    c.send("JOIN #chan")
    match(c.message(), "405", ["foo", "#chan", None])


@world
def test_topic(w):
    bar = w.connect("bar")
    bar.send("JOIN #test")
    assert "331" not in commands(bar.messages())
    baz = w.connect("baz")
    assert "331" not in commands(baz.join("#test"))
    baz.send("TOPIC #test")
    assert "331" in commands(baz.messages())
    bar.messages()
    bar.send("TOPIC #test :new topic")
    match(bar.message(), "TOPIC", ["#test", "new topic"])
    match(baz.message(), "TOPIC", ["#test", "new topic"])
    bar.send("TOPIC #test :")
    match(bar.message(), "TOPIC", ["#test", ""])
    match(baz.message(), "TOPIC", ["#test", ""])
    baz.send("TOPIC #nonexistent")
    match(baz.message(), "403")
    bar.send("MODE #test +v baz")
    bar.messages()
    baz.messages()
    baz.send("TOPIC #test :voiced")  # +t: voice is not enough
    got = commands(baz.messages())
    assert "482" in got and "TOPIC" not in got, got


@world
def test_kick(w):
    foo = w.connect("foo")
    foo.join("#chan")
    bar = w.connect("bar")
    bar.join("#chan")
    baz = w.connect("baz")
    baz.send("KICK #chan bar")  # not on the channel
    assert commands(baz.messages())[0] in ("442", "482", "403")
    baz.join("#chan")
    baz.send("KICK #chan bar")
    assert "482" in commands(baz.messages())
    foo.send("MODE #chan +o baz")
    foo.messages()
    bar.messages()
    baz.messages()
    baz.send("KICK #chan bar")  # a chanop kicks a member...
    baz.send("KICK #chan foo")  # ...and the channel's creator: chanops are peers
    assert "482" not in commands(baz.messages())
    kicked = [m.params[1] for m in foo.messages() if m.command == "KICK"]
    assert kicked == ["bar", "foo"], kicked
    match(bar.messages()[0], "KICK", ["#chan", "bar", "baz"])  # default comment: the kicker's nick
    # Several targets: one KICK line per user, never a combined one (RFC 2812 §3.2.8).
    q = w.connect("qux")
    q.join("#multi")
    u1, u2, watcher = w.connect("u1"), w.connect("u2"), w.connect("watcher")
    for c in (u1, u2, watcher):
        c.join("#multi")
    q.messages()
    q.send("KICK #multi,#multi u1,u2 :bye")
    q.messages()  # the kicks are done once the kicker's own PING is answered
    kicks = [m for m in watcher.messages() if m.command == "KICK"]
    assert [(m.params[0], m.params[1], m.params[2]) for m in kicks] == [("#multi", "u1", "bye"),
                                                                        ("#multi", "u2", "bye")], kicks
    q.send("KICK #none bar")
    match(q.message(), "403")


@world
def test_invite(w):
    foo = w.connect("foo")
    foo.join("#chan")
    foo.send("MODE #chan +i")
    match(foo.message(), "MODE", ["#chan", "+i"])
    foo.send("INVITE bar #chan")
    match(foo.message(), "401")
    bar = w.connect("bar", caps=["account-tag"])
    bar.send("JOIN #chan")
    match(bar.message(), "473")
    foo.send("INVITE bar #chan")
    match(foo.message(), "341", ["foo", "bar", "#chan"])
    inv = bar.message()
    match(inv, "INVITE", ["bar", "#chan"], "foo")
    assert "account" not in inv.tags  # foo is a guest
    bar.join("#chan")
    foo.messages()
    foo.send("INVITE bar #chan")
    match(foo.message(), "443", ["foo", "bar", "#chan", None])
    # Only members invite (442); on +i only chanops (482); others are not told.
    baz = w.connect("baz")
    baz.send("INVITE bar #chan")
    match(baz.message(), "442", ["baz", "#chan", None])
    foo.send("MODE #chan -o foo")
    match(foo.message(), "MODE", ["#chan", "-o", "foo"])
    foo.send("INVITE baz #chan")
    match(foo.message(), "482", ["foo", "#chan", None])
    # On a channel without +i any member may invite, and invite-notify tells the others.
    op = w.connect("op")
    op.join("#open")
    member = w.connect("member")
    member.join("#open")
    notified = w.connect("notified", caps=["invite-notify"])
    notified.join("#open")
    plain = w.connect("plain")
    plain.join("#open")
    for c in (op, member, notified, plain):
        c.messages()
    member.send("INVITE baz #open")
    match(member.message(), "341", ["member", "baz", "#open"])
    match(notified.messages()[0], "INVITE", ["baz", "#open"], "member")
    assert plain.messages() == []


def test_invite_account_tag():
    with server() as d:
        w = World(d)
        foo = w.connect("foo", caps=["account-tag"])
        bar = w.connect("bar", sasl=("jilles", "sesame"))
        bar.join("#chan")
        bar.send("INVITE foo #chan")
        bar.messages()
        inv = foo.message()
        match(inv, "INVITE", ["foo", "#chan"])
        assert inv.tags.get("account") == "jilles", inv
        w.close()


@world
def test_modes_channel(w):
    op = w.connect("chanop")
    op.join("#chan")
    op.send("MODE #chan +int")
    op.messages()
    op.send("MODE #chan")
    msgs = op.messages()
    assert sorted(commands(msgs)) == ["324", "329"], msgs
    modes = msgs[0].params[2]
    assert modes.startswith("+") and {"i", "n", "t"} <= set(modes[1:]), msgs[0]
    op.send("MODE #chan -" + modes[1:])
    m = op.message()
    match(m, "MODE", ["#chan", None])
    assert m.params[1].startswith("-") and set(m.params[1][1:]) == set(modes[1:]), m
    op.send("MODE #chan")
    match(op.messages()[0], "324", ["chanop", "#chan", "+"])
    # Key validation: 696 with the mode letter (Modern "key channel mode").
    for bad in ("passphrase with spaces", "", "long" * 100):
        op.send(f"MODE #chan +k :{bad}")
        got = op.messages()
        assert commands(got) == ["696"], got
        match(got[0], "696", ["chanop", "#chan", "k", "*", None])
    # Limit validation.
    for bad in ("0", "-1", "abc", ""):
        op.send(f"MODE #chan +l :{bad}")
        got = op.messages()
        assert commands(got) == ["696"], got
        match(got[0], "696", ["chanop", "#chan", "l", None, None])
    op.send("MODE #chan +l 1")
    match(op.message(), "MODE", ["#chan", "+l", "1"])
    u = w.connect("user2")
    u.send("JOIN #chan")
    match(u.message(), "471", ["user2", "#chan", None])
    assert u.messages() == []
    op.send("INVITE user2 #chan")  # an invitation overrides +l (Modern "client limit")
    op.messages()
    u.messages()
    u.send("JOIN #chan")
    match(u.message(), "JOIN", ["#chan"])
    op.messages()
    op.send("MODE #chan -l")
    match(op.message(), "MODE", ["#chan", "-l"])
    # Ban.
    op.send("MODE #chan +b bar!*@*")
    match(op.message(), "MODE", ["#chan", "+b", "bar!*@*"])
    bar = w.connect("Bar")
    bar.send("JOIN #chan")
    match(bar.message(), "474")
    op.send("MODE #chan -b bar!*@*")
    match(op.message(), "MODE")
    bar.send("JOIN #chan")
    match(bar.message(), "JOIN")


@world
def test_mode_op_errors(w):
    op = w.connect("chanop")
    op.join("#chan")
    unpriv = w.connect("unprivileged")
    unpriv.join("#chan")
    unrelated = w.connect("unrelated")
    unrelated.join("#unrelated")
    unpriv.join("#unrelated")
    op.messages()
    unpriv.send("MODE #chan +o unprivileged")
    assert commands(unpriv.messages()) == ["482"]
    op.send("MODE #chan +o unrelated")
    got = op.messages()
    assert commands(got) == ["441"], got
    match(got[0], "441", ["chanop", "unrelated", "#chan", None])
    op.send("MODE #chan +o nobody")
    got = op.messages()
    assert commands(got) == ["401"], got
    match(got[0], "401", ["chanop", "nobody", None])
    op.send("MODE #nonexistentchan +o chanop")
    assert commands(op.messages()) == ["403"]
    op.send("MODE #unrelated +o unprivileged")
    assert commands(op.messages())[0] in ("442", "482")
    op.send("MODE #chan +o unprivileged")
    got = op.messages()
    assert len(got) == 1, got
    match(got[0], "MODE", ["#chan", "+o", "unprivileged"])
    got = unpriv.messages()
    assert len(got) == 1, got
    match(got[0], "MODE", ["#chan", "+o", "unprivileged"])


@world
def test_moderated_and_no_external(w):
    op = w.connect("chanop")
    op.join("#chan")
    op.send("MODE #chan +m")
    match(op.messages()[0], "MODE", ["#chan", "+m"])
    baz = w.connect("baz")
    baz.send("PRIVMSG #chan :outside")  # +n
    assert "404" in commands(baz.messages())
    baz.join("#chan")
    op.messages()
    baz.send("PRIVMSG #chan :hi from baz")  # +m
    assert "404" in commands(baz.messages())
    assert op.messages() == []
    op.send("MODE #chan +v baz")
    op.messages()
    baz.messages()
    baz.send("PRIVMSG #chan :hi again from baz")
    baz.messages()
    match(op.messages()[0], "PRIVMSG", ["#chan", "hi again from baz"])


@world
def test_multi_prefix(w):
    foo = w.connect("foo", caps=["multi-prefix"])
    foo.join("#chan")
    foo.send("MODE #chan +v foo")
    foo.messages()
    foo.send("NAMES #chan")
    match(foo.message(), "353", ["foo", None, "#chan", "@+foo"])
    foo.messages()
    foo.send("WHO #chan")
    assert "@+" in foo.message().params[6]
    foo.messages()
    plain = w.connect("plain")
    plain.join("#chan")
    plain.send("NAMES #chan")
    names = plain.message().params[3].split()
    assert "@foo" in names, names  # without multi-prefix: the highest prefix only
    foo.send("MODE #chan -o foo")  # voice survives losing op
    foo.messages()
    plain.messages()
    plain.send("NAMES #chan")
    assert "+foo" in plain.message().params[3].split()


@world
def test_list(w):
    foo = w.connect("foo")
    bar = w.connect("bar")
    bar.send("LIST")
    got = commands(bar.messages())
    assert "322" not in got and got[-1] == "323", got
    foo.join("#chan1")
    foo.join("#chan2")
    bar.join("#chan2")
    assert "M" in bar.isupport.get("ELIST", "") and "U" in bar.isupport["ELIST"]

    def listed(query):
        bar.send("LIST " + query if query else "LIST")
        return {m.params[1] for m in bar.messages() if m.command == "322"}

    assert listed("") == {"#chan1", "#chan2"}
    assert listed("#nonexistent") == set()
    assert listed("*an1") == {"#chan1"}
    assert listed("#c*n2") == {"#chan2"}
    assert listed("!*an1") == {"#chan2"}
    assert listed(">1") == {"#chan2"}
    assert listed("<2") == {"#chan1"}
    foo.send("MODE #chan1 +s")
    foo.messages()
    assert listed("") == {"#chan2"}  # secret and not a member


# ---------------------------------------------------------------------------------------
# Messages


@world
def test_privmsg_notice(w):
    foo = w.connect("foo")
    foo.join("#chan")
    bar = w.connect("bar")
    bar.join("#chan")
    foo.messages()
    foo.send("PRIVMSG #chan :hello there")
    assert foo.messages() == []
    pms = [m for m in bar.messages() if m.command == "PRIVMSG"]
    assert len(pms) == 1 and pms[0].params == ["#chan", "hello there"], pms
    foo.send("PRIVMSG #chan :")
    match(foo.message(), "412", ["foo", None])
    assert bar.messages() == []
    foo.send("PRIVMSG nobody :hey")
    match(foo.message(), "401", ["foo", "nobody", None])
    foo.send("NOTICE #nonexistent :hello")
    assert foo.messages() == []  # never an automatic reply to NOTICE


@world
def test_long_privmsg_fits_one_line(w):
    n1 = w.connect("nick1")
    n2 = w.connect("nick2")
    line = "PRIVMSG nick2 :"
    payload = "a" * (512 - len(line) - 2)  # the longest line a client may send
    n1.send(line + payload)
    n1.messages()
    raw = n2.read_raw_line()
    assert len(raw) <= 512, raw
    got = raw.decode().rstrip("\r\n").split(" :", 1)[1]
    assert payload.startswith(got) and len(got) >= 400, got
    assert n2.messages() == []  # truncated, not split into a second line


@world
def test_away(w):
    bar = w.connect("bar")
    qux = w.connect("qux")
    qux.send("PRIVMSG bar :what's up")
    assert qux.messages() == []
    qux.send("USERHOST bar")
    assert qux.message().params[1].startswith("bar=+")
    bar.send("AWAY :I'm not here right now")
    assert "306" in commands(bar.messages())
    qux.send("PRIVMSG bar :what's up")
    match(qux.message(), "301", ["qux", "bar", "I'm not here right now"])
    qux.send("USERHOST bar")
    assert qux.message().params[1].startswith("bar=-")
    qux.send("WHOIS bar")
    aways = [m for m in qux.messages() if m.command == "301"]
    assert len(aways) == 1, aways
    bar.send("AWAY")
    assert "305" in commands(bar.messages())


@world
def test_away_notify(w):
    foo = w.connect("foo", caps=["away-notify"])
    foo.join("#chan")
    bar = w.connect("bar")
    bar.join("#chan")
    foo.messages()
    bar.send("AWAY :i'm going away")
    bar.messages()
    m = foo.message()
    match(m, "AWAY", ["i'm going away"], "bar")
    baz = w.connect("baz")  # joins while away: AWAY follows its JOIN
    baz.send("AWAY :i'm already away")
    baz.messages()
    baz.join("#chan")
    got = [m for m in foo.messages() if m.command == "AWAY"]
    assert len(got) == 1 and got[0].params == ["i'm already away"] and got[0].nick == "baz", got


@world
def test_message_tags_tagmsg(w):
    alice = w.connect("alice", caps=["message-tags"])
    alice.join("#test")
    bob = w.connect("bob", caps=["message-tags", "echo-message"])
    bob.join("#test")
    carol = w.connect("carol")
    carol.join("#test")
    dave = w.connect("dave", caps=["server-time"])
    dave.join("#test")
    for c in (alice, bob, carol, dave):
        c.messages()
    bob.send(r"@+buzz=fizz\:buzz;cat=dog;+steel=wootz TAGMSG #test")
    echo = bob.message()
    relay = alice.message()
    for m in (echo, relay):
        match(m, "TAGMSG", ["#test"])
        assert m.tags.get("+buzz") == "fizz;buzz" and m.tags.get("+steel") == "wootz", m
        assert "cat" not in m.tags and m.tags.get("msgid"), m
    assert echo.tags["msgid"] == relay.tags["msgid"]
    assert carol.messages() == [] and dave.messages() == []
    # Client tag data is limited to 4094 bytes (4096 with '@' and the space): 417 past it.
    bob.send("@foo=bar;+baz=%s TAGMSG #test" % ("a" * 4081))
    match(bob.message(), "TAGMSG")
    match(alice.message(), "TAGMSG")
    bob.send("@foo=bar;+baz=%s TAGMSG #test" % ("a" * 4082))
    match(bob.message(), "417")
    assert alice.messages() == []


@world
def test_client_tags_on_privmsg_and_notice(w):
    # IRCv3 message-tags: client-only tags on PRIVMSG/NOTICE reach message-tags clients
    # (channel and private, echo included) and nobody else; server tags are never relayed.
    alice = w.connect("alice", caps=["message-tags"])
    alice.join("#test")
    bob = w.connect("bob", caps=["message-tags", "echo-message"])
    bob.join("#test")
    carol = w.connect("carol")
    carol.join("#test")
    for c in (alice, bob, carol):
        c.messages()
    bob.send(r"@+draft/reply=abc\:1;cat=dog PRIVMSG #test :replying")
    echo, relay, plain = bob.message(), alice.message(), carol.message()
    for m in (echo, relay):
        match(m, "PRIVMSG", ["#test", "replying"])
        assert m.tags.get("+draft/reply") == "abc;1" and "cat" not in m.tags, m
    assert echo.tags["msgid"] == relay.tags["msgid"]
    match(plain, "PRIVMSG", ["#test", "replying"])
    assert plain.tags == {}, plain
    bob.send("@+draft/react=lol NOTICE alice :private")
    m = alice.message()
    match(m, "NOTICE", ["alice", "private"])
    assert m.tags.get("+draft/react") == "lol", m
    match(bob.message(), "NOTICE")
    bob.send("@+draft/react=lol PRIVMSG carol :hi")
    m = carol.message()
    match(m, "PRIVMSG", ["carol", "hi"])
    assert m.tags == {}, m


@world
def test_echo_message(w):
    baz = w.connect("baz", caps=["echo-message", "server-time"])
    baz.join("#chan")
    qux = w.connect("qux", caps=["server-time"])
    qux.join("#chan")
    baz.messages()
    baz.send("NOTICE #chan :hello everyone")
    m1 = baz.message()
    m2 = qux.message()
    match(m1, "NOTICE", ["#chan", "hello everyone"])
    assert m1.params == m2.params and "time" in m1.tags and "time" in m2.tags
    # Direct: the echo and the delivery carry the same msgid.
    a = w.connect("aa", caps=["echo-message", "message-tags", "labeled-response", "batch"])
    b = w.connect("bb", caps=["echo-message", "message-tags", "labeled-response", "batch"])
    a.send("@label=xyz PRIVMSG bb :hi there")
    echo = a.messages()[0]
    delivery = b.messages()[0]
    match(echo, "PRIVMSG", ["bb", "hi there"])
    assert echo.tags.get("label") == "xyz" and "label" not in delivery.tags
    assert echo.tags.get("msgid") and echo.tags.get("msgid") == delivery.tags.get("msgid"), (echo, delivery)


@world
def test_labeled_response(w):
    caps = ["echo-message", "batch", "labeled-response", "message-tags", "server-time"]
    foo = w.connect("foo", caps=caps)
    bar = w.connect("bar", caps=caps)
    foo.send("@label=12345 PRIVMSG foo :hi")  # to self: one of the two copies is labeled
    m1, m2 = foo.message(), foo.message()
    assert [m.command for m in (m1, m2)] == ["PRIVMSG", "PRIVMSG"]
    assert sum("label" in m.tags for m in (m1, m2)) == 1, (m1, m2)
    foo.send("@label=12345 TAGMSG foo")
    t1, t2 = foo.message(), foo.message()
    assert [m.command for m in (t1, t2)] == ["TAGMSG", "TAGMSG"]
    assert sum("label" in m.tags for m in (t1, t2)) == 1, (t1, t2)
    foo.send("@label=12345;+draft/react=x TAGMSG bar")
    echo = foo.message()
    relay = bar.message()
    assert echo.tags.get("label") == "12345" and "label" not in relay.tags
    assert relay.tags.get("+draft/react") == "x"
    foo.send("@label=12345 PRIVMSG bar,foo :hi")  # several targets: one batch
    got = foo.messages()
    assert got[0].command == "BATCH" and got[0].tags.get("label") == "12345", got
    bar.messages()
    bar.send("@label=98765 PONG x")
    got = bar.messages()
    assert len(got) == 1 and got[0].command == "ACK" and got[0].tags.get("label") == "98765", got
    bar.send("@label=deadbeef NONEXISTENT_COMMAND")
    got = bar.messages()
    assert len(got) == 1 and got[0].command == "421" and got[0].tags.get("label") == "deadbeef", got
    bar.send("@label=12345 JOIN #xyz")
    got = bar.messages()
    assert got[0].command == "BATCH" and got[-1].command == "BATCH" and len(got) >= 4, got
    ref = got[0].params[0][1:]
    assert all(m.tags.get("batch") == ref for m in got[1:-1]), got


@world
def test_statusmsg(w):
    op = w.connect("chanop")
    op.join("#chan")
    assert "@" in op.isupport.get("STATUSMSG", "")
    joe = w.connect("joe")
    joe.join("#chan")
    schmoe = w.connect("schmoe")
    schmoe.join("#chan")
    op.send("MODE #chan +o schmoe")
    op.messages()
    joe.messages()
    schmoe.messages()
    schmoe.send("PRIVMSG @#chan :this message is for operators")
    assert schmoe.messages() == []  # no echo without echo-message
    got = [m for m in op.messages() if m.command == "PRIVMSG"]
    assert len(got) == 1 and got[0].params == ["@#chan", "this message is for operators"], got
    assert [m for m in joe.messages() if m.command == "PRIVMSG"] == []


# ---------------------------------------------------------------------------------------
# Queries


@world
def test_who(w):
    c = w.client()
    c.register("coolNick", user="myusernam", realname="My UniqueReal Name")
    c.join("#chan")
    o = w.connect("otherNick")
    o.join("#chan")
    c.messages()

    def who(mask):
        o.send(f"WHO {mask}")
        return o.messages()

    for mask in ("coolNick", "coolnick", "coolni*"):
        reply, end = who(mask)
        match(reply, "352", ["otherNick", None, "~myusernam", "127.0.0.1", SERVER, "coolNick", None,
                             "0 My UniqueReal Name"])
        assert (reply.params[1], reply.params[6]) in (("*", "H"), ("#chan", "H@")), reply
        match(end, "315", ["otherNick", mask, None])
    assert len(who("*")) == 3  # both users share #chan: +i does not hide them
    assert commands(who("idontexist")) == ["315"]
    c.send("OPER operuser operpassword")
    c.send("AWAY :be right back")
    c.messages()
    replies = who("#CHAN")
    assert commands(replies) == ["352", "352", "315"], replies
    flags = {m.params[5]: m.params[6] for m in replies[:2]}
    assert flags == {"coolNick": "G*@", "otherNick": "H"}, flags
    assert all(m.params[1] == "#chan" for m in replies[:2])
    # WHOX (ircv3.net/specs/extensions/whox)
    assert "WHOX" in o.isupport
    reply, end = who("coolNick %tcuihsnfdlaor,123")
    match(reply, "354", ["otherNick", "123", None, "~myusernam", None, None, SERVER, "coolNick", None, None,
                         None, "0", None, "My UniqueReal Name"])
    reply, end = who("coolNick %tn,321")
    match(reply, "354", ["otherNick", "321", "coolNick"])
    outsider = w.connect("outsider")  # from outside a channel its +i members are not listed
    outsider.send("WHO #chan")
    assert commands(outsider.messages()) == ["315"]
    # invisible users are hidden from masks, not from exact nicks or channel peers
    e = w.connect("evan")
    s = w.connect("shivaram")
    s.send("WHO eva*")
    assert commands(s.messages()) == ["315"]
    s.send("WHO evan")
    assert commands(s.messages()) == ["352", "315"]


def test_whox_account():
    with server() as d:
        w = World(d)
        c = w.connect("coolNick", sasl=("val", "sesame"))
        o = w.connect("otherNick")
        o.send("WHO coolNick %na")
        reply, end = o.messages()
        match(reply, "354", ["otherNick", "coolNick", "val"])
        o.send("WHO otherNick %na")
        reply, end = o.messages()
        match(reply, "354", ["otherNick", "otherNick", "0"])
        w.close()
        del c


@world
def test_whois_whowas(w):
    n1 = w.connect("nick1")
    n2 = w.connect("nick2")
    n2.join("#chan1")
    n2.join("#chan2")
    n1.send("OPER operuser operpassword")
    n1.messages()
    for query in ("WHOIS nick2", f"WHOIS {SERVER} nick2", "WHOIS nick2 nick2"):
        n1.send(query)
        got = n1.messages()
        match(got[0], "311", ["nick1", "nick2", "~username", "127.0.0.1", "*", "Realname"])
        match(got[-1], "318", ["nick1", "nick2", None])
        allowed = {"311", "319", "312", "313", "317", "301", "330", "338", "378", "379", "671", "307", "276"}
        assert set(commands(got[:-1])) <= allowed, got
        for m in got:
            if m.command == "312":
                match(m, "312", ["nick1", "nick2", SERVER, None])
            if m.command == "319":
                assert m.params[2] in ("@#chan1 @#chan2", "@#chan2 @#chan1"), m
    n1.send("WHOWAS nick2")
    assert commands(n1.messages()) == ["406", "369"]
    n2.send("QUIT :bye")
    assert n2.closed()
    second = w.client()
    second.register("nick2", user="ident3")
    second.send("QUIT")
    assert second.closed()
    n1.send("WHOWAS nick2")
    got = n1.messages()
    match(got[0], "314", ["nick1", "nick2", "~ident3", None, "*", "Realname"])
    assert commands(got).count("314") == 2 and got[-1].command == "369", got
    n1.send("WHOWAS nick2 1")
    got = n1.messages()
    assert commands(got).count("314") == 1 and got[0].params[2] == "~ident3", got
    for count in ("0", "-1"):
        n1.send(f"WHOWAS nick2 {count}")
        assert commands(n1.messages()).count("314") == 2


@world
def test_monitor(w):
    foo = w.connect("foo")
    assert foo.isupport.get("MONITOR")
    foo.send("MONITOR + bar")
    match(foo.message(), "731", ["foo", "bar"])
    bar = w.connect("bar")
    m = foo.message()
    match(m, "730", ["foo", None])
    assert m.params[1].startswith("bar!"), m
    foo.send("MONITOR + bar,baz")
    got = sorted(foo.messages(), key=lambda m: m.command)
    assert commands(got) == ["730", "731"] and got[1].params[1] == "baz", got
    foo.send("MONITOR L")
    got = foo.messages()
    assert got[-1].command == "733"
    assert {n for m in got if m.command == "732" for n in m.params[1].split(",")} == {"bar", "baz"}
    foo.send("MONITOR S")
    assert sorted(commands(foo.messages())) == ["730", "731"]
    bar.send("NICK QUX")
    bar.messages()
    match(foo.messages()[0], "731", ["foo", "bar"])
    foo.send("MONITOR + qux")
    foo.messages()
    bar.send("NICK qux")  # a case change: nothing
    bar.messages()
    assert foo.messages() == []
    bar.send("QUIT")
    assert bar.closed()
    match(foo.messages()[0], "731", ["foo", "qux"])
    foo.send("MONITOR - bar")
    assert foo.messages() == []
    foo.send("MONITOR + *!username@127.0.0.1")
    assert set(commands(foo.messages())) <= {"731"}
    foo.send("MONITOR C")
    foo.send("MONITOR L")
    assert commands(foo.messages()) == ["733"]


@world
def test_setname(w):
    foo = w.connect("foo", caps=["setname"])
    bar = w.connect("bar", caps=["setname"])
    baz = w.connect("baz")
    for c in (foo, bar, baz):
        c.join("#chan")
    for c in (foo, bar, baz):
        c.messages()
    foo.send("SETNAME :new real name")
    match(foo.message(), "SETNAME", ["new real name"], "foo")
    match(bar.message(), "SETNAME", ["new real name"], "foo")
    assert baz.messages() == []
    baz.send("WHOIS foo")
    assert baz.messages()[0].params[-1] == "new real name"


# ---------------------------------------------------------------------------------------
# Operators and server queries


@world
def test_oper_kill(w):
    baz = w.connect("baz")
    baz.send("OPER operuser nottheoperpassword")
    got = baz.messages()
    assert "381" not in commands(got) and commands(got)[0] in ("464", "491"), got
    baz.send("OPER notanoperuser somepassword")
    assert commands(baz.messages())[0] in ("464", "491")
    baz.send("OPER operuser")
    assert commands(baz.messages())[0] in ("461", "464", "491")
    baz.send("OPER operuser operpassword")
    got = baz.messages()
    assert "381" in commands(got), got
    modes = [m for m in got if m.command == "MODE"]
    assert len(modes) == 1 and modes[0].params[0] == "baz" and "o" in modes[0].params[1], got
    alice = w.connect("alice")
    bob = w.connect("bob")
    alice.send("KILL bob :some arbitrary reason")
    assert "481" in commands(alice.messages())
    baz.send("KILL alice :some arbitrary reason")
    baz.messages()
    assert alice.closed()
    baz.send("INFO")
    got = baz.messages()
    assert got[-1].command == "374" and set(commands(got[:-1])) <= {"371"}, got
    baz.send("LINKS")
    got = baz.messages()
    match(got[-1], "365", ["baz", "*", None])
    del bob


def test_lusers():
    with server() as d:
        w = World(d)
        bar = w.connect("bar")

        def lusers():
            bar.send("LUSERS")
            got = {m.command: m for m in bar.messages()}
            import re
            nums = [int(x) for x in re.findall(r"\d+", got["251"].params[1])]
            visible, invisible = nums[0], nums[1]
            local, local_max = int(got["265"].params[1]), int(got["265"].params[2])
            glob, glob_max = int(got["266"].params[1]), int(got["266"].params[2])
            unknown = int(got["253"].params[1]) if "253" in got else 0
            return visible + invisible, local, local_max, glob, glob_max, unknown

        assert lusers() == (1, 1, 1, 1, 1, 0)
        qux = w.client()
        qux.send("NICK qux")
        qux.messages()
        assert lusers() == (1, 1, 1, 1, 1, 1)
        qux.send("USER u s e r")
        qux.messages()
        assert lusers() == (2, 2, 2, 2, 2, 0)
        qux.send("QUIT")
        assert qux.closed()
        assert lusers() == (1, 1, 2, 1, 2, 0)
        w.close()


def test_server_password():
    with server(password="testpassword") as d:
        w = World(d)
        ok = w.client()
        ok.send("PASS testpassword")
        ok.send("NICK foo")
        ok.send("USER username * * :Realname")
        match(ok.message(), "001")
        none = w.client()
        none.send("NICK bar")
        none.send("USER username * * :Realname")
        m = none.message()
        assert m.command in ("464", "ERROR"), m
        assert none.closed()
        wrong = w.client()
        wrong.send("PASS nope")
        wrong.send("NICK baz")
        wrong.send("USER username * * :Realname")
        match(wrong.message(), "464")
        match(wrong.message(), "ERROR")
        w.close()


def test_account_nicks_open_to_guests():
    # A conformance suite registers accounts named like the nicks its other tests use.
    with server(reserve_account_nicks=False) as d:
        w = World(d)
        guest = w.connect("jilles")  # an account's name, taken by a guest
        other = w.connect("other")
        other.send("WHOIS jilles")
        assert "330" not in commands(other.messages())  # ...who is not that account
        owner = w.connect("owner", sasl=("jilles", "sesame"))
        owner.send("WHOIS owner")
        got = [m for m in owner.messages() if m.command == "330"]
        assert got and got[0].params[2] == "jilles", got
        w.close()
        del guest


def test_registration_timeout():
    with server(registration_timeout=1) as d:
        w = World(d)
        c = w.client()
        c.send("NICK slow")
        m = c.message(timeout=15)
        match(m, "ERROR")
        assert "Registration timeout" in m.params[0], m
        assert c.closed()
        w.close()


if __name__ == "__main__":
    h.run_tests(globals())
