#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/irc/message.hpp"
#include "protocols/irc/text.hpp"

using namespace parley::protocols::irc;

namespace {

struct Parsed {
  std::string tags, prefix, command;
  std::vector<std::string> params;
  ParseError error = ParseError::none;
};

// Feeds `input` through a LineFramer, whole or one byte at a time, and parses each line.
std::vector<Parsed> run(std::string_view input, bool bytewise, Fallback fb = Fallback::latin1) {
  LineFramer framer(fb);
  std::vector<Parsed> out;
  std::string buf;
  auto drain = [&] {
    while (true) {
      auto r = framer.next(buf);
      if (r.status == LineFramer::Status::need_more) {
        buf.erase(0, r.consumed);
        break;
      }
      Parsed p;
      if (r.status == LineFramer::Status::error) {
        p.error = r.error;
      } else {
        Message m;
        p.error = parse_line(r.line, m);
        if (p.error == ParseError::none) {
          p.tags = m.tags;
          p.prefix = m.prefix;
          p.command = m.command;
          for (std::size_t i = 0; i < m.nparams; ++i) p.params.emplace_back(m.params[i]);
        }
      }
      out.push_back(p);
      buf.erase(0, r.consumed);  // r.line views into buf: drop the bytes only now
    }
  };
  if (bytewise) {
    for (char c : input) {
      buf.push_back(c);
      drain();
    }
  } else {
    buf = input;
    drain();
  }
  return out;
}

struct Case {
  const char* name;
  std::string input;
  std::string tags, prefix, command;
  std::vector<std::string> params;
  ParseError error = ParseError::none;
};

}  // namespace

TEST_CASE("irc codec: table of lines, whole and byte by byte") {
  std::vector<Case> cases = {
      {"simple", "PING :abc\r\n", "", "", "PING", {"abc"}},
      {"lf only", "NICK alice\n", "", "", "NICK", {"alice"}},
      {"prefix", ":nick!u@h PRIVMSG #dev :hello world\r\n", "", "nick!u@h", "PRIVMSG", {"#dev", "hello world"}},
      {"tags", "@time=2020;+x=y\\sz :srv 001 a :Welcome\r\n", "time=2020;+x=y\\sz", "srv", "001", {"a", "Welcome"}},
      {"empty trailing", "TOPIC #a :\r\n", "", "", "TOPIC", {"#a", ""}},
      {"extra spaces", "USER  a   0 *  :Real Name\r\n", "", "", "USER", {"a", "0", "*", "Real Name"}},
      {"colon inside", "PRIVMSG #a a:b\r\n", "", "", "PRIVMSG", {"#a", "a:b"}},
      {"no params", "QUIT\r\n", "", "", "QUIT", {}},
      {"numeric", "421 x FOO :Unknown\r\n", "", "", "421", {"x", "FOO", "Unknown"}},
      {"latin1", "PRIVMSG #a :caf\xe9\r\n", "", "", "PRIVMSG", {"#a", "caf\xc3\xa9"}},
      {"utf8 kept", "PRIVMSG #a :caf\xc3\xa9\r\n", "", "", "PRIVMSG", {"#a", "caf\xc3\xa9"}},
      {"bad command", "PRIV-MSG x\r\n", "", "", "", {}, ParseError::bad_command},
      {"prefix only", ":abc\r\n", "", "", "", {}, ParseError::no_command},
      {"tags only", "@a=b\r\n", "", "", "", {}, ParseError::no_command},
      {"blank", "\r\n", "", "", "", {}, ParseError::empty},
      {"nul", std::string("PRIVMSG #a :x\0y\r\n", 17), "", "", "", {}, ParseError::bad_character},
      {"too long body", "PRIVMSG #a :" + std::string(600, 'x') + "\r\n", "", "", "", {}, ParseError::line_too_long},
      {"too long tags", "@a=" + std::string(8200, 'x') + " PING x\r\n", "", "", "", {}, ParseError::tags_too_long},
  };
  // 16 params: the 15th takes the rest.
  {
    Case c{"many params", "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\r\n", "", "", "CMD", {}};
    for (int i = 1; i <= 14; ++i) c.params.push_back(std::to_string(i));
    c.params.push_back("15 16");
    cases.push_back(c);
  }
  for (bool bytewise : {false, true}) {
    for (const auto& c : cases) {
      CAPTURE(c.name);
      CAPTURE(bytewise);
      auto r = run(c.input, bytewise);
      REQUIRE(r.size() == 1);
      CHECK(r[0].error == c.error);
      if (c.error != ParseError::none) continue;
      CHECK(r[0].tags == c.tags);
      CHECK(r[0].prefix == c.prefix);
      CHECK(r[0].command == c.command);
      CHECK(r[0].params == c.params);
    }
  }
}

