// adapters/xmpp/handler_registry and the c2s handlers registered in it: what disco#info
// announces is exactly what registrations with a handler announced, lookups go by kind,
// scope and namespace, and messages are read through their extensions' registrations.
#include "adapters/xmpp/handler_registry.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/xmpp/errors.hpp"
#include "core/model/message.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"

using namespace parley::adapters::xmpp;
namespace px = parley::protocols::xmpp;

namespace {

bool iq_a(C2sConnection&, const IqRequest&) { return true; }
bool iq_b(C2sConnection&, const IqRequest&) { return true; }
void nonza_a(C2sConnection&, px::Stanza&) {}
void ext_a(pugi::xml_node, std::string_view, parley::core::Message&, MessageScan&) {}
void stanza_a(C2sConnection&, px::Stanza&, const px::Jid*) {}

std::optional<px::Stanza> parse(const std::string& xml) {
  return px::Stanza::parse(std::vector<char>(xml.begin(), xml.end()),
                           std::make_shared<px::StreamNamespaces>());
}

// The <feature var/> values of a rendered disco#info query, in order.
std::vector<std::string> features_of(const std::string& query) {
  auto st = parse(query);
  REQUIRE(st);
  std::vector<std::string> out;
  for (auto f : st->root().children("feature")) out.emplace_back(f.attribute("var").value());
  return out;
}

std::string disco_info(const HandlerRegistry& r, Scope scope) {
  std::string out;
  px::XmlWriter w(out);
  w.open("query").attr("xmlns", "http://jabber.org/protocol/disco#info");
  r.write_disco_info(w, scope);
  w.close();
  return out;
}

}  // namespace

