// The HTTP route table (adapters/common/http_routes.hpp): lookups, replacement, and the
// reply contract (first answer counts; a reply dropped unanswered sends 500).
#include "adapters/common/http_routes.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace parley::adapters;

TEST_CASE("routes: find, replace, remove, WebSocket endpoints are GET") {
  HttpRoutes r;
  CHECK_FALSE(r.find("/metrics"));
  r.handle("/metrics", {"GET"}, [](const HttpRequest&, HttpReply reply) {
    reply({200, "text/plain", "a", {}});
  });
  REQUIRE(r.find("/metrics"));
  CHECK(r.find("/metrics")->methods == std::vector<std::string>{"GET"});
  CHECK_FALSE(r.find("/metrics")->websocket);
  r.websocket("/irc", WsEndpoint{{"text.ircv3.net"}, false, false, [](WsUpgrade) {}});
  REQUIRE(r.find("/irc"));
  CHECK(r.find("/irc")->websocket);
  CHECK(r.find("/irc")->methods == std::vector<std::string>{"GET"});
  CHECK_FALSE(r.find("/irc/"));  // exact paths
  r.remove("/irc");
  CHECK_FALSE(r.find("/irc"));
}

TEST_CASE("a reply counts once, and one dropped unanswered sends 500") {
  std::vector<unsigned> got;
  {
    HttpReply reply([&](HttpResponse r) { got.push_back(r.status); });
    HttpReply copy = reply;
    copy({204, "", "", {}});
    reply({200, "", "", {}});
  }
  CHECK(got == std::vector<unsigned>{204});
  got.clear();
  {
    HttpReply dropped([&](HttpResponse r) { got.push_back(r.status); });
  }
  CHECK(got == std::vector<unsigned>{500});
}

TEST_CASE("request headers are found case-insensitively") {
  HttpRequest q;
  q.headers = {{"Sec-WebSocket-Key", "k"}, {"Host", "h"}};
  CHECK(q.header("sec-websocket-key") == "k");
  CHECK(q.header("HOST") == "h");
  CHECK(q.header("Origin").empty());
}
