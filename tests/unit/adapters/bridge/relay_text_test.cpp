// What a relay bot says (adapters/bridge/relay_text): prefixes, actions, multi-line bodies
// and the IRC wire lines, which no relayed text or nick can turn into a second command.
#include "adapters/bridge/relay_text.hpp"

#include <doctest/doctest.h>

#include "adapters/bridge/bridge.hpp"

using namespace parley::adapters::bridge;

TEST_CASE("bridge relay text: prefix format and actions") {
  CHECK(format_prefix("<{nick}> ", "alice") == "<alice> ");
  CHECK(format_prefix("[{nick}@irc] {nick}: ", "bob") == "[bob@irc] bob: ");
  CHECK(format_prefix("", "bob").empty());
  CHECK(relay_lines("<{nick}> ", Heard{"alice", "hi", false}, 10) == std::vector<std::string>{"<alice> hi"});
  CHECK(relay_lines("<{nick}> ", Heard{"alice", "waves", true}, 10) == std::vector<std::string>{"alice waves"});
}

TEST_CASE("bridge relay text: nicks lose controls and are bounded") {
  CHECK(clean_nick("al\r\nice\x01") == "alice");
  CHECK(clean_nick("\r\n") == "?");
  CHECK(clean_nick(std::string(200, 'x')).size() == kMaxRelayNick);
  // a cut never splits a UTF-8 sequence
  std::string e;
  for (int i = 0; i < 40; ++i) e += "\xc3\xa9";
  auto c = clean_nick(e);
  CHECK(c.size() <= kMaxRelayNick);
  CHECK(c.size() % 2 == 0);
}

TEST_CASE("bridge relay text: every line gets the prefix, bounded") {
  auto l = relay_lines("<{nick}> ", Heard{"a", "one\r\ntwo\rthree\n\n  \nfour", false}, 10);
  CHECK(l == std::vector<std::string>{"<a> one", "<a> two", "<a> three", "<a> four"});
  auto b = relay_lines("<{nick}> ", Heard{"a", "1\n2\n3\n4\n5", false}, 2);
  REQUIRE(b.size() == 2);
  CHECK(b[1] == "<a> 2 [... 3 more lines]");
}

TEST_CASE("bridge relay text: CR, LF and NUL never make a second IRC command") {
  using namespace std::string_literals;
  Heard h{"ev\nil", "x\0y\r\nQUIT :pwned\rJOIN #evil"s, false};
  auto wire = irc_wire_lines("dev-bridge", "#dev", "<{nick}> ", h, 10);
  REQUIRE(wire.size() == 3);
  CHECK(wire[0] == "PRIVMSG #dev :<evil> xy\r\n");
  CHECK(wire[1] == "PRIVMSG #dev :<evil> QUIT :pwned\r\n");
  CHECK(wire[2] == "PRIVMSG #dev :<evil> JOIN #evil\r\n");
  for (const auto& w : wire) {
    CHECK(w.find('\0') == std::string::npos);
    CHECK(w.find_first_of("\r\n") == w.size() - 2);
    CHECK(w.size() <= 512);
  }
  // a long line is cut into several PRIVMSGs, each within 512 bytes
  auto lng = irc_wire_lines("b", "#dev", "<{nick}> ", Heard{"a", std::string(2000, 'z'), false}, 10);
  CHECK(lng.size() > 1);
  for (const auto& w : lng) CHECK(w.size() <= 512);
}

TEST_CASE("bridge relay text: actions on IRC, by the bot and by a puppet") {
  auto bot = irc_wire_lines("dev-bridge", "#dev", "<{nick}> ", Heard{"alice", "nods", true}, 10);
  CHECK(bot == std::vector<std::string>{"PRIVMSG #dev :\x01" "ACTION alice nods\x01\r\n"});
  auto pup = irc_wire_lines("alice", "#dev", "<{nick}> ", Heard{"alice", "nods", true}, 10, true);
  CHECK(pup == std::vector<std::string>{"PRIVMSG #dev :\x01" "ACTION nods\x01\r\n"});
  auto msg = irc_wire_lines("alice", "#dev", "<{nick}> ", Heard{"alice", "hi", false}, 10, true);
  CHECK(msg == std::vector<std::string>{"PRIVMSG #dev :hi\r\n"});
}

TEST_CASE("bridge identities: a bridge's own speakers are recognised per place") {
  struct S : BridgeIdentities::Speaker {
    std::string p, n;
    std::string_view place() const override { return p; }
    std::string_view speaker_nick() const override { return n; }
  };
  BridgeIdentities ids;
  S bot;
  bot.p = "irc local";
  bot.n = "Dev-Bridge";
  ids.add(&bot);
  CHECK(ids.is_ours("irc local", "dev-bridge"));
  CHECK_FALSE(ids.is_ours("irc other", "dev-bridge"));
  CHECK_FALSE(ids.is_ours("irc local", "alice"));
  bot.n = "Dev-Bridge_";  // renamed by a collision: asked live
  CHECK(ids.is_ours("irc local", "dev-bridge_"));
  ids.remove(&bot);
  CHECK_FALSE(ids.is_ours("irc local", "dev-bridge_"));
  CHECK(irc_nick_of("9 lives") == "_9_lives");
  CHECK(irc_nick_of("dev-bridge") == "dev-bridge");
}
