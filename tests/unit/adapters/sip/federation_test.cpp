// The SIP federation's core side (adapters/sip/federation.*) against a real Core
// (MemoryStore), with the libre side replaced by recorded requests: watchers from the
// presence/subscribe hook, one SUBSCRIBE per remote presentity, the max_subscriptions
// bound, NOTIFY fan-out and the roster becoming "to", resubscribe after the end, and
// PUBLISH initial/modify with the entity tag.
#include "adapters/sip/federation.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "core/core.hpp"
#include "core/store/memory_store.hpp"
#include "unit/fakes/adapter_runtime.hpp"
#include "unit/fakes/fake_sink.hpp"

using namespace parley;
using adapters::sip::FedClock;
using adapters::sip::Federation;
using adapters::sip::FedMessage;
using adapters::sip::FedPublish;
using adapters::sip::FedSubscribe;

namespace {

struct World : test::AdapterRuntime {
  std::vector<FedSubscribe> subs;
  std::vector<std::uint64_t> unsubs;
  std::vector<FedPublish> pubs;
  std::vector<FedMessage> msgs;
  std::vector<std::pair<std::size_t, std::vector<adapters::sip::ProxyIp>>> peers;
  std::shared_ptr<Federation> fed;
  test::FakeSink bob_sink, alice_sink;
  core::SessionId bob = 0;

  explicit World(std::string proxy = "udp:127.0.0.1:5090") {
    config::SipConfig cfg;
    cfg.listen.push_back(*protocols::parse_listen("udp:127.0.0.1:5060", protocols::ListenStyle::sip));
    config::SipFederation f;
    f.domain = "remote.test";
    f.proxy = std::move(proxy);
    f.user = "parley";
    f.password = "pw";
    f.max_subscriptions = 2;
    f.publish.push_back({"alice", ""});
    cfg.federation.push_back(f);
    (void)core.directory().add("alice", "alicepw");
    (void)core.directory().add("bob", "bobpw");
    Federation::Ops ops;
    ops.subscribe = [this](FedSubscribe s) { subs.push_back(std::move(s)); };
    ops.unsubscribe = [this](std::uint64_t id) { unsubs.push_back(id); };
    ops.publish = [this](FedPublish p) { pubs.push_back(std::move(p)); };
    ops.message = [this](FedMessage m) { msgs.push_back(std::move(m)); };
    ops.peers = [this](std::size_t entry, std::vector<adapters::sip::ProxyIp> ips) {
      peers.emplace_back(entry, std::move(ips));
    };
    fed = std::make_shared<Federation>(rt, cfg, "localhost", std::move(ops));
    core::SessionOpen o;
    o.user = core::Address::user("bob");
    o.resource = "x";
    o.protocol = core::Protocol::xmpp;
    o.sink = &bob_sink;
    bob = core.sessions().open(std::move(o)).value();
  }
  ~World() { fed->stop(); }
  core::Address sip(const std::string& u) {
    return core::Address::foreign("sip:" + u + "@remote.test").value();
  }
  // A direct message from local user `from` (bob through his session) to foreign `to`.
  core::Status send(const std::string& from, const std::string& to, std::string body, std::string oid) {
    core::Message m;
    m.from = core::Address::user(from);
    m.to = core::Address::foreign(to).value();
    m.body = std::move(body);
    m.origin_id = std::move(oid);
    m.origin.session = from == "bob" ? bob : 0;
    return core.router().send(std::move(m));
  }
};

const char* kOpen =
    "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:juliet@remote.test'><tuple id='t'><status>"
    "<basic>open</basic></status><note>hi</note></tuple></presence>";

}  // namespace

