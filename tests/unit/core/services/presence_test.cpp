#include <doctest/doctest.h>

#include "unit/core/fixture.hpp"

using namespace parley::core;
using namespace parley::test;

namespace {
const Address alice = Address::user("alice");
const Address bob = Address::user("bob");
}  // namespace

TEST_CASE("subscription: subscribe -> pending -> authorize -> active") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto a = f.login("alice", "pc");
  auto b = f.login("bob", "phone");
  auto& ps = f.core->presence();
  f.online(b);
  f.sink(a).clear();

  REQUIRE(ps.subscribe(alice, bob).ok());
  CHECK(ps.state(alice, bob) == SubscriptionState::pending);
  REQUIRE(f.sink(b).last_subscription());
  CHECK(f.sink(b).last_subscription()->action == SubscriptionAction::subscribe);
  CHECK(f.sink(b).last_subscription()->from == alice);
  REQUIRE_FALSE(f.sink(a).roster_pushes.empty());
  CHECK(f.sink(a).roster_pushes.back().item.to == SubscriptionState::pending);
  CHECK(ps.watchers(bob).size() == 1);
  CHECK(ps.watchers(bob)[0].state == SubscriptionState::pending);
  // Pending: no presence yet.
  CHECK(ps.probe(a, bob).error().condition == Condition::not_authorized);
  CHECK(f.sink(a).presences.empty());

  REQUIRE(ps.authorize(bob, alice, true).ok());
  CHECK(ps.state(alice, bob) == SubscriptionState::active);
  CHECK(f.sink(a).last_subscription()->action == SubscriptionAction::subscribed);
  // The watcher gets the current presence right away.
  REQUIRE(f.sink(a).presences.size() == 1);
  CHECK(f.sink(a).presences[0].from == Address::user("bob", "phone"));
  CHECK(f.sink(a).presences[0].tuple.basic == Basic::open);

  // Publishing reaches the active watcher, and the watcher's roster says so.
  Tuple away;
  away.availability = Availability::away;
  away.note = "lunch";
  ps.publish(b, away);
  REQUIRE(f.sink(a).presences.size() == 2);
  CHECK(f.sink(a).presences[1].tuple.note == "lunch");
  CHECK(f.sink(a).presences[1].aggregate.availability == Availability::away);
  // But not the other way round: bob does not watch alice.
  f.online(a);
  CHECK(f.sink(b).presences.empty());
  CHECK(ps.watching(alice).size() == 1);

  SUBCASE("unsubscribe: presentity is told, the watcher sees it offline") {
    REQUIRE(ps.unsubscribe(alice, bob).ok());
    CHECK(ps.state(alice, bob) == SubscriptionState::none);
    CHECK(f.sink(b).last_subscription()->action == SubscriptionAction::unsubscribe);
    CHECK(f.sink(a).presences.back().tuple.basic == Basic::closed);
    auto n = f.sink(a).presences.size();
    ps.publish(b, Tuple{});
    CHECK(f.sink(a).presences.size() == n);
  }
  SUBCASE("the presentity cancels: terminated") {
    REQUIRE(ps.authorize(bob, alice, false).ok());
    CHECK(ps.state(alice, bob) == SubscriptionState::terminated);
    CHECK(f.sink(a).last_subscription()->action == SubscriptionAction::unsubscribed);
    CHECK(f.sink(a).presences.back().tuple.basic == Basic::closed);
  }
  SUBCASE("session close: watchers see the tuple closed") {
    auto n = f.sink(a).presences.size();
    f.core->sessions().close(b, "bye");
    REQUIRE(f.sink(a).presences.size() == n + 1);
    CHECK(f.sink(a).presences.back().tuple.basic == Basic::closed);
    CHECK(f.sink(a).presences.back().aggregate.basic == Basic::closed);
    CHECK_FALSE(ps.presentity(bob).online());
  }
}

TEST_CASE("subscription: deny -> terminated/rejected, and re-subscribe") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto a = f.login("alice");
  auto& ps = f.core->presence();
  REQUIRE(ps.subscribe(alice, bob).ok());  // bob offline: the request waits in the store
  REQUIRE(ps.authorize(bob, alice, false).ok());
  CHECK(ps.state(alice, bob) == SubscriptionState::terminated);
  CHECK(f.sink(a).last_subscription()->action == SubscriptionAction::unsubscribed);
  CHECK(f.sink(a).last_subscription()->reason == "rejected");
  CHECK(ps.watchers(bob)[0].reason == "rejected");
  REQUIRE(ps.subscribe(alice, bob).ok());
  CHECK(ps.state(alice, bob) == SubscriptionState::pending);
}

