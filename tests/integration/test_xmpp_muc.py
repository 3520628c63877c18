"""XEP-0045 moderation and configuration with slixmpp: nick changes (303/110), subject
changes and who may make them, kick (307) and ban (301) by a moderator, muc#owner
configuration (persistence across the last occupant leaving and a daemon restart, password
protection, members-only).

Run: PARLEYD=build/parleyd /usr/bin/python3 tests/integration/test_xmpp_muc.py
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_harness as h  # noqa: E402
import xmpp_client as xc  # noqa: E402
from xmpp_client import MUC_USER, bye, codes, item, next_where, run  # noqa: E402

from slixmpp.exceptions import IqError, PresenceError  # noqa: E402

xc.configure_logging()

ACCOUNTS = [("alice", "alicepw"), ("bob", "bobpw"), ("carol", "carolpw")]


class Client(xc.BaseClient):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0045", "xep_0030", "xep_0004"))
        self.group = asyncio.Queue()    # groupchat messages and subjects
        self.errors = asyncio.Queue()   # message errors
        self.config = asyncio.Queue()   # status 104 notifications
        self.mucpres = asyncio.Queue()
        self.add_event_handler("groupchat_message", lambda m: self.group.put_nowait(m))
        self.add_event_handler("groupchat_config_status", lambda m: self.config.put_nowait(m))
        self.add_event_handler("groupchat_subject", lambda m: self.group.put_nowait(m))
        self.add_event_handler("message_error", lambda m: self.errors.put_nowait(m))
        self.add_event_handler("groupchat_presence", lambda p: self.mucpres.put_nowait(p))


def login(port, user, password):
    return xc.login(Client, port, f"{user}@localhost/m", password)


def join(c, room, nick, **kw):
    return run(c.plugin["xep_0045"].join_muc_wait(room, nick, maxstanzas=0, **kw))


def join_error(c, room, nick, **kw):
    try:
        join(c, room, nick, **kw)
    except PresenceError as e:
        return e.condition
    raise AssertionError(f"joining {room} as {nick} succeeded")


def test_nick_subject_kick_ban():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice, bob, carol = (login(port, u, p) for u, p in ACCOUNTS)
        room = "team@conference.localhost"
        res = join(alice, room, "Alice")
        assert {110, 201} <= codes(res[0]), res[0]
        assert item(res[0]).get("affiliation") == "owner"
        assert item(res[0]).get("role") == "moderator"
        join(bob, room, "Bob")
        run(next_where(alice.mucpres, lambda p: p["from"].resource == "Bob"))

        # nick change (§7.6): 303 with the new nick to everyone, 110 to the changer too
        bob.send_presence(pto=room + "/Bobby")
        p = run(next_where(alice.mucpres, lambda p: p["from"].resource == "Bob" and p["type"] == "unavailable"))
        assert codes(p) == {303} and item(p).get("nick") == "Bobby", p
        p = run(next_where(alice.mucpres, lambda p: p["from"].resource == "Bobby"))
        assert p["type"] != "unavailable"
        p = run(next_where(bob.mucpres, lambda p: p["from"].resource == "Bob" and p["type"] == "unavailable"))
        assert codes(p) == {303, 110}, p
        p = run(next_where(bob.mucpres, lambda p: p["from"].resource == "Bobby"))
        assert 110 in codes(p)
        # a nick held by someone else: conflict (§7.2.9)
        assert join_error(carol, room, "Alice") == "conflict"

        # subject (§8.1): the owner may; a participant may not while +t (changesubject off)
        alice.plugin["xep_0045"].set_subject(room, "release on friday")
        m = run(next_where(bob.group, lambda m: m["subject"] == "release on friday"))
        assert m["from"].resource == "Alice"
        bob.plugin["xep_0045"].set_subject(room, "no release")
        e = run(next_where(bob.errors, lambda m: m["from"].bare == room))
        assert e["error"]["condition"] == "forbidden", e
        # a late joiner gets the subject
        res = join(carol, room, "Carol")
        assert res[1]["subject"] == "release on friday", res[1]["subject"]

        # only moderators kick (§8.2)
        try:
            run(bob.plugin["xep_0045"].set_role(room, "Carol", "none"))
            raise AssertionError("a participant kicked someone")
        except IqError as e:
            assert e.condition == "forbidden", e.condition
        run(alice.plugin["xep_0045"].set_role(room, "Carol", "none", reason="too loud"))
        p = run(next_where(carol.mucpres, lambda p: p["type"] == "unavailable" and p["from"].resource == "Carol"))
        assert codes(p) == {307, 110}, p
        assert item(p).find("{http://jabber.org/protocol/muc#user}reason").text == "too loud"
        p = run(next_where(bob.mucpres, lambda p: p["type"] == "unavailable" and p["from"].resource == "Carol"))
        assert codes(p) == {307}, p
        join(carol, room, "Carol")  # a kick is not a ban

        # ban (§9.1): outcast by bare JID, the occupant leaves with 301 and cannot come back
        run(alice.plugin["xep_0045"].set_affiliation(room, "outcast", jid="carol@localhost"))
        p = run(next_where(carol.mucpres, lambda p: p["type"] == "unavailable" and 301 in codes(p)))
        assert 110 in codes(p)
        p = run(next_where(bob.mucpres, lambda p: p["type"] == "unavailable" and p["from"].resource == "Carol"))
        assert 301 in codes(p) and item(p).get("affiliation") == "outcast", p
        assert join_error(carol, room, "Carol") == "forbidden"
        # the owner lifts the ban
        run(alice.plugin["xep_0045"].set_affiliation(room, "none", jid="carol@localhost"))
        join(carol, room, "Carol")
        bye(alice, bob, carol)


def field(form, var):
    return form.get_values()[var]


def test_owner_configuration_persistence_password_members_only():
    with h.Parleyd(h.config(xmpp=True, accounts=ACCOUNTS)) as d:
        port = d.ports["xmpp"]
        alice, bob, carol = (login(port, u, p) for u, p in ACCOUNTS)
        room = "vault@conference.localhost"
        join(alice, room, "Alice")
        muc = alice.plugin["xep_0045"]
        form = run(muc.get_room_config(room))
        assert field(form, "muc#roomconfig_persistentroom") is False
        assert field(form, "muc#roomconfig_passwordprotectedroom") is False
        # only the owner reads or changes the configuration
        join(bob, room, "Bob")
        for call in (lambda: bob.plugin["xep_0045"].get_room_config(room),):
            try:
                run(call())
                raise AssertionError("a participant read the configuration")
            except IqError as e:
                assert e.condition == "forbidden", e.condition
        bob.plugin["xep_0045"].leave_muc(room, "Bob")

        form = alice.plugin["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/muc#roomconfig")
        form.add_field(var="muc#roomconfig_persistentroom", value=True)
        form.add_field(var="muc#roomconfig_passwordprotectedroom", value=True)
        form.add_field(var="muc#roomconfig_roomsecret", value="s3cret")
        run(muc.set_room_config(room, form))
        m = run(next_where(alice.config, lambda m: m["from"].bare == room))
        assert m.xml.find(f"{MUC_USER}x/{MUC_USER}status[@code='104']") is not None, m
        muc.set_subject(room, "kept")
        run(next_where(alice.group, lambda m: m["subject"] == "kept"))
        form = run(muc.get_room_config(room))
        assert field(form, "muc#roomconfig_persistentroom") is True
        assert field(form, "muc#roomconfig_roomsecret") == "s3cret"

        # the last occupant leaves; the room stays (and survives a restart)
        muc.leave_muc(room, "Alice")
        run(asyncio.sleep(0.3))
        bye(alice, bob, carol)
        assert d.stop() == 0
        d.start()
        alice, bob, carol = (login(port, u, p) for u, p in ACCOUNTS)
        info = run(bob.plugin["xep_0030"].get_info(jid=room))
        features = set(info["disco_info"]["features"])
        assert {"muc_persistent", "muc_passwordprotected"} <= features, features

        # password protection (§7.2.6)
        assert join_error(bob, room, "Bob") == "not-authorized"
        assert join_error(bob, room, "Bob", password="wrong") == "not-authorized"
        res = join(bob, room, "Bob", password="s3cret")
        assert 201 not in codes(res[0]), res[0]  # not created again
        assert res[1]["subject"] == "kept"

        # the owner (by affiliation) comes back: moderator without the password, makes the
        # room members-only without a password
        res = join(alice, room, "Alice")
        assert item(res[0]).get("affiliation") == "owner"
        muc = alice.plugin["xep_0045"]
        form = alice.plugin["xep_0004"].make_form(ftype="submit")
        form.add_field(var="muc#roomconfig_membersonly", value=True)
        form.add_field(var="muc#roomconfig_passwordprotectedroom", value=False)
        run(muc.set_room_config(room, form))
        assert join_error(carol, room, "Carol") == "registration-required"  # §7.2.7
        run(muc.set_affiliation(room, "member", jid="carol@localhost"))
        res = join(carol, room, "Carol")
        assert item(res[0]).get("affiliation") == "member"
        info = run(carol.plugin["xep_0030"].get_info(jid=room))
        features = set(info["disco_info"]["features"])
        assert {"muc_membersonly", "muc_unsecured"} <= features, features
        bye(alice, bob, carol)


if __name__ == "__main__":
    h.run_tests(globals())
