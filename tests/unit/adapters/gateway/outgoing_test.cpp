#include "adapters/gateway/outgoing.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace parley::adapters::gateway;

TEST_CASE("raw_lines: one command per line, CR/LF/NUL cannot smuggle more, blank lines skipped") {
  std::vector<std::string> out;
  using namespace std::literals;
  raw_lines("TOPIC #a :x\r\nMODE #a +v bob\rWHO\0IS bob\n\n   \nQUIT"sv, 10, out);
  REQUIRE(out.size() == 4);
  CHECK(out[0] == "TOPIC #a :x\r\n");
  CHECK(out[1] == "MODE #a +v bob\r\n");
  CHECK(out[2] == "WHOIS bob\r\n");  // NUL dropped, not a line end
  CHECK(out[3] == "QUIT\r\n");
}

TEST_CASE("raw_lines: at most max_lines, each cut to 510 bytes at a UTF-8 boundary") {
  std::vector<std::string> out;
  raw_lines("A\nB\nC\nD", 2, out);
  CHECK(out == std::vector<std::string>{"A\r\n", "B\r\n"});
  out.clear();
  std::string longline = "PRIVMSG bob :" + std::string(600, 'x') + "\xc3\xa9";
  raw_lines(longline, 1, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].size() <= 512);
  CHECK(out[0].substr(out[0].size() - 2) == "\r\n");
  std::string cut = "PRIVMSG bob :" + std::string(496, 'x') + "\xc3\xa9";  // é straddles byte 510
  out.clear();
  raw_lines(cut, 1, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == "PRIVMSG bob :" + std::string(496, 'x') + "\r\n");
  out.clear();
  raw_lines("", 5, out);
  CHECK(out.empty());
}

TEST_CASE("privmsg_lines: XHTML-IM spans become mIRC codes, only over an untouched body") {
  using parley::protocols::irc::Span;
  std::vector<std::string> out;
  privmsg_lines("alice", "#c", "hi bold", 5, out, "PRIVMSG",
                {Span{.begin = 3, .end = 7, .flags = Span::bold}});
  REQUIRE(out.size() == 1);
  CHECK(out[0].find(":hi \x02"
                    "bold") != std::string::npos);
  // /me: the spans move with the text
  out.clear();
  privmsg_lines("alice", "#c", "/me waves", 5, out, "PRIVMSG",
                {Span{.begin = 4, .end = 9, .flags = Span::italic}});
  REQUIRE(out.size() == 1);
  CHECK(out[0].find("\x01"
                    "ACTION \x1d"
                    "waves") != std::string::npos);
  // a body that needed cleaning (CR LF) goes plain: the offsets would be wrong
  out.clear();
  privmsg_lines("alice", "#c", "a\r\nbold", 5, out, "PRIVMSG",
                {Span{.begin = 3, .end = 7, .flags = Span::bold}});
  REQUIRE(out.size() == 2);
  CHECK(out[1] == "PRIVMSG #c :bold\r\n");
}
