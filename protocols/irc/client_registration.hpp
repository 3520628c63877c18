#pragma once
// Registration of an outbound IRC client connection (the gateway's puppets), socket-free:
// fed parsed server messages, appends the lines to send to `out`. It sequences what
// cap_client.hpp provides with the rest of Modern IRC "Connection Registration":
//
//   start():  WEBIRC (if set), CAP LS 302, PASS (if any), NICK, USER - the server holds registration until
//             CAP END, so CAP and SASL run first (capability-negotiation, sasl-3.1)
//   CAP:      CapNegotiator; when "sasl" is enabled and credentials are set, SaslClient
//             (SCRAM-SHA-256 preferred, else PLAIN), then CAP END whatever its outcome
//   433/432/436/437 before 001: the next nick candidate (the configured ones, then the
//             refused one with '_' appended; one the server cut to its NICKLEN, or a long
//             one it refused, cut to nine and then with its end replaced by a number), at
//             most kMaxNickAttempts
//   001:      registered; the nick the server knows us by is its first parameter
//   005:      ISUPPORT tokens (CHANTYPES, PREFIX) into isupport()
//   PING:     PONG with the same token, before and after registration
//   ERROR:    failed, with the server's text
//
// After registration the machine keeps answering PING, tracks our own NICK changes and
// CAP NEW/DEL; everything else is the caller's.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/irc/cap_client.hpp"
#include "protocols/irc/isupport.hpp"
#include "protocols/irc/message.hpp"

namespace parley::protocols::irc {

struct ClientIdentity {
  std::vector<std::string> nicks;  // candidates in order (at least one)
  std::string user = "parley";
  std::string realname = "Parley gateway user";
  std::string password;                  // PASS; empty: none
  std::string sasl_user, sasl_password;  // empty user: no SASL
  std::vector<std::string> caps = {"multi-prefix", "sasl", "server-time", "away-notify", "message-tags"};
  // WEBIRC (https://ircv3.net/specs/extensions/webirc): the user behind a gateway. Sent
  // first, before anything else, when password is set and every field is one IRC
  // parameter (webirc_line()); otherwise not sent at all.
  struct Webirc {
    std::string password, gateway, hostname, ip;
  } webirc;
};

// `WEBIRC password gateway hostname ip\r\n`, or "" when password is empty or a field is not
// a valid middle parameter (empty, a space, CR, LF or NUL, a leading ':', over 255 bytes).
// An IPv6 address (or host name) beginning with ':' gets a '0' before it, as the spec says.
std::string webirc_line(const ClientIdentity::Webirc& w);

inline constexpr std::size_t kMaxNickAttempts = 8;
// The nick length every server takes (RFC 2812 §1.2.1): a long nick refused with 432 is cut to it.
inline constexpr std::size_t kShortNick = 9;

class ClientRegistration {
 public:
  enum class Event : std::uint8_t {
    none,
    registered,    // 001 arrived: nick() is ours; the caller may join
    nick_changed,  // after registration: our own NICK was accepted (nick() is the new one)
    failed,        // ERROR, or no nick candidate accepted: error() says why; close
  };
  enum class Phase : std::uint8_t { idle, registering, registered, failed };

  explicit ClientRegistration(ClientIdentity id);
  ~ClientRegistration();
  ClientRegistration(ClientRegistration&&) noexcept;
  ClientRegistration& operator=(ClientRegistration&&) noexcept;

  void start(std::string& out);
  Event on_message(const Message& m, std::string& out);

  Phase phase() const { return phase_; }
  bool registered() const { return phase_ == Phase::registered; }
  const std::string& nick() const { return nick_; }
  const Isupport& isupport() const { return isupport_; }
  const CapNegotiator& caps() const { return cap_; }
  const std::string& error() const { return error_; }
  // Failed because every nick candidate was refused (in use, erroneous): a conflict, not a
  // refusal of the user.
  bool nicks_exhausted() const { return attempt_ >= kMaxNickAttempts; }
  // SASL's outcome: running while none was tried or it is in progress.
  SaslClient::Status sasl_status() const { return sasl_ ? sasl_->status() : SaslClient::Status::running; }
  bool sasl_tried() const { return sasl_ != nullptr; }
  // Why SASL did not log in (the last numeric and its text; "" when it did or was not tried):
  // registration goes on without an account, and the user is to be told.
  const std::string& sasl_error() const { return sasl_error_; }

 private:
  void next_nick(const Message& refusal, std::string& out);
  void fail(std::string why);

  ClientIdentity id_;
  CapNegotiator cap_;
  std::unique_ptr<SaslClient> sasl_;
  Isupport isupport_;
  std::string nick_;
  std::string error_;
  std::size_t attempt_ = 0;
  std::vector<std::string> tried_;  // nicks sent and refused (at most kMaxNickAttempts)
  std::size_t nick_limit_ = 0;      // the nick length the server showed it takes (0: unknown)
  std::string sasl_error_;
  Phase phase_ = Phase::idle;
};

}  // namespace parley::protocols::irc
