#include <doctest/doctest.h>

#include <charconv>
#include <optional>

#include "unit/core/fixture.hpp"

using namespace parley::core;
using namespace parley::test;

namespace {
JoinRequest req(std::string room, std::string nick, std::string key = {}, std::size_t history = 0) {
  return JoinRequest{std::move(room), std::move(nick), std::move(key), history};
}
// Room changes in a short test notation ("+kb", "-o"): one letter per RoomChangeItem, built
// from the core's own factories (the IRC adapter's letters happen to be the same; the core
// test does not use that adapter).
std::optional<RoomChangeItem> item_of(bool plus, char letter, const std::string& arg) {
  using I = RoomChangeItem;
  switch (letter) {
    case 'i':
      return I::make_flag(RoomFlag::invite_only, plus);
    case 'm':
      return I::make_flag(RoomFlag::moderated, plus);
    case 'n':
      return I::make_flag(RoomFlag::no_external, plus);
    case 's':
      return I::make_flag(RoomFlag::secret, plus);
    case 't':
      return I::make_flag(RoomFlag::topic_locked, plus);
    case 'k':
      return I::make_key(plus, plus ? arg : std::string{});
    case 'l': {
      if (!plus) return I::make_limit(false);
      std::uint32_t n = 0;
      if (std::from_chars(arg.data(), arg.data() + arg.size(), n).ec != std::errc{}) n = 0;
      return I::make_limit(true, n);  // 0: the core refuses it
    }
    case 'o':
      return I::make_status(MemberStatus::operator_status, plus, arg);
    case 'h':
      return I::make_status(MemberStatus::moderator, plus, arg);
    case 'v':
      return I::make_status(MemberStatus::voice, plus, arg);
    case 'b':
      return I::make_ban(plus, ban_from_storage(arg));  // "nick!user@host" or a nick
    default:
      return std::nullopt;
  }
}

RoomChange modes(std::string m, std::vector<std::string> args = {}) {
  RoomChange c;
  bool plus = true;
  std::size_t argi = 0;
  for (char ch : m) {
    if (ch == '+' || ch == '-') {
      plus = ch == '+';
      continue;
    }
    const bool takes = ch == 'o' || ch == 'h' || ch == 'v' || ch == 'b' || ch == 'k' || (ch == 'l' && plus);
    std::string arg = takes && argi < args.size() ? args[argi++] : std::string{};
    if (auto item = item_of(plus, ch, arg)) c.items.push_back(std::move(*item));
  }
  return c;
}
}  // namespace

TEST_CASE("room lifecycle: first join creates, last leave destroys") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto& rs = f.core->rooms();

  auto r = rs.join(a, req("dev", "Alice"));
  REQUIRE(r.ok());
  const Member& owner = (*r)->members.at(a);
  CHECK(owner.affiliation == Affiliation::owner);
  CHECK(owner.role == Role::moderator);
  REQUIRE(f.sink(a).joins.size() == 1);
  CHECK(f.sink(a).joins[0].self);

  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  // alice sees bob; bob sees alice first, then himself.
  CHECK(f.sink(a).joins.size() == 2);
  CHECK_FALSE(f.sink(a).joins[1].self);
  REQUIRE(f.sink(b).joins.size() == 2);
  CHECK(f.sink(b).joins[0].member.nick == "Alice");
  CHECK(f.sink(b).joins[1].self);
  CHECK(f.sink(b).joins[1].member.role == Role::participant);
  CHECK(f.sink(b).joins[1].member.affiliation == Affiliation::none);
  CHECK(rs.rooms_of(b) == std::vector<std::string>{"dev"});

  REQUIRE(rs.leave(b, "dev", "bye").ok());
  CHECK(f.sink(a).leaves.size() == 1);
  CHECK(f.sink(a).leaves[0].reason.text == "bye");
  CHECK(f.sink(b).leaves.size() == 1);
  CHECK(f.sink(b).leaves[0].self);
  CHECK(rs.leave(b, "dev", "").error().condition == Condition::item_not_found);
  REQUIRE(rs.leave(a, "dev", "").ok());
  CHECK(rs.find("dev") == nullptr);
  CHECK(rs.list().empty());
}

