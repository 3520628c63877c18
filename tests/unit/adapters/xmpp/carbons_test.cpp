#include "adapters/xmpp/carbons.hpp"

#include <doctest/doctest.h>

#include <pugixml.hpp>
#include <string>

using namespace parley::adapters::xmpp;
namespace core = parley::core;

namespace {
core::Message to(core::Address a) {
  core::Message m;
  m.to = std::move(a);
  m.body = "hi";
  return m;
}
}  // namespace

TEST_CASE("carbons: a chat message to this full JID is copied to the other resources") {
  CHECK(carbon_copies_received(to(core::Address::user("alice", "phone")), "alice", "phone"));
}

TEST_CASE("carbons: no copy for bare-JID, other-resource, other-user, room, notice or private messages") {
  CHECK_FALSE(carbon_copies_received(to(core::Address::user("alice")), "alice", "phone"));
  CHECK_FALSE(carbon_copies_received(to(core::Address::user("alice", "pc")), "alice", "phone"));
  CHECK_FALSE(carbon_copies_received(to(core::Address::user("bob", "phone")), "alice", "phone"));
  CHECK_FALSE(carbon_copies_received(to(core::Address::room("dev")), "alice", "phone"));
  core::Message notice = to(core::Address::user("alice", "phone"));
  notice.kind = core::MessageKind::notice;
  CHECK_FALSE(carbon_copies_received(notice, "alice", "phone"));
  core::Message priv = to(core::Address::user("alice", "phone"));
  priv.no_copy = true;
  CHECK_FALSE(carbon_copies_received(priv, "alice", "phone"));
  core::Message action = to(core::Address::user("alice", "phone"));
  action.kind = core::MessageKind::action;
  CHECK(carbon_copies_received(action, "alice", "phone"));
}

TEST_CASE("carbons: the wrapper forwards the message in the jabber:client namespace") {
  const std::string inner =
      "<message from='bob@localhost/pc' to='alice@localhost/phone' type='chat'><body>x</body></message>";
  std::string out = render_carbon("alice@localhost", "alice@localhost/pc", "received", inner);
  CHECK(out ==
        "<message from='alice@localhost' to='alice@localhost/pc' type='chat'>"
        "<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<message xmlns='jabber:client' from='bob@localhost/pc' to='alice@localhost/phone' type='chat'>"
        "<body>x</body></message></forwarded></received></message>");
  pugi::xml_document doc;
  REQUIRE(doc.load_string(out.c_str()));
  // A message that already names its namespace keeps it.
  const std::string named = "<message xmlns='jabber:client' to='x'/>";
  CHECK(render_carbon("a@d", "a@d/r", "sent", named).find("<message xmlns='jabber:client' to='x'/>") !=
        std::string::npos);
  CHECK(render_carbon("a@d", "a@d/r", "sent", named).find("<sent xmlns='urn:xmpp:carbons:2'>") !=
        std::string::npos);
}
