#include "protocols/sip/digest.hpp"

#include <doctest/doctest.h>
#include <openssl/hmac.h>

#include <string>
#include <thread>
#include <vector>

using namespace parley::protocols::sip;

TEST_CASE("digest: RFC 2617 section 3.5 vector (MD5, qop=auth)") {
  auto ha1 = digest_ha1(DigestAlgorithm::md5, "Mufasa", "testrealm@host.com", "Circle Of Life");
  CHECK(digest_response(DigestAlgorithm::md5, ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
                        "0a4f113b", "auth", "GET", "/dir/index.html") == "6629fae49393a05397450978507c4ef1");
}

TEST_CASE("digest: RFC 7616 section 3.9.1 vectors (MD5 and SHA-256)") {
  const char* nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
  const char* cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  auto md5 = digest_ha1(DigestAlgorithm::md5, "Mufasa", "http-auth@example.org", "Circle of Life");
  CHECK(digest_response(DigestAlgorithm::md5, md5, nonce, "00000001", cnonce, "auth", "GET",
                        "/dir/index.html") == "8ca523f5e9506fed4657c9700eebdbec");
  auto sha = digest_ha1(DigestAlgorithm::sha256, "Mufasa", "http-auth@example.org", "Circle of Life");
  CHECK(digest_response(DigestAlgorithm::sha256, sha, nonce, "00000001", cnonce, "auth", "GET",
                        "/dir/index.html") ==
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

TEST_CASE("digest: Authorization parsing") {
  auto c = parse_digest_credentials(
      "Digest username=\"bob\", realm=\"localhost\", nonce=\"abc\", uri=\"sip:localhost\",\r\n "
      "response=\"0123\", algorithm=MD5, cnonce=\"x\\\"y\", nc=00000001, qop=auth, extra=\"ignored\"");
  REQUIRE(c);
  CHECK(c->username == "bob");
  CHECK(c->realm == "localhost");
  CHECK(c->uri == "sip:localhost");
  CHECK(c->cnonce == "x\"y");
  CHECK(c->nc == "00000001");
  CHECK(c->qop == "auth");
  CHECK(c->algorithm == "MD5");
  CHECK(parse_digest_credentials("digest USERNAME=a,realm=b,nonce=c,uri=d,response=e"));

  SUBCASE("malformed or incomplete is refused") {
    CHECK_FALSE(parse_digest_credentials(""));
    CHECK_FALSE(parse_digest_credentials("Basic dXNlcjpwYXNz"));
    CHECK_FALSE(parse_digest_credentials("Digest"));
    CHECK_FALSE(parse_digest_credentials(
        "Digest username=\"a\", realm=\"b\", nonce=\"c\", uri=\"d\""));  // no response
    CHECK_FALSE(
        parse_digest_credentials("Digest username=\"a\", username=\"b\", realm=\"b\", nonce=\"c\", "
                                 "uri=\"d\", response=\"e\""));                  // duplicate
    CHECK_FALSE(parse_digest_credentials("Digest username=\"a, realm=b"));       // unterminated quote
    CHECK_FALSE(parse_digest_credentials("Digest username=\"a\" realm=\"b\""));  // no comma
    CHECK_FALSE(parse_digest_credentials("Digest username=, realm=b"));
    CHECK_FALSE(parse_digest_credentials("Digest username=\"a\nb\", realm=b, nonce=c, uri=d, response=e"));
    std::string huge = "Digest username=\"" + std::string(kMaxAuthorization, 'a') + "\"";
    CHECK_FALSE(parse_digest_credentials(huge));
  }
}

TEST_CASE("digest: algorithms") {
  CHECK(parse_digest_algorithm("") == DigestAlgorithm::md5);
  CHECK(parse_digest_algorithm("md5") == DigestAlgorithm::md5);
  CHECK(parse_digest_algorithm("SHA-256") == DigestAlgorithm::sha256);
  CHECK_FALSE(parse_digest_algorithm("MD5-sess"));
  CHECK_FALSE(parse_digest_algorithm("SHA-512-256"));
}

TEST_CASE("digest: challenge rendering quotes and never breaks a header") {
  auto ch = digest_challenge(DigestAlgorithm::sha256, "a\"b\r\nX: y", "n", true);
  CHECK(ch == "Digest realm=\"a\\\"bX: y\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\", stale=true");
  CHECK(digest_challenge(DigestAlgorithm::md5, "r", "n", false).find("stale") == std::string::npos);
}

TEST_CASE("digest: nonces are MAC'd, expire as stale, and cannot be forged") {
  NonceIssuer issuer("secret");
  auto n = issuer.issue(1000);
  CHECK(n.size() == NonceIssuer::kNonceSize);
  CHECK(issuer.issue(1000) != n);  // a nonce per challenge, even within one second
  CHECK(issuer.check(n, 1000, 300).verdict == NonceIssuer::Verdict::valid);
  CHECK(issuer.check(n, 1300, 300).verdict == NonceIssuer::Verdict::valid);
  auto late = issuer.check(n, 1301, 300);
  CHECK(late.verdict == NonceIssuer::Verdict::stale);
  CHECK(late.issued == 1000);
  CHECK(issuer.check(n, 990, 300).verdict == NonceIssuer::Verdict::invalid);  // issued in the future

  std::string forged = n;
  forged[40] = forged[40] == 'a' ? 'b' : 'a';
  CHECK(issuer.check(forged, 1000, 300).verdict == NonceIssuer::Verdict::invalid);
  std::string moved = issuer.issue(5000).substr(0, 16) + n.substr(16);  // new time, old MAC
  CHECK(moved.size() == n.size());
  CHECK(issuer.check(moved, 5000, 300).verdict == NonceIssuer::Verdict::invalid);
  CHECK(NonceIssuer("other").check(n, 1000, 300).verdict == NonceIssuer::Verdict::invalid);
  CHECK(issuer.check("", 1000, 300).verdict == NonceIssuer::Verdict::invalid);
  CHECK(issuer.check(std::string(NonceIssuer::kNonceSize, 'z'), 1000, 300).verdict ==
        NonceIssuer::Verdict::invalid);
  CHECK(NonceIssuer().issue(1) != NonceIssuer().issue(1));  // random secrets
}

namespace {

// The nonce's tag as OpenSSL's one-shot HMAC computes it: the first 128 bits of
// HMAC-SHA-256(secret, the 32 digits before the dot), in lower-case hex.
std::string reference_tag(const std::string& secret, std::string_view stamp) {
  unsigned char out[64];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(stamp.data()), stamp.size(), out, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 15];
  }
  return hex;
}

}  // namespace

