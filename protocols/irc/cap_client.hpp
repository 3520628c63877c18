#pragma once
// Connection registration, client side: CAP negotiation and SASL as a client of another
// IRC server (the gateway's outbound connections), socket-free like the server side
// (registration.hpp). Fed parsed server messages; appends the lines to send to `out`.
//
//   CapNegotiator  capability-negotiation as a client: CAP LS 302 (multiline "*" replies,
//                  values), REQ of the wanted caps the server offers (ACK/NAK per name, so
//                  a split ACK is fine), cap-notify NEW/DEL, and CAP END - held back while
//                  SASL runs, since registration must not complete before it (sasl-3.1).
//   SaslClient     sasl-3.1/3.2 as a client: AUTHENTICATE <mech>, the payloads in 400-byte
//                  lines ("+" for empty), PLAIN or SCRAM-SHA-256 (RFC 5802/7677, with the
//                  server's signature verified) and the 900-908 outcomes.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/irc/message.hpp"
#include "protocols/irc/registration.hpp"

namespace parley::protocols::sasl {
class ScramClient;
}

namespace parley::protocols::irc {

class CapNegotiator {
 public:
  enum class Event : std::uint8_t {
    none,         // nothing for the caller (a partial LS, an ACK with more pending, LIST)
    sasl_ready,   // every REQ answered and "sasl" enabled: run SaslClient, then end()
    ended,        // CAP END sent (or nothing to negotiate): NICK/USER registration proceeds
    changed,      // after negotiation: NEW/DEL/ACK changed the enabled set
    unsupported,  // the server does not know CAP (421): registration proceeds without it
  };

  // `wanted`: the capabilities to enable when offered ("sasl" holds CAP END back for SASL).
  explicit CapNegotiator(std::vector<std::string> wanted);

  // The opening line, "CAP LS 302": sent before NICK and USER so registration waits.
  void start(std::string& out);
  // One message from the server: CAP LS/ACK/NAK/NEW/DEL/LIST, or 410/421 about CAP.
  Event on_message(const Message& m, std::string& out);
  // SASL is over (whatever its outcome): CAP END. Idempotent.
  void end(std::string& out);

  bool ended() const { return phase_ == Phase::done; }
  bool enabled(std::string_view cap) const;
  const std::vector<std::string>& enabled_caps() const { return enabled_; }
  // The value the server gave a capability ("" for none), nullopt when it is not offered.
  std::optional<std::string_view> offered(std::string_view cap) const;

 private:
  enum class Phase : std::uint8_t { idle, listing, requesting, sasl, done };
  void request(std::vector<std::string> names, std::string& out);
  Event after_answer(std::string& out);

  std::vector<std::string> wanted_;
  std::vector<std::pair<std::string, std::string>> offered_;  // name, value
  std::vector<std::string> enabled_;
  std::vector<std::string> pending_;  // requested, neither ACKed nor NAKed yet
  Phase phase_ = Phase::idle;
};

// The first mechanism of `preferred` the server offers (its "sasl" value or RPL_SASLMECHS
// list, comma-separated; an empty list means "ask": any may be tried). Empty if none.
std::string choose_mechanism(std::string_view offered, std::initializer_list<std::string_view> preferred);

class SaslClient {
 public:
  enum class Status : std::uint8_t {
    running,
    success,  // 903 (after 900), and for SCRAM the server's signature verified
    failure,  // 902/904/905, a bad server message, or a SCRAM server that did not prove itself
    aborted,  // 906
    already,  // 907: this connection is logged in already
  };

  // mechanism: "PLAIN" or "SCRAM-SHA-256".
  SaslClient(std::string mechanism, std::string authcid, std::string password, std::string authzid = {});
  ~SaslClient();
  SaslClient(const SaslClient&) = delete;
  SaslClient& operator=(const SaslClient&) = delete;

  void start(std::string& out);  // AUTHENTICATE <mechanism>
  // AUTHENTICATE from the server, or a SASL numeric (900-908); other messages: running.
  Status on_message(const Message& m, std::string& out);

  Status status() const { return status_; }
  const std::string& mechanism() const { return mech_; }
  const std::string& account() const { return account_; }        // from 900 RPL_LOGGEDIN
  const std::string& mechanisms() const { return mechanisms_; }  // from 908 RPL_SASLMECHS
  int code() const { return code_; }                             // the last SASL numeric

 private:
  void respond(std::string_view server_data, std::string& out);
  void abort(std::string& out);

  std::string mech_, authcid_, password_, authzid_;
  AuthenticateReader in_;
  std::unique_ptr<sasl::ScramClient> scram_;
  bool verified_ = false;  // SCRAM: server-final checked
  Status status_ = Status::running;
  std::string account_, mechanisms_;
  int code_ = 0;
};

}  // namespace parley::protocols::irc