TEST_CASE("irc codec: a Message parsed again holds only the new line") {
  // parse_line resets only what it sets (not the params array): nothing of the previous line
  // may show through param(), nparams, trailing, tags, prefix or an error's partial fields.
  Message m;
  REQUIRE(parse_line("@a=b :n!u@h PRIVMSG #c d e f :long trailing text", m) == ParseError::none);
  CHECK(m.nparams == 5);
  CHECK(m.trailing);
  REQUIRE(parse_line("PING x", m) == ParseError::none);
  CHECK(m.tags.empty());
  CHECK(m.prefix.empty());
  CHECK(m.command == "PING");
  CHECK(m.nparams == 1);
  CHECK_FALSE(m.trailing);
  CHECK(m.param(0) == "x");
  CHECK(m.param(1).empty());
  CHECK(m.param(4).empty());
  REQUIRE(parse_line(":n!u@h PRIVMSG #c :x", m) == ParseError::none);
  REQUIRE(parse_line(":p 1x2 a b", m) == ParseError::bad_command);  // prefix and command set, no params
  CHECK(m.prefix == "p");
  CHECK(m.command == "1x2");
  CHECK(m.nparams == 0);
  CHECK_FALSE(m.trailing);
  REQUIRE(parse_line(std::string_view("PRIVMSG #c :a\0b", 15), m) == ParseError::bad_character);
  CHECK(m.command.empty());
  CHECK(m.nparams == 0);
  // Commands: letters of either case, or exactly three digits; nothing else.
  for (std::string_view ok : {"privmsg", "PrivMsg", "001", "Z", "a"}) {
    CAPTURE(ok);
    CHECK(parse_line(std::string(ok) + " x", m) == ParseError::none);
  }
  for (std::string_view bad : {"PRIV[MSG", "PRIV@MSG", "0001", "01", "1A", "PRIV\xc3\xa9", "`a", "{a"}) {
    CAPTURE(bad);
    CHECK(parse_line(std::string(bad) + " x", m) == ParseError::bad_command);
  }
}

TEST_CASE("irc codec: overlong unterminated line is discarded once, framing recovers") {
  std::string input = std::string(20000, 'a') + "\r\nPING :ok\r\n";
  for (bool bytewise : {false, true}) {
    auto r = run(input, bytewise);
    REQUIRE(r.size() == 2);
    CHECK(r[0].error == ParseError::line_too_long);
    CHECK(r[1].command == "PING");
    CHECK(r[1].params == std::vector<std::string>{"ok"});
  }
}

TEST_CASE("irc codec: reject fallback") {
  auto r = run("PRIVMSG #a :\xff\r\n", false, Fallback::reject);
  REQUIRE(r.size() == 1);
  CHECK(r[0].error == ParseError::bad_encoding);
}

TEST_CASE("irc codec: next_raw gives the bytes as sent, decode what next gives") {
  const std::string_view input = "PRIVMSG #a :caf\xe9\r\nPING x\r\n";
  LineFramer raw_framer, framer;
  auto raw = raw_framer.next_raw(input);
  REQUIRE(raw.status == LineFramer::Status::line);
  CHECK(raw.line == "PRIVMSG #a :caf\xe9");  // not converted yet
  const auto whole = framer.next(input);
  const auto decoded = raw_framer.decode(raw);
  REQUIRE(decoded.status == LineFramer::Status::line);
  CHECK(decoded.line == "PRIVMSG #a :caf\xc3\xa9");
  CHECK(decoded.line == whole.line);
  CHECK(decoded.consumed == whole.consumed);
  // Skipped between the two: the framer goes on with the next line.
  auto next = raw_framer.next_raw(input.substr(raw.consumed));
  CHECK(next.line == "PING x");
  // With fallback reject the error comes at decode.
  LineFramer strict(Fallback::reject);
  raw = strict.next_raw(input);
  CHECK(raw.status == LineFramer::Status::line);
  CHECK(strict.decode(raw).error == ParseError::bad_encoding);
  // An overlong line is an error already as sent, and decode leaves it one.
  const std::string long_line = std::string(20000, 'a') + "\r\n";
  raw = LineFramer().next_raw(long_line);
  CHECK(raw.error == ParseError::line_too_long);
  CHECK(LineFramer().decode(raw).status == LineFramer::Status::error);
}

