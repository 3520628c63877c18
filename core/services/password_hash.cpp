#include "core/services/password_hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>

namespace parley::core {

namespace {

constexpr std::size_t kKeySize = 32;
constexpr std::size_t kSaltSize = 16;
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  auto p = kAlphabet.find(c);
  return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

std::array<unsigned char, kKeySize> sha256(std::string_view s) {
  std::array<unsigned char, kKeySize> out{};
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string pbkdf2(std::string_view password, std::string_view salt, std::uint32_t iterations) {
  std::string key(kKeySize, '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                    static_cast<int>(iterations), EVP_sha256(), static_cast<int>(key.size()),
                    reinterpret_cast<unsigned char*>(key.data()));
  return key;
}

}  // namespace

std::string base64_encode(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(raw[k]); };
  for (; i + 3 <= raw.size(); i += 3) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (std::size_t rest = raw.size() - i; rest > 0) {
    std::uint32_t v = byte(i) << 16;
    if (rest == 2) v |= byte(i + 1) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int a = sextet(text[i]), b = sextet(text[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    std::uint32_t v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12);
    char c3 = text[i + 2], c4 = text[i + 3];
    if (last && c3 == '=' && c4 == '=') {
      out += static_cast<char>(v >> 16);
      break;
    }
    int c = sextet(c3);
    if (c < 0) return std::nullopt;
    v |= static_cast<std::uint32_t>(c) << 6;
    if (last && c4 == '=') {
      out += static_cast<char>(v >> 16);
      out += static_cast<char>((v >> 8) & 0xff);
      break;
    }
    int d = sextet(c4);
    if (d < 0) return std::nullopt;
    v |= static_cast<std::uint32_t>(d);
    out += static_cast<char>(v >> 16);
    out += static_cast<char>((v >> 8) & 0xff);
    out += static_cast<char>(v & 0xff);
  }
  return out;
}

bool is_password_hash(std::string_view stored) {
  return stored.substr(0, kPbkdf2Prefix.size()) == kPbkdf2Prefix;
}

std::optional<PasswordHash> parse_password_hash(std::string_view stored) {
  if (!is_password_hash(stored)) return std::nullopt;
  std::string_view rest = stored.substr(kPbkdf2Prefix.size());
  auto d1 = rest.find('$');
  if (d1 == std::string_view::npos) return std::nullopt;
  auto d2 = rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos || rest.find('$', d2 + 1) != std::string_view::npos) return std::nullopt;
  PasswordHash h;
  std::string_view iter = rest.substr(0, d1);
  auto [end, ec] = std::from_chars(iter.data(), iter.data() + iter.size(), h.iterations);
  if (ec != std::errc() || end != iter.data() + iter.size() || h.iterations == 0 ||
      h.iterations > kMaxHashIterations)
    return std::nullopt;
  auto salt = base64_decode(rest.substr(d1 + 1, d2 - d1 - 1));
  auto key = base64_decode(rest.substr(d2 + 1));
  if (!salt || salt->empty() || salt->size() > 64 || !key || key->size() != kKeySize) return std::nullopt;
  h.salt = std::move(*salt);
  h.key = std::move(*key);
  return h;
}

std::string hash_password(std::string_view password, std::uint32_t iterations) {
  if (iterations == 0 || iterations > kMaxHashIterations) return {};
  std::string salt(kSaltSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
    return {};
  std::string key = pbkdf2(password, salt, iterations);
  std::string out = std::string(kPbkdf2Prefix) + std::to_string(iterations) + "$" + base64_encode(salt) +
                    "$" + base64_encode(key);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

bool password_matches(std::string_view stored, std::string_view given) {
  if (is_password_hash(stored)) {
    auto h = parse_password_hash(stored);
    if (!h) return false;
    std::string probe = pbkdf2(given, h->salt, h->iterations);
    bool same = CRYPTO_memcmp(probe.data(), h->key.data(), kKeySize) == 0;
    OPENSSL_cleanse(probe.data(), probe.size());
    return same;
  }
  // Plaintext (compatibility): compare digests, so neither the position of the first
  // difference nor the length of the secret shows in the time taken.
  auto a = sha256(stored), b = sha256(given);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace parley::core