TEST_CASE("sip federation: one SUBSCRIBE per remote presentity, bounded, fanned out to watchers") {
  World w;
  w.fed->start();
  CHECK(w.subs.empty());
  auto bob = core::Address::user("bob");
  REQUIRE(w.core.presence().subscribe(bob, w.sip("juliet")));
  REQUIRE(w.core.presence().subscribe(core::Address::user("alice"), w.sip("juliet")));  // same presentity
  REQUIRE(w.core.presence().subscribe(bob, w.sip("romeo")));
  auto refused = w.core.presence().subscribe(bob, w.sip("mercutio"));  // max_subscriptions: 2
  REQUIRE_FALSE(refused);
  CHECK(refused.error().condition == core::Condition::resource_constraint);
  // Another domain is not ours to watch.
  REQUIRE(w.core.presence().subscribe(bob, core::Address::foreign("sip:x@elsewhere.test").value()));
  auto now = FedClock::now();
  w.fed->tick(now);
  REQUIRE(w.subs.size() == 2);
  CHECK(w.fed->remote_subscriptions() == 2);
  const FedSubscribe* juliet = nullptr;
  for (const auto& s : w.subs)
    if (s.uri == "sip:juliet@remote.test") juliet = &s;
  REQUIRE(juliet);
  CHECK(juliet->from_uri == "sip:parley@remote.test");
  CHECK(juliet->target.route == "sip:127.0.0.1:5090;transport=udp;lr");
  CHECK(juliet->target.tls_host.empty());
  CHECK(juliet->target.user == "parley");
  w.fed->tick(now);
  CHECK(w.subs.size() == 2);  // nothing twice
  CHECK(w.core.presence().state(bob, w.sip("juliet")) == core::SubscriptionState::pending);

  // The first active NOTIFY with a document: bob sees juliet, his roster says "to".
  auto v = adapters::sip::vet_notify_body(true, kOpen);
  REQUIRE(v.doc);
  w.fed->notified(juliet->id, Federation::SubState::active, v.doc);
  REQUIRE_FALSE(w.bob_sink.presences.empty());
  auto& p = w.bob_sink.presences.back();
  CHECK(p.from == w.sip("juliet"));
  CHECK(p.tuple.basic == core::Basic::open);
  CHECK(p.tuple.note == "hi");
  CHECK(w.core.presence().state(bob, w.sip("juliet")) == core::SubscriptionState::active);
  bool pushed = false;
  for (const auto& r : w.bob_sink.roster_pushes)
    pushed = pushed || (r.item.contact == w.sip("juliet") && r.item.to == core::SubscriptionState::active);
  CHECK(pushed);
  CHECK(w.fed->live_subscriptions() == 1);

  // A session that opens later is told at the next tick.
  test::FakeSink second;
  core::SessionOpen o;
  o.user = bob;
  o.resource = "y";
  o.protocol = core::Protocol::xmpp;
  o.sink = &second;
  REQUIRE(w.core.sessions().open(std::move(o)));
  w.fed->tick(now);
  REQUIRE(second.presences.size() == 1);
  CHECK(second.presences[0].from == w.sip("juliet"));
  w.fed->tick(now);
  CHECK(second.presences.size() == 1);  // once

  // The subscription ends (e.g. 481 after a restart): not at once, after the backoff.
  auto old = juliet->id;
  w.fed->subscription_ended(old, 481, "Call/Transaction Does Not Exist");
  w.fed->tick(FedClock::now());
  CHECK(w.subs.size() == 2);
  w.fed->tick(FedClock::now() + std::chrono::seconds(2));
  REQUIRE(w.subs.size() == 3);
  CHECK(w.subs.back().uri == "sip:juliet@remote.test");
  CHECK(w.subs.back().id != old);
  // A late NOTIFY of the old attempt changes nothing.
  auto before = w.bob_sink.presences.size();
  w.fed->notified(old, Federation::SubState::active, v.doc);
  CHECK(w.bob_sink.presences.size() == before);
}

TEST_CASE("sip federation: a presentity nobody watches any more is unsubscribed") {
  World w;
  w.fed->start();
  auto bob = core::Address::user("bob");
  REQUIRE(w.core.presence().subscribe(bob, w.sip("juliet")));
  w.fed->tick(FedClock::now());
  REQUIRE(w.subs.size() == 1);
  REQUIRE(w.core.presence().remove_roster_item(bob, w.sip("juliet")));
  // Learned at the next NOTIFY (the core has no unsubscribe hook): the watcher is dropped,
  // then the subscription.
  auto v = adapters::sip::vet_notify_body(true, kOpen);
  w.fed->notified(w.subs[0].id, Federation::SubState::active, v.doc);
  CHECK(w.bob_sink.presences.empty());
  w.fed->tick(FedClock::now());
  REQUIRE(w.unsubs.size() == 1);
  CHECK(w.unsubs[0] == w.subs[0].id);
  CHECK(w.fed->remote_subscriptions() == 0);
}

TEST_CASE("sip federation: subscriptions on the rosters at start are resumed") {
  World w;
  REQUIRE(w.core.presence().subscribe(core::Address::user("bob"), w.sip("juliet")));
  w.fed->start();
  REQUIRE(w.subs.size() == 1);
  CHECK(w.subs[0].uri == "sip:juliet@remote.test");
}