TEST_CASE("irc codec: a latin-1 line is parsed with the limit its bytes as sent kept") {
  const std::string line = "PRIVMSG #a :" + std::string(480, '\xe9') + "\r\n";  // 494 bytes as sent
  LineFramer f;
  const auto r = f.next(line);
  REQUIRE(r.status == LineFramer::Status::line);
  CHECK(r.converted);
  Message m;
  CHECK(parse_line(r.line, m) == ParseError::line_too_long);  // 974 bytes once converted
  REQUIRE(parse_line(r.line, m, kMaxConvertedBody) == ParseError::none);
  CHECK(m.param(1).size() == 960);
  // Over the limit as sent: an error before any conversion.
  CHECK(LineFramer().next("PRIVMSG #a :" + std::string(520, '\xe9') + "\r\n").status ==
        LineFramer::Status::error);
  CHECK_FALSE(LineFramer().next("PRIVMSG #a :x\r\n").converted);
}

TEST_CASE("irc codec: the tail of an overlong line dropped before a line is counted apart") {
  LineFramer f;
  const std::string head(kMaxLine + 10, 'a');
  auto r = f.next_raw(head);  // no LF yet: dropped, and the rest up to the LF will be
  CHECK(r.error == ParseError::line_too_long);
  CHECK(r.consumed == head.size());
  r = f.next_raw("bbb");
  CHECK(r.status == LineFramer::Status::need_more);
  CHECK(r.consumed == 3);
  CHECK(r.discarded == 3);
  r = f.next_raw("tail\r\nPING x\r\n");
  REQUIRE(r.status == LineFramer::Status::line);
  CHECK(r.line == "PING x");
  CHECK(r.consumed == 14);
  CHECK(r.discarded == 6);  // "tail\r\n": not this line's bytes
  r = f.next_raw("PING y\r\n");
  CHECK(r.discarded == 0);
  // The first overlong part counts as the error's own bytes; a tail then an error.
  r = f.next_raw(head);
  CHECK(r.discarded == 0);
  r = f.next_raw("end\n" + head + "\n");
  CHECK(r.error == ParseError::line_too_long);
  CHECK(r.discarded == 4);
  CHECK(r.consumed == 4 + head.size() + 1);
}

TEST_CASE("irc codec: several lines in one buffer") {
  auto r = run("NICK a\r\nUSER a 0 * :A\nPING x\r\n", false);
  REQUIRE(r.size() == 3);
  CHECK(r[2].command == "PING");
}

TEST_CASE("irc codec: tag escaping round trip") {
  std::string esc;
  escape_tag_value("a; b\\c\r\n", esc);
  CHECK(esc == "a\\:\\sb\\\\c\\r\\n");
  CHECK(unescape_tag_value(esc) == "a; b\\c\r\n");
  CHECK(unescape_tag_value("x\\") == "x");
  CHECK(unescape_tag_value("\\b") == "b");
  std::vector<std::pair<std::string, std::string>> tags;
  for_each_tag("a=1;b;;+c=x", [&](Tag t) { tags.emplace_back(t.key, t.value); });
  CHECK(tags.size() == 3);
  CHECK(tags[1].first == "b");
  CHECK(tags[2].first == "+c");
}

TEST_CASE("irc codec: utf8 validity") {
  CHECK(is_valid_utf8("plain ascii text"));
  CHECK(is_valid_utf8("\xe2\x82\xac"));
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  CHECK(utf8_truncate("a\xe2\x82\xac", 3) == "a");
}

TEST_CASE("irc codec: writer") {
  std::string out;
  LineWriter(out).prefix("srv").numeric(1).param("alice").trailing("Welcome").end();
  CHECK(out == ":srv 001 alice :Welcome\r\n");
  out.clear();
  LineWriter(out).tags("time=x").prefix("a!b@c").command("PRIVMSG").param("#dev").param("hi there").end();
  CHECK(out == "@time=x :a!b@c PRIVMSG #dev :hi there\r\n");
  out.clear();
  LineWriter(out).command("PING").param(":x").end();
  CHECK(out == "PING ::x\r\n");
  out.clear();
  LineWriter(out).prefix("s").command("NOTICE").param("a").trailing(std::string(600, 'y') + "\r\nQUIT").end();
  CHECK(out.size() == 512);
  CHECK(out.find("\r\n") == 510);
}

