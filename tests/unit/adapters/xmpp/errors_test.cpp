// Core errors as c2s stanza errors (RFC 6120 §8.3): what every unhandled or refused
// stanza a client sends gets back.
#include "adapters/xmpp/errors.hpp"

#include <doctest/doctest.h>

#include <pugixml.hpp>
#include <string>

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
