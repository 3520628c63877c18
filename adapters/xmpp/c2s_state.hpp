#pragma once
// The decisions of a c2s stream's negotiation as plain values (RFC 6120 §4.3, §5-§7): which
// top-level elements each state accepts and what it does with them, and how an <auth/> is
// started. No socket or core: C2sConnection calls these and acts on the answer.
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/stream_error.hpp"

namespace parley::adapters::xmpp {

namespace px = parley::protocols::xmpp;

// Where the stream is (RFC 6120 §4.3 negotiation, then §8 stanzas). Transitions:
//   header   -> starttls | sasl | bind   the client's header came, features sent
//                                        (features_state: by TLS and SASL so far)
//   starttls -> header                   TLS is up, the stream restarts (§5.4.3.3)
//   sasl     -> header                   SASL succeeded, the stream restarts (§6.4.6)
//   bind     -> bound                    a resource is bound (§7) or a session resumed (XEP-0198)
//   any      -> closed                   stream error or closing tag sent, or socket closed (§4.4, §4.9)
enum class C2sState : std::uint8_t {
  header,    // waiting for the client's stream header (§4.2): the framer yields no stanza
  starttls,  // TLS is mandatory (§5.3.1): only <starttls/> is accepted
  sasl,      // TLS is up, mechanisms offered (§6.4): <auth/>, <response/>, <abort/>
  bind,      // authenticated: <iq><bind/></iq> (§7) or XEP-0198 <resume/>
  bound,     // a session in the core; stanzas go to c2s_handlers() (dispatch.cpp)
  closed,    // nothing more is read or answered
};

// What the connection does with one top-level element in a state.
enum class C2sAction : std::uint8_t {
  proceed_tls,        // <starttls/>: <proceed/>, then the TLS handshake (§5.4.2.3)
  sasl_auth,          // <auth/> (§6.4.2)
  sasl_response,      // <response/> (§6.4.3)
  sasl_abort,         // <abort/>: <failure><aborted/></failure> (§6.4.5)
  sm_resume,          // XEP-0198 <resume/> (§5), before binding
  sm_enable_unbound,  // XEP-0198 <enable/> before binding: <failed><unexpected-request/>
  bind,               // <iq type='set'><bind/></iq> (§7)
  iq_not_authorized,  // another iq before binding: stanza error <not-authorized/>
  bound_stanza,       // a bound stream: to the handlers
  stream_error,       // refused: the stream ends with C2sStep::error / text
  ignore,             // header (no stanza yet) or closed: nothing
};

struct C2sStep {
  C2sAction action = C2sAction::ignore;
  px::StreamError error = px::StreamError::undefined_condition;  // for stream_error
  std::string_view text;                                         // for stream_error (static)
};

// The step for element s in state st. Each negotiation state accepts only its own elements;
// anything else ends the stream (§5.3.1 STARTTLS required, §6.4 / §7 not-authorized).
C2sStep c2s_step(C2sState st, const px::Stanza& s);

// The state the stream features put the stream in after a header (RFC 6120 §4.3.2): TLS
// first (§5.3.1), then SASL (§6), then binding (§7).
C2sState features_state(bool tls, bool authenticated);

// ---- SASL <auth/> (RFC 6120 §6.4.2) ----
// The offered mechanism of that name, as a static string, or "" when not offered.
const char* sasl_mechanism(std::string_view name);

struct AuthStart {
  enum class Kind : std::uint8_t {
    aborted,             // an exchange was pending: it ends, this one is not started
    incorrect_encoding,  // the initial response is not base64
    invalid_mechanism,   // not one of the offered mechanisms
    plain,               // start PLAIN with `data`
    scram,               // start SCRAM (`mechanism`) with `data`, the client-first-message
  };
  Kind kind = Kind::aborted;
  const char* mechanism = "";  // sasl_mechanism(); unchanged (nullptr) when aborted
  std::string data;            // the decoded initial response
};
// `pending`: a SCRAM exchange waits for a <response/>. A second <auth/> then aborts it and
// is not started itself: a client that pipelines it behind the old exchange's data gets
// nothing from either (§6.4.2; it counts as a failed attempt).
AuthStart start_auth(bool pending, std::string_view mechanism, std::string_view base64);

// The SASL <failure/> condition for an outcome of start_auth that fails ("" otherwise).
std::string_view auth_failure_condition(AuthStart::Kind k);

}  // namespace parley::adapters::xmpp
