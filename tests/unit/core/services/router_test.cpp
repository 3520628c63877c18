#include <doctest/doctest.h>

#include "unit/core/fixture.hpp"

using namespace parley::core;
using namespace parley::test;

TEST_CASE("direct messages to a bare address reach every non-negative-priority session") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto a = f.login("alice");
  auto b1 = f.login("bob", "phone");
  auto b2 = f.login("bob", "desk");
  auto b3 = f.login("bob", "bot");

  auto m = text("local:bob", "hi");
  m.from = Address::user("alice", f.core->sessions().find(a)->resource);
  // Nobody published presence yet: every session gets it.
  REQUIRE(f.core->router().send(m).ok());
  CHECK(f.sink(b1).messages.size() == 1);
  CHECK(f.sink(b2).messages.size() == 1);
  CHECK(f.sink(b3).messages.size() == 1);
  const MessagePtr& got = f.sink(b1).messages[0];
  CHECK_FALSE(got->id.empty());
  CHECK(got->timestamp != Timestamp{});
  CHECK(got == f.sink(b2).messages[0]);  // one shared copy

  f.online(b1, 5);
  f.online(b2, 0);
  f.online(b3, -1);
  REQUIRE(f.core->router().send(m).ok());
  CHECK(f.sink(b1).messages.size() == 2);
  CHECK(f.sink(b2).messages.size() == 2);
  CHECK(f.sink(b3).messages.size() == 1);  // negative priority

  SUBCASE("a full address reaches only that session, or falls back to the bare rules") {
    REQUIRE(f.core->router().send(text("local:bob/bot", "direct")).ok());
    CHECK(f.sink(b3).messages.size() == 2);
    CHECK(f.sink(b1).messages.size() == 2);
    REQUIRE(f.core->router().send(text("local:bob/gone", "fallback")).ok());
    CHECK(f.sink(b1).messages.size() == 3);
    CHECK(f.sink(b3).messages.size() == 2);
  }
}

TEST_CASE("offline messages are stored, bounded, and flushed at the next login") {
  CoreFixture f;  // offline_limit 3
  f.account("bob");
  for (int i = 0; i < 3; ++i) REQUIRE(f.core->router().send(text("local:bob", "m" + std::to_string(i))).ok());
  auto full = f.core->router().send(text("local:bob", "m3"));
  CHECK(full.error().condition == Condition::service_unavailable);
  CHECK(*f.store->count_offline(Address::user("bob")) == 3);

  auto b = f.login("bob");
  REQUIRE(f.core->router().flush_offline(b).ok());
  REQUIRE(f.sink(b).messages.size() == 3);
  CHECK(f.sink(b).messages[0]->body == "m0");
  CHECK(f.sink(b).messages[2]->body == "m2");
  CHECK(*f.store->count_offline(Address::user("bob")) == 0);
  REQUIRE(f.core->router().flush_offline(b).ok());
  CHECK(f.sink(b).messages.size() == 3);
}

TEST_CASE("redeliver: an unacknowledged message goes to the other sessions, else offline") {
  CoreFixture f;
  f.account("bob");
  auto phone = f.login("bob", "phone");
  auto desk = f.login("bob", "desk");
  auto m = text("local:bob/phone", "are you there");
  m.id = "m1";
  REQUIRE(f.core->router().send(m).ok());
  REQUIRE(f.sink(phone).messages.size() == 1);
  CHECK(f.sink(desk).messages.empty());
  // The phone's stream ends without acknowledging it: the desk gets it, same id.
  f.core->sessions().close(phone, "gone");
  REQUIRE(f.core->router().redeliver(*f.sink(phone).messages[0]).ok());
  REQUIRE(f.sink(desk).messages.size() == 1);
  CHECK(f.sink(desk).messages[0]->id == "m1");
  CHECK(f.sink(desk).messages[0]->to == Address::user("bob"));
  // Nobody left: offline storage keeps it for the next login.
  f.core->sessions().close(desk, "gone");
  REQUIRE(f.core->router().redeliver(*f.sink(desk).messages[0]).ok());
  CHECK(*f.store->count_offline(Address::user("bob")) == 1);
  CHECK_FALSE(f.core->router().redeliver(text("room:dev", "x")).ok());
}

