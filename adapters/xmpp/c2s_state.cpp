#include "adapters/xmpp/c2s_state.hpp"

#include "protocols/common/sasl.hpp"

namespace parley::adapters::xmpp {

namespace {
constexpr std::string_view kSm = "urn:xmpp:sm:3";
}

C2sStep c2s_step(C2sState st, const px::Stanza& s) {
  namespace ns = px::ns;
  using px::StreamError;
  if (st == C2sState::bound) return {C2sAction::bound_stanza};
  const std::string_view n = s.name(), sns = s.ns();
  switch (st) {
    case C2sState::starttls:
      if (n == "starttls" && sns == ns::tls) return {C2sAction::proceed_tls};
      return {C2sAction::stream_error, StreamError::policy_violation, "STARTTLS required"};
    case C2sState::sasl:
      if (sns == ns::sasl && n == "auth") return {C2sAction::sasl_auth};
      if (sns == ns::sasl && n == "response") return {C2sAction::sasl_response};
      if (sns == ns::sasl && n == "abort") return {C2sAction::sasl_abort};
      return {C2sAction::stream_error, StreamError::not_authorized, {}};
    case C2sState::bind:
      if (sns == kSm && n == "resume") return {C2sAction::sm_resume};
      if (sns == kSm && n == "enable") return {C2sAction::sm_enable_unbound};
      if (sns == ns::client && n == "iq") {
        if (s.child("bind", ns::bind) && s.attr("type") == "set") return {C2sAction::bind};
        return {C2sAction::iq_not_authorized};
      }
      return {C2sAction::stream_error, StreamError::not_authorized, "bind a resource first"};
    case C2sState::header:  // the framer yields a stanza only after a header
    case C2sState::bound:   // above
    case C2sState::closed:  // input stops once closed
      break;
  }
  return {C2sAction::ignore};
}

C2sState features_state(bool tls, bool authenticated) {
  if (!tls) return C2sState::starttls;
  if (!authenticated) return C2sState::sasl;
  return C2sState::bind;
}

const char* sasl_mechanism(std::string_view name) {
  for (const char* known : {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-1"})
    if (name == known) return known;
  return "";
}

AuthStart start_auth(bool pending, std::string_view mechanism, std::string_view base64) {
  AuthStart a;
  if (pending) {
    a.mechanism = nullptr;
    return a;  // aborted
  }
  a.mechanism = sasl_mechanism(mechanism);
  // The encoding is checked before the mechanism, as it always was: an unknown mechanism
  // with bad base64 gets <incorrect-encoding/>.
  auto raw = protocols::sasl::base64_decode(base64);
  if (!raw) {
    a.kind = AuthStart::Kind::incorrect_encoding;
    return a;
  }
  const std::string_view mech = a.mechanism;
  if (mech == "PLAIN")
    a.kind = AuthStart::Kind::plain;
  else if (mech.rfind("SCRAM-", 0) == 0)
    a.kind = AuthStart::Kind::scram;
  else
    a.kind = AuthStart::Kind::invalid_mechanism;
  if (a.kind != AuthStart::Kind::invalid_mechanism) a.data = std::move(*raw);
  return a;
}

std::string_view auth_failure_condition(AuthStart::Kind k) {
  switch (k) {
    case AuthStart::Kind::aborted:
      return "aborted";
    case AuthStart::Kind::incorrect_encoding:
      return "incorrect-encoding";
    case AuthStart::Kind::invalid_mechanism:
      return "invalid-mechanism";
    case AuthStart::Kind::plain:
    case AuthStart::Kind::scram:
      break;
  }
  return "";
}

}  // namespace parley::adapters::xmpp
