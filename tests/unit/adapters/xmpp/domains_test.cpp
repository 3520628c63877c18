// Core addresses <-> JIDs: the mapping lives in the XMPP adapter (the core knows no JIDs).
#include <doctest/doctest.h>

#include "adapters/xmpp/context.hpp"
#include "protocols/xmpp/jid.hpp"

using parley::adapters::xmpp::Domains;
using parley::core::Address;

TEST_CASE("local users and rooms become JIDs of the server and MUC domains, and back") {
  Domains d{"d.example", "conference.d.example"};
  CHECK(d.jid_of(Address::user("alice")) == "alice@d.example");
  CHECK(d.jid_of(Address::user("alice", "r")) == "alice@d.example/r");
  CHECK(d.jid_of(Address::room("dev")) == "dev@conference.d.example");
  auto j = parley::protocols::xmpp::parse_jid("alice@d.example/r");
  REQUIRE(j);
  CHECK(d.to_address(*j) == Address::user("alice", "r"));
  auto room = parley::protocols::xmpp::parse_jid("dev@conference.d.example");
  REQUIRE(room);
  CHECK(d.to_address(*room) == Address::room("dev"));
}
