// The c2s stream's negotiation decisions (adapters/xmpp/c2s_state.*, stream_open.*): the
// header checks, the features per state, which elements each state accepts, SASL <auth/>.
#include "adapters/xmpp/c2s_state.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "adapters/xmpp/stream_open.hpp"
#include "protocols/common/sasl.hpp"

using namespace parley::adapters::xmpp;
using px::StreamError;

namespace {

px::Stanza stanza(const std::string& xml) {
  auto st =
      px::Stanza::parse(std::vector<char>(xml.begin(), xml.end()), std::make_shared<px::StreamNamespaces>());
  REQUIRE(st);
  return std::move(*st);
}

px::StreamHeader header(std::vector<std::pair<std::string, std::string>> attrs,
                        std::string name = "stream:stream") {
  px::StreamHeader h;
  h.name = std::move(name);
  h.attributes = std::move(attrs);
  return h;
}

px::StreamHeader good_header() {
  return header({{"xmlns", "jabber:client"},
                 {"xmlns:stream", "http://etherx.jabber.org/streams"},
                 {"to", "localhost"},
                 {"version", "1.0"}});
}

std::optional<HeaderRefusal> check(const px::StreamHeader& h) {
  return check_stream_header(h, header_namespaces(h), "localhost");
}

void set_attr(px::StreamHeader& h, const std::string& k, const std::string& v) {
  for (auto& [name, value] : h.attributes)
    if (name == k) value = v;
}

const std::string kStarttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const std::string kAuth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>";
const std::string kResponse = "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>eA==</response>";
const std::string kAbort = "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
const std::string kResume = "<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>";
const std::string kEnable = "<enable xmlns='urn:xmpp:sm:3'/>";
const std::string kBind =
    "<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>";
const std::string kBindGet =
    "<iq xmlns='jabber:client' type='get' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>";
const std::string kPing = "<iq xmlns='jabber:client' type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>";
const std::string kMessage = "<message xmlns='jabber:client' to='a@localhost'><body>x</body></message>";

C2sAction action(C2sState st, const std::string& xml) { return c2s_step(st, stanza(xml)).action; }

}  // namespace

// ---- stream header (RFC 6120 §4.7) ----

TEST_CASE("c2s header: an ordinary client header opens the stream") {
  CHECK_FALSE(check(good_header()));
  // Any prefix bound to the streams namespace does (§4.8.5); the domain is compared prepped.
  auto h = header({{"xmlns", "jabber:client"},
                   {"xmlns:s", "http://etherx.jabber.org/streams"},
                   {"to", "LocalHost"},
                   {"version", "1.0"}},
                  "s:stream");
  CHECK_FALSE(check(h));
}

TEST_CASE("c2s header: version: major 1 only, RFC 6120 §4.7.5 unsupported-version") {
  CHECK(supported_version("1.0"));
  CHECK(supported_version("1.1"));    // a higher minor: served as 1.0
  CHECK(supported_version("01.00"));  // leading zeros are ignored
  CHECK_FALSE(supported_version("2.0"));
  CHECK_FALSE(supported_version("0.9"));
  CHECK_FALSE(supported_version(""));  // pre-1.0 peer
  CHECK_FALSE(supported_version("1"));
  CHECK_FALSE(supported_version("1."));
  CHECK_FALSE(supported_version(".0"));
  CHECK_FALSE(supported_version("1.x"));
  CHECK_FALSE(supported_version("-1.0"));
  auto h = good_header();
  set_attr(h, "version", "2.0");
  auto r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::unsupported_version);
  h.attributes.pop_back();  // no version at all
  r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::unsupported_version);
}

TEST_CASE("c2s header: wrong stream or content namespace is invalid-namespace") {
  auto h = good_header();
  set_attr(h, "xmlns:stream", "urn:wrong");
  auto r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::invalid_namespace);

  h = good_header();
  set_attr(h, "xmlns", "jabber:server");  // an s2s stream on the c2s port
  r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::invalid_namespace);
  CHECK(r->text == "expected jabber:client");

  h = good_header();
  h.name = "stream:open";
  r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::invalid_namespace);

  h = good_header();
  h.name = "other:stream";  // an undeclared prefix
  r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::invalid_namespace);
}

TEST_CASE("c2s header: a to= other than this server, or none, is host-unknown") {
  auto h = good_header();
  set_attr(h, "to", "example.org");
  auto r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::host_unknown);
  set_attr(h, "to", "");
  r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::host_unknown);
  // Checked before the version: a wrong host with a wrong version is host-unknown.
  set_attr(h, "to", "example.org");
  set_attr(h, "version", "2.0");
  r = check(h);
  REQUIRE(r);
  CHECK(r->error == StreamError::host_unknown);
}

TEST_CASE("c2s header: the declared namespaces are in scope for the stanzas") {
  auto ns = header_namespaces(good_header());
  CHECK(ns.default_ns == "jabber:client");
  CHECK(ns.lookup("stream") == "http://etherx.jabber.org/streams");
  // The standard header gives what StreamNamespaces holds by default (the shared scope).
  px::StreamNamespaces standard;
  CHECK(ns.default_ns == standard.default_ns);
  CHECK(ns.prefixes == standard.prefixes);
}

// ---- stream features (RFC 6120 §4.3.2) ----