TEST_CASE("sip federation: a local user's presence is PUBLISHed, then modified with the entity tag") {
  World w;
  w.fed->start();
  REQUIRE(w.pubs.size() == 1);  // alice is offline: closed
  CHECK(w.pubs[0].aor == "sip:alice@remote.test");
  CHECK(w.pubs[0].etag.empty());
  CHECK(w.pubs[0].body.find("<basic>closed</basic>") != std::string::npos);
  CHECK(w.pubs[0].body.find("pres:alice@remote.test") != std::string::npos);
  w.fed->published(w.pubs[0].id, 200, "etag-1", 600);
  w.fed->tick(FedClock::now());
  CHECK(w.pubs.size() == 1);  // unchanged: nothing sent
  core::SessionOpen o;
  o.user = core::Address::user("alice");
  o.resource = "x";
  o.protocol = core::Protocol::xmpp;
  o.sink = &w.alice_sink;
  auto s = w.core.sessions().open(std::move(o));
  REQUIRE(s);
  core::Tuple t;
  t.availability = core::Availability::away;
  t.note = "gone fishing";
  w.core.presence().publish(*s, t);
  w.fed->tick(FedClock::now());
  REQUIRE(w.pubs.size() == 2);
  CHECK(w.pubs[1].etag == "etag-1");
  CHECK(w.pubs[1].body.find("<basic>open</basic>") != std::string::npos);
  CHECK(w.pubs[1].body.find("gone fishing") != std::string::npos);
  CHECK(w.pubs[1].body.find("away") != std::string::npos);
  // 412: published anew, without the tag.
  w.fed->published(w.pubs[1].id, 412, "", 0);
  w.fed->tick(FedClock::now());
  REQUIRE(w.pubs.size() == 3);
  CHECK(w.pubs[2].etag.empty());
  CHECK(w.pubs[2].body.find("gone fishing") != std::string::npos);
  // Stop: the publication the server holds is withdrawn (Expires: 0, its tag, no body).
  w.fed->published(w.pubs[2].id, 200, "etag-2", 600);
  CHECK(w.fed->stop() == 1);
  REQUIRE(w.pubs.size() == 4);
  CHECK(w.pubs[3].expires == 0);
  CHECK(w.pubs[3].etag == "etag-2");
  CHECK(w.pubs[3].body.empty());
  CHECK(w.fed->stop() == 0);  // once
}

TEST_CASE("sip federation: nothing is withdrawn that was never published") {
  World w;
  w.fed->start();
  REQUIRE(w.pubs.size() == 1);
  w.fed->published(w.pubs[0].id, 403, "", 0);
  CHECK(w.fed->stop() == 0);
  CHECK(w.pubs.size() == 1);
}

TEST_CASE("sip federation: a subscription that hears no NOTIFY for Expires + 5 s is started afresh") {
  World w;
  w.fed->start();
  REQUIRE(w.core.presence().subscribe(core::Address::user("bob"), w.sip("juliet")));
  auto t0 = FedClock::now();
  w.fed->tick(t0);
  REQUIRE(w.subs.size() == 1);
  auto v = adapters::sip::vet_notify_body(true, kOpen);
  w.fed->notified(w.subs[0].id, Federation::SubState::active, v.doc);
  w.fed->tick(FedClock::now() + std::chrono::seconds(300));  // within Expires (600): fine
  CHECK(w.unsubs.empty());
  auto late = FedClock::now() + std::chrono::seconds(606);
  w.fed->tick(late);
  REQUIRE(w.unsubs.size() == 1);
  CHECK(w.unsubs[0] == w.subs[0].id);
  w.fed->tick(late + std::chrono::seconds(2));  // after the backoff floor
  REQUIRE(w.subs.size() == 2);
  CHECK(w.subs[1].uri == "sip:juliet@remote.test");
}

TEST_CASE("sip federation: a message to a federated contact is a MESSAGE, a failure the sender's error") {
  World w;
  w.fed->start();
  REQUIRE(w.send("bob", "sip:juliet@remote.test", "hello", "m1"));
  REQUIRE(w.send("alice", "sip:juliet@remote.test", "from alice", "m2"));
  REQUIRE(w.msgs.size() == 2);
  CHECK(w.msgs[0].uri == "sip:juliet@remote.test");
  CHECK(w.msgs[0].from_uri == "sip:bob@localhost");  // not published: the local AOR
  CHECK(w.msgs[0].body == "hello");
  CHECK(w.msgs[0].target.route == "sip:127.0.0.1:5090;transport=udp;lr");
  CHECK(w.msgs[1].from_uri == "sip:alice@remote.test");  // her publish entry's AOR
  CHECK(w.fed->messages_in_flight() == 2);
  // Chat states alone are not sent; a domain with no entry has no route.
  REQUIRE(w.send("bob", "sip:juliet@remote.test", "", "m3"));
  CHECK(w.msgs.size() == 2);
  auto none = w.send("bob", "sip:x@elsewhere.test", "hi", "m4");
  REQUIRE_FALSE(none);
  CHECK(none.error().condition == core::Condition::remote_server_not_found);

  // RFC 7572: 404 -> item-not-found for bob's message m1; 200 says nothing.
  w.fed->message_answered(w.msgs[0].id, 404, "Not Found");
  w.fed->message_answered(w.msgs[1].id, 200, "OK");
  REQUIRE(w.bob_sink.errors.size() == 1);
  CHECK(w.bob_sink.errors[0].first == "m1");
  CHECK(w.bob_sink.errors[0].second.condition == core::Condition::item_not_found);
  CHECK(w.fed->messages_in_flight() == 0);
  w.fed->message_answered(w.msgs[0].id, 480, "Again");  // an unknown id: nothing
  CHECK(w.bob_sink.errors.size() == 1);
  REQUIRE(w.send("bob", "sip:juliet@remote.test", "again", "m5"));
  w.fed->message_answered(w.msgs.back().id, 480, "Temporarily Unavailable");
  CHECK(w.bob_sink.errors.back().second.condition == core::Condition::recipient_unavailable);
  REQUIRE(w.send("bob", "sip:juliet@remote.test", "and again", "m6"));
  w.fed->message_answered(w.msgs.back().id, 403, "Forbidden");
  CHECK(w.bob_sink.errors.back().second.condition == core::Condition::forbidden);
}