TEST_CASE("irc text: formatting to spans and back") {
  auto s = parse_formatting("a \x02" "bold\x02 \x1Dit\x0F \x03" "04,01red\x03 x");
  CHECK(s.text == "a bold it red x");
  REQUIRE(s.spans.size() == 3);
  CHECK(s.spans[0] == Span{2, 6, Span::bold, std::nullopt, std::nullopt});
  CHECK(s.spans[1] == Span{7, 9, Span::italic, std::nullopt, std::nullopt});
  CHECK(s.spans[2].begin == 10);
  CHECK(s.spans[2].end == 13);
  CHECK(s.spans[2].fg == 0xFF0000u);
  CHECK(s.spans[2].bg == 0x000000u);
  auto back = render_formatting(s.text, s.spans);
  auto again = parse_formatting(back);
  CHECK(again.text == s.text);
  CHECK(again.spans == s.spans);
  CHECK(parse_formatting("plain").spans.empty());
  auto hex = parse_formatting("\x04" "112233,445566z");
  CHECK(hex.text == "z");
  CHECK(hex.spans.at(0).fg == 0x112233u);
  CHECK(hex.spans.at(0).bg == 0x445566u);
  auto m = parse_formatting("\x11" "code\x11 \x1Fu\x1F \x1Es");
  CHECK(m.spans.size() == 3);
  CHECK(m.spans[0].flags == Span::monospace);
}

TEST_CASE("irc text: ctcp, casemapping, names, masks") {
  CHECK(ctcp_action("\x01" "ACTION waves\x01") == std::optional<std::string_view>("waves"));
  CHECK(ctcp_action("\x01" "ACTION waves") == std::optional<std::string_view>("waves"));
  CHECK_FALSE(ctcp_action("hello"));
  CHECK_FALSE(ctcp_action("\x01VERSION\x01"));
  CHECK(make_ctcp_action("x") == "\x01" "ACTION x\x01");
  CHECK(casefold("AbC[]") == "abc[]");
  CHECK(equal_fold("Alice", "aLICE"));
  CHECK(is_valid_nick("alice", 30));
  CHECK(is_valid_nick("[x]_`|^{}", 30));
  CHECK_FALSE(is_valid_nick("1abc", 30));
  CHECK_FALSE(is_valid_nick("a b", 30));
  CHECK_FALSE(is_valid_nick(std::string(31, 'a'), 30));
  CHECK(is_valid_channel("#dev", 64));
  CHECK_FALSE(is_valid_channel("dev", 64));
  CHECK_FALSE(is_valid_channel("#a,b", 64));
  CHECK(mask_match("*!*@127.*", "Alice!a@127.0.0.1"));
  CHECK(mask_match("a?ice*", "ALICE!x"));
  CHECK_FALSE(mask_match("bob*", "alice"));
}

TEST_CASE("irc text: comma lists drop empty items, tag lists escape values") {
  using parley::protocols::irc::split_list;
  CHECK(split_list("#a,#b") == std::vector<std::string_view>{"#a", "#b"});
  CHECK(split_list(",#a,,#b,") == std::vector<std::string_view>{"#a", "#b"});
  CHECK(split_list("").empty());
  CHECK(split_list(",,").empty());
  std::string tags;
  parley::protocols::irc::append_tag(tags, "time", "2026-11-25T10:00:00.000Z");
  parley::protocols::irc::append_tag(tags, "label", "a b;c\\");
  CHECK(tags == "time=2026-11-25T10:00:00.000Z;label=a\\sb\\:c\\\\");
}

TEST_CASE("LineWriter: CR, LF and NUL anywhere in a line become spaces, one CRLF ends it") {
  using namespace std::literals;
  for (std::string_view bad : {"\r"sv, "\n"sv, "\0"sv, "\r\n"sv}) {
    for (int where = 0; where < 3; ++where) {
      std::string out = "KEEP\r\n";  // what the writer appends to is left alone
      const std::string x = "a" + std::string(bad) + "QUIT";
      LineWriter w(out);
      w.prefix(where == 0 ? x : "srv")
          .command("PRIVMSG")
          .param(where == 1 ? x : "#c")
          .trailing(where == 2 ? x : "t");
      w.end();
      CAPTURE(where);
      CHECK(out.substr(0, 6) == "KEEP\r\n");
      const std::string line = out.substr(6);
      CHECK(line.find_first_of("\r\n"sv) == line.size() - 2);
      CHECK(line.find('\0') == std::string::npos);
      CHECK(line.find("a" + std::string(bad.size(), ' ') + "QUIT") != std::string::npos);
    }
  }
}