TEST_CASE("nicks are unique per room, case-insensitively, except for the same user") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto a1 = f.login("alice", "one");
  auto a2 = f.login("alice", "two");
  auto b = f.login("bob");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a1, req("dev", "Alice")).ok());
  CHECK(rs.join(b, req("dev", "ALICE")).error().condition == Condition::conflict);
  REQUIRE(rs.join(a2, req("dev", "alice")).ok());  // same bare user, another session
  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  CHECK(rs.change_nick(b, "dev", "aLiCe").error().condition == Condition::conflict);
  REQUIRE(rs.change_nick(b, "dev", "robert").ok());
  CHECK(f.sink(a1).nicks.back().after == "robert");
  CHECK(f.sink(b).nicks.back().self);
  CHECK(rs.find("dev")->find_nick("ROBERT") != nullptr);

  REQUIRE(rs.join(b, req("ops", "robert")).ok());
  REQUIRE(rs.change_nick_everywhere(b, "bobby").ok());
  CHECK(rs.find("dev")->find_nick("bobby"));
  CHECK(rs.find("ops")->find_nick("bobby"));
  CHECK(rs.change_nick_everywhere(b, "alice").error().condition == Condition::conflict);
  CHECK(rs.find("ops")->find_nick("bobby"));  // nothing changed anywhere
}

TEST_CASE("modes: key, limit, invite-only, moderated, topic, no-external") {
  CoreFixture f;
  for (auto u : {"alice", "bob", "carol"}) f.account(u);
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto c = f.login("carol");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());
  CHECK(rs.apply_change(b, "dev", modes("+k", {"x"})).error().condition == Condition::not_acceptable);

  SUBCASE("+k") {
    REQUIRE(rs.apply_change(a, "dev", modes("+k", {"sesame"})).ok());
    CHECK(f.sink(a).changes.back().change.items.back().kind == RoomChangeItem::Kind::key);
    CHECK(rs.join(b, req("dev", "bob")).error().condition == Condition::not_authorized);
    REQUIRE(rs.join(b, req("dev", "bob", "sesame")).ok());
    REQUIRE(rs.apply_change(a, "dev", modes("-k", {"sesame"})).ok());
    REQUIRE(rs.join(c, req("dev", "carol")).ok());
  }
  SUBCASE("+l") {
    REQUIRE(rs.apply_change(a, "dev", modes("+l", {"2"})).ok());
    REQUIRE(rs.join(b, req("dev", "bob")).ok());
    CHECK(rs.join(c, req("dev", "carol")).error().condition == Condition::service_unavailable);
    CHECK(rs.apply_change(a, "dev", modes("+l", {"zero"})).error().condition == Condition::bad_request);
    REQUIRE(rs.apply_change(a, "dev", modes("-l")).ok());
    REQUIRE(rs.join(c, req("dev", "carol")).ok());
  }
  SUBCASE("+i and invitations") {
    REQUIRE(rs.apply_change(a, "dev", modes("+i")).ok());
    CHECK(rs.join(b, req("dev", "bob")).error().condition == Condition::registration_required);
    REQUIRE(rs.invite(a, "dev", Address::user("bob")).ok());
    REQUIRE(f.sink(b).invites.size() == 1);
    CHECK(f.sink(b).invites[0].room == "dev");
    CHECK(f.sink(b).invites[0].nick == "alice");
    REQUIRE(rs.join(b, req("dev", "bob")).ok());
    // Only moderators invite to a +i room.
    CHECK(rs.invite(b, "dev", Address::user("carol")).error().condition == Condition::forbidden);
  }
  SUBCASE("+m and voice") {
    REQUIRE(rs.join(b, req("dev", "bob")).ok());
    REQUIRE(rs.apply_change(a, "dev", modes("+m")).ok());
    CHECK(rs.find("dev")->members.at(b).role == Role::visitor);
    CHECK(rs.say(b, "dev", text("room:dev", "hi")).error().condition == Condition::forbidden);
    REQUIRE(rs.apply_change(a, "dev", modes("+v", {"bob"})).ok());
    CHECK(f.sink(a).member_updates.back().role == Role::participant);
    CHECK(f.sink(a).member_updates.back().affiliation == Affiliation::member);
    REQUIRE(rs.say(b, "dev", text("room:dev", "hi")).ok());
    REQUIRE(rs.apply_change(a, "dev", modes("-v", {"bob"})).ok());
    CHECK(rs.find("dev")->members.at(b).role == Role::visitor);
    REQUIRE(rs.join(c, req("dev", "carol")).ok());
    CHECK(rs.find("dev")->members.at(c).role == Role::visitor);
    REQUIRE(rs.apply_change(a, "dev", modes("-m")).ok());
    CHECK(rs.find("dev")->members.at(c).role == Role::participant);
  }
  SUBCASE("+o/+h and topic protection") {
    REQUIRE(rs.join(b, req("dev", "bob")).ok());
    CHECK(rs.set_topic(b, "dev", "mine").error().condition == Condition::forbidden);
    CHECK(rs.apply_change(b, "dev", modes("+o", {"bob"})).error().condition == Condition::forbidden);
    REQUIRE(rs.apply_change(a, "dev", modes("+oh", {"bob", "alice"})).ok());
    CHECK(rs.find("dev")->members.at(b).affiliation == Affiliation::admin);
    CHECK(rs.find("dev")->members.at(b).role == Role::moderator);
    CHECK(rs.find("dev")->members.at(a).affiliation == Affiliation::owner);  // +h does not demote
    REQUIRE(rs.set_topic(b, "dev", "new topic").ok());
    CHECK(f.sink(a).topics.back().text == "new topic");
    CHECK(f.sink(a).topics.back().set_by == "bob");
    REQUIRE(rs.apply_change(a, "dev", modes("-o", {"bob"})).ok());
    CHECK(rs.find("dev")->members.at(b).role == Role::participant);
    REQUIRE(rs.apply_change(a, "dev", modes("-t")).ok());
    REQUIRE(rs.set_topic(b, "dev", "anyone").ok());
    // The joiner gets the topic after the join.
    REQUIRE(rs.join(c, req("dev", "carol")).ok());
    CHECK(f.sink(c).topics.back().text == "anyone");
  }
  SUBCASE("+n") {
    CHECK(rs.say(b, "dev", text("room:dev", "from outside")).error().condition == Condition::not_acceptable);
    REQUIRE(rs.apply_change(a, "dev", modes("-n")).ok());
    REQUIRE(rs.say(b, "dev", text("room:dev", "from outside")).ok());
    CHECK(f.sink(a).messages.back()->nick == "bob");
  }
  SUBCASE("applied modes are reported, unknown ones refused") {
    REQUIRE(rs.apply_change(a, "dev", modes("+st-n")).ok());
    REQUIRE(f.sink(a).changes.back().change.items.size() == 3);
    CHECK(f.sink(a).changes.back().change.items[0].flag == RoomFlag::secret);
    CHECK(f.sink(a).changes.back().change.items[2].flag == RoomFlag::no_external);
    CHECK(!f.sink(a).changes.back().change.items[2].on);
    CHECK(f.sink(a).changes.back().by == "alice");
    RoomChange report;
    report.items.push_back(RoomChangeItem::make_member(Member{}, Member{}));
    CHECK(rs.apply_change(a, "dev", report).error().condition == Condition::bad_request);
  }
}

