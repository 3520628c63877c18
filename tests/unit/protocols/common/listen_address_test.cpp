#include <doctest/doctest.h>

// The one listen-address parser (protocols/common/listen_address.hpp): the config loader
// and every listener use it.
#include "protocols/common/listen_address.hpp"

using namespace parley::protocols;

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
  CHECK(v6->str() == "[::1]:6667");

  auto t6 = parse_listen("tls:[::1]:6697", ListenStyle::stream);
  REQUIRE(t6);
  CHECK(t6->tls());
  CHECK(t6->ipv6);
  CHECK(t6->host == "::1");
  CHECK(t6->str() == "tls:[::1]:6697");
  // "tcp:" is accepted and left out when written back.
  auto p = parse_listen("tcp:127.0.0.1:6667", ListenStyle::stream);
  REQUIRE(p);
  CHECK_FALSE(p->tls());
  CHECK(p->str() == "127.0.0.1:6667");
  CHECK(*p == *a);

  std::string why;
  CHECK_FALSE(parse_listen("udp:127.0.0.1:1", ListenStyle::stream, &why));
  CHECK(why.find("udp is only for sip") != std::string::npos);
  CHECK_FALSE(parse_listen("::1:6667", ListenStyle::stream, &why));
  CHECK(why.find("bracketed") != std::string::npos);
  CHECK_FALSE(parse_listen("127.0.0.1:0", ListenStyle::stream, &why));
  CHECK(why.find("port must be 1..65535") != std::string::npos);
  CHECK_FALSE(parse_listen("localhost:6667", ListenStyle::stream, &why));
  CHECK(why.find("host is not an IP address") != std::string::npos);
  for (const char* bad : {"",
                          "127.0.0.1",
                          "127.0.0.1:",
                          "127.0.0.1:x",
                          "127.0.0.1:65536",
                          "127.0.0.1:99999",
                          "127.0.0.1:-1",
                          "127.0.0.1:+5",
                          "127.0.0.1:5 ",
                          "[::1:5",
                          "[::1]5",
                          "[::1]",
                          "[::1]:",
                          "[]:5",
                          "[127.0.0.1]:5",
                          "300.0.0.1:5",
                          "::1:5",
                          "host:5",
                          ":5",
                          "tls:",
                          "tls:127.0.0.1",
                          "TLS:127.0.0.1:5",
                          "ssl:127.0.0.1:5"}) {
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

TEST_CASE("parse_server_address: host names and IP literals, each with a port") {
  auto n = parse_server_address("localhost:5347");
  REQUIRE(n);
  CHECK(n->host == "localhost");
  CHECK(n->port == 5347);
  auto f = parse_server_address("xmpp-1.example.org:5275");
  REQUIRE(f);
  CHECK(f->host == "xmpp-1.example.org");
  auto v4 = parse_server_address("127.0.0.1:5347");
  REQUIRE(v4);
  CHECK(v4->host == "127.0.0.1");
  auto v6 = parse_server_address("[::1]:5347");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  std::string why;
  for (const char* bad :
       {"localhost", "localhost:", "localhost:0", "localhost:65536", ":5347", "-bad.example:1",
        "bad-.example:1", "a..b:1", "under_score:1", "sp ace:1", "::1:5347", "[::1:5347", "[nothost]:1",
        "1.2.3.999:5", "host:5x", "tls:localhost:5347"}) {
    CHECK_MESSAGE(!parse_server_address(bad, &why), bad);
    CHECK(why.find("expected HOST:PORT") != std::string::npos);
  }
  CHECK_FALSE(parse_server_address(std::string(254, 'a') + ":1"));
  CHECK_FALSE(parse_server_address(std::string(64, 'a') + ".org:1"));
  CHECK(parse_server_address(std::string(63, 'a') + ".org:1"));
}
