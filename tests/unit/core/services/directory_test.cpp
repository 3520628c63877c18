#include "core/services/directory.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/store/memory_store.hpp"
#include "core/store/sqlite_store.hpp"
#include "core/store/write_behind_store.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley::core;

namespace {

std::string b64d(std::string_view s) {
  std::string out(s.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  REQUIRE(n >= 0);
  std::size_t pad = 0;
  for (auto it = s.rbegin(); it != s.rend() && *it == '='; ++it) ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string hmac(const EVP_MD* md, const std::string& key, const std::string& data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), buf, &len);
  return std::string(reinterpret_cast<char*>(buf), len);
}

std::string hash(const EVP_MD* md, const std::string& data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), buf, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(buf), len);
}

// Plays the server side of RFC 5802 §3 with stored credentials only: recovers ClientKey
// from the client's proof, checks H(ClientKey) == StoredKey, and computes the server
// signature the client expects.
void check_exchange(ScramHash h, const EVP_MD* md, const char* salt_b64, const std::string& auth_message,
                    const char* proof_b64, const char* server_sig_b64) {
  ScramCredentials c = Directory::derive(h, "pencil", b64d(salt_b64), 4096);
  CHECK(c.iterations == 4096);
  std::string client_sig = hmac(md, c.stored_key, auth_message);
  std::string proof = b64d(proof_b64);
  REQUIRE(proof.size() == client_sig.size());
  std::string client_key(proof.size(), '\0');
  for (std::size_t i = 0; i < proof.size(); ++i) client_key[i] = static_cast<char>(proof[i] ^ client_sig[i]);
  CHECK(hash(md, client_key) == c.stored_key);
  CHECK(hmac(md, c.server_key, auth_message) == b64d(server_sig_b64));
}

}  // namespace

