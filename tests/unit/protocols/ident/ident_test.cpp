// RFC 1413 queries and replies (protocols/ident/ident.hpp), hostile input included.
#include "protocols/ident/ident.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace parley::protocols::ident;

TEST_CASE("ident: well-formed queries (RFC 1413 §6 examples and whitespace)") {
  Query q;
  REQUIRE(parse_query("6191, 23", &q) == ParseResult::ok);
  CHECK(q.server_port == 6191);
  CHECK(q.client_port == 23);
  REQUIRE(parse_query("  6193 ,\t23 \r", &q) == ParseResult::ok);
  CHECK(q.server_port == 6193);
  REQUIRE(parse_query("65535,1", &q) == ParseResult::ok);
  CHECK(userid_reply(q, "alice") == "65535 , 1 : USERID : UNIX : alice\r\n");
  CHECK(error_reply(q, "NO-USER") == "65535 , 1 : ERROR : NO-USER\r\n");
}

TEST_CASE("ident: out-of-range ports are INVALID-PORT, garbage is malformed") {
  Query q;
  CHECK(parse_query("0 , 23", &q) == ParseResult::invalid_port);
  CHECK(parse_query("23 , 65536", &q) == ParseResult::invalid_port);
  CHECK(q.server_port == 23);
  CHECK(q.client_port == 0);
  CHECK(parse_query("99999999999999999999 , 1", &q) == ParseResult::malformed);  // > 10 digits
  CHECK(parse_query("4294967296 , 1", &q) == ParseResult::invalid_port);
  for (auto bad : {"", ",", "1", "1 2", "a , b", "-1 , 2", "+1 , 2", "1 , 2 , 3", "1 , 2 x", "0x10 , 1",
                   "1\0, 2", "1 , 2 : USERID"})
    CHECK_MESSAGE(parse_query(bad, &q) == ParseResult::malformed, bad);
  CHECK(parse_query(std::string(kMaxQueryLine + 1, ' ') + "1,2", &q) == ParseResult::malformed);
}

TEST_CASE("ident: a user id cannot break the reply line") {
  Query q{113, 6667};
  CHECK(userid_reply(q, "a:b\r\nc d") == "113 , 6667 : USERID : UNIX : a_b__c_d\r\n");
  CHECK(userid_reply(q, "") == "113 , 6667 : USERID : UNIX : unknown\r\n");
  CHECK(userid_reply(q, std::string(200, 'x')).size() ==
        std::string("113 , 6667 : USERID : UNIX : \r\n").size() + 64);
}