TEST_CASE("kick and ban") {
  CoreFixture f;
  for (auto u : {"alice", "bob", "carol"}) f.account(u);
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto c = f.login("carol");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());
  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  REQUIRE(rs.join(c, req("dev", "carol")).ok());
  CHECK(rs.kick(b, "dev", "carol", "no").error().condition == Condition::forbidden);
  REQUIRE(rs.kick(a, "dev", "Carol", "behave").ok());
  REQUIRE_FALSE(f.sink(c).leaves.empty());
  CHECK(f.sink(c).leaves.back().self);
  CHECK(f.sink(c).leaves.back().reason.kind == LeaveReason::Kind::kick);
  CHECK(f.sink(c).leaves.back().reason.by == "alice");
  CHECK(f.sink(b).leaves.back().reason.text == "behave");
  CHECK(rs.rooms_of(c).empty());
  CHECK(rs.kick(a, "dev", "nobody", "").error().condition == Condition::item_not_found);

  REQUIRE(rs.apply_change(a, "dev", modes("+b", {"car*!*@*"})).ok());
  CHECK(rs.join(c, req("dev", "carol")).error().condition == Condition::forbidden);
  REQUIRE(rs.apply_change(a, "dev", modes("+b", {"*!carol@host.*"})).ok());
  CHECK(rs.join(c, req("dev", "other")).error().condition == Condition::forbidden);  // by user@host
  REQUIRE(rs.apply_change(a, "dev", modes("-b-b", {"car*!*@*", "*!carol@host.*"})).ok());
  REQUIRE(rs.join(c, req("dev", "carol")).ok());

  // Affiliation outcast bans by account and removes the user at once.
  REQUIRE(rs.set_affiliation(a, "dev", Address::user("carol"), Affiliation::outcast).ok());
  CHECK(f.sink(c).leaves.back().reason.kind == LeaveReason::Kind::ban);
  CHECK(rs.join(c, req("dev", "carol2")).error().condition == Condition::forbidden);
}

