// The SIMPLE presence agent against a real Core (MemoryStore): PUBLISH entity tags and
// expiry into the core presence, SUBSCRIBE authorisation through the roster, NOTIFY
// pacing, de-duplication and sequencing.
#include "adapters/sip/presence_agent.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <map>

#include "core/core.hpp"
#include "core/store/memory_store.hpp"
#include "unit/fakes/adapter_runtime.hpp"

using namespace parley;
using adapters::sip::ContactParam;
using adapters::sip::EventPackage;
using adapters::sip::OutNotify;
using adapters::sip::PresenceAgent;
using adapters::sip::PublishRequest;
using adapters::sip::RegisterRequest;
using adapters::sip::Registrar;

namespace {

const char* kAway =
    "<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' "
    "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' entity='sip:alice@localhost'><tuple id='t'><status>"
    "<basic>open</basic></status></tuple><dm:person id='p'><rpid:activities><rpid:away/></rpid:activities>"
    "<dm:note>lunch</dm:note></dm:person></presence>";

struct World : test::AdapterRuntime {
  std::vector<OutNotify> notes;
  std::shared_ptr<Registrar> reg;
  std::shared_ptr<PresenceAgent> agent;

  explicit World(config::SipConfig cfg = {}) {
    cfg.notify_interval_ms = 0;
    cfg.max_publications = 2;
    reg = std::make_shared<Registrar>(rt, cfg, "localhost", [](adapters::sip::OutMessage) {});
    agent = std::make_shared<PresenceAgent>(rt, cfg, "localhost", reg,
                                            [this](OutNotify n) { notes.push_back(std::move(n)); });
    reg->set_events(agent.get());
    (void)core.directory().add("alice", "alicepw");
    (void)core.directory().add("bob", "bobpw");
  }
  ~World() {
    reg->set_events(nullptr);
    agent->stop();
    reg->stop("end");
  }
  void register_user(const std::string& user) {
    RegisterRequest r;
    r.user = user;
    r.source = "127.0.0.1:5070";
    r.call_id = "c-" + user;
    r.cseq = 1;
    r.contacts.push_back(ContactParam{"sip:" + user + "@127.0.0.1:5070", std::nullopt, false});
    REQUIRE(reg->register_bindings(r).code == 200);
  }
  PublishRequest pub(std::string etag, std::optional<std::uint32_t> expires, std::string body) {
    PublishRequest p;
    p.user = "alice";
    p.source = "127.0.0.1:5070";
    p.if_match = std::move(etag);
    p.expires = expires;
    p.body = std::move(body);
    return p;
  }
  core::Tuple alice() { return core.presence().presentity(core::Address::user("alice")).aggregate(); }
};

std::string etag_of(const adapters::sip::SipReply& r) {
  auto at = r.headers.find("SIP-ETag: ");
  REQUIRE(at != std::string::npos);
  return r.headers.substr(at + 10, r.headers.find("\r\n", at) - at - 10);
}

}  // namespace

TEST_CASE("sip presence agent: PUBLISH entity tags, modify, remove and expiry") {
  World w;
  auto t0 = adapters::sip::SteadyClock::now();
  CHECK(w.agent->publish(w.pub("", 300, kAway), t0).code == 403);  // no binding yet
  w.register_user("alice");
  CHECK(w.agent->publish(w.pub("", 10, kAway), t0).code == 423);
  CHECK(w.agent->publish(w.pub("", 300, "<presence"), t0).code == 400);
  CHECK(w.agent->publish(w.pub("", 300, ""), t0).code == 400);
  auto r = w.agent->publish(w.pub("", 300, kAway), t0);
  REQUIRE(r.code == 200);
  CHECK(w.alice().availability == core::Availability::away);
  CHECK(w.alice().note == "lunch");
  auto tag = etag_of(r);
  CHECK(w.agent->publish(w.pub("feedface", 300, ""), t0).code == 412);
  r = w.agent->publish(w.pub(tag, 300, ""), t0);  // refresh: new tag, same state
  REQUIRE(r.code == 200);
  auto tag2 = etag_of(r);
  CHECK(tag2 != tag);
  CHECK(w.agent->publish(w.pub(tag, 300, ""), t0).code == 412);
  CHECK(w.alice().availability == core::Availability::away);
  // Someone else's tag is as unknown as a made-up one.
  auto other = w.pub(tag2, 300, "");
  other.user = "bob";
  CHECK(w.agent->publish(other, t0).code == 412);
  // Remove: the binding's default tuple is back.
  CHECK(w.agent->publish(w.pub(tag2, 0, ""), t0).code == 200);
  CHECK(w.alice().availability == core::Availability::available);
  CHECK(w.alice().note.empty());
  // Expiry: a publication made 61 s ago for 60 s goes at the next sweep.
  r = w.agent->publish(w.pub("", 60, kAway), t0 - std::chrono::seconds(61));
  REQUIRE(r.code == 200);
  CHECK(w.agent->publications() == 1);
  CHECK(w.alice().availability == core::Availability::away);
  w.agent->start();
  w.io.run_for(std::chrono::milliseconds(1300));
  CHECK(w.agent->publications() == 0);
  CHECK(w.alice().availability == core::Availability::available);
}

