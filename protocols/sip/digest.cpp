#include "protocols/sip/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "protocols/common/ascii.hpp"
#include "protocols/sip/text.hpp"

namespace parley::protocols::sip {

namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

bool is_lws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void skip_lws(std::string_view s, std::size_t& i) {
  while (i < s.size() && is_lws(s[i])) ++i;
}

std::string quote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\r' || c == '\n') continue;  // never let a header break
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view name) {
  if (name.empty() || ascii_equal_fold(name, "MD5")) return DigestAlgorithm::md5;
  if (ascii_equal_fold(name, "SHA-256")) return DigestAlgorithm::sha256;
  return std::nullopt;
}

std::string_view to_string(DigestAlgorithm a) { return a == DigestAlgorithm::md5 ? "MD5" : "SHA-256"; }

std::optional<DigestCredentials> parse_digest_credentials(std::string_view v) {
  if (v.size() > kMaxAuthorization) return std::nullopt;
  std::size_t i = 0;
  skip_lws(v, i);
  if (v.size() - i < 7 || !ascii_equal_fold(v.substr(i, 6), "Digest") || !is_lws(v[i + 6]))
    return std::nullopt;
  i += 6;
  DigestCredentials c;
  unsigned seen = 0;  // bit per known parameter: a duplicate is an error
  bool first = true;
  for (;;) {
    skip_lws(v, i);
    if (i == v.size()) break;
    if (!first) {
      if (v[i] != ',') return std::nullopt;
      ++i;
      skip_lws(v, i);
    }
    first = false;
    std::size_t ns = i;
    while (i < v.size() && is_token_char(v[i])) ++i;
    std::string_view name = v.substr(ns, i - ns);
    if (name.empty()) return std::nullopt;
    skip_lws(v, i);
    if (i == v.size() || v[i] != '=') return std::nullopt;
    ++i;
    skip_lws(v, i);
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      bool closed = false;
      while (i < v.size()) {
        char ch = v[i++];
        if (ch == '"') {
          closed = true;
          break;
        }
        if (ch == '\\') {
          if (i == v.size()) return std::nullopt;
          ch = v[i++];
        }
        if (ch == '\r' || ch == '\n' || ch == '\0') return std::nullopt;
        value += ch;
      }
      if (!closed) return std::nullopt;
    } else {
      std::size_t vs = i;
      while (i < v.size() && is_token_char(v[i])) ++i;
      value = std::string(v.substr(vs, i - vs));
      if (value.empty()) return std::nullopt;
    }
    static constexpr std::array<std::string_view, 10> names{"username",  "realm",  "nonce", "uri", "response",
                                                            "algorithm", "cnonce", "nc",    "qop", "opaque"};
    std::array<std::string*, 10> outs{&c.username,  &c.realm,  &c.nonce, &c.uri, &c.response,
                                      &c.algorithm, &c.cnonce, &c.nc,    &c.qop, &c.opaque};
    for (std::size_t k = 0; k < names.size(); ++k) {
      if (!ascii_equal_fold(name, names[k])) continue;
      if (seen & (1u << k)) return std::nullopt;
      seen |= 1u << k;
      *outs[k] = std::move(value);
      break;
    }
  }
  if ((seen & 0x1f) != 0x1f) return std::nullopt;  // username realm nonce uri response
  return c;
}

namespace {

// The algorithms, fetched once per process (EVP_md5() and EVP_sha256() are looked up in the
// provider at every use in OpenSSL 3; a fetched EVP_MD is not). Falls back to the legacy
// objects if a fetch fails.
const EVP_MD* fetched_md(DigestAlgorithm a) {
  static const EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  static const EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (a == DigestAlgorithm::md5) return md5 ? md5 : EVP_md5();
  return sha256 ? sha256 : EVP_sha256();
}

// One digest context per thread, reused (EVP_Digest allocates and frees one per call).
EVP_MD_CTX* scratch_ctx() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder h;
  return h.ctx;
}

}  // namespace

