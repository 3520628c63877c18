// IRC nicks derived for room members of other protocols (adapters/irc/member_nicks.hpp).
#include "adapters/irc/member_nicks.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "protocols/irc/text.hpp"

using namespace parley::adapters::irc;

TEST_CASE("member nicks: characters IRC refuses are mapped") {
  CHECK(irc_nick_base("Jane Doe", 30) == "Jane_Doe");
  CHECK(irc_nick_base("a!b@c,d:e", 30) == "a_b_c_d_e");
  CHECK(irc_nick_base("1337", 30) == "_1337");        // no leading digit
  CHECK(irc_nick_base("-x", 30) == "_-x");            // nor '-'
  CHECK(irc_nick_base("J\xC3\xB6rg", 30) == "J_rg");  // one '_' per UTF-8 character
  CHECK(irc_nick_base("\xE5\xBC\xA0\xE4\xB8\x89", 30) == "__");
  CHECK(irc_nick_base("", 30) == "_");
  CHECK(irc_nick_base("abcdefghij", 4) == "abcd");
  CHECK(irc_nick_base("[x]{y}|z^`\\_-", 30) == "[x]{y}|z^`\\_-");  // already valid: unchanged
  for (const char* n : {"Jane Doe", "1337", "-x", "J\xC3\xB6rg", "", "a b c d e f g h i j k l m n o p q r s"})
    CHECK(parley::protocols::irc::is_valid_nick(irc_nick_base(n, 30), 30));
}

TEST_CASE("member nicks: collisions get a suffix, within the length limit") {
  std::set<std::string> used = {"jane_doe", "jane_doe1"};
  auto taken = [&](std::string_view c) { return used.count(parley::protocols::irc::casefold(c)) > 0; };
  CHECK(dedup_nick("Jane_Doe", 30, taken) == "Jane_Doe2");
  CHECK(dedup_nick("Other", 30, taken) == "Other");
  std::set<std::string> full = {"abcd"};
  auto taken2 = [&](std::string_view c) { return full.count(std::string(c)) > 0; };
  CHECK(dedup_nick("abcd", 4, taken2) == "abc1");
}

TEST_CASE("member nicks: entries are stable, remember the previous nick and are swept") {
  MemberNicks n;
  CHECK(n.find("dev", 1) == nullptr);
  n.set("dev", 1, "Jane Doe", "Jane_Doe");
  REQUIRE(n.find("dev", 1));
  CHECK(n.find("dev", 1)->nick == "Jane_Doe");
  const auto& e = n.set("dev", 1, "Jane Q", "Jane_Q");
  CHECK(e.previous == "Jane_Doe");
  CHECK(e.source == "Jane Q");
  n.set("dev", 2, "x y", "x_y");
  n.set("ops", 2, "x y", "x_y");
  CHECK(n.size() == 3);
  n.sweep("dev", [](parley::core::SessionId s) { return s == 2; });
  CHECK(n.find("dev", 1) == nullptr);
  CHECK(n.find("dev", 2) != nullptr);
  n.sweep("dev", [](parley::core::SessionId) { return false; });
  n.forget_room("ops");
  CHECK(n.size() == 0);
}