TEST_CASE("IRC channel operators are peers, voice is kept apart, invitations pass +l") {
  CoreFixture f;
  for (auto u : {"alice", "bob", "carol"}) f.account(u);
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto c = f.login("carol");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());  // the creator: owner
  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  REQUIRE(rs.apply_change(a, "dev", modes("+o", {"bob"})).ok());  // admin
  // XEP-0045's rank rule keeps an admin from kicking the owner; IRC's chanops may.
  CHECK(rs.kick(b, "dev", "alice", "x").error().condition == Condition::not_allowed);
  // +v on an operator is kept when it loses op; -o takes the owner's op away too.
  REQUIRE(rs.apply_change(b, "dev", modes("+v-o", {"alice", "alice"})).ok());
  const Member& alice = rs.find("dev")->members.at(a);
  CHECK(alice.voice);
  CHECK(alice.role == Role::participant);
  CHECK(alice.affiliation == Affiliation::member);
  CHECK(rs.apply_change(a, "dev", modes("+o", {"alice"})).error().condition == Condition::forbidden);
  REQUIRE(rs.apply_change(b, "dev", modes("+o", {"alice"})).ok());
  REQUIRE(rs.kick(b, "dev", "alice", "bye", true).ok());
  CHECK(rs.find("dev")->members.count(a) == 0);
  // A half-operator may voice but not op.
  REQUIRE(rs.join(c, req("dev", "carol")).ok());
  REQUIRE(rs.apply_change(b, "dev", modes("+h", {"carol"})).ok());
  CHECK(rs.apply_change(c, "dev", modes("+o", {"carol"})).error().condition == Condition::not_allowed);
  CHECK(rs.apply_change(c, "dev", modes("-o", {"bob"})).error().condition == Condition::not_allowed);
  REQUIRE(rs.apply_change(c, "dev", modes("+v", {"carol"})).ok());
  // An invitation lets its holder past +l.
  REQUIRE(rs.apply_change(b, "dev", modes("+l", {"1"})).ok());
  f.account("dave");
  auto e = f.login("dave");
  CHECK(rs.join(e, req("dev", "dave")).error().condition == Condition::service_unavailable);
  REQUIRE(rs.invite(b, "dev", Address::user("dave")).ok());
  REQUIRE(rs.join(e, req("dev", "dave")).ok());
}

TEST_CASE("room messages, history and private messages") {
  CoreFixture f;  // history limit 5
  f.account("alice");
  f.account("bob");
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());
  for (int i = 0; i < 7; ++i) REQUIRE(rs.say(a, "dev", text("room:dev", "m" + std::to_string(i))).ok());
  CHECK(f.sink(a).messages.size() == 7);  // reflected to the sender
  const MessagePtr& m = f.sink(a).messages.back();
  CHECK(m->kind == MessageKind::room);
  CHECK(m->nick == "alice");
  CHECK(m->from == Address::user("alice"));
  CHECK(m->origin.session == a);
  CHECK(rs.find("dev")->history.size() == 5);

  REQUIRE(rs.join(b, req("dev", "bob", {}, 3)).ok());
  REQUIRE(f.sink(b).messages.size() == 3);
  CHECK(f.sink(b).messages[0]->body == "m4");
  CHECK(f.sink(b).messages[2]->body == "m6");

  // Through the router, by room address.
  auto viaroute = text("room:dev", "routed");
  viaroute.origin.session = b;
  REQUIRE(f.core->router().send(viaroute).ok());
  CHECK(f.sink(a).messages.back()->body == "routed");
  CHECK(f.sink(a).messages.back()->nick == "bob");

  REQUIRE(rs.say_private(a, "dev", "BOB", text("room:dev", "psst")).ok());
  CHECK(f.sink(b).messages.back()->body == "psst");
  CHECK(f.sink(b).messages.back()->kind == MessageKind::direct);
  CHECK(f.sink(b).messages.back()->to.is_room());
  CHECK(f.sink(b).messages.back()->nick == "alice");
  CHECK(rs.say_private(a, "dev", "nobody", text("room:dev", "x")).error().condition ==
        Condition::item_not_found);
  CHECK(rs.say(a, "nosuch", text("room:nosuch", "x")).error().condition == Condition::item_not_found);
}

