// The IRC nicks of room members (adapters/irc/room_nicks.hpp), against hand-built rooms.
#include "adapters/irc/room_nicks.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "core/core.hpp"
#include "core/store/memory_store.hpp"
#include "protocols/irc/text.hpp"

using namespace parley;
using adapters::irc::IrcNickOwners;
using adapters::irc::RoomNicks;

namespace {

struct Owners final : IrcNickOwners {
  std::set<core::SessionId> irc;                   // IRC clients' sessions
  std::map<std::string, core::Address> elsewhere;  // casefolded nick -> user of an IRC client
  bool is_irc(core::SessionId s) const override { return irc.count(s) > 0; }
  bool irc_nick_of_other(std::string_view nick, const core::Address& user) const override {
    auto it = elsewhere.find(protocols::irc::casefold(nick));
    return it != elsewhere.end() && it->second != user;
  }
};

struct World {
  core::MemoryStore store;
  core::Core core{store, core::CoreOptions{}};
  config::IrcConfig cfg;
  Owners owners;
  RoomNicks nicks{owners, core.rooms(), cfg};
  core::Room room;

  World() { room.name = "dev"; }
  const core::Member& add(core::SessionId s, const std::string& user, const std::string& nick) {
    core::Member m;
    m.session = s;
    m.user = core::Address::user(user);
    m.nick = nick;
    return room.members[s] = m;
  }
};

}  // namespace

TEST_CASE("room nicks: IRC clients keep their nick, others get a valid, unique one") {
  World w;
  w.owners.irc.insert(1);
  const auto& irc = w.add(1, "ann", "Jane_Doe");
  const auto& jane = w.add(2, "jane", "Jane Doe");
  const auto& bob = w.add(3, "bob", "bob");
  CHECK(w.nicks.irc_nick(w.room, irc) == "Jane_Doe");
  CHECK(w.nicks.irc_nick(w.room, jane) == "Jane_Doe1");  // "Jane_Doe" is the IRC client's
  CHECK(w.nicks.irc_nick(w.room, bob) == "bob");         // valid already: its own
  // Chosen once: a later member cannot take it away.
  const auto& other = w.add(4, "other", "Jane_Doe1");
  CHECK(w.nicks.irc_nick(w.room, jane) == "Jane_Doe1");
  CHECK(w.nicks.irc_nick(w.room, other) == "Jane_Doe11");  // its own nick, deduplicated
  // A nick named by an event that is no member's: mapped, not deduplicated.
  CHECK(w.nicks.irc_nick_of(w.room, "Gone Guy") == "Gone_Guy");
  CHECK(w.nicks.irc_nick_of(w.room, "Jane Doe") == "Jane_Doe1");
}

TEST_CASE("room nicks: an IRC user elsewhere keeps its nick from other users only") {
  World w;
  w.owners.elsewhere["carol"] = core::Address::user("carol");
  const auto& mine = w.add(1, "carol", "carol");  // the same user over XMPP
  CHECK(w.nicks.irc_nick(w.room, mine) == "carol");
  w.room.members.clear();
  w.room.name = "ops";
  const auto& theirs = w.add(2, "mallory", "Carol");  // someone else
  CHECK(w.nicks.irc_nick(w.room, theirs) == "Carol1");
}

TEST_CASE("room nicks: looked up back by IRC nick, case-insensitively") {
  World w;
  w.owners.irc.insert(1);
  w.add(1, "ann", "ann");
  const auto& jane = w.add(2, "jane", "Jane Doe");
  CHECK(w.nicks.member_by_irc_nick(w.room, "ANN") == &w.room.members[1]);
  CHECK(w.nicks.member_by_irc_nick(w.room, "jane_doe") == &jane);  // derived on lookup
  CHECK(w.nicks.member_by_irc_nick(w.room, "Jane Doe") == nullptr);
  CHECK(w.nicks.member_by_irc_nick(w.room, "nobody") == nullptr);
  CHECK(w.nicks.size() == 1);  // the IRC client's nick is not stored
}

TEST_CASE("room nicks: a nick change gives the same before/after to every IRC member told") {
  World w;
  const auto before = w.add(2, "jane", "Jane Doe");
  CHECK(w.nicks.irc_nick(w.room, before) == "Jane_Doe");
  w.room.members[2].nick = "Jane Q";
  auto first = w.nicks.irc_renick(w.room, before);
  CHECK(first == std::pair<std::string, std::string>{"Jane_Doe", "Jane_Q"});
  CHECK(w.nicks.irc_renick(w.room, before) == first);
  CHECK(w.nicks.irc_nick(w.room, w.room.members[2]) == "Jane_Q");
  // A change IRC cannot see: the same derived nick before and after.
  const auto b2 = w.room.members[2];
  w.room.members[2].nick = "Jane_Q";
  auto same = w.nicks.irc_renick(w.room, b2);
  CHECK(same.first == same.second);
}

TEST_CASE("room nicks: shown by another member, and swept once the room has no IRC client") {
  World w;
  w.add(1, "ann", "ann");
  const auto& jane = w.add(2, "jane", "Jane Doe");
  CHECK(w.nicks.shown_in_rooms(1, nullptr, "jane_doe", &w.room));
  CHECK_FALSE(w.nicks.shown_in_rooms(2, nullptr, "jane_doe", &w.room));  // itself
  const core::Address jane_user = jane.user;
  CHECK_FALSE(w.nicks.shown_in_rooms(9, &jane_user, "jane_doe", &w.room));  // its own user
  CHECK(w.nicks.size() == 2);
  w.nicks.sweep();  // "dev" is no room of the core's: nothing of it is kept
  CHECK(w.nicks.size() == 0);
}
