#include "core/services/password_hash.hpp"

#include <doctest/doctest.h>

using namespace parley::core;

TEST_CASE("password hash: format, round trip, wrong password") {
  std::string h = hash_password("s3cret", 1000);
  REQUIRE(h.rfind("$pbkdf2-sha256$1000$", 0) == 0);
  auto parsed = parse_password_hash(h);
  REQUIRE(parsed);
  CHECK(parsed->iterations == 1000);
  CHECK(parsed->salt.size() == 16);
  CHECK(parsed->key.size() == 32);
  CHECK(password_matches(h, "s3cret"));
  CHECK_FALSE(password_matches(h, "s3cret "));
  CHECK_FALSE(password_matches(h, ""));
  CHECK(hash_password("s3cret", 1000) != h);  // a fresh salt each time
}

TEST_CASE("password hash: a known vector (PBKDF2-HMAC-SHA256, RFC 7914 section 11)") {
  // P = "passwd", S = "salt", c = 1, dkLen = 64: the first 32 bytes.
  std::string stored =
      "$pbkdf2-sha256$1$" + base64_encode("salt") + "$" +
      base64_encode(std::string("\x55\xac\x04\x6e\x56\xe3\x08\x9f\xec\x16\x91\xc2\x25\x44\xb6\x05"
                                "\xf9\x41\x85\x21\x6d\xde\x04\x65\xe6\x8b\x9d\x57\xc2\x0d\xac\xbc",
                                32));
  CHECK(password_matches(stored, "passwd"));
  CHECK_FALSE(password_matches(stored, "passwe"));
}

TEST_CASE("password hash: plaintext compatibility and malformed hashes") {
  CHECK(password_matches("operpassword", "operpassword"));
  CHECK_FALSE(password_matches("operpassword", "operpasswor"));
  CHECK_FALSE(password_matches("operpassword", "operpassword2"));
  CHECK(is_password_hash("$pbkdf2-sha256$x"));
  CHECK_FALSE(parse_password_hash("$pbkdf2-sha256$x$c2FsdA==$AAAA"));
  CHECK_FALSE(parse_password_hash("$pbkdf2-sha256$0$c2FsdA==$" + base64_encode(std::string(32, 'k'))));
  CHECK_FALSE(parse_password_hash("$pbkdf2-sha256$10$c2FsdA==$" + base64_encode(std::string(31, 'k'))));
  CHECK_FALSE(parse_password_hash("$pbkdf2-sha256$10$!!!!$" + base64_encode(std::string(32, 'k'))));
  CHECK_FALSE(
      parse_password_hash("$pbkdf2-sha256$10$c2FsdA==$" + base64_encode(std::string(32, 'k')) + "$x"));
  CHECK(parse_password_hash("$pbkdf2-sha256$10$c2FsdA==$" + base64_encode(std::string(32, 'k'))));
  // A malformed hash matches nothing, not even its own text.
  CHECK_FALSE(password_matches("$pbkdf2-sha256$x", "$pbkdf2-sha256$x"));
}

TEST_CASE("base64 round trips every length and refuses bad input") {
  std::string raw;
  for (int i = 0; i < 40; ++i) {
    CHECK(base64_decode(base64_encode(raw)) == std::optional<std::string>(raw));
    raw += static_cast<char>(i * 37);
  }
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_encode("abc") == "YWJj");
  CHECK_FALSE(base64_decode("YWI"));
  CHECK_FALSE(base64_decode("Y=I="));
  CHECK_FALSE(base64_decode("YW=j"));
}
