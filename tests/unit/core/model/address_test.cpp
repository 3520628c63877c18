#include <doctest/doctest.h>

#include "core/model/address.hpp"
#include "core/model/presence.hpp"

using namespace parley::core;

TEST_CASE("local user and room addresses round-trip through text") {
  auto a = Address::user("alice", "phone");
  CHECK(a.to_string() == "local:alice/phone");
  auto p = Address::parse("local:alice/phone");
  REQUIRE(p.ok());
  CHECK(*p == a);
  CHECK(p->bare() == Address::user("alice"));
  auto r = Address::parse("room:dev");
  REQUIRE(r.ok());
  CHECK(r->is_room());
  CHECK(r->id() == "dev");
}

TEST_CASE("foreign addresses take their protocol from the scheme") {
  CHECK(Address::parse("xmpp:bob@example.org/x")->protocol() == Protocol::xmpp);
  CHECK(Address::parse("irc://libera/#chan")->protocol() == Protocol::irc);
  CHECK(Address::parse("sip:bob@example.org")->protocol() == Protocol::sip);
  CHECK(Address::parse("psyc://example.org/~bob")->protocol() == Protocol::psyc);
  auto bad = Address::parse("gopher://x");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().condition == Condition::malformed_address);
  CHECK_FALSE(Address::parse("local:Alice").ok());
  CHECK_FALSE(Address::parse("room:").ok());
}

TEST_CASE("presence aggregate prefers priority, then availability") {
  Presentity p{Address::user("alice"), {}};
  CHECK(p.aggregate().basic == Basic::closed);
  Tuple a{"a", Basic::open, Availability::away, "lunch", 5, {}};
  Tuple b{"b", Basic::open, Availability::chat, "", 1, {}};
  p.tuples = {b, a};
  CHECK(p.aggregate().id == "a");
  p.tuples[1].priority = 1;
  CHECK(p.aggregate().id == "b");
}

TEST_CASE("timestamps render as XEP-0082 / IRCv3 server-time") {
  CHECK(to_iso8601(from_unix_ms(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(to_iso8601(from_unix_ms(1764028800123)) == "2025-11-25T00:00:00.123Z");
  CHECK(to_iso8601(from_unix_ms(-1)) == "1969-12-31T23:59:59.999Z");
}
