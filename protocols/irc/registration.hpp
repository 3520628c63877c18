#pragma once
// Connection registration, server side (Modern IRC "Connection Registration"; IRCv3
// capability-negotiation and sasl-3.1/3.2), as a socket-free state machine: it is fed the
// parsed CAP / PASS / NICK / USER / AUTHENTICATE messages of one client and answers with
// the lines to send and what the caller must do next (register, check a password, run a
// SASL mechanism on a complete payload). Nick availability, password checks and the SASL
// mechanisms themselves need the server's state and stay with the caller (adapters/irc).
//
// The rules kept here:
//   - registration waits for CAP END once the client has sent CAP LS or CAP REQ;
//   - CAP LS 302 enables cap-notify, which a 302 client may then not disable;
//   - CAP REQ is atomic: every capability is granted (ACK) or none is (NAK);
//   - AUTHENTICATE payloads arrive base64 in 400-byte lines (a shorter line or "+" ends
//     one) and are bounded (kMaxSaslMessage); "*" aborts (906).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/irc/caps.hpp"
#include "protocols/irc/message.hpp"

namespace parley::protocols::irc {

inline constexpr std::size_t kSaslChunk = 400;        // sasl-3.1: bytes of base64 per AUTHENTICATE line
inline constexpr std::size_t kMaxSaslMessage = 8192;  // base64 bytes of one SASL message

// Reassembles one SASL message from AUTHENTICATE parameters (either side of the link).
class AuthenticateReader {
 public:
  enum class Status : std::uint8_t { more, complete, too_long };
  // One AUTHENTICATE parameter: a chunk, or "+" (empty / end of a 400-multiple).
  Status feed(std::string_view arg);
  std::string take();  // the complete base64 message; the reader is empty again
  void reset() { buf_.clear(); }

 private:
  std::string buf_;
};

// Appends the AUTHENTICATE lines that carry `raw` (not yet base64): 400-byte chunks, "+"
// for an empty message and after a last chunk of exactly 400 bytes (sasl-3.1).
void append_authenticate(std::string& out, std::string_view raw);

// A numeric the caller sends: code, the middle parameter (may be empty) and the text.
struct Reply {
  int code = 0;  // 0: nothing to send
  std::string_view param;
  std::string_view text;
  explicit operator bool() const { return code != 0; }
};

// The mechanisms of kSaslMechanisms (an enum: the state lives in every IRC client).
enum class SaslMechanism : std::uint8_t { none, plain, scram_sha_256 };

// One client's registration state.
struct Registration {
  std::uint32_t caps = 0;  // enabled capabilities (Cap bits)
  std::uint16_t cap_version = 0;
  bool cap_negotiating = false;                   // CAP LS/REQ before registration, no CAP END yet
  std::string pass;                               // PASS, kept until registration checks it
  SaslMechanism sasl_mech = SaslMechanism::none;  // the AUTHENTICATE exchange under way
  AuthenticateReader sasl_in;

  bool has(Cap c) const { return (caps & c) != 0; }
  bool sasl_active() const { return sasl_mech != SaslMechanism::none; }
  void end_sasl() {
    sasl_mech = SaslMechanism::none;
    sasl_in.reset();
  }
};

// NICK, USER and CAP END have all been seen: the caller may complete registration.
bool ready_to_register(const Registration& r, bool has_nick, bool has_user);

// CAP LS / REQ / LIST / END (and 410 for others): replies appended to `out` as
// ":server CAP nick ..." lines. Returns true when CAP END ended negotiation before
// registration: the caller tries to register.
bool on_cap(Registration& r, const Message& m, bool registered, std::string_view server,
            std::string_view nick, std::string& out);

// PASS: 462 once registered; otherwise the password is kept in r.pass.
Reply on_pass(Registration& r, const Message& m, bool registered);

// NICK, the part that needs no server state: 431 (none given), 432 (not a valid nick of at
// most max_len bytes). The caller checks availability (433).
Reply check_nick(const Message& m, std::size_t max_len);

// USER <username> <mode> <unused> <realname>: 462 once registered, 461 for an empty
// username or realname; else `user` ("~" + the username, at most 18 bytes, '@' '!' ':'
// replaced) and `realname`.
Reply on_user(const Message& m, bool registered, std::string& user, std::string& realname);

// AUTHENTICATE <mechanism | chunk | + | *>.
struct SaslStep {
  enum class Kind : std::uint8_t {
    reply,    // send `reply` only; no exchange changes (904 without the cap, 907, 462)
    fail,     // the exchange is over with `reply`: a failed attempt (908 first if list_mechanisms)
    abort,    // 906: the exchange is over, not counted as a failure
    start,    // mechanism r.sasl_mech accepted: send "AUTHENTICATE +"
    more,     // a 400-byte chunk: more follow
    payload,  // the client's message is complete: `payload` (base64) goes to the mechanism
  };
  Kind kind = Kind::reply;
  Reply reply;
  bool list_mechanisms = false;  // RPL_SASLMECHS (908) with kSaslMechanisms before the reply
  std::string payload;
};
SaslStep on_authenticate(Registration& r, std::string_view arg, bool logged_in, bool registered);

// The numerics' texts, as Parley sends them.
inline constexpr std::string_view kSaslFailedText = "SASL authentication failed";
inline constexpr std::string_view kSaslTooLongText = "SASL message too long";
inline constexpr std::string_view kSaslMechsText = "are available SASL mechanisms";

}  // namespace parley::protocols::irc