TEST_CASE("digest: the nonce MAC is HMAC-SHA-256 for short, block-sized and long secrets, on any thread") {
  for (const std::string& secret :
       {std::string("secret"), std::string(64, 'k'), std::string(65, 'k'), std::string(200, '\x01')}) {
    NonceIssuer issuer(secret);
    const std::string n = issuer.issue(1234);
    REQUIRE(n.size() == NonceIssuer::kNonceSize);
    CHECK(n.substr(33) == reference_tag(secret, n.substr(0, 32)));
    // Copies share the keyed state; checks from several threads at once agree.
    const NonceIssuer copy = issuer;
    std::vector<std::thread> threads;
    std::vector<int> valid(4, 0);
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i)
          valid[t] += (t % 2 ? copy : issuer).check(n, 1234, 60).verdict == NonceIssuer::Verdict::valid;
      });
    for (auto& th : threads) th.join();
    for (int v : valid) CHECK(v == 200);
  }
}

TEST_CASE("digest: nonce counts must grow, replays are refused, memory is bounded") {
  NonceCounts counts(2, 2);
  CHECK(counts.accept("bob", "n1", 100, 1));
  CHECK_FALSE(counts.accept("bob", "n1", 100, 1));  // replay
  CHECK(counts.accept("bob", "n1", 100, 2));
  CHECK_FALSE(counts.accept("bob", "n1", 100, 2));
  CHECK_FALSE(counts.accept("bob", "n1", 100, 0));
  CHECK(counts.accept("alice", "n1", 100, 1));  // per user
  CHECK(counts.accept("bob", "n2", 101, 1));
  CHECK(counts.accept("bob", "n3", 102, 1));        // n1 forgotten: its floor is 100
  CHECK_FALSE(counts.accept("bob", "n1", 100, 3));  // a forgotten nonce never comes back
  CHECK_FALSE(counts.accept("bob", "n0", 99, 1));   // nor an older one
  CHECK(counts.accept("bob", "n2", 101, 2));        // still tracked

  CHECK(counts.accept("carol", "n9", 200, 1));  // a third user evicts one: global floor
  CHECK(counts.users() == 2);
  CHECK(parse_nonce_count("0000000a") == 10u);
  CHECK_FALSE(parse_nonce_count("1"));
  CHECK_FALSE(parse_nonce_count("0000000g"));
}