TEST_CASE("persistent rooms survive an empty room and a restart") {
  auto store = std::make_shared<MemoryStore>();
  {
    CoreFixture f(store);
    f.account("alice");
    auto a = f.login("alice");
    auto& rs = f.core->rooms();
    REQUIRE(rs.join(a, req("dev", "alice")).ok());
    REQUIRE(rs.say(a, "dev", text("room:dev", "before")).ok());
    REQUIRE(rs.set_persistent(a, "dev", true).ok());
    REQUIRE(rs.set_topic(a, "dev", "kept").ok());
    REQUIRE(rs.apply_change(a, "dev", modes("+kb", {"key", "troll*"})).ok());
    REQUIRE(rs.say(a, "dev", text("room:dev", "after")).ok());
    REQUIRE(rs.leave(a, "dev", "").ok());
    REQUIRE(rs.find("dev") != nullptr);  // persistent: still there
  }
  CoreFixture f(store);
  REQUIRE(f.core->rooms().load().ok());
  const Room* r = f.core->rooms().find("dev");
  REQUIRE(r != nullptr);
  CHECK(r->persistent);
  CHECK(r->topic.text == "kept");
  CHECK(r->modes.key == "key");
  CHECK(r->bans == std::vector<BanMask>{BanMask{"troll*", "*", "*"}});
  REQUIRE(r->history.size() == 2);
  CHECK(r->history[0]->body == "before");

  auto a = f.login("alice");
  CHECK(f.core->rooms().join(a, req("dev", "alice")).ok());  // owner: the key does not apply
  CHECK(r->members.at(a).affiliation == Affiliation::owner);
  f.account("bob");
  auto b = f.login("bob");
  CHECK(f.core->rooms().join(b, req("dev", "bob")).error().condition == Condition::not_authorized);
  REQUIRE(f.core->rooms().set_persistent(a, "dev", false).ok());
  REQUIRE(f.core->rooms().leave(a, "dev", "").ok());
  CHECK(f.core->rooms().find("dev") == nullptr);
  CHECK(f.store->rooms()->empty());
}

TEST_CASE("closing a session quits every room") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());
  REQUIRE(rs.join(a, req("ops", "alice")).ok());
  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  f.core->sessions().close(a, "gone fishing");
  REQUIRE(f.sink(b).leaves.size() == 1);
  CHECK(f.sink(b).leaves[0].reason.kind == LeaveReason::Kind::quit);
  CHECK(f.sink(b).leaves[0].reason.text == "gone fishing");
  CHECK(f.sink(a).leaves.empty());  // a quitting session is not told
  CHECK(rs.find("ops") == nullptr);
  CHECK(rs.find("dev")->members.size() == 1);
}

TEST_CASE("a guest's affiliations die with it: the next guest of that name starts with nothing") {
  auto store = std::make_shared<MemoryStore>();
  {
    CoreFixture f(store);
    f.account("bob");
    auto& rs = f.core->rooms();
    auto g = f.login("ann", {}, true, Protocol::irc);
    auto b = f.login("bob");
    REQUIRE(rs.join(g, req("x", "ann")).ok());
    REQUIRE(rs.join(b, req("x", "bob")).ok());
    CHECK(rs.find("x")->members.at(g).affiliation == Affiliation::owner);
    REQUIRE(rs.invite(g, "x", Address::user("bob")).ok());
    REQUIRE(rs.set_persistent(g, "x", true).ok());
    // An affiliation for a local name with no account and nobody online is refused.
    CHECK(rs.set_affiliation(g, "x", Address::user("nobody"), Affiliation::admin).error().condition ==
          Condition::item_not_found);
    f.core->sessions().close(g, "bye");
    const Room* r = rs.find("x");
    REQUIRE(r != nullptr);
    CHECK(r->affiliations.count(Address::user("ann")) == 0);
    CHECK(store->rooms()->front().affiliations.empty());  // saved without it

    auto g2 = f.login("ann", {}, true, Protocol::irc);
    REQUIRE(rs.join(g2, req("x", "ann")).ok());
    CHECK(r->members.at(g2).affiliation == Affiliation::none);
    CHECK(r->members.at(g2).role == Role::participant);
    CHECK(rs.apply_change(g2, "x", modes("+o", {"ann"})).error().condition == Condition::forbidden);
  }
  // A guest's affiliation left in the store (a crash: no session close) is dropped at load.
  StoredRoom crashed;
  crashed.name = "y";
  crashed.affiliations = {{Address::user("ghost"), Affiliation::owner},
                          {Address::user("bob"), Affiliation::admin}};
  REQUIRE(store->put_room(crashed).ok());
  CoreFixture f(store);
  REQUIRE(f.core->rooms().load().ok());
  const Room* y = f.core->rooms().find("y");
  REQUIRE(y != nullptr);
  CHECK(y->affiliations.size() == 1);
  CHECK(y->affiliations.count(Address::user("bob")) == 1);
}

