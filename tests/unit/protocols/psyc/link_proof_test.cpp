#include "protocols/psyc/link_proof.hpp"

#include <doctest/doctest.h>

namespace pp = parley::protocols::psyc;

TEST_CASE("link proofs: HMAC-SHA-256 over label, both uniforms and the nonce") {
  // RFC 4231 style check against a value computed independently:
  // printf 'dialer|psyc://a|psyc://b|n1' | openssl dgst -sha256 -hmac s3cret
  CHECK(pp::link_proof("s3cret", "dialer", "psyc://a", "psyc://b", "n1") ==
        "483328e15bd2f6e2c7b19c975f33e97310728866c9ce673dd48275189788cc90");
  auto p = pp::link_proof("s3cret", "dialer", "psyc://a", "psyc://b", "n1");
  CHECK(p.size() == 64);
  CHECK(p != pp::link_proof("s3cret", "acceptor", "psyc://a", "psyc://b", "n1"));  // no reflection
  CHECK(p != pp::link_proof("other", "dialer", "psyc://a", "psyc://b", "n1"));
  CHECK(p != pp::link_proof("s3cret", "dialer", "psyc://a", "psyc://b", "n2"));
  CHECK(pp::proof_matches(p, p));
  CHECK_FALSE(pp::proof_matches(p, p.substr(1)));
  CHECK_FALSE(pp::proof_matches("", ""));
  auto n1 = pp::make_nonce(), n2 = pp::make_nonce();
  CHECK(n1.size() == 64);
  CHECK(n1 != n2);
}
