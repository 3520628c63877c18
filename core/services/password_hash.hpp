#pragma once
// Passwords written in the configuration (irc.opers, irc.password): either plaintext, kept
// for compatibility, or a PBKDF2 hash produced by `parleyd hash-password`:
//
//   $pbkdf2-sha256$<iterations>$<salt, base64>$<derived key, base64>
//
// PBKDF2-HMAC-SHA-256 (RFC 8018 §5.2) with a 32-byte derived key; base64 is RFC 4648 §4
// with padding. Every comparison runs in constant time over fixed-size digests, so the
// time taken does not tell how much of a guess matched, nor its length.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::core {

struct PasswordHash {
  std::uint32_t iterations = 0;
  std::string salt;  // raw bytes
  std::string key;   // raw bytes, 32
};

inline constexpr std::string_view kPbkdf2Prefix = "$pbkdf2-sha256$";
inline constexpr std::uint32_t kDefaultHashIterations = 100000;
inline constexpr std::uint32_t kMaxHashIterations = 10000000;

// True if `stored` is in the hash format (well formed or not): such a value is never
// compared as plaintext.
bool is_password_hash(std::string_view stored);
// nullopt if `stored` is not a well-formed hash string.
std::optional<PasswordHash> parse_password_hash(std::string_view stored);
// A new hash string with a random 16-byte salt; empty if the system RNG failed.
std::string hash_password(std::string_view password, std::uint32_t iterations = kDefaultHashIterations);
// Does `given` match `stored` (a hash string, else plaintext)? Costly (PBKDF2) for a hash:
// run it off the io threads. A malformed hash string matches nothing.
bool password_matches(std::string_view stored, std::string_view given);

// RFC 4648 base64 with padding; decode returns nullopt on anything else.
std::string base64_encode(std::string_view raw);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace parley::core
