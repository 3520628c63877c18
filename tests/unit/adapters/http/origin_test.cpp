#include "adapters/http/origin.hpp"

#include <doctest/doctest.h>

using parley::adapters::http::origin_allowed;

TEST_CASE("origin_allowed: an empty list allows every origin") {
  CHECK(origin_allowed({}, "https://evil.example"));
  CHECK(origin_allowed({}, ""));
  CHECK(origin_allowed({}, "null"));
}

TEST_CASE("origin_allowed: a list allows only its origins, case-insensitively") {
  const std::vector<std::string> list{"https://chat.example", "http://localhost:8080/"};
  CHECK(origin_allowed(list, "https://chat.example"));
  CHECK(origin_allowed(list, "HTTPS://Chat.Example"));
  CHECK(origin_allowed(list, "http://localhost:8080"));  // the list's trailing "/" is ignored
  CHECK_FALSE(origin_allowed(list, "https://evil.example"));
  CHECK_FALSE(origin_allowed(list, "http://chat.example"));        // another scheme
  CHECK_FALSE(origin_allowed(list, "https://chat.example:8443"));  // another port
  CHECK_FALSE(origin_allowed(list, "https://chat.example.evil"));  // no prefix match
  CHECK_FALSE(origin_allowed(list, "null"));                       // an opaque origin (RFC 6454 §7.3)
}

TEST_CASE("origin_allowed: no Origin header is not a browser and passes") {
  CHECK(origin_allowed({"https://chat.example"}, ""));
}
