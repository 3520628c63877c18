// Gateway user settings: validation of every value that may reach IRC, rows <-> settings,
// and what a connection uses (effective()).
#include "adapters/gateway/settings.hpp"

#include <doctest/doctest.h>

using namespace parley::adapters::gateway;
using parley::core::GatewaySetting;

TEST_CASE("gateway settings: nicks") {
  CHECK_FALSE(check_nick("alice"));
  CHECK_FALSE(check_nick("[a]\\`_^{|}-9"));
  CHECK(check_nick(""));
  CHECK(check_nick(std::string(31, 'a')));
  CHECK_FALSE(check_nick(std::string(30, 'a')));
  CHECK(check_nick("9lives"));
  CHECK(check_nick("-x"));
  CHECK(check_nick("a b"));
  CHECK(check_nick("a\r\nQUIT"));
  CHECK(check_nick(std::string("a\0b", 3)));
  CHECK(check_nick(":a"));
  CHECK(check_nick("a,b"));
  CHECK(check_nick("é"));
}

TEST_CASE("gateway settings: realnames refuse control characters") {
  CHECK_FALSE(check_realname("Alice Liddell"));
  CHECK_FALSE(check_realname("Zoë: ünïcode ok"));
  CHECK(check_realname(""));
  CHECK(check_realname(std::string(129, 'x')));
  CHECK_FALSE(check_realname(std::string(128, 'x')));
  CHECK(check_realname("x\r\nPRIVMSG #c :owned"));
  CHECK(check_realname("x\nJOIN #c"));
  CHECK(check_realname(std::string("x\0y", 3)));
  CHECK(check_realname("x\x01y"));
  CHECK(check_realname("x\x7fy"));
  CHECK(check_realname("\xff\xfe"));  // not UTF-8
}

TEST_CASE("gateway settings: sasl, channels, booleans, integers") {
  CHECK_FALSE(check_sasl("p@ss w0rd"));
  CHECK(check_sasl("a\rb"));
  CHECK(check_sasl(std::string(301, 'a')));
  CHECK_FALSE(check_channel("#parley"));
  CHECK_FALSE(check_channel("&local"));
  CHECK(check_channel("parley"));
  CHECK(check_channel("#"));
  CHECK(check_channel("#a b"));
  CHECK(check_channel("#a,#b"));
  CHECK(check_channel("#a\r\nQUIT"));
  CHECK(check_channel("#" + std::string(64, 'a')));
  CHECK(parse_bool("1") == true);
  CHECK(parse_bool("true") == true);
  CHECK(parse_bool("0") == false);
  CHECK(parse_bool("false") == false);
  CHECK_FALSE(parse_bool("yes"));
  CHECK_FALSE(parse_bool(""));
  CHECK(parse_uint("6667", 1, 65535) == 6667u);
  CHECK_FALSE(parse_uint("0", 1, 65535));
  CHECK_FALSE(parse_uint("65536", 1, 65535));
  CHECK_FALSE(parse_uint("-1", 0, 10));
  CHECK_FALSE(parse_uint("+1", 0, 10));
  CHECK_FALSE(parse_uint(" 1", 0, 10));
  CHECK_FALSE(parse_uint("1x", 0, 10));
  CHECK_FALSE(parse_uint("99999999999999999999999", 0, 10));
}

TEST_CASE("gateway settings: channel scopes") {
  CHECK(channel_scope("Libera", "#Parley") == "libera #parley");
  auto sc = split_channel_scope("libera #parley");
  REQUIRE(sc);
  CHECK(sc->first == "libera");
  CHECK(sc->second == "#parley");
  CHECK_FALSE(split_channel_scope("libera"));
  CHECK_FALSE(split_channel_scope(" #x"));
  CHECK_FALSE(split_channel_scope("libera nochan"));
}

TEST_CASE("gateway settings: a user's throttle is only ever stricter than the network's") {
  parley::config::IrcNetwork limited;
  limited.name = "net";
  limited.throttle_burst = 5;
  limited.throttle_interval_ms = 500;
  UserSettings s;
  auto& n = s.networks["net"];
  n.throttle_burst = 100;
  n.throttle_interval_ms = 10;
  Effective e = effective(limited, s, "x");
  CHECK(e.net.throttle_burst == 5);  // not lifted
  CHECK(e.net.throttle_interval_ms == 500);
  n.throttle_burst = 2;
  n.throttle_interval_ms = 2000;
  e = effective(limited, s, "x");
  CHECK(e.net.throttle_burst == 2);  // stricter: taken
  CHECK(e.net.throttle_interval_ms == 2000);
  // A network without a throttle: the user may set one.
  parley::config::IrcNetwork open = limited;
  open.throttle_burst = 0;
  e = effective(open, s, "x");
  CHECK(e.net.throttle_burst == 2);
  CHECK(e.net.throttle_interval_ms == 2000);
}

TEST_CASE("gateway settings: rows -> settings skip what no longer validates") {
  std::vector<GatewaySetting> rows = {
      {"gw", "a@x", "", "nick", "Al"},
      {"gw", "a@x", "", "realname", "bad\r\nQUIT"},  // edited by hand: skipped
      {"gw", "a@x", "libera", "nick", "Alice"},
      {"gw", "a@x", "libera", "port", "6667"},
      {"gw", "a@x", "libera", "tls", "0"},
      {"gw", "a@x", "libera", "verify", "0"},
      {"gw", "a@x", "libera", "encoding", "reject"},
      {"gw", "a@x", "libera", "throttle_burst", "0"},
      {"gw", "a@x", "libera", "sasl_user", "al"},
      {"gw", "a@x", "libera", "sasl_password", "pw"},
      {"gw", "a@x", "libera", "port", "99999"},  // invalid: the earlier value stays
      {"gw", "a@x", "libera", "bogus", "1"},
      {"gw", "a@x", "libera #parley", "persistent", "irc.libera.chat"},
      {"gw", "a@x", "libera nochan", "persistent", "x"},
  };
  UserSettings s = settings_from_rows(rows);
  CHECK(s.nick == "Al");
  CHECK_FALSE(s.realname);
  REQUIRE(s.networks.count("libera"));
  const auto& n = s.networks["libera"];
  CHECK(n.nick == "Alice");
  CHECK(n.port == 6667);
  CHECK(n.tls == false);
  CHECK(n.verify == false);
  CHECK(n.encoding == "reject");
  CHECK(n.throttle_burst == 0u);
  REQUIRE(s.persistent.size() == 1);
  CHECK(s.persistent["libera #parley"] == "irc.libera.chat");

  parley::config::IrcNetwork base;
  base.name = "Libera";
  base.host = "irc.libera.chat";
  Effective e = effective(base, s, "fromjoin");
  CHECK(e.nick == "Alice");  // the network's nick beats the default and the join's
  CHECK(e.realname.empty());
  CHECK(e.net.port == 6667);
  CHECK_FALSE(e.net.tls);
  CHECK_FALSE(e.net.verify);
  CHECK(e.net.encoding == "reject");
  CHECK(e.net.throttle_burst == base.throttle_burst);  // a user cannot turn the network's throttle off
  CHECK(e.net.sasl_user == "al");
  CHECK(e.net.sasl_password == "pw");

  parley::config::IrcNetwork other;
  other.name = "oftc";
  Effective o = effective(other, s, "fromjoin");
  CHECK(o.nick == "Al");  // the user's default
  CHECK(o.net.port == 6697);
  CHECK(o.net.tls);
  Effective none = effective(other, UserSettings{}, "fromjoin");
  CHECK(none.nick == "fromjoin");
}
