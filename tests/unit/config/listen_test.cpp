#include <doctest/doctest.h>

#include "config/listen.hpp"

using namespace parley::config;

TEST_CASE("parse_listen: stream addresses") {
  auto a = parse_listen("127.0.0.1:6667", ListenStyle::stream);
  REQUIRE(a);
  CHECK(a->transport == Transport::tcp);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 6667);
  CHECK(a->endpoint() == "127.0.0.1:6667");

  auto t = parse_listen("tls:0.0.0.0:6697", ListenStyle::stream);
  REQUIRE(t);
  CHECK(t->transport == Transport::tls);
  CHECK(t->port == 6697);

  auto v6 = parse_listen("[::1]:6667", ListenStyle::stream);
  REQUIRE(v6);
  CHECK(v6->ipv6);
  CHECK(v6->host == "::1");
  CHECK(v6->endpoint() == "[::1]:6667");

  std::string why;
  CHECK_FALSE(parse_listen("udp:127.0.0.1:1", ListenStyle::stream, &why));
  CHECK(why.find("udp is only for sip") != std::string::npos);
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536", "[::1:5", "[::1]5",
                          "[127.0.0.1]:5", "300.0.0.1:5", "::1:5", "host:5", ":5"}) {
    INFO(bad);
    CHECK_FALSE(parse_listen(bad, ListenStyle::stream));
  }
}

TEST_CASE("parse_listen: sip addresses need a transport") {
  auto u = parse_listen("udp:127.0.0.1:5060", ListenStyle::sip);
  REQUIRE(u);
  CHECK(u->transport == Transport::udp);
  auto t = parse_listen("tcp:[::1]:5060", ListenStyle::sip);
  REQUIRE(t);
  CHECK(t->transport == Transport::tcp);
  CHECK(parse_listen("tls:127.0.0.1:5061", ListenStyle::sip));
  std::string why;
  CHECK_FALSE(parse_listen("127.0.0.1:5060", ListenStyle::sip, &why));
  CHECK(why.find("expected TRANSPORT:HOST:PORT") != std::string::npos);
}
