// Link driven without a connection: the core calls its SessionSink methods, XEP-0198
// keeps what it renders, acks drop it, and a session that ends unacknowledged hands its
// messages to the user's other sessions. (A Link attached to a C2sConnection needs a
// socket; the flush path is covered by the integration tests.)
#include "adapters/xmpp/link.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>

#include "adapters/xmpp/render_message.hpp"
#include "unit/core/fixture.hpp"

using namespace parley::adapters::xmpp;
namespace core = parley::core;
namespace asio = boost::asio;

namespace {

struct LinkFixture : parley::test::CoreFixture {
  asio::io_context io;
  parley::adapters::Runtime rt{io, asio::make_strand(io), *core, nullptr};
  Context ctx{rt, Domains{"localhost", "conference.localhost"}, px::FramerLimits{}};

  // An XMPP session of user/resource whose sink is a Link, as C2sConnection opens it.
  std::shared_ptr<Link> open(const std::string& user, const std::string& resource) {
    auto link = std::make_shared<Link>(ctx, user, resource);
    core::SessionOpen o;
    o.user = core::Address::user(user);
    o.resource = resource;
    o.protocol = core::Protocol::xmpp;
    o.host = "host.example";
    o.sink = link.get();
    auto id = core->sessions().open(o);
    REQUIRE(id.ok());
    link->sid = *id;
    return link;
  }
};

core::MessagePtr chat(const std::string& to_resource, const std::string& body, const std::string& id = "m1") {
  core::Message m;
  m.id = id;
  m.from = core::Address::user("bob", "pc");
  m.to = core::Address::user("alice", to_resource);
  m.body = body;
  return std::make_shared<const core::Message>(std::move(m));
}

}  // namespace

TEST_CASE("link: the JID parts are views of one string") {
  LinkFixture f;
  Link link(f.ctx, "alice", "phone");
  CHECK(link.full_jid() == "alice@localhost/phone");
  CHECK(link.bare_jid() == "alice@localhost");
  CHECK(link.user() == "alice");
  CHECK(link.resource() == "phone");
}

TEST_CASE("link: without stream management nothing is kept and acks are no-ops") {
  LinkFixture f;
  auto link = f.open("alice", "phone");
  link->on_message(chat("phone", "hi"));
  CHECK_FALSE(link->sm_enabled());
  CHECK(link->unacked().empty());
  CHECK(link->ack(7));
  CHECK(link->inbound_count() == 0);
}

TEST_CASE("link: under XEP-0198 each stanza is kept as rendered until the client acks it") {
  LinkFixture f;
  auto link = f.open("alice", "phone");
  link->enable_sm("sm1");
  CHECK(link->sm_id() == "sm1");
  core::PresenceUpdate p;
  p.from = core::Address::user("bob", "pc");
  link->on_presence(p);
  auto m = chat("phone", "hi <there>");
  link->on_message(m);
  auto kept = link->unacked();
  REQUIRE(kept.size() == 2);
  CHECK(kept[0] == "<presence from='bob@localhost/pc' to='alice@localhost/phone'/>");
  std::string expected;
  render_message(f.ctx.domains, *m, "alice@localhost/phone", "alice@localhost", false, expected);
  CHECK(kept[1] == expected);

  CHECK(link->ack(1));
  CHECK(link->unacked() == std::vector<std::string>{expected});
  CHECK_FALSE(link->ack(3));  // handled-count-too-high: nothing dropped
  CHECK(link->unacked().size() == 1);
  link->count_inbound();
  CHECK(link->inbound_count() == 1);
  CHECK(link->ack(2));
  CHECK(link->unacked().empty());
}

TEST_CASE("link: a room message is rendered once per fan-out and only 'to' differs") {
  LinkFixture f;
  auto a = f.open("alice", "phone");
  auto b = f.open("bob", "pc");
  a->enable_sm("a");
  b->enable_sm("b");
  core::Message m;
  m.id = "r1";
  m.from = core::Address::user("carol");
  m.to = core::Address::room("dev");
  m.kind = core::MessageKind::room;
  m.nick = "carol";
  m.body = "hello";
  auto mp = std::make_shared<const core::Message>(std::move(m));
  a->on_message(mp);
  b->on_message(mp);
  CHECK(f.ctx.room_render.msg == mp);
  const std::string sa = a->unacked().at(0), sb = b->unacked().at(0);
  CHECK(sa.find("to='alice@localhost/phone'") != std::string::npos);
  std::string swapped = sa;
  swapped.replace(sa.find("alice@localhost/phone"), 21, "bob@localhost/pc");
  CHECK(swapped == sb);
}

TEST_CASE("link: an unacked queue over its bound ends the session and redelivers to the other resource") {
  LinkFixture f;
  f.ctx.flood.max_unacked = 2;
  auto phone = f.open("alice", "phone");
  phone->enable_sm("sm1");
  f.ctx.resumable["sm1"] = phone;
  auto pc = f.login("alice", "pc");
  phone->on_message(chat("phone", "one", "m1"));
  phone->on_message(chat("phone", "two", "m2"));
  CHECK_FALSE(phone->ended);
  phone->on_message(chat("phone", "three", "m3"));  // the third is one too many
  CHECK(phone->ended);
  CHECK(f.ctx.resumable.empty());  // not resumable any more
  f.io.run();                      // end_session, posted to the core strand
  CHECK(f.core->sessions().find(phone->sid) == nullptr);
  auto& got = f.sink(pc).messages;
  REQUIRE(got.size() == 3);
  CHECK(got[0]->body == "one");
  CHECK(got[2]->body == "three");
  CHECK(got[0]->to == core::Address::user("alice"));  // redelivered to the bare JID
  CHECK(phone->unacked().empty());
}

