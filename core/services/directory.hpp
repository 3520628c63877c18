#pragma once
// Directory of accounts. Passwords are never stored: only salted SCRAM credentials
// (RFC 5802 §3) for SHA-1 and SHA-256, from which PLAIN logins are verified too.
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/model/error.hpp"
#include "core/store/store.hpp"

namespace parley::core {

enum class ScramHash : std::uint8_t { sha1, sha256 };

class Directory {
 public:
  explicit Directory(Store& store, std::uint32_t iterations = 4096);

  Status add(const std::string& user, std::string_view password);  // conflict if it exists
  Status set_password(const std::string& user, std::string_view password);
  Status remove(const std::string& user);
  bool exists(const std::string& user);
  Result<std::vector<std::string>> list();
  // For SCRAM servers: the stored credentials. item_not_found for an unknown user.
  Result<ScramCredentials> scram(const std::string& user, ScramHash hash);
  // For PLAIN/PASS: not_authorized on a wrong password or an unknown user (same error, so
  // the answer does not reveal which accounts exist). Runs PBKDF2 on the calling thread:
  // servers use login_credentials() + matches() to run it elsewhere.
  Status verify_password(const std::string& user, std::string_view password);

  // What a login is checked against: the user's stored credentials, or for an unknown
  // user decoy ones, derived from the decoy secret and the name (so the same name always
  // gets the same salt) with the same iteration count. A SCRAM server answers both alike
  // and fails the decoy at the final step; a PLAIN check runs the same PBKDF2 on both.
  // Either way the answer's content and timing do not tell whether the account exists.
  struct LoginCredentials {
    ScramCredentials creds;
    bool known = false;  // false: decoy, no password matches
  };
  // A cheap store read (no key derivation): the core strand may call it.
  Result<LoginCredentials> login_credentials(const std::string& user, ScramHash hash);
  // PBKDF2 of `password` against `c` in constant-time comparison; touches no state, so
  // any thread may run it. Always false for decoy credentials.
  static bool matches(const LoginCredentials& c, std::string_view password);
  // The key decoys are derived from: keep it stable across restarts (the daemon keeps it
  // in data_dir), or an unknown name's salt would change where a real one does not.
  void set_decoy_secret(std::string secret) { decoy_secret_ = std::move(secret); }

  // SIP digest (RFC 7616): the realm whose HA1 verifiers add/set_password store next to
  // the SCRAM keys (empty: none are stored). The daemon sets it to sip.domain.
  void set_digest_realm(std::string realm) {
    digest_realm_ = std::move(realm);
    ha1_cache_.clear();
  }
  const std::string& digest_realm() const { return digest_realm_; }
  // The stored HA1 (lower-case hex) of `user` for `realm`: nullopt for an unknown user, a
  // realm other than the one it was computed for, or an account whose password was set
  // before a realm was configured. A cheap store read: the core strand may call it.
  // Known accounts' verifiers are cached (every digest-authenticated SIP request asks):
  // add/set_password/remove drop the user's entry, and a commit by another connection
  // (`parleyd account passwd|remove` run beside the daemon: Store::data_version moved)
  // drops them all, so a changed or removed password stops working at once; when the
  // store cannot tell, nothing is cached. At kHa1CacheSize entries the cache starts over.
  // Unknown users are read every time (not cached: a guessed name costs no memory).
  std::optional<std::string> digest_ha1(const std::string& user, std::string_view realm, bool sha256);
  static constexpr std::size_t kHa1CacheSize = 4096;
  std::size_t ha1_cached() const { return ha1_cache_.size(); }
  // Fills rec's digest fields for the configured realm (or clears them).
  void set_digest(AccountRecord& rec, std::string_view password) const;

  static ScramCredentials derive(ScramHash hash, std::string_view password, std::string_view salt,
                                 std::uint32_t iterations);

 private:
  Status write_through(Status st);  // st, else the commit's outcome (Store::sync)

  Store& store_;
  std::uint32_t iterations_;
  std::string decoy_secret_;
  std::string digest_realm_;  // random per process until set_decoy_secret()
  struct DigestVerifiers {
    std::string realm, md5, sha256;  // as stored (AccountRecord's digest fields)
  };
  std::unordered_map<std::string, DigestVerifiers> ha1_cache_;  // by user, known accounts only
  std::uint64_t ha1_version_ = 0;  // Store::data_version() the cache was filled under
};

}  // namespace parley::core