TEST_CASE("sip presence agent: subscriptions follow the roster, NOTIFYs are sequenced and not repeated") {
  World w;
  w.register_user("alice");
  w.register_user("bob");
  auto r = w.agent->subscribe("alice", "127.0.0.1:5070", "bob", EventPackage::presence);
  CHECK(r.code == 202);
  CHECK_FALSE(r.sub_active);
  CHECK(r.body.empty());  // pending: nothing about bob
  CHECK(w.core.presence().state(core::Address::user("alice"), core::Address::user("bob")) ==
        core::SubscriptionState::pending);
  // alice's SUBSCRIBE pre-approved bob watching her.
  CHECK(w.core.presence().subscribe(core::Address::user("bob"), core::Address::user("alice")));
  CHECK(w.core.presence().state(core::Address::user("bob"), core::Address::user("alice")) ==
        core::SubscriptionState::active);
  // bob allows alice: NOTIFY active with his PIDF.
  CHECK(w.core.presence().authorize(core::Address::user("bob"), core::Address::user("alice"), true));
  REQUIRE_FALSE(w.notes.empty());
  auto n = w.notes.back();
  CHECK(n.sub_id == r.sub_id);
  CHECK(n.state == OutNotify::State::active);
  CHECK(n.body.find("entity=\"pres:bob@localhost\"") != std::string::npos);
  CHECK(n.body.find("<basic>open</basic>") != std::string::npos);
  auto count = w.notes.size();
  auto last_seq = n.seq;
  // bob's state changes: one NOTIFY, a higher sequence number.
  auto* s = w.core.sessions().find_resource(core::Address::user("bob"), "sip-2");
  REQUIRE(s);
  core::Tuple t;
  t.id = "sip-2";
  t.availability = core::Availability::dnd;
  t.note = "meeting";
  w.core.presence().publish(s->id, t);
  REQUIRE(w.notes.size() == count + 1);
  CHECK(w.notes.back().seq > last_seq);
  CHECK(w.notes.back().body.find("rpid:busy") != std::string::npos);
  // The same state again: no NOTIFY.
  w.core.presence().publish(s->id, t);
  CHECK(w.notes.size() == count + 1);
  // bob revokes: terminated;reason=deactivated, and the agent forgets it.
  CHECK(w.core.presence().authorize(core::Address::user("bob"), core::Address::user("alice"), false));
  CHECK(w.notes.back().state == OutNotify::State::terminated);
  CHECK(w.notes.back().reason == "deactivated");
  CHECK(w.agent->subscriptions() == 0);
}

TEST_CASE("sip presence agent: winfo, limits, unknown users") {
  config::SipConfig cfg;
  cfg.max_subscriptions = 2;
  World w(cfg);
  w.register_user("bob");
  CHECK(w.agent->subscribe("bob", "x", "nobody", EventPackage::presence).code == 404);
  CHECK(w.agent->subscribe("bob", "x", "alice", EventPackage::winfo).code == 403);
  auto wi = w.agent->subscribe("bob", "x", "bob", EventPackage::winfo);
  REQUIRE(wi.code == 200);
  CHECK(wi.content_type == "application/watcherinfo+xml");
  CHECK(wi.body.find("<watcher ") == std::string::npos);
  w.register_user("alice");
  CHECK(w.agent->subscribe("alice", "x", "bob", EventPackage::presence).code == 202);
  REQUIRE_FALSE(w.notes.empty());
  CHECK(w.notes.back().sub_id == wi.sub_id);
  CHECK(w.notes.back().body.find("status=\"pending\"") != std::string::npos);
  CHECK(w.notes.back().body.find("sip:alice@localhost") != std::string::npos);
  CHECK(w.agent->subscribe("alice", "x", "alice", EventPackage::presence).code == 200);
  CHECK(w.agent->subscribe("alice", "x", "bob", EventPackage::presence).code == 403);  // max_subscriptions
  // The libre side ends one: room for another.
  w.agent->subscription_ended(wi.sub_id);
  CHECK(w.agent->subscriptions() == 2);
}