TEST_CASE("link: the unacked bound of 0 means unbounded") {
  LinkFixture f;
  f.ctx.flood.max_unacked = 0;
  f.ctx.flood.max_unacked_bytes = 0;
  auto phone = f.open("alice", "phone");
  phone->enable_sm("sm1");
  for (int i = 0; i < 50; ++i) phone->on_message(chat("phone", "x"));
  CHECK_FALSE(phone->ended);
  CHECK(phone->unacked().size() == 50);
}

TEST_CASE("link: a session the core terminates redelivers what the client never acked") {
  LinkFixture f;
  auto phone = f.open("alice", "phone");
  phone->enable_sm("sm1");
  auto pc = f.login("alice", "pc");
  phone->on_message(chat("phone", "unseen"));
  core::PresenceUpdate p;
  p.from = core::Address::user("bob", "pc");
  phone->on_presence(p);  // not a message: not redelivered
  f.core->sessions().terminate(phone->sid, "replaced by a new session");
  CHECK(phone->terminated);
  CHECK(phone->ended);
  f.io.run();
  auto& got = f.sink(pc).messages;
  REQUIRE(got.size() == 1);
  CHECK(got[0]->body == "unseen");
}

// A hibernated session (its stream dropped, waiting for XEP-0198 resumption) is owned by
// Context::resumable alone; the core holds its sink by a plain pointer. Ending it from the
// core (KILL, a resource conflict, terminate_all at SIGTERM) or by the unacked bound takes
// it out of `resumable`: the call must keep its Link alive itself until it is done (ASan:
// heap-use-after-free inside on_terminate / end_unacked_overflow otherwise; CI caught the
// threaded form of this at shutdown, where the last owner was a task on another strand).
TEST_CASE("link: a hibernated session terminated by the core outlives its on_terminate") {
  LinkFixture f;
  auto pc = f.login("alice", "pc");
  core::SessionId sid = 0;
  std::weak_ptr<Link> weak;
  {
    auto phone = f.open("alice", "phone");
    phone->enable_sm("sm1");
    phone->on_message(chat("phone", "unseen"));
    f.ctx.resumable["sm1"] = phone;
    sid = phone->sid;
    weak = phone;
  }  // only `resumable` owns it now, as after C2sConnection::on_close
  REQUIRE_FALSE(weak.expired());
  f.core->sessions().terminate(sid, "killed");  // as terminate_all does for each session
  CHECK(f.ctx.resumable.empty());
  CHECK(f.core->sessions().find(sid) == nullptr);
  f.io.run();  // the redelivery, posted to the core strand, held the last reference
  CHECK(weak.expired());
  auto& got = f.sink(pc).messages;
  REQUIRE(got.size() == 1);
  CHECK(got[0]->body == "unseen");
}

TEST_CASE("link: a hibernated session over the unacked bound outlives its end_unacked_overflow") {
  LinkFixture f;
  f.ctx.flood.max_unacked = 1;
  auto pc = f.login("alice", "pc");
  core::SessionId sid = 0;
  std::weak_ptr<Link> weak;
  {
    auto phone = f.open("alice", "phone");
    phone->enable_sm("sm1");
    f.ctx.resumable["sm1"] = phone;
    sid = phone->sid;
    weak = phone;
  }
  // Delivered by the core through its plain pointer, as a room fan-out or the router does.
  const core::SessionInfo* info = f.core->sessions().find(sid);
  REQUIRE(info != nullptr);
  info->sink->on_message(chat("phone", "one", "m1"));
  info->sink->on_message(chat("phone", "two", "m2"));  // over the bound: the session ends
  CHECK(f.ctx.resumable.empty());
  f.io.run();  // end_session: closed in the core, the messages redelivered
  CHECK(f.core->sessions().find(sid) == nullptr);
  CHECK(weak.expired());
  CHECK(f.sink(pc).messages.size() == 2);
}

TEST_CASE("link: carbons copy a message to this resource to the other resources that enabled them") {
  LinkFixture f;
  auto phone = f.open("alice", "phone");
  auto pc = f.open("alice", "pc");
  auto tablet = f.open("alice", "tablet");
  pc->enable_sm("pc");
  tablet->enable_sm("tablet");
  pc->carbons = true;  // tablet did not enable carbons
  phone->on_message(chat("phone", "hi"));
  auto copies = pc->unacked();
  REQUIRE(copies.size() == 1);
  CHECK(copies[0].rfind("<message from='alice@localhost' to='alice@localhost/pc' type='chat'>"
                        "<received xmlns='urn:xmpp:carbons:2'>",
                        0) == 0);
  CHECK(tablet->unacked().empty());
  phone->on_message(chat("", "to the bare JID"));  // reached every resource already
  CHECK(pc->unacked().size() == 1);
}