std::string digest_hex(DigestAlgorithm a, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = scratch_ctx();
  if (!ctx || EVP_DigestInit_ex2(ctx, fetched_md(a), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(ctx, out.data(), &len) != 1)
    EVP_Digest(data.data(), data.size(), out.data(), &len, fetched_md(a), nullptr);
  return to_hex(out.data(), len);
}

std::string digest_ha1(DigestAlgorithm a, std::string_view user, std::string_view realm,
                       std::string_view password) {
  std::string a1;
  a1.reserve(user.size() + realm.size() + password.size() + 2);
  a1.append(user).append(":").append(realm).append(":").append(password);
  std::string h = digest_hex(a, a1);
  OPENSSL_cleanse(a1.data(), a1.size());
  return h;
}

std::string digest_response(DigestAlgorithm a, std::string_view ha1, std::string_view nonce,
                            std::string_view nc, std::string_view cnonce, std::string_view qop,
                            std::string_view method, std::string_view uri) {
  std::string a2;
  a2.append(method).append(":").append(uri);
  std::string ha2 = digest_hex(a, a2);
  std::string kd;
  kd.append(ha1).append(":").append(nonce).append(":");
  if (!qop.empty()) kd.append(nc).append(":").append(cnonce).append(":").append(qop).append(":");
  kd.append(ha2);
  return digest_hex(a, kd);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string digest_challenge(DigestAlgorithm a, std::string_view realm, std::string_view nonce, bool stale) {
  std::string out = "Digest realm=" + quote(realm) + ", nonce=" + quote(nonce) +
                    ", algorithm=" + std::string(to_string(a)) + ", qop=\"auth\"";
  if (stale) out += ", stale=true";
  return out;
}

// ---- nonces ----

struct NonceIssuer::Keyed {
  EVP_MD_CTX* inner = nullptr;  // SHA-256 after absorbing key ^ ipad
  EVP_MD_CTX* outer = nullptr;  // after key ^ opad
  Keyed() = default;
  Keyed(const Keyed&) = delete;
  Keyed& operator=(const Keyed&) = delete;
  ~Keyed() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
  }
};

NonceIssuer::NonceIssuer(std::string secret) : secret_(std::move(secret)) {
  if (secret_.empty()) {
    secret_.assign(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), static_cast<int>(secret_.size())) != 1)
      throw std::runtime_error("RAND_bytes failed: no nonce secret");
  }
  // RFC 2104 §2: a key longer than the block (64 bytes) is hashed first; then zero-padded.
  constexpr std::size_t kBlock = 64;
  std::array<unsigned char, kBlock> k0{};
  const EVP_MD* md = fetched_md(DigestAlgorithm::sha256);
  if (secret_.size() > kBlock) {
    unsigned int n = 0;
    if (EVP_Digest(secret_.data(), secret_.size(), k0.data(), &n, md, nullptr) != 1)
      throw std::runtime_error("SHA-256 failed: no nonce key");
  } else {
    std::copy(secret_.begin(), secret_.end(), k0.begin());
  }
  std::array<unsigned char, kBlock> ipad{}, opad{};
  for (std::size_t i = 0; i < kBlock; ++i) {
    ipad[i] = static_cast<unsigned char>(k0[i] ^ 0x36);
    opad[i] = static_cast<unsigned char>(k0[i] ^ 0x5c);
  }
  auto keyed = std::make_shared<Keyed>();
  keyed->inner = EVP_MD_CTX_new();
  keyed->outer = EVP_MD_CTX_new();
  const bool ok = keyed->inner && keyed->outer && EVP_DigestInit_ex2(keyed->inner, md, nullptr) == 1 &&
                  EVP_DigestUpdate(keyed->inner, ipad.data(), kBlock) == 1 &&
                  EVP_DigestInit_ex2(keyed->outer, md, nullptr) == 1 &&
                  EVP_DigestUpdate(keyed->outer, opad.data(), kBlock) == 1;
  OPENSSL_cleanse(k0.data(), k0.size());
  OPENSSL_cleanse(ipad.data(), ipad.size());
  OPENSSL_cleanse(opad.data(), opad.size());
  if (!ok) throw std::runtime_error("SHA-256 failed: no nonce key");
  keyed_ = std::move(keyed);
}

