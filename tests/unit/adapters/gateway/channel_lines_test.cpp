#include "adapters/gateway/channel_lines.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "protocols/irc/text.hpp"

using namespace parley::adapters::gateway;

namespace {
// What Puppet::on_privmsg rendered per copy before the cache, the reference ("" when the
// line is not shown).
std::string reference(std::string_view room, std::string_view nick, std::string_view text, bool notice,
                      std::string_view to, std::string_view sid) {
  namespace irc = parley::protocols::irc;
  const std::string prefix = notice ? "[notice] " : "";
  XmppBody b;
  if (auto action = irc::ctcp_action(text))
    b = body_from_irc(*action, prefix + "/me ");
  else if (irc::parse_ctcp(text))
    return {};
  else
    b = body_from_irc(text, prefix);
  return render_message(std::string(room) + "/" + std::string(nick), to, "groupchat", b.body, nullptr, {},
                        b.html, {}, {}, sid, sid.empty() ? std::string_view() : room);
}
}  // namespace

TEST_CASE("ChannelLines: every copy equals the stanza rendered whole") {
  ChannelLines lines;
  const std::string room = "#chan%irc.example.org@irc.localhost";
  auto* l = lines.line(room, "alice", "hello <b> & 'you'", false);
  REQUIRE(l);
  CHECK(l->body.body == "hello <b> & 'you'");
  for (std::string to : {"bob@example.org/phone", "carol@example.org/a'b&c<d>", "x@y/\"quoted\""}) {
    CHECK(lines.stanza(*l, to, "42") == reference(room, "alice", "hello <b> & 'you'", false, to, "42"));
    // the next puppet finds the same line, converted once
    CHECK(lines.line(room, "alice", "hello <b> & 'you'", false) == l);
  }
  // another stanza-id (a line archived again): rendered again, still right
  CHECK(lines.stanza(*l, "bob@example.org/phone", "43") ==
        reference(room, "alice", "hello <b> & 'you'", false, "bob@example.org/phone", "43"));
  CHECK(lines.stanza(*l, "bob@example.org/phone", "") ==
        reference(room, "alice", "hello <b> & 'you'", false, "bob@example.org/phone", ""));
}

TEST_CASE("ChannelLines: a line is found only by its whole content") {
  ChannelLines lines;
  const std::string room = "#a%net@gw";
  auto* l = lines.line(room, "alice", "hi", false);
  REQUIRE(l);
  CHECK(lines.line(room, "alice", "hi", true)->body.body == "[notice] hi");  // a NOTICE is another line
  CHECK(lines.line(room, "bob", "hi", false)->nick == "bob");
  CHECK(lines.line("#b%net@gw", "alice", "hi", false)->room == "#b%net@gw");
  auto* again = lines.line(room, "alice", "hi!", false);
  CHECK(again->text == "hi!");
  CHECK(lines.stanza(*again, "u@d/r", "") == reference(room, "alice", "hi!", false, "u@d/r", ""));
}

TEST_CASE("ChannelLines: /me, formatting and CTCP requests") {
  ChannelLines lines;
  const std::string room = "#a%net@gw";
  auto* me = lines.line(room, "alice",
                        "\x01"
                        "ACTION waves \x02hard\x02\x01",
                        false);
  REQUIRE(me);
  CHECK(me->action);
  CHECK(me->body.body == "/me waves hard");
  CHECK(!me->body.html.empty());
  CHECK(lines.stanza(*me, "u@d/r", "7") == reference(room, "alice",
                                                     "\x01"
                                                     "ACTION waves \x02hard\x02\x01",
                                                     false, "u@d/r", "7"));
  CHECK(lines.line(room, "alice", "\x01VERSION\x01", false) == nullptr);  // not shown
}

TEST_CASE("ChannelLines: random lines, nicks, rooms and resources equal the whole render") {
  std::mt19937 rng(12345);
  const std::string alphabet = std::string("ab <>&'\"\x02\x03\x1d\x0f\x01 12,") + "\xc3\xa9" + "\xff";
  auto pick = [&](std::size_t max) {
    std::string s;
    const std::size_t n = rng() % max;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  ChannelLines lines;
  const std::vector<std::string> rooms = {"#a%n@gw", "#b%n@gw", "#c'%n@gw"};
  const std::vector<std::string> nicks = {"alice", "bob", "c[a]t"};
  for (int i = 0; i < 3000; ++i) {
    const std::string& room = rooms[rng() % rooms.size()];
    const std::string& nick = nicks[rng() % nicks.size()];
    const std::string text = pick(40);
    const bool notice = rng() % 4 == 0;
    auto* l = lines.line(room, nick, text, notice);
    if (!l) {  // a CTCP request
      CHECK(reference(room, nick, text, notice, "u@d/r", "").empty());
      continue;
    }
    for (int k = 0; k < 3; ++k) {
      const std::string to = "u" + pick(6) + "@d/r";
      const std::string sid = rng() % 3 ? std::to_string(i) : std::string();
      REQUIRE(lines.stanza(*l, to, sid) == reference(room, nick, text, notice, to, sid));
    }
  }
}

TEST_CASE("ChannelLines: a kept slot, a kept escaped recipient and the parts give the same stanzas") {
  ChannelLines lines;
  const std::string room = "#chan%net@gw";
  const std::size_t slot = ChannelLines::slot_of(room);
  auto* l = lines.line(slot, room, "alice", "a <line> & more", false);
  REQUIRE(l);
  CHECK(lines.line(room, "alice", "a <line> & more", false) == l);  // the same slot
  ChannelLines::EscapedTo escaped;
  // One cache, the recipient changing between copies (two resources): each is escaped afresh.
  for (std::string to : {"bob@example.org/phone", "bob@example.org/a'b&c<d>\"", "bob@example.org/phone",
                         "bob@example.org/phone"}) {
    CAPTURE(to);
    for (std::string sid : {"9", ""}) {
      auto p = lines.parts(*l, to, sid, escaped);
      REQUIRE(p);
      CHECK(std::string(p->head) + std::string(p->to) + std::string(p->tail) ==
            reference(room, "alice", "a <line> & more", false, to, sid));
      CHECK(lines.stanza(*l, to, sid) == reference(room, "alice", "a <line> & more", false, to, sid));
    }
  }
  CHECK(escaped("x@y/'") == "x@y/&apos;");
  CHECK(escaped("") == "");
}
