// Two fake adapters (an "IRC" and an "XMPP" one) talking through the real Core: what a
// protocol adapter does, minus the wire.
#include <doctest/doctest.h>

#include "unit/core/fixture.hpp"

using namespace parley::core;
using namespace parley::test;

namespace {

// A minimal adapter: owns sinks for its sessions and translates "wire" calls into core calls.
struct FakeAdapter {
  Core& core;
  Protocol protocol;
  std::map<SessionId, std::unique_ptr<FakeSink>> sinks;

  SessionId connect(const std::string& user, const std::string& password) {
    REQUIRE(core.directory().verify_password(user, password).ok());
    auto sink = std::make_unique<FakeSink>();
    SessionOpen o;
    o.user = Address::user(user);
    o.protocol = protocol;
    o.sink = sink.get();
    auto id = core.sessions().open(o);
    REQUIRE(id.ok());
    sinks[*id] = std::move(sink);
    Tuple t;
    core.presence().publish(*id, t);
    core.presence().probe_all(*id);
    REQUIRE(core.router().flush_offline(*id).ok());
    return *id;
  }
  Status say(SessionId s, const std::string& to, const std::string& body) {
    Message m;
    const SessionInfo* info = core.sessions().find(s);
    m.from = Address::user(info->user.id(), info->resource);
    m.to = *Address::parse(to);
    m.body = body;
    m.origin = Origin{protocol, s, {}};
    return core.router().send(std::move(m));
  }
  FakeSink& sink(SessionId s) { return *sinks.at(s); }
};

}  // namespace

TEST_CASE("an IRC user and an XMPP user chat, share a room and see each other's presence") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  FakeAdapter irc{*f.core, Protocol::irc, {}};
  FakeAdapter xmpp{*f.core, Protocol::xmpp, {}};

  // bob is offline: alice's message waits for him.
  auto a = irc.connect("alice", "alicepw");
  REQUIRE(irc.say(a, "local:bob", "are you there?").ok());
  auto b = xmpp.connect("bob", "bobpw");
  REQUIRE(xmpp.sink(b).messages.size() == 1);
  CHECK(xmpp.sink(b).messages[0]->body == "are you there?");
  CHECK(xmpp.sink(b).messages[0]->origin.protocol == Protocol::irc);

  // Direct messages both ways.
  REQUIRE(xmpp.say(b, "local:alice", "yes").ok());
  REQUIRE(irc.sink(a).messages.size() == 1);
  CHECK(irc.sink(a).messages[0]->from.id() == "bob");

  // Mutual subscription, then presence flows across protocols.
  auto& ps = f.core->presence();
  REQUIRE(ps.subscribe(Address::user("alice"), Address::user("bob")).ok());
  CHECK(xmpp.sink(b).last_subscription()->action == SubscriptionAction::subscribe);
  REQUIRE(ps.authorize(Address::user("bob"), Address::user("alice"), true).ok());
  CHECK(irc.sink(a).presences.size() == 1);
  Tuple dnd;
  dnd.availability = Availability::dnd;
  ps.publish(b, dnd);
  CHECK(irc.sink(a).presences.back().aggregate.availability == Availability::dnd);

  // A room shared by both.
  REQUIRE(f.core->rooms().join(a, {"dev", "alice", {}, 0}).ok());
  REQUIRE(f.core->rooms().join(b, {"dev", "bob", {}, 0}).ok());
  REQUIRE(irc.say(a, "room:dev", "hello room").ok());
  CHECK(xmpp.sink(b).messages.back()->body == "hello room");
  CHECK(xmpp.sink(b).messages.back()->to == Address::room("dev"));
  CHECK(xmpp.sink(b).messages.back()->nick == "alice");

  // alice disconnects: bob sees her leave the room and her presence close.
  f.core->sessions().close(a, "Quit: bye");
  CHECK(xmpp.sink(b).leaves.back().reason.kind == LeaveReason::Kind::quit);
  CHECK(f.core->rooms().find("dev")->members.size() == 1);
  CHECK_FALSE(ps.presentity(Address::user("alice")).online());
}
