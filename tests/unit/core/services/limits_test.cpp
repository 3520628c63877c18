// Bounds the core keeps per user and per session whatever the protocol: the offline quota
// (count, bytes, per-sender share), rooms per session, roster size.
#include <doctest/doctest.h>

#include "core/services/offline_quota.hpp"
#include "core/store/message_codec.hpp"
#include "unit/core/fixture.hpp"

using namespace parley::core;
using namespace parley::test;

namespace {
OfflineUsage usage(std::size_t messages, std::size_t bytes, std::size_t sender_messages,
                   std::size_t sender_bytes) {
  return OfflineUsage{messages, bytes, sender_messages, sender_bytes};
}

CoreOptions quota(std::size_t messages, std::size_t bytes, std::uint32_t share) {
  CoreOptions o = CoreFixture::small();
  o.offline_limit = messages;
  o.offline_bytes = bytes;
  o.offline_sender_share = share;
  return o;
}

Message from(const std::string& sender, const std::string& to, const std::string& body) {
  Message m = text(to, body);
  m.from = Address::user(sender);
  return m;
}
}  // namespace

TEST_CASE("offline quota: each sender has a share, the box a total") {
  const OfflineLimits l{100, 10000, 25};  // a sender: 25 messages, 2500 bytes
  CHECK(check_offline_quota(l, usage(0, 0, 0, 0), 100).ok());
  CHECK(check_offline_quota(l, usage(24, 2000, 24, 2000), 100).ok());
  // The sender's 26th message, or its bytes past 2500: refused as resource_constraint.
  CHECK(check_offline_quota(l, usage(25, 2000, 25, 2000), 100).error().condition ==
        Condition::resource_constraint);
  CHECK(check_offline_quota(l, usage(10, 2450, 10, 2450), 100).error().condition ==
        Condition::resource_constraint);
  // Another sender still gets in while the box has room.
  CHECK(check_offline_quota(l, usage(25, 2500, 0, 0), 100).ok());
  // The box full (several senders filled it): service_unavailable, as before the quota.
  CHECK(check_offline_quota(l, usage(100, 5000, 0, 0), 1).error().condition ==
        Condition::service_unavailable);
  CHECK(check_offline_quota(l, usage(50, 9950, 0, 0), 100).error().condition ==
        Condition::service_unavailable);
  // One message larger than a share is never stored.
  CHECK_FALSE(check_offline_quota(l, usage(0, 0, 0, 0), 2600).ok());
}

TEST_CASE("offline quota: share 100 is no share, a tiny box still admits one message per sender") {
  CHECK(check_offline_quota(OfflineLimits{10, 1000, 100}, usage(9, 900, 9, 900), 100).ok());
  CHECK(check_offline_quota(OfflineLimits{3, 1000, 25}, usage(0, 0, 0, 0), 10).ok());  // share rounds up to 1
  CHECK_FALSE(check_offline_quota(OfflineLimits{3, 1000, 25}, usage(1, 10, 1, 10), 10).ok());
  CHECK_FALSE(check_offline_quota(OfflineLimits{0, 1000, 100}, usage(0, 0, 0, 0), 10).ok());
  CHECK_FALSE(check_offline_quota(OfflineLimits{10, 0, 100}, usage(0, 0, 0, 0), 10).ok());
}

TEST_CASE("offline quota: guests count per host, accounts per address") {
  Message m = from("mallory", "local:bob", "x");
  CHECK(offline_sender_key(m, true, "192.0.2.7") == "guest@192.0.2.7");
  m.from = Address::user("mallory2", "irc-5");
  CHECK(offline_sender_key(m, true, "192.0.2.7") == "guest@192.0.2.7");  // a new nick buys nothing
  CHECK(offline_sender_key(m, false, "") == Address::user("mallory2").to_string());
}

TEST_CASE("router: a flooding sender fills its share, others' messages still get in and are delivered") {
  CoreFixture f(std::make_shared<MemoryStore>(), quota(8, 1 << 20, 25));  // share: 2 messages
  f.account("bob");
  f.account("alice");
  int stored = 0;
  Status last;
  for (int i = 0; i < 8; ++i) {
    last = f.core->router().send(from("mallory", "local:bob", "spam " + std::to_string(i)));
    if (last) ++stored;
  }
  CHECK(stored == 2);
  CHECK(last.error().condition == Condition::resource_constraint);
  REQUIRE(f.core->router().send(from("alice", "local:bob", "the real one")).ok());
  CHECK(f.store->offline_usage(Address::user("bob"), "local:alice")->sender_messages == 1);

  auto b = f.login("bob");
  REQUIRE(f.core->router().flush_offline(b).ok());
  REQUIRE(f.sink(b).messages.size() == 3);
  CHECK(f.sink(b).messages[2]->body == "the real one");
}

