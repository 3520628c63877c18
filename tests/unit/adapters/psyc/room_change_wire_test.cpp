#include "adapters/psyc/room_change_wire.hpp"

#include <doctest/doctest.h>

#include "core/model/room.hpp"

using namespace parley;
using namespace parley::adapters::psyc;
using core::RoomChangeItem;

namespace {

core::Member member(std::string nick, core::Role r, core::Affiliation a, bool voice) {
  core::Member m;
  m.nick = std::move(nick);
  m.role = r;
  m.affiliation = a;
  m.voice = voice;
  return m;
}

std::string uni_of(std::string_view nick) {
  return nick == "ghost" ? "" : "psyc://b.test/~" + std::string(nick);
}
std::string nick_of(std::string_view uni) {
  if (uni.rfind("psyc://b.test/~", 0) != 0) return {};
  return std::string(uni.substr(15)) + "_b";
}

// The fields a request carries (RoomChangeItem has no operator==).
bool same(const RoomChangeItem& a, const RoomChangeItem& b) {
  return a.kind == b.kind && a.on == b.on && a.flag == b.flag && a.status == b.status && a.text == b.text &&
         a.limit == b.limit && a.mask == b.mask;
}
bool same(const core::RoomChange& a, const core::RoomChange& b) {
  if (a.items.size() != b.items.size()) return false;
  for (std::size_t i = 0; i < a.items.size(); ++i)
    if (!same(a.items[i], b.items[i])) return false;
  return true;
}

std::vector<std::string_view> views(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("psyc room changes: flags, key, limit and bans cross as they are, back to the same request") {
  core::RoomChange c;
  c.items = {RoomChangeItem::make_flag(core::RoomFlag::moderated, true),
             RoomChangeItem::make_flag(core::RoomFlag::topic_locked, false),
             RoomChangeItem::make_key(true, "open sesame"),
             RoomChangeItem::make_key(false),
             RoomChangeItem::make_limit(true, 42),
             RoomChangeItem::make_limit(false),
             RoomChangeItem::make_ban(true, core::ban_from_storage("bad*!*@*")),
             RoomChangeItem::make_outcast(true, "eve")};
  auto items = change_items(c, uni_of);
  CHECK(items == std::vector<std::string>{"+moderated", "-topic-locked", "+key open sesame", "-key",
                                          "+limit 42", "-limit", "+ban bad*!*@*"});
  core::RoomChange back;
  REQUIRE_FALSE(parse_change_items(views(items), nick_of, back));
  REQUIRE(back.items.size() == 7);
  c.items.pop_back();  // the outcast stays local
  CHECK(same(back, c));
}

TEST_CASE("psyc room changes: member items become status deltas by uniform, side effects stay local") {
  using R = core::Role;
  using A = core::Affiliation;
  core::RoomChange c;
  // op granted, voice taken, moderator (halfop) granted, +m's visitor demotion, an unknown member
  c.items = {RoomChangeItem::make_member(member("bob", R::participant, A::none, false),
                                         member("bob", R::moderator, A::admin, false)),
             RoomChangeItem::make_member(member("dave", R::participant, A::member, true),
                                         member("dave", R::participant, A::member, false)),
             RoomChangeItem::make_member(member("erin", R::participant, A::none, false),
                                         member("erin", R::moderator, A::member, false)),
             RoomChangeItem::make_member(member("fred", R::participant, A::none, false),
                                         member("fred", R::visitor, A::none, false)),
             RoomChangeItem::make_member(member("ghost", R::participant, A::none, false),
                                         member("ghost", R::moderator, A::admin, false))};
  auto items = change_items(c, uni_of);
  CHECK(items == std::vector<std::string>{"+operator psyc://b.test/~bob", "-voice psyc://b.test/~dave",
                                          "+moderator psyc://b.test/~erin"});
  core::RoomChange back;
  REQUIRE_FALSE(parse_change_items(views(items), nick_of, back));
  REQUIRE(back.items.size() == 3);
  CHECK(same(back.items[0], RoomChangeItem::make_status(core::MemberStatus::operator_status, true, "bob_b")));
  CHECK(same(back.items[1], RoomChangeItem::make_status(core::MemberStatus::voice, false, "dave_b")));
  CHECK(same(back.items[2], RoomChangeItem::make_status(core::MemberStatus::moderator, true, "erin_b")));
  // Revoking operator status.
  core::RoomChange de;
  de.items = {RoomChangeItem::make_member(member("bob", R::moderator, A::owner, false),
                                          member("bob", R::participant, A::none, false))};
  CHECK(change_items(de, uni_of) == std::vector<std::string>{"-operator psyc://b.test/~bob"});
}

TEST_CASE(
    "psyc room changes: malformed elements refuse the whole change, unknown words and persons are skipped") {
  core::RoomChange out;
  out.items = {RoomChangeItem::make_limit(true, 1)};
  const std::vector<std::vector<std::string_view>> bad = {
      {""},
      {"+"},
      {"moderated"},
      {"*moderated"},
      {"+moderated yes"},
      {"+voice"},
      {"+key"},
      {"+limit"},
      {"+limit 0"},
      {"+limit ten"},
      {"+limit 99999999999"},
      {"+limit 5x"},
      {"+ban"},
      {"+moderated", "-"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.front());
    core::RoomChange got = out;
    CHECK(parse_change_items(b, nick_of, got));
    CHECK(same(got, out));  // untouched
  }
  core::RoomChange got;
  REQUIRE_FALSE(parse_change_items({"-key stale"}, nick_of, got));  // a removal needs no key
  REQUIRE(got.items.size() == 1);
  CHECK(same(got.items[0], RoomChangeItem::make_key(false)));
  REQUIRE_FALSE(
      parse_change_items({"+colour red", "+voice psyc://c.test/~x", "-limit", "-secret"}, nick_of, got));
  REQUIRE(got.items.size() == 2);
  CHECK(same(got.items[0], RoomChangeItem::make_limit(false)));
  CHECK(same(got.items[1], RoomChangeItem::make_flag(core::RoomFlag::secret, false)));
}
