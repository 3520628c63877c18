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

TEST_CASE("privmsg_lines: the one-line fast path writes what the general path writes") {
  // Bodies near every condition of the fast path: length at the budget, each control byte,
  // DEL, CR/LF, /me, a leading ':', UTF-8, targets that must go trailing.
  const std::vector<std::string> pieces = {"hello",
                                           " ",
                                           ":",
                                           "/me ",
                                           "/me",
                                           "\r",
                                           "\n",
                                           "\r\n",
                                           std::string(1, '\0'),
                                           "\x01",
                                           "\x02",
                                           std::string("\x03") + "4",
                                           "\x0f",
                                           "\x1f",
                                           "\t",
                                           "\x7f",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xff",
                                           "PRIVMSG #x :y",
                                           "QUIT",
                                           std::string(50, 'z')};
  const std::vector<std::string> targets = {"#c", "#chan", "bob", ":odd", "has space", ""};
  std::uint32_t seed = 20261205;
  auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
  for (int k = 0; k < 20000; ++k) {
    std::string body;
    const unsigned n = next() % 8;
    for (unsigned i = 0; i < n; ++i) body += pieces[next() % pieces.size()];
    if (next() % 4 == 0) body += std::string(300 + next() % 200, 'x');  // around the budget
    const std::string& target = targets[next() % targets.size()];
    const std::string nick = std::string(1 + next() % 30, 'n');
    const std::size_t max_lines = next() % 4;
    std::vector<std::string> fast, general;
    privmsg_lines(nick, target, body, max_lines, fast, k % 2 ? "PRIVMSG" : "NOTICE");
    privmsg_lines_general(nick, target, body, max_lines, general, k % 2 ? "PRIVMSG" : "NOTICE", {});
    CAPTURE(body);
    CAPTURE(target);
    REQUIRE(fast == general);
  }
  // Exactly at the budget and one byte over.
  for (std::size_t extra : {0, 1}) {
    const std::size_t budget = privmsg_budget("alice", "#c");
    std::vector<std::string> fast, general;
    std::string body(budget + extra, 'b');
    privmsg_lines("alice", "#c", body, 5, fast);
    privmsg_lines_general("alice", "#c", body, 5, general, "PRIVMSG", {});
    CHECK(fast == general);
    CHECK(fast.size() == 1 + extra);
  }
}

TEST_CASE("privmsg_lines: a plain line is one command, with CR, LF or NUL never a second one") {
  std::vector<std::string> out;
  privmsg_lines("alice", "#c", "hi there", 5, out);
  CHECK(out == std::vector<std::string>{"PRIVMSG #c :hi there\r\n"});
  out.clear();
  using namespace std::literals;
  for (std::string_view hostile : {"a\rQUIT"sv, "a\nQUIT"sv, "a\0QUIT"sv, "\r\nQUIT"sv}) {
    out.clear();
    privmsg_lines("alice", "#c", hostile, 5, out);
    for (const auto& l : out) {
      CAPTURE(l);
      CHECK(l.find_first_of("\r\n"sv) == l.size() - 2);  // only the line's own CRLF
      CHECK(l.find('\0') == std::string::npos);
      CHECK(l.starts_with("PRIVMSG #c :"));
    }
  }
}
