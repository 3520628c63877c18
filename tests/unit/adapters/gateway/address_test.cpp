// Biboumi addressing (adapters/gateway/address.hpp) and the XMPP -> IRC text rules
// (outgoing.hpp): what an XMPP user can make the gateway send.
#include "adapters/gateway/address.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "adapters/gateway/outgoing.hpp"
#include "adapters/gateway/render.hpp"
#include "protocols/irc/message.hpp"

using namespace parley::adapters::gateway;
using Kind = GatewayAddress::Kind;

TEST_CASE("gateway address: channel, occupant, user and server forms") {
  auto c = parse_gateway_address("#chan%irc.example.org", "");
  REQUIRE(c);
  CHECK(c->kind == Kind::channel);
  CHECK(c->target == "#chan");
  CHECK(c->server == "irc.example.org");
  auto o = parse_gateway_address("#chan%irc.example.org", "Nick Name");
  REQUIRE(o);
  CHECK(o->kind == Kind::channel);
  CHECK(o->resource == "Nick Name");
  auto u = parse_gateway_address("bob%irc.example.org", "");
  REQUIRE(u);
  CHECK(u->kind == Kind::user);
  CHECK(u->target == "bob");
  auto s = parse_gateway_address("irc.example.org", "");
  REQUIRE(s);
  CHECK(s->kind == Kind::server);
  CHECK(s->target.empty());
  auto s2 = parse_gateway_address("%irc.example.org", "");
  REQUIRE(s2);
  CHECK(s2->kind == Kind::server);
}

TEST_CASE("gateway address: split at the first %, lower-cased, XEP-0106 unescaped, CHANTYPES decide") {
  auto a = parse_gateway_address("#a%b%irc.x", "");
  CHECK_FALSE(a);  // "b%irc.x" is no server name
  auto m = parse_gateway_address("#Chan%IRC.Example.ORG", "");
  REQUIRE(m);
  CHECK(m->target == "#chan");
  CHECK(m->server == "irc.example.org");
  auto amp = parse_gateway_address("\\26local%irc.x", "");
  REQUIRE(amp);
  CHECK(amp->target == "&local");
  CHECK(amp->kind == Kind::channel);
  auto amp2 = parse_gateway_address("\\26local%irc.x", "", "#");
  REQUIRE(amp2);
  CHECK(amp2->kind == Kind::user);  // the network has no '&' channels
  auto plus = parse_gateway_address("+modeless%irc.x", "", "#+");
  REQUIRE(plus);
  CHECK(plus->kind == Kind::channel);
  auto named = parse_gateway_address("#test%local", "");
  REQUIRE(named);
  CHECK(named->server == "local");
}

TEST_CASE("gateway address: malformed input is refused") {
  CHECK_FALSE(parse_gateway_address("", ""));
  CHECK_FALSE(parse_gateway_address("#chan%", ""));
  CHECK_FALSE(parse_gateway_address("#chan%bad host", ""));
  CHECK_FALSE(parse_gateway_address("#a\\20b%irc.x", ""));  // a space in a channel
  CHECK_FALSE(parse_gateway_address("#a,b%irc.x", ""));
  CHECK_FALSE(parse_gateway_address(std::string("#a\nb%irc.x"), ""));
  CHECK_FALSE(parse_gateway_address(std::string("#a\0b%irc.x", 10), ""));
  CHECK_FALSE(parse_gateway_address("\\3aquit%irc.x", ""));  // ':' would start a trailing parameter
  CHECK_FALSE(parse_gateway_address(std::string(kMaxTarget + 1, 'a') + "%irc.x", ""));
  CHECK_FALSE(parse_gateway_address("#c%" + std::string(kMaxServerName + 1, 'a'), ""));
  CHECK_FALSE(parse_gateway_address("#c%.x", ""));
}

TEST_CASE("XEP-0106 escaping round-trips and leaves unknown escapes alone") {
  CHECK(jid_unescape("d\\27artagnan") == "d'artagnan");
  CHECK(jid_unescape("\\5c\\40") == "\\@");
  CHECK(jid_unescape("a\\zz") == "a\\zz");
  CHECK(jid_unescape("end\\2") == "end\\2");
  for (std::string s : {"&chan", "a b:c@d/e", "back\\slash", "x\\20y", "#plain"})
    CHECK(jid_unescape(jid_escape(s)) == s);
  CHECK(gateway_local("&x", "irc.y") == "\\26x%irc.y");
  CHECK(gateway_local("", "irc.y") == "irc.y");
}

