#include "protocols/sip/text.hpp"

#include <doctest/doctest.h>

using namespace parley::protocols::sip;

TEST_CASE("sip text: bodies are UTF-8 with LF line ends and no controls") {
  CHECK(clean_text_body("hi\r\nthere\rnow\n") == "hi\nthere\nnow\n");
  CHECK(clean_text_body(std::string("a\0b\x01\x7f\tc", 7)) == "ab\tc");
  CHECK(clean_text_body("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK_FALSE(clean_text_body("\xff\xfe"));
  CHECK_FALSE(clean_text_body("\xc3"));
}

TEST_CASE("sip text: header values never break a header") {
  CHECK(header_safe("a\r\nInjected: x") == "a  Injected: x");
  CHECK(header_safe("\xc3\xa9\xc3\xa9", 3) == "\xc3\xa9");
  CHECK(escape_user("bob") == "bob");
  CHECK(escape_user("a b@c<") == "a%20b%40c%3C");
}
