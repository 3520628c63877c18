// The lines of one message (adapters/irc/render_events.hpp, render_body_lines).
#include "adapters/irc/render_events.hpp"

#include <doctest/doctest.h>

#include <string>

using parley::adapters::irc::render_body_lines;
namespace core = parley::core;

namespace {

core::Message msg(std::string body, core::MessageKind kind = core::MessageKind::room) {
  core::Message m;
  m.body = std::move(body);
  m.kind = kind;
  return m;
}

std::string render(const core::Message& m, std::string_view tags = {}, std::size_t max_lines = 10,
                   std::size_t max_bytes = 1 << 20) {
  std::string out;
  render_body_lines(out, tags, "a!u@h", "#dev", m, max_lines, max_bytes);
  return out;
}

}  // namespace

TEST_CASE("render events: one line, tags, notice and action") {
  CHECK(render(msg("hi there")) == ":a!u@h PRIVMSG #dev :hi there\r\n");
  CHECK(render(msg("hi"), "time=x") == "@time=x :a!u@h PRIVMSG #dev :hi\r\n");
  CHECK(render(msg("hi", core::MessageKind::notice)) == ":a!u@h NOTICE #dev :hi\r\n");
  CHECK(render(msg("waves", core::MessageKind::action)) ==
        ":a!u@h PRIVMSG #dev :\x01"
        "ACTION waves\x01\r\n");
  CHECK(render(msg("")) == ":a!u@h PRIVMSG #dev : \r\n");  // never an empty trailing
}

TEST_CASE("render events: a body of several lines is bounded in lines and bytes") {
  CHECK(render(msg("a\nb")) == ":a!u@h PRIVMSG #dev :a\r\n:a!u@h PRIVMSG #dev :b\r\n");
  CHECK(render(msg("1\n2\n3\n4"), {}, 2) ==
        ":a!u@h PRIVMSG #dev :1\r\n:a!u@h PRIVMSG #dev :2\r\n:a!u@h PRIVMSG #dev :[... 2 more lines]\r\n");
  CHECK(render(msg("1\n2\n3"), {}, 1) ==
        ":a!u@h PRIVMSG #dev :1\r\n:a!u@h PRIVMSG #dev :[... 2 more lines]\r\n");
  // max_bytes below two lines' worth: one line and the marker.
  CHECK(render(msg("1\n2\n3"), {}, 10, 600) ==
        ":a!u@h PRIVMSG #dev :1\r\n:a!u@h PRIVMSG #dev :[... 2 more lines]\r\n");
  // A long line is split, each piece within 512 bytes.
  std::string out = render(msg(std::string(1200, 'x')));
  std::size_t lines = 0;
  for (std::size_t p = 0, q; (q = out.find("\r\n", p)) != std::string::npos; p = q + 2, ++lines)
    CHECK(q - p + 2 <= 512);
  CHECK(lines == 3);
}
