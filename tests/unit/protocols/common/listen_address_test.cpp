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

TEST_CASE("parse_proxy_address: names and IP literals, the port defaulting by transport") {
  auto n = parse_proxy_address("udp:sip.example.org:5070");
  REQUIRE(n);
  CHECK(n->transport == Transport::udp);
  CHECK(n->host == "sip.example.org");
  CHECK(n->port == 5070);
  CHECK(n->name);
  CHECK_FALSE(n->ipv6);
  CHECK(n->str() == "udp:sip.example.org:5070");
  auto t = parse_proxy_address("tcp:proxy.example.org");
  REQUIRE(t);
  CHECK(t->port == 5060);
  auto s = parse_proxy_address("tls:Proxy-1.Example.org");
  REQUIRE(s);
  CHECK(s->transport == Transport::tls);
  CHECK(s->port == 5061);
  CHECK(s->host == "Proxy-1.Example.org");
  auto l = parse_proxy_address("udp:localhost");
  REQUIRE(l);
  CHECK(l->name);
  // IP literals as before, and now with an optional port.
  auto v4 = parse_proxy_address("udp:127.0.0.1:5060");
  REQUIRE(v4);
  CHECK_FALSE(v4->name);
  CHECK(v4->host == "127.0.0.1");
  CHECK(parse_proxy_address("tcp:127.0.0.1")->port == 5060);
  auto v6 = parse_proxy_address("tls:[::1]:5062");
  REQUIRE(v6);
  CHECK(v6->ipv6);
  CHECK_FALSE(v6->name);
  CHECK(v6->host == "::1");
  CHECK(v6->str() == "tls:[::1]:5062");
  auto v6d = parse_proxy_address("tls:[2001:db8::1]");
  REQUIRE(v6d);
  CHECK(v6d->port == 5061);
}

TEST_CASE("parse_proxy_address: malformed names, ports and brackets are refused with the reason") {
  std::string why;
  for (const char* bad : {"",
                          "sip.example.org:5060",
                          "sip:sip.example.org",
                          "UDP:sip.example.org",
                          "udp:",
                          "udp::5060",
                          "udp:host:",
                          "udp:host:0",
                          "udp:host:65536",
                          "udp:host:5x",
                          "udp:host:-1",
                          "udp:host:5060:1",
                          "udp:::1",
                          "udp:::1:5060",
                          "udp:[::1",
                          "udp:[::1]:",
                          "udp:[::1]5060",
                          "udp:[::1]x",
                          "udp:[]:5060",
                          "udp:[nothost]:1",
                          "udp:[127.0.0.1]:5060",
                          "udp:-bad.example",
                          "udp:bad-.example",
                          "udp:a..b",
                          "udp:.example.org",
                          "udp:example.org.",
                          "udp:under_score.org",
                          "udp:sp ace.org",
                          "udp:1.2.3.999",
                          "udp:300.1.1.1:5060",
                          "udp:exa\nmple.org",
                          "udp:ex%41mple.org",
                          "udp:host;transport=tcp",
                          "udp:user@host",
                          "tcp: host"}) {
    why.clear();
    CHECK_MESSAGE(!parse_proxy_address(bad, &why), bad);
    CHECK_MESSAGE(why.find("expected TRANSPORT:HOST[:PORT]") != std::string::npos, bad);
  }
  CHECK(parse_proxy_address("udp:[::1:5060", &why) == std::nullopt);
  CHECK(why.find("unclosed '['") != std::string::npos);
  CHECK_FALSE(parse_proxy_address("udp:host:99999", &why));
  CHECK(why.find("port must be 1..65535") != std::string::npos);
  // RFC 1123 bounds: 63 bytes a label, 253 the name.
  CHECK(parse_proxy_address("udp:" + std::string(63, 'a') + ".org"));
  CHECK_FALSE(parse_proxy_address("udp:" + std::string(64, 'a') + ".org"));
  std::string long_name;
  while (long_name.size() < 250) long_name += std::string(9, 'b') + ".";
  long_name += "org";  // 253 bytes: the longest name
  CHECK(parse_proxy_address("udp:" + long_name));
  CHECK_FALSE(parse_proxy_address("udp:x" + long_name));
  // A huge input is refused and the message quotes at most 300 bytes of it.
  CHECK_FALSE(parse_proxy_address("udp:" + std::string(100000, 'a'), &why));
  CHECK(why.size() < 700);
}