TEST_CASE("c2s features: STARTTLS required, then SASL mechanisms, then bind and sm") {
  CHECK(features_state(false, false) == C2sState::starttls);
  CHECK(features_state(false, true) == C2sState::starttls);
  CHECK(features_state(true, false) == C2sState::sasl);
  CHECK(features_state(true, true) == C2sState::bind);
  auto render = [](C2sState st) {
    std::string out;
    px::XmlWriter w(out);
    w.open("stream:features");
    write_features(w, st);
    w.close();
    return out;
  };
  CHECK(render(C2sState::starttls) ==
        "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
        "</stream:features>");
  CHECK(render(C2sState::sasl) ==
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
        "<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>"
        "</mechanisms></stream:features>");
  CHECK(render(C2sState::bind) ==
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
        "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>"
        "<sm xmlns='urn:xmpp:sm:3'/><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>");
}

// ---- which elements each state accepts ----

TEST_CASE("c2s state starttls: only <starttls/>, anything else is policy-violation") {
  CHECK(action(C2sState::starttls, kStarttls) == C2sAction::proceed_tls);
  for (const auto& xml : {kAuth, kResume, kBind, kMessage, std::string("<starttls xmlns='urn:wrong'/>")}) {
    auto step = c2s_step(C2sState::starttls, stanza(xml));
    CHECK(step.action == C2sAction::stream_error);
    CHECK(step.error == StreamError::policy_violation);
    CHECK(step.text == "STARTTLS required");
  }
}

TEST_CASE("c2s state sasl: <auth/>, <response/>, <abort/>, anything else is not-authorized") {
  CHECK(action(C2sState::sasl, kAuth) == C2sAction::sasl_auth);
  CHECK(action(C2sState::sasl, kResponse) == C2sAction::sasl_response);
  CHECK(action(C2sState::sasl, kAbort) == C2sAction::sasl_abort);
  for (const auto& xml : {kStarttls, kResume, kEnable, kBind, kMessage,
                          std::string("<auth xmlns='urn:wrong' mechanism='PLAIN'/>")}) {
    auto step = c2s_step(C2sState::sasl, stanza(xml));
    CHECK(step.action == C2sAction::stream_error);
    CHECK(step.error == StreamError::not_authorized);
  }
}

TEST_CASE(
    "c2s state bind: bind, resume, enable refused softly, other iqs a stanza error, rest not-authorized") {
  CHECK(action(C2sState::bind, kBind) == C2sAction::bind);
  CHECK(action(C2sState::bind, kResume) == C2sAction::sm_resume);
  CHECK(action(C2sState::bind, kEnable) == C2sAction::sm_enable_unbound);
  CHECK(action(C2sState::bind, kBindGet) == C2sAction::iq_not_authorized);
  CHECK(action(C2sState::bind, kPing) == C2sAction::iq_not_authorized);
  for (const auto& xml : {kStarttls, kAuth, kMessage}) {
    auto step = c2s_step(C2sState::bind, stanza(xml));
    CHECK(step.action == C2sAction::stream_error);
    CHECK(step.error == StreamError::not_authorized);
    CHECK(step.text == "bind a resource first");
  }
}

TEST_CASE("c2s state bound: everything goes to the handlers, header and closed ignore") {
  for (const auto& xml : {kMessage, kPing, kEnable, kStarttls, kAuth}) {
    CHECK(action(C2sState::bound, xml) == C2sAction::bound_stanza);
    CHECK(action(C2sState::header, xml) == C2sAction::ignore);
    CHECK(action(C2sState::closed, xml) == C2sAction::ignore);
  }
}

// ---- SASL <auth/> (RFC 6120 §6.4.2) ----

TEST_CASE("c2s sasl: a second <auth/> while an exchange is pending aborts, whatever it carries") {
  auto a = start_auth(true, "PLAIN", "AGEAYg==");
  CHECK(a.kind == AuthStart::Kind::aborted);
  CHECK(auth_failure_condition(a.kind) == "aborted");
  CHECK(start_auth(true, "SCRAM-SHA-1", "!!!").kind == AuthStart::Kind::aborted);
  CHECK(start_auth(true, "NOPE", "").kind == AuthStart::Kind::aborted);
}

TEST_CASE("c2s sasl: mechanisms, encoding checked first, data decoded") {
  auto plain = start_auth(false, "PLAIN", parley::protocols::sasl::base64_encode(std::string("\0a\0b", 4)));
  CHECK(plain.kind == AuthStart::Kind::plain);
  CHECK(std::string_view(plain.mechanism) == "PLAIN");
  CHECK(plain.data == std::string("\0a\0b", 4));
  auto scram = start_auth(false, "SCRAM-SHA-1", parley::protocols::sasl::base64_encode("n,,n=a,r=x"));
  CHECK(scram.kind == AuthStart::Kind::scram);
  CHECK(std::string_view(scram.mechanism) == "SCRAM-SHA-1");
  CHECK(scram.data == "n,,n=a,r=x");
  CHECK(start_auth(false, "SCRAM-SHA-256", "").kind == AuthStart::Kind::scram);
  auto bad = start_auth(false, "DIGEST-MD5", "eA==");
  CHECK(bad.kind == AuthStart::Kind::invalid_mechanism);
  CHECK(auth_failure_condition(bad.kind) == "invalid-mechanism");
  CHECK(std::string_view(bad.mechanism).empty());
  // Bad base64 is incorrect-encoding, even with an unknown mechanism (checked first).
  CHECK(start_auth(false, "DIGEST-MD5", "!!").kind == AuthStart::Kind::incorrect_encoding);
  CHECK(start_auth(false, "PLAIN", "!!").kind == AuthStart::Kind::incorrect_encoding);
  CHECK(auth_failure_condition(AuthStart::Kind::incorrect_encoding) == "incorrect-encoding");
  // Names are case-sensitive (RFC 4422 §3.1 says upper case).
  CHECK(std::string_view(sasl_mechanism("plain")).empty());
  CHECK(std::string_view(sasl_mechanism("SCRAM-SHA-256")) == "SCRAM-SHA-256");
}
