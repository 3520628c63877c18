#pragma once
// Server side of HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 7616, RFC 8760):
// parsing the Authorization header, computing the expected response, issuing and checking
// nonces, and refusing replayed nonce counts. Pure values: no sockets, no clock of its own
// (the caller passes the time), no libre (libre has no server-side challenge, and its
// response decoder ignores `algorithm`).
//
// Nonce = 16 hex digits of the issue time (seconds), 16 hex digits of randomness, "." and
// 32 hex digits of HMAC-SHA-256(secret, the 32 digits before it) cut to 128 bits. The secret is random per
// process, so a nonce needs no server state until it is used, a forged or altered one fails the MAC, and an
// old one is recognised as old (stale=true, RFC 7616 §3.3: the client retries with the same password, without
// asking its user).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::protocols::sip {

enum class DigestAlgorithm : std::uint8_t { md5, sha256 };
// "MD5" (also the default when absent: RFC 7616 §3.4) or "SHA-256"; nullopt otherwise
// (the -sess variants are not offered, so never accepted).
std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view name);
std::string_view to_string(DigestAlgorithm a);

// The Authorization header value is bounded before it is parsed.
inline constexpr std::size_t kMaxAuthorization = 4096;

struct DigestCredentials {
  std::string username, realm, nonce, uri, response;  // required
  std::string algorithm, cnonce, nc, qop, opaque;     // optional on the wire
};

// `Digest` 1*SP auth-param *("," auth-param), auth-param = token "=" (token / quoted-string).
// nullopt: not Digest, over kMaxAuthorization, malformed syntax, a parameter given twice,
// or a required parameter missing. Unknown parameters are ignored (RFC 7616 §3.4).
std::optional<DigestCredentials> parse_digest_credentials(std::string_view value);

// Lower-case hex of H(data).
std::string digest_hex(DigestAlgorithm a, std::string_view data);
// RFC 7616 §3.4.2: H(username ":" realm ":" password).
std::string digest_ha1(DigestAlgorithm a, std::string_view user, std::string_view realm,
                       std::string_view password);
// RFC 7616 §3.4.1 (qop=auth): H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":" uri));
// empty qop is RFC 2069's H(HA1 ":" nonce ":" H(method ":" uri)) (for the RFC 2617 vectors;
// the server itself requires qop=auth).
std::string digest_response(DigestAlgorithm a, std::string_view ha1, std::string_view nonce,
                            std::string_view nc, std::string_view cnonce, std::string_view qop,
                            std::string_view method, std::string_view uri);
// Compares without an early exit (the response is a secret-derived value).
bool constant_time_equal(std::string_view a, std::string_view b);

// A WWW-Authenticate value: Digest realm="...", nonce="...", algorithm=..., qop="auth"[, stale=true].
std::string digest_challenge(DigestAlgorithm a, std::string_view realm, std::string_view nonce, bool stale);

class NonceIssuer {
 public:
  static constexpr std::size_t kNonceSize = 32 + 1 + 32;
  // Empty secret: 32 random bytes (the usual case: a restart invalidates every nonce, and
  // clients are simply challenged again with stale=true... or a fresh 401).
  explicit NonceIssuer(std::string secret = {});
  std::string issue(std::uint64_t now_s) const;

  enum class Verdict : std::uint8_t { valid, stale, invalid };
  struct Check {
    Verdict verdict = Verdict::invalid;
    std::uint64_t issued = 0;  // seconds; meaningful unless invalid
  };
  // invalid: not ours (syntax or MAC) or issued in the future; stale: ours but older than
  // lifetime seconds; valid otherwise.
  Check check(std::string_view nonce, std::uint64_t now_s, std::uint32_t lifetime_s) const;

 private:
  std::string mac(std::string_view stamp) const;
  std::string secret_;
  // HMAC-SHA-256's two keyed SHA-256 states (RFC 2104: after key^ipad, after key^opad),
  // computed once: each mac() copies them instead of OpenSSL's one-shot HMAC(), which
  // looked the algorithm up and keyed it again every call (~4 % of parleyd's CPU at 10 SIP
  // watchers, issue 12). Shared by copies; only read after construction.
  struct Keyed;
  std::shared_ptr<const Keyed> keyed_;
};

// RFC 7616 §3.4 / §5.12: the nonce count of a reused nonce must grow, so a captured request
// cannot be replayed. Per user, the last `per_user` nonces and their highest nc are kept;
// when one is forgotten, every nonce issued at or before it is refused from then on (the
// `floor`), so forgetting never re-opens a replay. At most `max_users` users are tracked;
// forgetting a user raises a global floor the same way. Refused requests are challenged
// again, so an honest client only pays one round trip.
class NonceCounts {
 public:
  explicit NonceCounts(std::size_t per_user = 8, std::size_t max_users = 65'536);
  // True (and nc recorded) when nc is a fresh, higher count for this nonce of this user.
  bool accept(const std::string& user, std::string_view nonce, std::uint64_t issued, std::uint32_t nc);
  std::size_t users() const { return users_.size(); }

 private:
  struct Seen {
    std::string nonce;
    std::uint64_t issued = 0;
    std::uint32_t nc = 0;
  };
  struct User {
    std::deque<Seen> seen;    // oldest first
    std::uint64_t floor = 0;  // nonces issued at or before this are refused unless in `seen`
  };
  std::size_t per_user_, max_users_;
  std::uint64_t global_floor_ = 0;
  std::unordered_map<std::string, User> users_;
};

// nc is 8 hex digits (RFC 7616 §3.4); nullopt otherwise.
std::optional<std::uint32_t> parse_nonce_count(std::string_view nc);

}  // namespace parley::protocols::sip