TEST_CASE("sip presence agent: a change fans out once per dialog, rendered once, in sequence") {
  config::SipConfig cfg;
  cfg.max_subscriptions = 1000;
  World w(cfg);
  w.register_user("alice");
  w.register_user("bob");
  // bob may watch alice (alice allows him), then opens many dialogs to her, as a bench
  // watcher account does.
  CHECK(w.core.presence().subscribe(core::Address::user("bob"), core::Address::user("alice")));
  CHECK(w.core.presence().authorize(core::Address::user("alice"), core::Address::user("bob"), true));
  constexpr int kDialogs = 300;
  std::map<std::uint64_t, std::uint64_t> seq;  // sub id -> last sequence number
  for (int i = 0; i < kDialogs; ++i) {
    auto r = w.agent->subscribe("bob", "127.0.0.1:5070", "alice", EventPackage::presence);
    REQUIRE(r.code == 200);
    seq[r.sub_id] = 1;
  }
  auto* s = w.core.sessions().find_resource(core::Address::user("alice"), "sip-1");
  REQUIRE(s);
  for (int change = 0; change < 3; ++change) {
    w.notes.clear();
    auto renders = w.agent->pidf_renders();
    core::Tuple t;
    t.id = "sip-1";
    t.availability = change % 2 ? core::Availability::dnd : core::Availability::away;
    t.note = "change-" + std::to_string(change);
    w.core.presence().publish(s->id, t);
    REQUIRE(w.notes.size() == kDialogs);
    CHECK(w.agent->pidf_renders() == renders + 1);  // one document for all of them
    for (const auto& n : w.notes) {
      REQUIRE(seq.count(n.sub_id) == 1);
      CHECK(n.seq == seq[n.sub_id] + 1);  // one step, no gap, no repeat
      seq[n.sub_id] = n.seq;
      CHECK(n.body == w.notes.front().body);
      CHECK(n.body.data() == w.notes.front().body.data());  // the same document, not a copy
      CHECK(n.body.find("change-" + std::to_string(change)) != std::string::npos);
    }
  }
}

TEST_CASE("sip presence agent: SharedText compares by text, empty is empty, copies share") {
  using parley::adapters::sip::SharedText;
  SharedText a("<presence/>"), b(std::string("<presence/>")), c, d("");
  CHECK(a == b);  // different documents, same text
  CHECK(a.data() != b.data());
  SharedText a2 = a;
  CHECK(a2.data() == a.data());
  CHECK(a2 == std::string_view("<presence/>"));
  CHECK(c.empty());
  CHECK(d.empty());
  CHECK(c == d);
  CHECK(c.size() == 0);
  CHECK(a.str() == "<presence/>");
  CHECK_FALSE(a == c);
}

TEST_CASE(
    "sip presence agent: a federated watcher is pending until allowed, then notified; refused: rejected") {
  config::SipConfig cfg;
  config::SipFederation f;
  f.domain = "remote.test";
  f.proxy = "udp:127.0.0.1:5090";
  cfg.federation.push_back(f);
  World w(cfg);
  w.register_user("alice");
  w.agent->start();
  auto juliet = core::Address::foreign("sip:juliet@remote.test").value();
  auto alice = core::Address::user("alice");
  CHECK(w.agent->subscribe_federated("sip:juliet@remote.test", "nobody", 2).code == 404);
  auto r = w.agent->subscribe_federated("sip:juliet@remote.test", "alice", 2);
  CHECK(r.code == 202);
  CHECK_FALSE(r.sub_active);
  CHECK(r.body.empty());  // RFC 3856 §6.6.2: nothing while pending
  CHECK(w.core.presence().state(juliet, alice) == core::SubscriptionState::pending);
  // alice's watcher list names juliet by her own URI (RFC 3858 §5), not as a name of ours.
  auto wi = w.agent->subscribe("alice", "x", "alice", EventPackage::winfo);
  REQUIRE(wi.code == 200);
  CHECK(wi.body.find(">sip:juliet@remote.test</watcher>") != std::string::npos);
  CHECK(wi.body.find("sip:sip:") == std::string::npos);
  w.agent->subscription_ended(wi.sub_id);
  w.notes.clear();
  w.io.run_for(std::chrono::milliseconds(400));
  CHECK(w.notes.empty());  // still pending: nothing new
  // alice allows juliet (XMPP <presence type='subscribed'/>): the next look sends active.
  REQUIRE(w.core.presence().authorize(alice, juliet, true));
  w.io.run_for(std::chrono::milliseconds(400));
  REQUIRE_FALSE(w.notes.empty());
  CHECK(w.notes.back().sub_id == r.sub_id);
  CHECK(w.notes.back().state == OutNotify::State::active);
  CHECK(w.notes.back().body.find("<basic>open</basic>") != std::string::npos);
  auto count = w.notes.size();
  w.io.run_for(std::chrono::milliseconds(400));
  CHECK(w.notes.size() == count);  // no change, no NOTIFY

  // The bound (max_watchers 2), and a refusal.
  auto romeo = w.agent->subscribe_federated("sip:romeo@remote.test", "alice", 2);
  CHECK(romeo.code == 202);
  CHECK(w.agent->subscribe_federated("sip:tybalt@remote.test", "alice", 2).code == 503);
  REQUIRE(w.core.presence().authorize(alice, core::Address::foreign("sip:romeo@remote.test").value(), false));
  w.io.run_for(std::chrono::milliseconds(400));
  CHECK(w.notes.back().sub_id == romeo.sub_id);
  CHECK(w.notes.back().state == OutNotify::State::terminated);
  CHECK(w.notes.back().reason == "rejected");
  CHECK(w.agent->subscriptions() == 1);
  CHECK(w.agent->subscribe_federated("sip:tybalt@remote.test", "alice", 2).code == 202);  // room again
}