TEST_CASE("SCRAM-SHA-256 credentials match the RFC 7677 §3 exchange") {
  std::string auth =
      "n=user,r=rOprNGfwEbeRWgbNEkqO,"
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  check_exchange(
      ScramHash::sha256, EVP_sha256(), "W22ZaJ0SNY7soEsUEjb6gQ==", auth,
      "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST_CASE("SCRAM-SHA-1 credentials match the RFC 5802 §5 exchange") {
  std::string auth =
      "n=user,r=fyko+d2lbbFgONRv9qkxdawL,"
      "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,"
      "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j";
  check_exchange(ScramHash::sha1, EVP_sha1(), "QSXCR+Q6sek8bf92", auth,
                 "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

TEST_CASE("directory stores salted credentials and verifies PLAIN passwords") {
  MemoryStore store;
  Directory dir(store, 32);
  REQUIRE(dir.add("alice", "secret").ok());
  CHECK(dir.add("alice", "other").error().condition == Condition::conflict);
  CHECK(dir.add("Bad Name", "x").error().condition == Condition::malformed_address);
  CHECK(dir.exists("alice"));
  CHECK_FALSE(dir.exists("bob"));

  CHECK(dir.verify_password("alice", "secret").ok());
  CHECK(dir.verify_password("alice", "Secret").error().condition == Condition::not_authorized);
  // An unknown user gets the very same answer.
  CHECK(dir.verify_password("bob", "secret").error() == dir.verify_password("alice", "nope").error());

  auto rec = store.get_account("alice");
  REQUIRE(rec.ok());
  REQUIRE(rec->has_value());
  const AccountRecord& a = **rec;
  CHECK(a.sha1.salt.size() == 16);
  CHECK(a.sha256.salt.size() == 16);
  CHECK(a.sha1.salt != a.sha256.salt);
  CHECK(a.sha1.stored_key.size() == 20);
  CHECK(a.sha256.stored_key.size() == 32);
  CHECK(a.sha256.iterations == 32);
  CHECK(a.sha256.stored_key.find("secret") == std::string::npos);
  CHECK(a.sha256 == Directory::derive(ScramHash::sha256, "secret", a.sha256.salt, 32));

  auto s = dir.scram("alice", ScramHash::sha1);
  REQUIRE(s.ok());
  CHECK(*s == a.sha1);
  CHECK(dir.scram("bob", ScramHash::sha1).error().condition == Condition::item_not_found);

  // Two accounts with the same password get different salts, hence different keys.
  REQUIRE(dir.add("bob", "secret").ok());
  CHECK((*dir.scram("bob", ScramHash::sha256)).stored_key != a.sha256.stored_key);

  REQUIRE(dir.set_password("alice", "new").ok());
  CHECK(dir.verify_password("alice", "new").ok());
  CHECK_FALSE(dir.verify_password("alice", "secret").ok());
  CHECK(dir.list()->size() == 2);
  REQUIRE(dir.remove("alice").ok());
  CHECK_FALSE(dir.exists("alice"));
  CHECK(dir.remove("alice").error().condition == Condition::item_not_found);
}

TEST_CASE("directory: decoy credentials for unknown users look like real ones and match nothing") {
  MemoryStore store;
  Directory d(store, 4096);
  d.set_decoy_secret(std::string(32, 'k'));
  REQUIRE(d.add("alice", "alicepw"));
  auto real = d.login_credentials("alice", ScramHash::sha256);
  auto fake = d.login_credentials("mallory", ScramHash::sha256);
  REQUIRE(real);
  REQUIRE(fake);
  CHECK(real->known);
  CHECK_FALSE(fake->known);
  CHECK(fake->creds.salt.size() == real->creds.salt.size());
  CHECK(fake->creds.iterations == real->creds.iterations);
  CHECK(fake->creds.stored_key.size() == real->creds.stored_key.size());
  // Deterministic per name (and secret), different between names and hashes.
  CHECK(d.login_credentials("mallory", ScramHash::sha256)->creds.salt == fake->creds.salt);
  CHECK(d.login_credentials("trent", ScramHash::sha256)->creds.salt != fake->creds.salt);
  CHECK(d.login_credentials("mallory", ScramHash::sha1)->creds.stored_key.size() == 20);
  Directory other(store, 4096);
  other.set_decoy_secret(std::string(32, 'j'));
  CHECK(other.login_credentials("mallory", ScramHash::sha256)->creds.salt != fake->creds.salt);
  CHECK(Directory::matches(*real, "alicepw"));
  CHECK_FALSE(Directory::matches(*real, "wrong"));
  CHECK_FALSE(Directory::matches(*fake, "alicepw"));
  CHECK(d.verify_password("alice", "alicepw"));
  CHECK_FALSE(d.verify_password("mallory", "x"));
}

TEST_CASE("directory: SIP digest verifiers (HA1) are stored for the configured realm") {
  MemoryStore store;
  Directory d(store, 1000);
  REQUIRE(d.add("early", "pw"));  // before a realm: no verifier
  d.set_digest_realm("localhost");
  REQUIRE(d.add("alice", "alicepw"));
  // RFC 7616 §3.4.2: HA1 = H(user ":" realm ":" password), lower-case hex.
  CHECK(d.digest_ha1("alice", "localhost", false) == "91a5d7d56d51f66415bde19897795cd7");
  auto sha = d.digest_ha1("alice", "localhost", true);
  REQUIRE(sha);
  CHECK(sha->size() == 64);
  CHECK_FALSE(d.digest_ha1("alice", "other.realm", false));
  CHECK_FALSE(d.digest_ha1("nobody", "localhost", false));
  CHECK_FALSE(d.digest_ha1("early", "localhost", false));
  REQUIRE(d.set_password("early", "pw2"));  // a new password brings one
  CHECK(d.digest_ha1("early", "localhost", false));
  auto before = d.digest_ha1("alice", "localhost", false);
  REQUIRE(d.set_password("alice", "changed"));
  CHECK(d.digest_ha1("alice", "localhost", false) != before);
}

TEST_CASE("directory: digest verifiers are cached and dropped on every account change") {
  MemoryStore store;
  Directory d(store, 1000);
  d.set_digest_realm("localhost");
  REQUIRE(d.add("alice", "alicepw"));
  auto first = d.digest_ha1("alice", "localhost", false);
  REQUIRE(first);
  CHECK(d.ha1_cached() == 1);

  // Cached: a write behind the directory's back (which the daemon never does: the store
  // has one writer) is not seen.
  auto rec = store.get_account("alice");
  REQUIRE((rec && rec->has_value()));
  AccountRecord changed = **rec;
  changed.ha1_md5 = std::string(32, 'f');
  REQUIRE(store.put_account(changed));
  CHECK(d.digest_ha1("alice", "localhost", false) == first);

  // A password change through the directory is seen at once, for both algorithms.
  auto sha_before = d.digest_ha1("alice", "localhost", true);
  REQUIRE(d.set_password("alice", "newpw"));
  auto after = d.digest_ha1("alice", "localhost", false);
  REQUIRE(after);
  CHECK(*after != *first);
  CHECK(*after != std::string(32, 'f'));
  CHECK(d.digest_ha1("alice", "localhost", true) != sha_before);

  // Removal: no verifier, no cache entry; a re-added account has its new password's.
  REQUIRE(d.remove("alice"));
  CHECK_FALSE(d.digest_ha1("alice", "localhost", false));
  CHECK(d.ha1_cached() == 0);  // unknown users are not cached
  REQUIRE(d.add("alice", "third"));
  auto third = d.digest_ha1("alice", "localhost", false);
  REQUIRE(third);
  CHECK(*third != *after);
  CHECK(*third != *first);

  // The cached realm is checked like the stored one; a new realm empties the cache.
  CHECK_FALSE(d.digest_ha1("alice", "other.realm", false));
  d.set_digest_realm("example.org");
  CHECK(d.ha1_cached() == 0);
  CHECK_FALSE(d.digest_ha1("alice", "example.org", false));  // stored for localhost
}

TEST_CASE("directory: the digest verifier cache is bounded") {
  MemoryStore store;
  Directory d(store, 1);
  d.set_digest_realm("localhost");
  for (std::size_t i = 0; i < Directory::kHa1CacheSize + 10; ++i) {
    AccountRecord r;  // straight into the store: add() would derive keys for each
    r.user = "u" + std::to_string(i);
    r.digest_realm = "localhost";
    r.ha1_md5 = std::string(32, 'a');
    REQUIRE(store.put_account(r));
    REQUIRE(d.digest_ha1(r.user, "localhost", false));
    REQUIRE(d.ha1_cached() <= Directory::kHa1CacheSize);
  }
  CHECK(d.ha1_cached() >= 1);
  CHECK(d.digest_ha1("u0", "localhost", false) == std::string(32, 'a'));
}

// `parleyd account passwd|remove` run beside the daemon writes through a connection of its
// own: the daemon's cached HA1 must not keep the old password (or a removed account) working.
TEST_CASE("directory: digest verifiers changed by another process are read again") {
  parley::test::TempDir dir;
  REQUIRE(dir.ok());
  const auto path = dir.file("parley.db");
  auto sqlite = SqliteStore::open(path);
  REQUIRE(sqlite.ok());
  // data_version read at every call (write_behind_store_test has the reuse window).
  WriteBehindStore store(**sqlite, {.version_reuse = std::chrono::microseconds{0}});
  Directory d(store, 1000);
  d.set_digest_realm("localhost");
  REQUIRE(d.add("alice", "alicepw"));
  REQUIRE(d.add("bob", "bobpw"));
  REQUIRE(store.sync().ok());
  const auto first = d.digest_ha1("alice", "localhost", false);
  REQUIRE(first);
  REQUIRE(d.digest_ha1("bob", "localhost", false));
  CHECK(d.ha1_cached() == 2);
  CHECK(d.digest_ha1("alice", "localhost", false) == first);  // from the cache

  {
    auto other = SqliteStore::open(path);
    REQUIRE(other.ok());
    Directory tool(**other, 1000);
    tool.set_digest_realm("localhost");
    REQUIRE(tool.set_password("alice", "changed"));
    REQUIRE(tool.remove("bob"));
  }
  const auto after = d.digest_ha1("alice", "localhost", false);
  REQUIRE(after);
  CHECK(*after != *first);
  CHECK_FALSE(d.digest_ha1("bob", "localhost", false));
}