TEST_CASE("an account removed (by another process) and added again does not keep its affiliations") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto& rs = f.core->rooms();
  auto a = f.login("alice");
  auto b = f.login("bob");
  REQUIRE(rs.join(a, req("x", "alice")).ok());
  REQUIRE(rs.join(b, req("x", "bob")).ok());
  REQUIRE(rs.set_persistent(a, "x", true).ok());
  REQUIRE(rs.apply_change(a, "x", modes("-t")).ok());
  f.core->sessions().close(a, "bye");
  // `parleyd account remove alice` then `account add alice`, behind the running core's back.
  REQUIRE(f.store->delete_account("alice").ok());
  REQUIRE(rs.set_topic(b, "x", "saved while alice is gone").ok());  // must not write her back
  CHECK(f.store->rooms()->front().affiliations.empty());
  f.account("alice");
  auto a2 = f.login("alice");
  REQUIRE(rs.join(a2, req("x", "alice")).ok());
  CHECK(rs.find("x")->members.at(a2).affiliation == Affiliation::none);
  CHECK(rs.find("x")->affiliations.count(Address::user("alice")) == 0);
  // Her new account can be granted status again, and keeps it.
  REQUIRE(rs.leave(a2, "x", "").ok());
  REQUIRE(rs.join(a2, req("y", "alice")).ok());
  REQUIRE(rs.leave(a2, "y", "").ok());
  auto a3 = f.login("alice");
  REQUIRE(rs.join(a3, req("y", "alice")).ok());
  CHECK(rs.find("y")->members.at(a3).affiliation == Affiliation::owner);
}

TEST_CASE("room nicks are protocol-neutral: spaces are fine, controls are not") {
  CoreFixture f;
  f.account("jane");
  auto j = f.login("jane");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(j, req("dev", "Jane Doe")).ok());
  CHECK(rs.find("dev")->members.at(j).nick == "Jane Doe");
  CHECK(rs.change_nick(j, "dev", "Jane Q. Doe").ok());
  for (const char* bad : {"", " lead", "trail ", "a\nb", "a\rb",
                          "a\x01"
                          "b",
                          "a\x7f"})
    CHECK(rs.change_nick(j, "dev", bad).error().condition == Condition::malformed_address);
  CHECK(rs.change_nick(j, "dev", std::string(65, 'x')).error().condition == Condition::malformed_address);
}

TEST_CASE("a ban by address is a room change every member sees, and -b of its mask lifts it") {
  CoreFixture f;
  for (auto u : {"alice", "bob", "carol"}) f.account(u);
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto c = f.login("carol");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());
  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  REQUIRE(rs.join(c, req("dev", "carol")).ok());
  REQUIRE(rs.set_affiliation(a, "dev", Address::user("carol"), Affiliation::outcast).ok());
  auto saw_outcast = [&](SessionId who, bool on) {
    for (const auto& e : f.sink(who).changes)
      for (const auto& it : e.change.items)
        if (it.kind == RoomChangeItem::Kind::outcast && it.on == on && it.text == "carol") return true;
    return false;
  };
  CHECK(saw_outcast(b, true));
  CHECK(saw_outcast(c, true));  // told before it is removed
  CHECK(f.sink(c).leaves.back().reason.kind == LeaveReason::Kind::ban);
  CHECK(rs.join(c, req("dev", "carol")).error().condition == Condition::forbidden);
  REQUIRE(rs.apply_change(a, "dev", modes("-b", {"*!carol@*"})).ok());
  CHECK(saw_outcast(b, false));
  CHECK(rs.join(c, req("dev", "carol")).ok());
}