namespace {
// Runs the io_context until `done` (the lookup's answer comes from Asio's resolver thread),
// at most 30 s (a system resolver that times out takes 10 s).
template <class F>
bool run_until(World& w, F done) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done() && std::chrono::steady_clock::now() < end) {
    w.io.restart();
    w.io.run_for(std::chrono::milliseconds(20));
  }
  return done();
}
}  // namespace

TEST_CASE("sip federation: a proxy named by host waits for its lookup, then goes to the address") {
  World w("udp:localhost:5090");
  w.fed->start();
  auto bob = core::Address::user("bob");
  REQUIRE(w.core.presence().subscribe(bob, w.sip("juliet")));
  // A MESSAGE while the lookup runs waits (counted in flight), nothing is sent yet.
  REQUIRE(w.send("bob", "sip:juliet@remote.test", "hello", "m1"));
  CHECK(w.msgs.empty());
  CHECK(w.fed->messages_in_flight() == 1);
  w.fed->tick(FedClock::now());
  CHECK(w.subs.empty());
  // The lookup's answer sends what waited: SUBSCRIBE, PUBLISH and the MESSAGE.
  REQUIRE(run_until(w, [&] { return !w.subs.empty() && !w.msgs.empty() && !w.pubs.empty(); }));
  CHECK(w.subs[0].target.route == "sip:127.0.0.1:5090;transport=udp;lr");  // localhost, v4 (sip.listen's)
  CHECK(w.msgs[0].target.route == "sip:127.0.0.1:5090;transport=udp;lr");
  CHECK(w.pubs[0].target.route == "sip:127.0.0.1:5090;transport=udp;lr");
  REQUIRE(w.peers.size() == 1);  // the libre side trusts requests from that address
  CHECK(w.peers[0].first == 0);
  REQUIRE(w.peers[0].second.size() == 1);
  CHECK(w.peers[0].second[0].ip == "127.0.0.1");
  CHECK(w.bob_sink.errors.empty());
}

TEST_CASE("sip federation: a proxy name that does not resolve fails what waited, and is looked up again") {
  World w("udp:nonexistent.invalid:5090");  // RFC 6761 §6.4: never resolves
  w.fed->start();
  auto bob = core::Address::user("bob");
  REQUIRE(w.core.presence().subscribe(bob, w.sip("juliet")));
  REQUIRE(w.send("bob", "sip:juliet@remote.test", "hello", "m1"));
  // The MESSAGE comes back as if nobody answered it: recipient-unavailable (RFC 7572 §5).
  REQUIRE(run_until(w, [&] { return !w.bob_sink.errors.empty(); }));
  CHECK(w.bob_sink.errors[0].first == "m1");
  CHECK(w.bob_sink.errors[0].second.condition == core::Condition::recipient_unavailable);
  CHECK(w.subs.empty());
  CHECK(w.pubs.empty());
  CHECK(w.msgs.empty());
  CHECK(w.peers.empty());
  CHECK(w.fed->messages_in_flight() == 0);
  // Within 2 s of the failed lookup, another MESSAGE fails at once, with no new lookup.
  core::Message again;
  again.from = bob;
  again.to = w.sip("juliet");
  again.body = "again";
  again.origin.session = w.bob;
  auto st = w.core.router().send(std::move(again));
  bool failed_now = !st || w.bob_sink.errors.size() == 2;
  CHECK(failed_now);
  CHECK(w.msgs.empty());
}
