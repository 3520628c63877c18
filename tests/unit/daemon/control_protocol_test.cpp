#include "daemon/control_protocol.hpp"

#include <doctest/doctest.h>

using namespace parley::daemon;

TEST_CASE("control: a request line splits into words") {
  std::string why;
  auto w = parse_control_line("kick  12 too   noisy\r", why);
  REQUIRE(w);
  CHECK(*w == std::vector<std::string>{"kick", "12", "too", "noisy"});
  CHECK(control_needs_secret({"account", "add", "alice"}));
  CHECK(control_needs_secret({"account", "passwd", "alice"}));
  CHECK_FALSE(control_needs_secret({"account", "list"}));
  CHECK(render_control_request({{"account", "add", "alice"}, "pw"}) == "account add alice\npw\n");
  CHECK(render_control_request({{"status"}, "ignored"}) == "status\n");
}

TEST_CASE("control: malformed requests are refused with a reason") {
  std::string why;
  CHECK_FALSE(parse_control_line("", why));
  CHECK(why == "empty request");
  CHECK_FALSE(parse_control_line("   ", why));
  CHECK_FALSE(parse_control_line(std::string("sta\0tus", 7), why));
  CHECK(why == "control character in the request");
  CHECK_FALSE(parse_control_line("a\x1b[2J", why));
  CHECK_FALSE(parse_control_line(std::string(kMaxControlRequest + 1, 'a'), why));
  CHECK(why == "request too long");
  std::string many;
  for (std::size_t i = 0; i <= kMaxControlWords; ++i) many += "w ";
  CHECK_FALSE(parse_control_line(many, why));
  CHECK(why == "too many words in the request");
}

TEST_CASE("control: answers") {
  CHECK(control_ok("a\nb") == "ok\na\nb\n");
  CHECK(control_ok("") == "ok\n");
  CHECK(control_error("bad\nthing") == "error bad thing\n");
  auto a = parse_control_answer("ok\nuptime 3\n");
  CHECK(a.ok);
  CHECK(a.text == "uptime 3\n");
  a = parse_control_answer("error no session 9\n");
  CHECK_FALSE(a.ok);
  CHECK(a.text == "no session 9");
  CHECK_FALSE(parse_control_answer("").ok);
  CHECK_FALSE(parse_control_answer("garbage").ok);
}
