#include "adapters/irc/modes.hpp"

#include <doctest/doctest.h>

using namespace parley::core;
using namespace parley::adapters::irc;

TEST_CASE("IRC ban masks <-> neutral ban patterns") {
  CHECK(parse_ban_mask("troll*") == BanMask{"troll*", "*", "*"});
  CHECK(parse_ban_mask("*!carol@host.*") == BanMask{"*", "carol", "host.*"});
  CHECK(parse_ban_mask("*@spam.example") == BanMask{"*", "*", "spam.example"});
  CHECK(render_ban_mask(parse_ban_mask("car*!*@*")) == "car*!*@*");
  CHECK(ban_matches(parse_ban_mask("car*!*@*"), "Carol", "carol", "h"));
  CHECK(!ban_matches(parse_ban_mask("*!carol@host.*"), "carol", "carol", "elsewhere"));
  CHECK(ban_from_storage("mallory") == BanMask{"mallory", "*", "*"});
  CHECK(ban_from_storage("*!*@spam.example") == BanMask{"*", "*", "spam.example"});
}

TEST_CASE("IRC mode letters -> RoomChange items") {
  auto k = item_of_letter(true, 'k', "sesame");
  REQUIRE(k);
  CHECK(k->kind == RoomChangeItem::Kind::key);
  CHECK(k->text == "sesame");
  auto l = item_of_letter(true, 'l', "zero");
  REQUIRE(l);
  CHECK(l->limit == 0);  // refused by the core
  auto o = item_of_letter(false, 'o', "bob");
  REQUIRE(o);
  CHECK(o->status == MemberStatus::operator_status);
  CHECK(!o->on);
  CHECK(!item_of_letter(true, 'Z', ""));
}

TEST_CASE("an applied RoomChange renders as one MODE string") {
  RoomChange c;
  c.items.push_back(RoomChangeItem::make_flag(RoomFlag::secret, true));
  c.items.push_back(RoomChangeItem::make_flag(RoomFlag::topic_locked, true));
  c.items.push_back(RoomChangeItem::make_flag(RoomFlag::no_external, false));
  c.items.push_back(RoomChangeItem::make_key(false));
  c.items.push_back(RoomChangeItem::make_ban(true, BanMask{"x", "*", "*"}));
  Member before, after;
  before.nick = after.nick = "Jane Doe";
  after.role = Role::moderator;
  after.affiliation = Affiliation::admin;
  c.items.push_back(RoomChangeItem::make_member(before, after));
  // Voice from a role change (XEP-0045 visitor -> participant) shows as +v.
  Member v1, v2;
  v1.nick = v2.nick = "bob";
  v1.role = Role::visitor;
  v2.voice = true;
  c.items.push_back(RoomChangeItem::make_member(v1, v2));
  auto r =
      render_modes(c, [](const std::string& n) { return n == "Jane Doe" ? std::string("Jane_Doe") : n; });
  CHECK(r.modes == "+st-nk+bov");
  CHECK(r.args == std::vector<std::string>{"*", "x!*@*", "Jane_Doe", "bob"});
  // Moderator demoted to voiced participant: -o+v... here an op who keeps voice: -o only.
  RoomChange d;
  Member a = after, b = after;
  a.voice = b.voice = true;
  b.role = Role::participant;
  b.affiliation = Affiliation::member;
  d.items.push_back(RoomChangeItem::make_member(a, b));
  CHECK(render_modes(d, [](const std::string& n) { return n; }).modes == "-o");
}

TEST_CASE("a ban by address (XMPP outcast) renders as +b/-b of the user's mask") {
  RoomChange c;
  c.items.push_back(RoomChangeItem::make_outcast(true, "alice"));
  c.items.push_back(RoomChangeItem::make_outcast(false, "xmpp:bob@example.org"));
  auto r = render_modes(c, [](const std::string& n) { return n; });
  CHECK(r.modes == "+b-b");
  CHECK(r.args == std::vector<std::string>{"*!alice@*", "*!xmpp%bob%example.org@*"});
  // What MODE -b sends back names the same user id (RoomService lifts the outcast).
  auto m = parse_ban_mask(outcast_mask("alice"));
  CHECK(m == BanMask{"*", "alice", "*"});
}
