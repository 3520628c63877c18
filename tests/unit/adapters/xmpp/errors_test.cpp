// Core errors as c2s stanza errors (RFC 6120 §8.3): what every unhandled or refused
// stanza a client sends gets back.
#include "adapters/xmpp/errors.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "protocols/xmpp/stanza.hpp"

using namespace parley::adapters::xmpp;
namespace core = parley::core;

TEST_CASE("stanza errors: conditions carry the error type RFC 6120 §8.3.3 gives them") {
  CHECK(stanza_error_of(core::Condition::bad_request).type == "modify");
  CHECK(stanza_error_of(core::Condition::forbidden).type == "auth");
  CHECK(stanza_error_of(core::Condition::item_not_found).condition == "item-not-found");
  CHECK(stanza_error_of(core::Condition::resource_constraint).type == "wait");
  CHECK(stanza_error_of(core::Condition::service_unavailable).condition == "service-unavailable");
  CHECK(stanza_error_of(core::Condition::service_unavailable).type == "cancel");
}

TEST_CASE("stanza errors: rendered with the condition and an escaped text, empty attributes left out") {
  core::Error e{core::Condition::not_allowed, "no <b>& way"};
  std::string out = render_stanza_error("message", "m1", "dev@conference.localhost", "", e);
  CHECK(out ==
        "<message type='error' id='m1' from='dev@conference.localhost'><error type='cancel'>"
        "<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
        "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no &lt;b&gt;&amp; way</text></error></message>");
  pugi::xml_document doc;
  REQUIRE(doc.load_string(out.c_str()));
  CHECK(std::string(doc.child("message").child("error").child("text").text().get()) == "no <b>& way");
  CHECK(render_stanza_error("iq", "", "", "", core::Error{core::Condition::bad_request, ""}) ==
        "<iq type='error'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
        "</error></iq>");
}

TEST_CASE(
    "failure_reply: internal-server-error, cancel, from the address to the sender, and only where due") {
  namespace px = parley::protocols::xmpp;
  auto ns = std::make_shared<px::StreamNamespaces>();
  ns->default_ns = "jabber:component:accept";
  const auto reply = [&](const std::string& xml) {
    auto s = px::Stanza::parse(std::vector<char>(xml.begin(), xml.end()), ns);
    REQUIRE(s);
    return failure_reply(*s);
  };
  CHECK(reply("<message from='a@example.org/r' to='#c%irc@gw' id='m1'><body>x</body></message>") ==
        "<message type='error' id='m1' from='#c%irc@gw' to='a@example.org/r'><error type='cancel'>"
        "<internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
  CHECK(
      reply("<iq from='a@example.org/r' to='gw' id='q' type='set'/>").starts_with("<iq type='error' id='q'"));
  CHECK(reply("<iq from='a@example.org/r' to='gw' id='q' type='get'/>").find("internal-server-error") !=
        std::string::npos);
  CHECK(reply("<presence from='a@example.org/r' to='#c%irc@gw/n'/>").starts_with("<presence type='error'"));
  CHECK_FALSE(reply("<presence from='a@example.org/r' to='#c%irc@gw/n' type='subscribe'/>").empty());
  // Never to an error or a result (RFC 6120 §8.3.1), to a presence that ends something, or
  // to nobody.
  CHECK(reply("<message from='a@example.org/r' to='gw' type='error'/>").empty());
  CHECK(reply("<iq from='a@example.org/r' to='gw' id='q' type='result'/>").empty());
  CHECK(reply("<iq from='a@example.org/r' to='gw' id='q' type='error'/>").empty());
  CHECK(reply("<presence from='a@example.org/r' to='#c%irc@gw/n' type='unavailable'/>").empty());
  CHECK(reply("<message to='gw' id='m1'/>").empty());
  CHECK(reply("<message from='not a jid@@' to='gw' id='m1'/>").empty());
}