std::string NonceIssuer::mac(std::string_view stamp) const {
  // HMAC(K, m) = H(K ^ opad || H(K ^ ipad || m)), from the keyed states (RFC 2104 §2).
  std::array<unsigned char, EVP_MAX_MD_SIZE> in{}, out{};
  unsigned int in_len = 0, len = 0;
  EVP_MD_CTX* ctx = scratch_ctx();
  const bool ok =
      ctx && EVP_MD_CTX_copy_ex(ctx, keyed_->inner) == 1 &&
      EVP_DigestUpdate(ctx, stamp.data(), stamp.size()) == 1 &&
      EVP_DigestFinal_ex(ctx, in.data(), &in_len) == 1 && EVP_MD_CTX_copy_ex(ctx, keyed_->outer) == 1 &&
      EVP_DigestUpdate(ctx, in.data(), in_len) == 1 && EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  if (!ok) {  // not expected; the one-shot form gives the same bytes
    HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
         reinterpret_cast<const unsigned char*>(stamp.data()), stamp.size(), out.data(), &len);
  }
  return to_hex(out.data(), 16);
}

std::string NonceIssuer::issue(std::uint64_t now_s) const {
  // time (8 bytes) + 8 random bytes: every challenge gets its own nonce, so two clients
  // challenged in the same second never share a nonce (and its nonce counts).
  unsigned char raw[16];
  for (int k = 0; k < 8; ++k) raw[k] = static_cast<unsigned char>(now_s >> (56 - 8 * k));
  if (RAND_bytes(raw + 8, 8) != 1) throw std::runtime_error("RAND_bytes failed: no nonce");
  std::string stamp = to_hex(raw, 16);
  return stamp + "." + mac(stamp);
}

NonceIssuer::Check NonceIssuer::check(std::string_view nonce, std::uint64_t now_s,
                                      std::uint32_t lifetime_s) const {
  if (nonce.size() != kNonceSize || nonce[32] != '.') return {};
  std::string_view stamp = nonce.substr(0, 32), tag = nonce.substr(33);
  if (!is_hex(stamp) || !is_hex(tag)) return {};
  std::string lower(tag);
  for (char& c : lower) c = ascii_lower(c);
  if (!constant_time_equal(lower, mac(stamp))) return {};
  std::uint64_t t = 0;
  for (char c : stamp.substr(0, 16))
    t = (t << 4) | static_cast<std::uint64_t>(c <= '9' ? c - '0' : (ascii_lower(c) - 'a' + 10));
  if (t > now_s + 5) return {};  // from the future (a little clock slack between threads)
  if (now_s - std::min(now_s, t) > lifetime_s) return {Verdict::stale, t};
  return {Verdict::valid, t};
}

std::optional<std::uint32_t> parse_nonce_count(std::string_view nc) {
  if (nc.size() != 8 || !is_hex(nc)) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : nc)
    v = (v << 4) | static_cast<std::uint32_t>(c <= '9' ? c - '0' : (ascii_lower(c) - 'a' + 10));
  return v;
}

NonceCounts::NonceCounts(std::size_t per_user, std::size_t max_users)
    : per_user_(per_user < 1 ? 1 : per_user), max_users_(max_users < 1 ? 1 : max_users) {}

bool NonceCounts::accept(const std::string& user, std::string_view nonce, std::uint64_t issued,
                         std::uint32_t nc) {
  if (nc == 0) return false;
  auto it = users_.find(user);
  if (it == users_.end()) {
    if (issued <= global_floor_) return false;
    if (users_.size() >= max_users_) {
      // Forget one user; every nonce it might still use is refused from now on.
      auto victim = users_.begin();
      for (const auto& s : victim->second.seen) global_floor_ = std::max(global_floor_, s.issued);
      global_floor_ = std::max(global_floor_, victim->second.floor);
      users_.erase(victim);
      if (issued <= global_floor_) return false;
    }
    it = users_.emplace(user, User{}).first;
  }
  User& u = it->second;
  for (auto& s : u.seen) {
    if (s.nonce != nonce) continue;
    if (nc <= s.nc) return false;  // replayed (or reordered) count
    s.nc = nc;
    return true;
  }
  if (issued <= u.floor || issued <= global_floor_) return false;
  if (u.seen.size() >= per_user_) {
    u.floor = std::max(u.floor, u.seen.front().issued);
    u.seen.pop_front();
    if (issued <= u.floor) return false;
  }
  u.seen.push_back(Seen{std::string(nonce), issued, nc});
  return true;
}

}  // namespace parley::protocols::sip