TEST_CASE("all sessions with negative priority count as offline") {
  CoreFixture f;
  f.account("bob");
  auto b = f.login("bob");
  f.online(b, -5);
  REQUIRE(f.core->router().send(text("local:bob", "later")).ok());
  CHECK(f.sink(b).messages.empty());
  CHECK(*f.store->count_offline(Address::user("bob")) == 1);
}

TEST_CASE("unknown users, guests and foreign addresses") {
  CoreFixture f;
  CHECK(f.core->router().send(text("local:nobody", "x")).error().condition == Condition::item_not_found);

  auto g = f.login("guest1", {}, true, Protocol::irc);
  REQUIRE(f.core->router().send(text("local:guest1", "hi guest")).ok());
  CHECK(f.sink(g).messages.size() == 1);
  f.core->sessions().close(g, "bye");
  CHECK(f.core->router().send(text("local:guest1", "x")).error().condition == Condition::item_not_found);

  CHECK(f.core->router().send(text("xmpp:bob@example.org", "x")).error().condition ==
        Condition::remote_server_not_found);
  struct Route : ForeignRoute {
    std::vector<MessagePtr> got;
    Status deliver(const MessagePtr& m) override {
      got.push_back(m);
      return {};
    }
  } route;
  f.core->router().add_route(Protocol::xmpp, &route);
  REQUIRE(f.core->router().send(text("xmpp:bob@example.org", "x")).ok());
  CHECK(route.got.size() == 1);
  f.core->router().remove_route(Protocol::xmpp);
  CHECK_FALSE(f.core->router().send(text("xmpp:bob@example.org", "x")).ok());
}

TEST_CASE("sessions: resources, conflicts, replacement and termination") {
  CoreFixture f;
  f.account("alice");
  auto a1 = f.login("alice", "home");
  SessionOpen o;
  o.user = Address::user("alice");
  o.resource = "home";
  FakeSink s2;
  o.sink = &s2;
  CHECK(f.core->sessions().open(o).error().condition == Condition::conflict);
  o.replace_on_conflict = true;
  auto a2 = f.core->sessions().open(o);
  REQUIRE(a2.ok());
  CHECK(f.sink(a1).terminations.size() == 1);
  CHECK(f.core->sessions().find(a1) == nullptr);
  CHECK(f.core->sessions().of_user(Address::user("alice")) == std::vector<SessionId>{*a2});

  auto a3 = f.login("alice");
  CHECK_FALSE(f.core->sessions().find(a3)->resource.empty());
  CHECK(f.core->sessions().size() == 2);
  f.core->sessions().terminate_all("shutdown");
  CHECK(f.core->sessions().size() == 0);
  CHECK(s2.terminations == std::vector<std::string>{"shutdown"});
  CHECK_FALSE(f.core->sessions().user_online(Address::user("alice")));
}

TEST_CASE("message ids are Parley's own and unique across restarts") {
  // A restart on the same store is a new Core: its ids must not repeat the old ones.
  auto store = std::make_shared<MemoryStore>();
  std::string first_run, second_run;
  {
    CoreFixture f(store);
    first_run = f.core->router().next_id();
    CHECK(f.core->router().next_id() != first_run);
  }
  {
    CoreFixture f(store);
    second_run = f.core->router().next_id();
  }
  CHECK(first_run != second_run);
  CHECK(first_run != "p1");

  // A client's id (origin_id) never becomes the message id; an overlong one is not kept.
  CoreFixture f;
  f.account("bob");
  auto b = f.login("bob");
  auto m = text("local:bob", "hi");
  m.origin_id = "client-1";
  REQUIRE(f.core->router().send(m).ok());
  REQUIRE(f.sink(b).messages.size() == 1);
  CHECK(f.sink(b).messages[0]->origin_id == "client-1");
  CHECK(f.sink(b).messages[0]->id != "client-1");
  m.origin_id = std::string(kMaxOriginIdBytes + 1, 'x');
  m.rich.assign(kMaxStyleSpans + 10, StyleSpan{0, 1, StyleSpan::bold, std::nullopt, std::nullopt});
  REQUIRE(f.core->router().send(m).ok());
  REQUIRE(f.sink(b).messages.size() == 2);
  CHECK(f.sink(b).messages[1]->origin_id.empty());
  CHECK(f.sink(b).messages[1]->rich.size() == kMaxStyleSpans);
}
