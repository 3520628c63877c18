// The SIP registrar against a real Core (MemoryStore): bindings become sessions, expiry
// bounds, unregistration, the per-user limit, and MESSAGE in and out.
#include "adapters/sip/registrar.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "core/core.hpp"
#include "core/store/memory_store.hpp"
#include "unit/fakes/adapter_runtime.hpp"
#include "unit/fakes/fake_sink.hpp"

using namespace parley;
using adapters::sip::ContactParam;
using adapters::sip::OutMessage;
using adapters::sip::RegisterRequest;
using adapters::sip::Registrar;

namespace {

struct World : test::AdapterRuntime {
  std::vector<OutMessage> sent;
  std::shared_ptr<Registrar> reg;

  World(config::SipConfig cfg = {}) {
    cfg.max_bindings = 2;
    reg = std::make_shared<Registrar>(rt, cfg, "localhost",
                                      [this](OutMessage m) { sent.push_back(std::move(m)); });
    (void)core.directory().add("alice", "alicepw");
    (void)core.directory().add("bob", "bobpw");
  }
  ~World() { reg->stop("end"); }

  static RegisterRequest req(std::string uri, std::optional<std::uint32_t> expires, std::uint32_t cseq = 1) {
    RegisterRequest r;
    r.user = "alice";
    r.source = "127.0.0.1:5070";
    r.call_id = "c1";
    r.cseq = cseq;
    r.contacts.push_back(ContactParam{std::move(uri), std::nullopt, false});
    r.expires = expires;
    return r;
  }
};

}  // namespace

TEST_CASE("sip registrar: a binding is a session, expiry bounds, unregister") {
  World w;
  auto t0 = adapters::sip::SteadyClock::now();
  auto r = w.reg->register_bindings(World::req("sip:alice@127.0.0.1:5070", 10), t0);
  CHECK(r.code == 423);
  CHECK(r.headers == "Min-Expires: 60\r\n");
  CHECK_FALSE(w.core.sessions().user_online(core::Address::user("alice")));

  r = w.reg->register_bindings(World::req("sip:alice@127.0.0.1:5070", 999999), t0);
  CHECK(r.code == 200);
  CHECK(r.headers == "Contact: <sip:alice@127.0.0.1:5070>;expires=3600\r\n");  // clamped to max
  CHECK(w.core.sessions().user_online(core::Address::user("alice")));
  CHECK(w.core.presence().presentity(core::Address::user("alice")).online());

  // Same Call-ID, CSeq not higher: out of order.
  CHECK(w.reg->register_bindings(World::req("sip:alice@127.0.0.1:5070", 300, 1), t0).code == 500);
  // Refresh.
  CHECK(w.reg->register_bindings(World::req("sip:alice@127.0.0.1:5070", 300, 2), t0).code == 200);
  w.reg->expire(t0 + std::chrono::seconds(299));
  CHECK(w.reg->bindings("alice") == 1);
  w.reg->expire(t0 + std::chrono::seconds(300));
  CHECK(w.reg->bindings("alice") == 0);
  CHECK_FALSE(w.core.sessions().user_online(core::Address::user("alice")));

  CHECK(w.reg->register_bindings(World::req("sip:alice@127.0.0.1:5070", 300, 3), t0).code == 200);
  CHECK(w.reg->register_bindings(World::req("sip:alice@127.0.0.1:5070", 0, 4), t0).code == 200);
  CHECK(w.reg->bindings("alice") == 0);
}

TEST_CASE("sip registrar: bindings per user are bounded, Contact: * removes all") {
  World w;
  CHECK(w.reg->register_bindings(World::req("sip:a@127.0.0.1:1", 300)).code == 200);
  CHECK(w.reg->register_bindings(World::req("sip:a@127.0.0.1:2", 300)).code == 200);
  CHECK(w.reg->register_bindings(World::req("sip:a@127.0.0.1:3", 300)).code == 403);
  CHECK(w.reg->bindings("alice") == 2);
  auto star = World::req("*", 300);
  star.contacts[0].star = true;
  CHECK(w.reg->register_bindings(star).code == 400);  // * needs Expires: 0
  star.expires = 0;
  CHECK(w.reg->register_bindings(star).code == 200);
  CHECK(w.reg->bindings("alice") == 0);
  CHECK(w.reg->total_bindings() == 0);
}

TEST_CASE("sip registrar: MESSAGE in reaches a local user, out becomes a MESSAGE to the contact") {
  World w;
  test::FakeSink bob_sink;
  core::SessionOpen o;
  o.user = core::Address::user("bob");
  o.protocol = core::Protocol::local;
  o.sink = &bob_sink;
  auto bob = w.core.sessions().open(o);
  REQUIRE(bob);

  CHECK(w.reg->receive_message("alice", "127.0.0.1:5070", "bob", "hi", "", "cid").code ==
        403);  // not registered
  REQUIRE(w.reg->register_bindings(World::req("sip:alice@127.0.0.1:5070", 300)).code == 200);
  CHECK(w.reg->receive_message("alice", "127.0.0.1:5070", "nobody", "hi", "", "cid").code == 404);
  CHECK(w.reg->receive_message("alice", "127.0.0.1:5070", "bob", "hi bob", "", "cid").code == 200);
  REQUIRE(bob_sink.messages.size() == 1);
  CHECK(bob_sink.messages[0]->body == "hi bob");
  CHECK(bob_sink.messages[0]->from.id() == "alice");
  CHECK(bob_sink.messages[0]->origin.protocol == core::Protocol::sip);

  core::Message m;
  m.from = core::Address::user("bob");
  m.to = core::Address::user("alice");
  m.body = "hi alice";
  m.origin.session = *bob;
  REQUIRE(w.core.router().send(m));
  REQUIRE(w.sent.size() == 1);
  CHECK(w.sent[0].target == "sip:alice@127.0.0.1:5070");
  CHECK(w.sent[0].from_uri == "sip:bob@localhost");
  CHECK(w.sent[0].to_uri == "sip:alice@localhost");
  CHECK(w.sent[0].body == "hi alice");
  CHECK(w.sent[0].origin == *bob);

  // A failed MESSAGE becomes an error for its sender (RFC 7572 §5).
  w.reg->delivery_failed(*bob, w.sent[0].ref_id, 486, "Busy Here");
  REQUIRE(bob_sink.errors.size() == 1);
  CHECK(bob_sink.errors[0].second.condition == core::Condition::recipient_unavailable);
  w.core.sessions().close(*bob, "bye");
}

TEST_CASE("sip status mapping") {
  using adapters::sip::error_for_status;
  using adapters::sip::reply_for;
  CHECK(error_for_status(404, "Not Found").condition == core::Condition::item_not_found);
  CHECK(error_for_status(0, "timeout").condition == core::Condition::recipient_unavailable);
  CHECK(error_for_status(403, "x").condition == core::Condition::forbidden);
  CHECK(error_for_status(415, "x").condition == core::Condition::not_acceptable);
  CHECK(error_for_status(503, "x\r\nInjected: y").text == "SIP 503 x  Injected: y");
  CHECK(reply_for(core::make_error(core::Condition::item_not_found)).code == 404);
  CHECK(reply_for(core::make_error(core::Condition::resource_constraint)).code == 503);
}