TEST_CASE("changes decided on a linked node: removal with the given reason, topic as given") {
  CoreFixture f;
  for (auto u : {"alice", "bob"}) f.account(u);
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());
  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  REQUIRE(rs.apply_change(a, "dev", modes("+t")).ok());
  // bob is no moderator here, yet a topic and a kick checked elsewhere apply as given.
  REQUIRE(rs.set_topic_as("dev", "from afar", "carol").ok());
  CHECK(rs.find("dev")->topic.text == "from afar");
  CHECK(rs.find("dev")->topic.set_by == "carol");
  REQUIRE(rs.remove_as(a, "dev", LeaveReason{LeaveReason::Kind::kick, "carol", "out"}).ok());
  CHECK(f.sink(b).leaves.back().reason.kind == LeaveReason::Kind::kick);
  CHECK(f.sink(b).leaves.back().reason.by == "carol");
  CHECK(f.sink(a).leaves.back().self);
  CHECK(rs.rooms_of(a).empty());
  CHECK(rs.remove_as(a, "dev", LeaveReason{}).error().condition == Condition::item_not_found);
  CHECK(rs.set_topic_as("nowhere", "x", "y").error().condition == Condition::item_not_found);
}

TEST_CASE("changes decided on a linked node: a topic keeps its time, a room change applies without rights") {
  CoreFixture f;
  for (auto u : {"alice", "bob", "carol"}) f.account(u);
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto c = f.login("carol");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());
  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  REQUIRE(rs.join(c, req("dev", "carol")).ok());
  const Timestamp then = from_unix_ms(1'700'000'000'000);
  REQUIRE(rs.set_topic_as("dev", "old news", "zed", then).ok());
  CHECK(rs.find("dev")->topic.set_at == then);
  // bob (no moderator here) is made operator and the room moderated by "zed" of another
  // node: members see one change by zed; carol, a plain participant, becomes a visitor.
  RoomChange ch;
  ch.items = {RoomChangeItem::make_flag(RoomFlag::moderated, true),
              RoomChangeItem::make_status(MemberStatus::operator_status, true, "bob")};
  REQUIRE(rs.change_as("dev", ch, "zed").ok());
  const Room* r = rs.find("dev");
  CHECK(r->modes.moderated);
  CHECK(r->find_nick("bob")->role == Role::moderator);
  CHECK(r->find_nick("bob")->affiliation >= Affiliation::admin);
  CHECK(r->find_nick("carol")->role == Role::visitor);
  REQUIRE_FALSE(f.sink(c).changes.empty());
  CHECK(f.sink(c).changes.back().by == "zed");
  // Revoking the status of alice, the room's owner, as given (here she outranks no one).
  RoomChange de;
  de.items = {RoomChangeItem::make_status(MemberStatus::operator_status, false, "alice")};
  REQUIRE(rs.change_as("dev", de, "zed").ok());
  CHECK(rs.find("dev")->find_nick("alice")->role != Role::moderator);
  // Errors: no such room, a nick not there (nothing applied), a result-only item.
  CHECK(rs.change_as("nowhere", ch, "zed").error().condition == Condition::item_not_found);
  RoomChange nobody;
  nobody.items = {RoomChangeItem::make_status(MemberStatus::voice, true, "nobody")};
  CHECK(rs.change_as("dev", nobody, "zed").error().condition == Condition::item_not_found);
}

TEST_CASE("a message another node checked: say_as skips the voice check, nothing else") {
  CoreFixture f;
  for (auto u : {"alice", "bob"}) f.account(u);
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto& rs = f.core->rooms();
  REQUIRE(rs.join(a, req("dev", "alice")).ok());
  REQUIRE(rs.join(b, req("dev", "bob")).ok());
  REQUIRE(rs.apply_change(a, "dev", modes("+m")).ok());
  Message m;
  m.body = "hi";
  CHECK(rs.say(b, "dev", m).error().condition == Condition::forbidden);
  REQUIRE(rs.say_as(b, "dev", m).ok());
  CHECK(f.sink(a).messages.back()->body == "hi");
  CHECK(rs.say_as(b, "nowhere", m).error().condition == Condition::item_not_found);
}
