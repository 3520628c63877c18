#include "core/services/directory.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>

#include "core/model/address.hpp"
#include "core/model/time.hpp"

namespace parley::core {

namespace {

const EVP_MD* md_of(ScramHash h) { return h == ScramHash::sha1 ? EVP_sha1() : EVP_sha256(); }

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string digest(const EVP_MD* md, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string hex(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

constexpr std::size_t salt_size = 16;

Result<std::string> random_salt() {
  std::string s(salt_size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(s.size())) != 1)
    return make_error(Condition::internal_server_error, "RAND_bytes failed");
  return s;
}

}  // namespace

Directory::Directory(Store& store, std::uint32_t iterations) : store_(store), iterations_(iterations) {
  decoy_secret_.assign(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(decoy_secret_.data()),
                 static_cast<int>(decoy_secret_.size())) != 1)
    decoy_secret_ = "parley decoy secret";  // still distinct per name; only cross-restart stability is lost
}

// RFC 5802 §3: SaltedPassword := Hi(password, salt, i) (= PBKDF2 with HMAC-H),
// StoredKey := H(HMAC(SaltedPassword, "Client Key")), ServerKey := HMAC(SaltedPassword,
// "Server Key"). The password should be SASLprep'ed (RFC 4013) first; callers pass it as
// received, which is identical for ASCII passwords.
ScramCredentials Directory::derive(ScramHash hash, std::string_view password, std::string_view salt,
                                   std::uint32_t iterations) {
  const EVP_MD* md = md_of(hash);
  std::string salted(static_cast<std::size_t>(EVP_MD_get_size(md)), '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                    static_cast<int>(iterations), md, static_cast<int>(salted.size()),
                    reinterpret_cast<unsigned char*>(salted.data()));
  ScramCredentials c;
  c.salt = std::string(salt);
  c.iterations = iterations;
  c.stored_key = digest(md, hmac(md, salted, "Client Key"));
  c.server_key = hmac(md, salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return c;
}

// Account changes are rare and their caller must know whether they hold (a registration or
// a new password that did not reach the disk is an error to report), so they wait for the
// commit: Store::sync() after the write. Its error may be an earlier write's: then the disk
// is failing anyway.
Status Directory::write_through(Status st) {
  if (!st) return st;
  return store_.sync();
}

Status Directory::add(const std::string& user, std::string_view password) {
  if (!is_valid_local_name(user)) return make_error(Condition::malformed_address, "invalid user name");
  auto existing = store_.get_account(user);
  if (!existing) return existing.error();
  if (existing->has_value()) return make_error(Condition::conflict, "account exists");
  auto s1 = random_salt();
  auto s256 = random_salt();
  if (!s1) return s1.error();
  if (!s256) return s256.error();
  AccountRecord rec;
  rec.user = user;
  rec.sha1 = derive(ScramHash::sha1, password, *s1, iterations_);
  rec.sha256 = derive(ScramHash::sha256, password, *s256, iterations_);
  rec.created = Clock::now();
  set_digest(rec, password);
  ha1_cache_.erase(user);
  return write_through(store_.put_account(rec));
}

Status Directory::set_password(const std::string& user, std::string_view password) {
  auto existing = store_.get_account(user);
  if (!existing) return existing.error();
  if (!existing->has_value()) return make_error(Condition::item_not_found, "no such account");
  auto s1 = random_salt();
  auto s256 = random_salt();
  if (!s1) return s1.error();
  if (!s256) return s256.error();
  AccountRecord rec = **existing;
  rec.sha1 = derive(ScramHash::sha1, password, *s1, iterations_);
  rec.sha256 = derive(ScramHash::sha256, password, *s256, iterations_);
  set_digest(rec, password);
  ha1_cache_.erase(user);  // whatever the write's outcome: the next request reads the store
  return write_through(store_.put_account(rec));
}

// RFC 7616 §3.4.2: A1 = username ":" realm ":" passwd; HA1 = H(A1) in lower-case hex.
void Directory::set_digest(AccountRecord& rec, std::string_view password) const {
  rec.digest_realm = digest_realm_;
  if (digest_realm_.empty()) {
    rec.ha1_md5.clear();
    rec.ha1_sha256.clear();
    return;
  }
  std::string a1 = rec.user + ":" + digest_realm_ + ":" + std::string(password);
  rec.ha1_md5 = hex(digest(EVP_md5(), a1));
  rec.ha1_sha256 = hex(digest(EVP_sha256(), a1));
  OPENSSL_cleanse(a1.data(), a1.size());
}

std::optional<std::string> Directory::digest_ha1(const std::string& user, std::string_view realm,
                                                 bool sha256) {
  auto version = store_.data_version();
  if (!version || *version != ha1_version_) {
    ha1_cache_.clear();  // another process wrote accounts, or it cannot be told
    if (version) ha1_version_ = *version;
  }
  auto it = ha1_cache_.find(user);
  DigestVerifiers fresh;
  if (it == ha1_cache_.end()) {
    auto r = store_.get_account(user);
    if (!r || !r->has_value()) return std::nullopt;
    const AccountRecord& a = **r;
    fresh = DigestVerifiers{a.digest_realm, a.ha1_md5, a.ha1_sha256};
    if (version) {
      if (ha1_cache_.size() >= kHa1CacheSize) ha1_cache_.clear();
      it = ha1_cache_.emplace(user, std::move(fresh)).first;
    }
  }
  const DigestVerifiers& v = it != ha1_cache_.end() ? it->second : fresh;
  if (v.realm.empty() || v.realm != realm) return std::nullopt;
  const std::string& h = sha256 ? v.sha256 : v.md5;
  if (h.empty()) return std::nullopt;
  return h;
}

Status Directory::remove(const std::string& user) {
  ha1_cache_.erase(user);
  if (!exists(user)) return make_error(Condition::item_not_found, "no such account");
  return write_through(store_.delete_account(user));
}

bool Directory::exists(const std::string& user) {
  auto r = store_.get_account(user);
  return r.ok() && r->has_value();
}

Result<std::vector<std::string>> Directory::list() { return store_.list_accounts(); }

Result<ScramCredentials> Directory::scram(const std::string& user, ScramHash hash) {
  auto r = store_.get_account(user);
  if (!r) return r.error();
  if (!r->has_value()) return make_error(Condition::item_not_found, "no such account");
  return hash == ScramHash::sha1 ? (*r)->sha1 : (*r)->sha256;
}

Result<Directory::LoginCredentials> Directory::login_credentials(const std::string& user, ScramHash hash) {
  auto r = store_.get_account(user);
  if (!r) return r.error();
  LoginCredentials out;
  if (r->has_value()) {
    out.creds = hash == ScramHash::sha1 ? (*r)->sha1 : (*r)->sha256;
    out.known = true;
    return out;
  }
  // Decoy: HMAC(secret, label | hash | user), salt as long as a real one. The keys are
  // not derived from any password, so no password matches them.
  const EVP_MD* md = md_of(hash);
  std::string tag = std::string(hash == ScramHash::sha1 ? "sha1:" : "sha256:") + user;
  out.creds.salt = hmac(EVP_sha256(), decoy_secret_, "salt:" + tag).substr(0, salt_size);
  out.creds.iterations = iterations_;
  out.creds.stored_key = hmac(md, decoy_secret_, "stored:" + tag);
  out.creds.server_key = hmac(md, decoy_secret_, "server:" + tag);
  return out;
}

bool Directory::matches(const LoginCredentials& c, std::string_view password) {
  // The sha256 credentials unless the caller fetched sha1 ones: the digest size says which.
  ScramHash hash = c.creds.stored_key.size() == 20 ? ScramHash::sha1 : ScramHash::sha256;
  ScramCredentials probe = derive(hash, password, c.creds.salt, c.creds.iterations);
  // Constant-time comparison: the time taken must not reveal how much of the key matched.
  bool same =
      probe.stored_key.size() == c.creds.stored_key.size() &&
      CRYPTO_memcmp(probe.stored_key.data(), c.creds.stored_key.data(), c.creds.stored_key.size()) == 0;
  return same && c.known;
}

Status Directory::verify_password(const std::string& user, std::string_view password) {
  auto c = login_credentials(user, ScramHash::sha256);
  if (!c) return c.error();
  if (!matches(*c, password)) return make_error(Condition::not_authorized, "wrong user name or password");
  return {};
}

}  // namespace parley::core