TEST_CASE("subscription: pre-approval makes the request active at once") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto a = f.login("alice");
  auto b = f.login("bob");
  f.online(b);
  auto& ps = f.core->presence();
  REQUIRE(ps.authorize(bob, alice, true).ok());
  CHECK(ps.state(alice, bob) == SubscriptionState::none);
  REQUIRE(ps.subscribe(alice, bob).ok());
  CHECK(ps.state(alice, bob) == SubscriptionState::active);
  CHECK(f.sink(a).last_subscription()->action == SubscriptionAction::subscribed);
  CHECK(f.sink(b).subscriptions.empty());  // never asked
  CHECK(f.sink(a).presences.size() == 1);
  // Subscribing again is answered "subscribed" without bothering bob.
  REQUIRE(ps.subscribe(alice, bob).ok());
  CHECK(f.sink(b).subscriptions.empty());
}

TEST_CASE("subscriptions survive a restart through the store") {
  auto store = std::make_shared<MemoryStore>();
  {
    CoreFixture f(store);
    f.account("alice");
    f.account("bob");
    REQUIRE(f.core->presence().subscribe(alice, bob).ok());
    REQUIRE(f.core->presence().authorize(bob, alice, true).ok());
    REQUIRE(f.core->presence().subscribe(bob, alice).ok());  // left pending
    REQUIRE(f.core->presence().set_roster_item(alice, bob, "Bobby", {"friends"}).ok());
  }
  CoreFixture f(store);
  auto& ps = f.core->presence();
  CHECK(ps.state(alice, bob) == SubscriptionState::active);
  CHECK(ps.state(bob, alice) == SubscriptionState::pending);
  auto r = ps.roster(alice);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].name == "Bobby");
  CHECK((*r)[0].to == SubscriptionState::active);
  CHECK((*r)[0].from == SubscriptionState::pending);

  // Initial presence after the restart: probe_all sends what alice watches.
  auto b = f.login("bob", "x");
  f.online(b);
  auto a = f.login("alice");
  ps.probe_all(a);
  REQUIRE(f.sink(a).presences.size() == 1);
  CHECK(f.sink(a).presences[0].from == Address::user("bob", "x"));
  // Probing oneself always works; an offline presentity answers closed.
  f.core->sessions().close(b, "bye");
  REQUIRE(ps.probe(a, bob).ok());
  CHECK(f.sink(a).presences.back().tuple.basic == Basic::closed);
}

TEST_CASE("roster item removal cancels both directions") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto b = f.login("bob");
  auto& ps = f.core->presence();
  REQUIRE(ps.subscribe(alice, bob).ok());
  REQUIRE(ps.authorize(bob, alice, true).ok());
  REQUIRE(ps.subscribe(bob, alice).ok());
  REQUIRE(ps.authorize(alice, bob, true).ok());
  f.sink(b).clear();
  REQUIRE(ps.remove_roster_item(alice, bob).ok());
  CHECK(ps.roster(alice)->empty());
  CHECK(ps.state(alice, bob) == SubscriptionState::none);
  CHECK(ps.state(bob, alice) == SubscriptionState::terminated);
  bool got_unsub = false, got_unsubscribed = false;
  for (auto& e : f.sink(b).subscriptions) {
    got_unsub |= e.action == SubscriptionAction::unsubscribe;
    got_unsubscribed |= e.action == SubscriptionAction::unsubscribed;
  }
  CHECK(got_unsub);
  CHECK(got_unsubscribed);
}

TEST_CASE("own sessions see each other - guests have no roster") {
  CoreFixture f;
  f.account("alice");
  auto a1 = f.login("alice", "one");
  auto a2 = f.login("alice", "two");
  f.online(a1, 3);
  REQUIRE(f.sink(a2).presences.size() == 1);
  CHECK(f.sink(a1).presences.empty());  // not echoed to the publisher
  CHECK(f.sink(a2).presences[0].from == Address::user("alice", "one"));
  CHECK(f.core->presence().presentity(alice).aggregate().priority == 3);

  auto g = f.login("visitor", {}, true, Protocol::irc);
  f.online(g);
  auto& ps = f.core->presence();
  CHECK(ps.subscribe(Address::user("visitor"), alice).error().condition == Condition::not_allowed);
  CHECK(ps.subscribe(alice, Address::user("visitor")).error().condition == Condition::item_not_found);
  CHECK(ps.roster(Address::user("visitor")).error().condition == Condition::not_allowed);
  CHECK(ps.probe(g, alice).error().condition == Condition::not_authorized);
}

TEST_CASE("a subscription to a foreign presentity is recorded pending") {
  CoreFixture f;
  f.account("alice");
  auto remote = *Address::parse("sip:carol@example.org");
  REQUIRE(f.core->presence().subscribe(alice, remote).ok());
  CHECK(f.core->presence().state(alice, remote) == SubscriptionState::pending);
}