TEST_CASE("router: guests from one host share one share, whatever their nicks") {
  CoreFixture f(std::make_shared<MemoryStore>(), quota(8, 1 << 20, 25));
  f.account("bob");
  int stored = 0;
  for (int i = 0; i < 4; ++i) {
    auto g = f.login("guest" + std::to_string(i), {}, true, Protocol::irc);  // host.example
    Message m = from("guest" + std::to_string(i), "local:bob", "hi");
    m.origin.session = g;
    if (f.core->router().send(m)) ++stored;
  }
  CHECK(stored == 2);
}

TEST_CASE("router: the offline box is bounded in bytes") {
  Message big = from("alice", "local:bob", std::string(400, 'x'));
  big.id = "p100";  // as the router stores it: with an id and a time
  big.timestamp = Clock::now();
  const std::size_t one = encode_message(big).size();
  CoreFixture f(std::make_shared<MemoryStore>(), quota(1000, 3 * one + one / 2, 100));
  f.account("bob");
  for (int i = 0; i < 3; ++i)
    REQUIRE(f.core->router().send(from("alice", "local:bob", std::string(400, 'x'))).ok());
  auto full = f.core->router().send(from("alice", "local:bob", std::string(400, 'x')));
  CHECK(full.error().condition == Condition::service_unavailable);
  CHECK(f.core->router().send(from("alice", "local:bob", "short")).ok());  // what still fits, fits
}

TEST_CASE("router: a redelivered message is bounded by the box, not by the sender's share") {
  CoreFixture f(std::make_shared<MemoryStore>(), quota(8, 1 << 20, 25));
  f.account("bob");
  for (int i = 0; i < 2; ++i) REQUIRE(f.core->router().send(from("alice", "local:bob", "m")).ok());
  CHECK_FALSE(f.core->router().send(from("alice", "local:bob", "m")).ok());
  CHECK(f.core->router().redeliver(from("alice", "local:bob", "unacked")).ok());
}

TEST_CASE("rooms: one session may be in at most max_rooms rooms") {
  CoreOptions o = CoreFixture::small();
  o.max_rooms = 3;
  CoreFixture f(std::make_shared<MemoryStore>(), o);
  f.account("alice");
  auto a = f.login("alice");
  auto other = f.login("alice", "other");
  for (int i = 0; i < 3; ++i)
    REQUIRE(f.core->rooms().join(a, JoinRequest{"r" + std::to_string(i), "alice", {}, 0}).ok());
  auto r = f.core->rooms().join(a, JoinRequest{"r3", "alice", {}, 0});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().condition == Condition::resource_constraint);
  CHECK(f.core->rooms().find("r3") == nullptr);                                 // not created either
  CHECK(f.core->rooms().join(a, JoinRequest{"r1", "alice", {}, 0}).ok());       // already in: fine
  CHECK(f.core->rooms().join(other, JoinRequest{"r3", "alice2", {}, 0}).ok());  // per session
  REQUIRE(f.core->rooms().leave(a, "r0", "").ok());
  CHECK(f.core->rooms().join(a, JoinRequest{"r3", "alice", {}, 0}).ok());
}

TEST_CASE("roster: at most roster_size items, existing items still change") {
  CoreOptions o = CoreFixture::small();
  o.roster_size = 2;
  CoreFixture f(std::make_shared<MemoryStore>(), o);
  for (auto u : {"alice", "bob", "carol", "dave", "erin"}) f.account(u);
  auto& ps = f.core->presence();
  const Address alice = Address::user("alice");
  REQUIRE(ps.set_roster_item(alice, Address::user("bob"), "Bob", {}).ok());
  REQUIRE(ps.set_roster_item(alice, Address::user("carol"), "Carol", {}).ok());
  auto full = ps.set_roster_item(alice, Address::user("dave"), "Dave", {});
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().condition == Condition::resource_constraint);
  CHECK(f.store->roster(alice)->size() == 2);
  CHECK(ps.set_roster_item(alice, Address::user("bob"), "Robert", {"friends"}).ok());
  // A subscription that would add an item to a full roster is refused too, on both sides.
  CHECK_FALSE(ps.subscribe(alice, Address::user("dave")).ok());
  CHECK(f.store->roster(Address::user("dave"))->empty());
  REQUIRE(ps.set_roster_item(Address::user("dave"), Address::user("bob"), "", {}).ok());
  REQUIRE(ps.set_roster_item(Address::user("dave"), Address::user("carol"), "", {}).ok());
  CHECK_FALSE(ps.subscribe(Address::user("erin"), Address::user("dave")).ok());  // dave's is full
  CHECK(f.store->roster(Address::user("dave"))->size() == 2);
  CHECK(f.store->roster(Address::user("erin"))->empty());
  REQUIRE(ps.remove_roster_item(alice, Address::user("carol")).ok());
  CHECK(ps.set_roster_item(alice, Address::user("dave"), "Dave", {}).ok());
}