TEST_CASE("a registration without a handler is refused and announces nothing") {
  HandlerRegistry r;
  const Scopes server = scopes(Scope::server);
  CHECK_THROWS_AS(r.iq(server, true, true, "urn:example:a", nullptr, {{server, "urn:example:a"}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(r.nonza("urn:example:b", nullptr, {{server, "urn:example:b"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.message_extension("urn:example:c", nullptr, {{server, "urn:example:c"}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(r.stanza(Kind::message, scopes(Scope::user), nullptr, {{server, "urn:example:d"}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(r.stanza(Kind::iq_get, scopes(Scope::user), stanza_a), std::invalid_argument);
  CHECK(r.features(Scope::server).empty());
  CHECK(features_of(disco_info(r, Scope::server)).empty());
  CHECK((r.find_iq(Kind::iq_get, Scope::server, "urn:example:a") == nullptr));
}

TEST_CASE("a key registered twice is refused") {
  HandlerRegistry r;
  r.iq(scopes(Scope::server), true, false, "urn:example:a", iq_a);
  CHECK_THROWS_AS(r.iq(Scope::server | Scope::room, true, false, "urn:example:a", iq_b),
                  std::invalid_argument);
  r.iq(scopes(Scope::server), false, true, "urn:example:a", iq_b);  // set is another key
  r.nonza("urn:example:n", nonza_a);
  CHECK_THROWS_AS(r.nonza("urn:example:n", nonza_a), std::invalid_argument);
  r.stanza(Kind::message, scopes(Scope::user), stanza_a);
  CHECK_THROWS_AS(r.stanza(Kind::message, Scope::user | Scope::room, stanza_a), std::invalid_argument);
}

TEST_CASE("lookups go by kind, scope and namespace") {
  HandlerRegistry r;
  r.iq(Scope::server | Scope::muc_service, true, false, "urn:example:a", iq_a)
      .iq(scopes(Scope::room), true, true, "urn:example:a", iq_b)
      .iq(scopes(Scope::server), true, false, "urn:example:z", iq_b)
      .nonza("urn:example:n", nonza_a)
      .message_extension("urn:example:e", ext_a)
      .stanza(Kind::presence, Scope::room | Scope::occupant, stanza_a);
  CHECK((r.find_iq(Kind::iq_get, Scope::server, "urn:example:a") == &iq_a));
  CHECK((r.find_iq(Kind::iq_get, Scope::muc_service, "urn:example:a") == &iq_a));
  CHECK((r.find_iq(Kind::iq_set, Scope::server, "urn:example:a") == nullptr));
  CHECK((r.find_iq(Kind::iq_get, Scope::room, "urn:example:a") == &iq_b));
  CHECK((r.find_iq(Kind::iq_set, Scope::room, "urn:example:a") == &iq_b));
  CHECK((r.find_iq(Kind::iq_get, Scope::occupant, "urn:example:a") == nullptr));
  CHECK((r.find_iq(Kind::iq_get, Scope::server, "urn:example:z") == &iq_b));
  CHECK((r.find_iq(Kind::iq_get, Scope::server, "urn:example:") == nullptr));
  CHECK((r.find_nonza("urn:example:n") == &nonza_a));
  CHECK((r.find_nonza("urn:example:e") == nullptr));
  CHECK((r.find_message_extension("urn:example:e") == &ext_a));
  CHECK((r.find_stanza(Kind::presence, Scope::occupant) == &stanza_a));
  CHECK((r.find_stanza(Kind::presence, Scope::user) == nullptr));
  CHECK((r.find_stanza(Kind::message, Scope::room) == nullptr));
}

TEST_CASE("disco#info lists what the registrations announce, per scope, each once, in order") {
  HandlerRegistry r;
  r.iq(Scope::server | Scope::muc_service, true, false, "urn:example:a", iq_a,
       {{Scope::server | Scope::muc_service, "urn:example:a"}},
       {{scopes(Scope::server), "server", "im", "Test"}})
      .nonza("urn:example:n", nonza_a, {{scopes(Scope::server), "urn:example:n"}})
      .message_extension("urn:example:e", ext_a, {{Scope::server | Scope::room, "urn:example:e"}})
      .iq(scopes(Scope::server), false, true, "urn:example:a", iq_b,
          {{scopes(Scope::server), "urn:example:a"}});
  CHECK(features_of(disco_info(r, Scope::server)) ==
        std::vector<std::string>{"urn:example:a", "urn:example:n", "urn:example:e"});
  CHECK(features_of(disco_info(r, Scope::muc_service)) == std::vector<std::string>{"urn:example:a"});
  CHECK(features_of(disco_info(r, Scope::room)) == std::vector<std::string>{"urn:example:e"});
  CHECK(disco_info(r, Scope::server).find("<identity category='server' type='im' name='Test'/>") !=
        std::string::npos);
  CHECK(disco_info(r, Scope::muc_service).find("<identity") == std::string::npos);
}

TEST_CASE("the c2s disco#info lists exactly the features of registered handlers") {
  const HandlerRegistry& r = c2s_handlers();
  // Today's lists, in today's order (the registrations' order in handlers/handlers.cpp).
  const std::vector<std::string> server = {"http://jabber.org/protocol/disco#info",
                                           "http://jabber.org/protocol/disco#items",
                                           "urn:xmpp:ping",
                                           "jabber:iq:version",
                                           "jabber:iq:roster",
                                           "urn:xmpp:carbons:2",
                                           "urn:xmpp:sid:0",
                                           "urn:xmpp:sm:3",
                                           "urn:xmpp:receipts",
                                           "http://jabber.org/protocol/chatstates"};
  CHECK(features_of(disco_info(r, Scope::server)) == server);
  CHECK(features_of(disco_info(r, Scope::muc_service)) ==
        std::vector<std::string>{"http://jabber.org/protocol/muc", "http://jabber.org/protocol/disco#info",
                                 "http://jabber.org/protocol/disco#items"});
  CHECK(features_of(disco_info(r, Scope::room)) ==
        std::vector<std::string>{"http://jabber.org/protocol/muc", "muc_nonanonymous", "urn:xmpp:sid:0"});
  // Every server feature is a namespace something here handles: an iq get or set to the
  // server, a stream element, or a message extension.
  for (const auto& f : server) {
    CAPTURE(f);
    CHECK((r.find_iq(Kind::iq_get, Scope::server, f) || r.find_iq(Kind::iq_set, Scope::server, f) ||
           r.find_nonza(f) || r.find_message_extension(f)));
  }
  // And nothing handled at the server by namespace goes unannounced, except the legacy
  // session no-op (RFC 6121 Appendix E: announced, if at all, as a stream feature).
  for (std::string_view ns : {"http://jabber.org/protocol/disco#info", "urn:xmpp:ping", "jabber:iq:roster"})
    CHECK(std::find(r.features(Scope::server).begin(), r.features(Scope::server).end(), ns) !=
          r.features(Scope::server).end());
  CHECK(disco_info(r, Scope::server).find("<identity category='server' type='im' name='Parley'/>") !=
        std::string::npos);
  CHECK(disco_info(r, Scope::muc_service)
            .find("<identity category='conference' type='text' name='Parley rooms'/>") != std::string::npos);
  // Unknown namespaces have no handler: the dispatcher answers service-unavailable.
  CHECK((r.find_iq(Kind::iq_get, Scope::server, "jabber:iq:private") == nullptr));
  CHECK((r.find_iq(Kind::iq_set, Scope::server, "jabber:iq:version") == nullptr));
  CHECK((r.find_iq(Kind::iq_get, Scope::occupant, "urn:xmpp:ping") != nullptr));
  CHECK((r.find_iq(Kind::iq_get, Scope::occupant, "http://jabber.org/protocol/disco#info") == nullptr));
}

TEST_CASE("a message is read through its extensions' registrations") {
  auto st = parse(
      "<message id='sid1' to='b@localhost' type='chat'>"
      "<active xmlns='http://jabber.org/protocol/chatstates'/>"
      "<composing xmlns='http://jabber.org/protocol/chatstates'/>"
      "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>"
      "/me <strong>waves</strong></body></html>"
      "<body>/me waves</body><body>second</body>"
      "<origin-id xmlns='urn:xmpp:sid:0' id='oid1'/>"
      "<request xmlns='urn:xmpp:receipts'/>"
      "<received xmlns='urn:xmpp:receipts' id='r1'/><received xmlns='urn:xmpp:receipts' id='r2'/>"
      "<subject>s</subject><thread>t</thread>"
      "<no-copy xmlns='urn:xmpp:hints'/>"
      "</message>");
  REQUIRE(st);
  auto m = message_from_stanza(*st);
  CHECK(m.body == "waves");
  CHECK(m.kind == parley::core::MessageKind::action);
  CHECK(m.chat_state == parley::core::ChatState::active);
  CHECK(m.origin_id == "oid1");
  CHECK(m.receipt_request);
  CHECK(m.receipt_for == "r1");
  REQUIRE(m.subject);
  CHECK(*m.subject == "s");
  CHECK(m.thread == "t");
  CHECK(m.no_copy);
  REQUIRE(m.rich.size() == 1);  // <strong> over "waves", shifted past "/me "
  CHECK(m.rich[0].begin == 0);
  CHECK(m.rich[0].end == 5);

  // An over-long origin-id is not kept, and does not fall back to the stanza id.
  auto st2 = parse("<message id='x' to='b@localhost'><origin-id xmlns='urn:xmpp:sid:0' id='" +
                   std::string(parley::core::kMaxOriginIdBytes + 1, 'a') +
                   "'/><body>b</body>"
                   "<private xmlns='urn:xmpp:carbons:2'/></message>");
  REQUIRE(st2);
  auto m2 = message_from_stanza(*st2);
  CHECK(m2.origin_id.empty());
  CHECK(m2.no_copy);
  CHECK(m2.chat_state == parley::core::ChatState::none);
  CHECK_FALSE(m2.subject);
  // Without origin-id the stanza id is the client's.
  auto st3 = parse("<message id='plain' to='b@localhost'><body>b</body></message>");
  REQUIRE(st3);
  CHECK(message_from_stanza(*st3).origin_id == "plain");
}