TEST_CASE("XMPP text never becomes a second IRC command") {
  std::vector<std::string> lines;
  privmsg_lines("alice", "#test", "hello\r\nQUIT :bye\rPRIVMSG #x :y\0z", 10, lines);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "PRIVMSG #test :hello\r\n");
  CHECK(lines[1] == "PRIVMSG #test :QUIT :bye\r\n");
  CHECK(lines[2] == "PRIVMSG #test :PRIVMSG #x :y\r\n");  // the NUL ended the view (string literal)
  lines.clear();
  privmsg_lines("alice", "#test",
                std::string("a\0b\x01"
                            "c\nd",
                            7),
                10, lines);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "PRIVMSG #test :abc\r\n");
  for (const auto& l : lines) {
    CHECK(l.find('\0') == std::string::npos);
    CHECK(l.find('\r') == l.size() - 2);
  }
}

TEST_CASE("long XMPP bodies are split under 512 bytes at UTF-8 boundaries, /me becomes ACTION") {
  std::string body;
  for (int i = 0; i < 400; ++i) body += "é€";  // 2 + 3 bytes
  std::vector<std::string> lines;
  privmsg_lines("alice", "#test", body, 100, lines);
  REQUIRE(lines.size() > 1);
  std::string joined;
  for (const auto& l : lines) {
    // the relayed form ":alice!user@host PRIVMSG ..." must fit too
    CHECK(l.size() + 1 + 5 + 1 + 10 + 1 + 63 + 1 <= parley::protocols::irc::kMaxBody);
    std::string_view text = std::string_view(l).substr(std::string_view("PRIVMSG #test :").size());
    text.remove_suffix(2);
    CHECK(parley::protocols::irc::is_valid_utf8(text));
    joined += text;
  }
  CHECK(joined == body);
  lines.clear();
  privmsg_lines("alice", "#test", "/me waves\nsecond", 10, lines);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] ==
        "PRIVMSG #test :\x01"
        "ACTION waves\x01\r\n");
  lines.clear();
  privmsg_lines("alice", "#t", "1\n2\n3\n4", 2, lines);
  REQUIRE(lines.size() == 3);
  CHECK(lines[2] == "PRIVMSG #t :[... 2 more lines]\r\n");
  CHECK(one_line("a\r\nb\0c", 100) == "a b");
}

TEST_CASE("IRC membership modes map to Biboumi's roles and affiliations") {
  CHECK(role_of_modes("q").affiliation == "owner");
  CHECK(role_of_modes("a").role == "moderator");
  CHECK(role_of_modes("ov").affiliation == "admin");
  CHECK(role_of_modes("o").role == "moderator");
  CHECK(role_of_modes("h").affiliation == "member");
  CHECK(role_of_modes("h").role == "moderator");
  CHECK(role_of_modes("v").affiliation == "member");
  CHECK(role_of_modes("v").role == "participant");
  CHECK(role_of_modes("").affiliation == "none");
  CHECK(role_of_modes("").role == "participant");
}

TEST_CASE("IRC text becomes XML-safe character data") {
  CHECK(xml_safe_text("\x02"
                      "bold\x02 <b>&amp;") == "bold <b>&amp;");
  CHECK(xml_safe_text(std::string("a\x01\x07\x1b"
                                  "b",
                                  5)) == "ab");
  auto p = render_message("r@gw/n", "u@d/r", "groupchat", "<script>&");
  CHECK(p.find("<body>&lt;script&gt;&amp;</body>") != std::string::npos);
}

TEST_CASE(
    "gateway address: target_kind after a parse with RFC 2812 chantypes is the parse with the network's") {
  // Gateway::on_message parses once with "#&" (the network is not known yet) and then only
  // re-decides the kind: the same address as parsing again with the network's CHANTYPES.
  for (std::string_view local :
       {"#chan%irc.example.org", "&chan%irc.example.org", "\\26x%irc", "+chan%irc", "!chan%irc", "bob%irc",
        "irc.example.org", "%irc", "#%irc", "a b%irc", "#c%", ""}) {
    for (std::string_view chantypes : {"#&", "#", "&", "+", "#&+!", ""}) {
      CAPTURE(local);
      CAPTURE(chantypes);
      auto want = parse_gateway_address(local, "Nick", chantypes);
      auto got = parse_gateway_address(local, "Nick");
      REQUIRE(static_cast<bool>(want) == static_cast<bool>(got));
      if (!got) continue;
      if (got->kind != Kind::server) got->kind = target_kind(got->target, chantypes);
      CHECK(got->kind == want->kind);
      CHECK(got->target == want->target);
      CHECK(got->server == want->server);
      CHECK(got->resource == want->resource);
    }
  }
}
