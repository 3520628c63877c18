// The configure commands' data forms: rendering, and submissions validated whole into the
// rows they put and delete (hostile values refused, the form left unapplied).
#include "adapters/gateway/forms.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

using namespace parley::adapters::gateway;
using parley::core::GatewaySetting;

namespace {
std::vector<FormFieldIn> fields(std::initializer_list<std::pair<std::string, std::vector<std::string>>> l) {
  std::vector<FormFieldIn> out{{"FORM_TYPE", {"ignored"}}};
  for (const auto& [k, v] : l) out.push_back({k, v});
  return out;
}
}  // namespace

TEST_CASE("forms: rendering escapes values and never shows the SASL password") {
  UserSettings s;
  s.networks["libera"].sasl_password = "secret";
  s.networks["libera"].realname = "a<b&c";
  s.persistent["libera #parley"] = "libera";
  s.persistent["oftc #other"] = "oftc";
  const std::string x = render_form(server_form(s, "Libera"));
  CHECK(x.find("xmlns='jabber:x:data'") != std::string::npos);
  CHECK(x.find("secret") == std::string::npos);
  CHECK(x.find("a&lt;b&amp;c") != std::string::npos);
  CHECK(x.find("<value>#parley</value>") != std::string::npos);
  CHECK(x.find("#other") == std::string::npos);
  CHECK(x.find("var='persistent_channels'") != std::string::npos);
  const std::string c = render_form(channel_form(s, "libera", "#parley"));
  CHECK(c.find("<value>1</value>") != std::string::npos);
}

TEST_CASE("forms: a gateway submission puts and deletes") {
  SettingsChange ch;
  REQUIRE_FALSE(submit_gateway(fields({{"nick", {"Al"}}, {"realname", {}}}), "gw", "a@x", ch));
  REQUIRE(ch.put.size() == 1);
  CHECK(ch.put[0] == GatewaySetting{"gw", "a@x", "", "nick", "Al"});
  REQUIRE(ch.del.size() == 1);
  CHECK(ch.del[0].name == "realname");
}

TEST_CASE("forms: hostile or malformed values are refused whole") {
  auto refused = [](std::vector<FormFieldIn> f) {
    SettingsChange ch;
    auto e = submit_server(f, {}, "gw", "a@x", "libera", "libera", {}, ch);
    return e.has_value();
  };
  CHECK(refused(fields({{"nick", {"ok"}}, {"realname", {"x\r\nQUIT :pwned"}}})));
  CHECK(refused(fields({{"nick", {"a\r\nJOIN #x"}}})));
  CHECK(refused(fields({{"nick", {std::string("a\0b", 3)}}})));
  CHECK(refused(fields({{"nick", {"a", "b"}}})));              // one value only
  CHECK(refused(fields({{"nick", {"a"}}, {"nick", {"b"}}})));  // twice
  CHECK(refused(fields({{"port", {"0"}}})));
  CHECK(refused(fields({{"port", {"70000"}}})));
  CHECK(refused(fields({{"port", {"66a"}}})));
  CHECK(refused(fields({{"tls", {"yes"}}})));
  CHECK(refused(fields({{"encoding", {"utf-16"}}})));
  CHECK(refused(fields({{"throttle_burst", {"10001"}}})));
  CHECK(refused(fields({{"throttle_interval_ms", {"0"}}})));
  CHECK(refused(fields({{"sasl_password", {"a\nb"}}})));
  CHECK(refused(fields({{"persistent_channels", {"#ok", "#bad chan"}}})));
  CHECK(refused(fields({{"persistent_channels", {"#ok\r\nQUIT"}}})));
  CHECK(refused(fields({{"bogus", {"1"}}})));
  CHECK(refused(fields({{"nick", {std::string(kMaxFieldValue + 1, 'a')}}})));
  SettingsChange ch;
  CHECK(submit_gateway(fields({{"realname", {std::string("a\0", 2)}}}), "gw", "a@x", ch));
  CHECK(ch.put.empty());
  CHECK(submit_channel(fields({{"persistent", {"maybe"}}}), "gw", "a@x", "libera", "#c", "libera", ch));
}

TEST_CASE("forms: a server submission normalises and diffs persistent channels") {
  UserSettings cur;
  cur.persistent["libera #old"] = "libera";
  cur.persistent["libera #keep"] = "libera";
  cur.persistent["oftc #elsewhere"] = "oftc";
  SettingsChange ch;
  REQUIRE_FALSE(submit_server(fields({{"nick", {"Alice"}},
                                      {"tls", {"false"}},
                                      {"verify", {"true"}},
                                      {"sasl_password", {}},
                                      {"persistent_channels", {"#Keep\r\n#new", " #NEW "}}}),
                              cur, "gw", "a@x", "Libera", "127.0.0.1", {}, ch));
  std::map<std::string, std::string> put;
  for (const auto& r : ch.put) put[r.scope + "/" + r.name] = r.value;
  CHECK(put["libera/nick"] == "Alice");
  CHECK(put["libera/tls"] == "0");
  CHECK(put["libera/verify"] == "1");
  CHECK(put["libera #new/persistent"] == "127.0.0.1");  // the label, for the room JID
  CHECK_FALSE(put.count("libera #keep/persistent"));    // already there
  CHECK_FALSE(put.count("libera/sasl_password"));       // empty: unchanged
  std::set<std::string> del;
  for (const auto& r : ch.del) del.insert(r.scope + "/" + r.name);
  CHECK(del.count("libera #old/persistent"));
  CHECK_FALSE(del.count("oftc #elsewhere/persistent"));
  CHECK_FALSE(del.count("libera/sasl_password"));

  SettingsChange many;
  std::vector<std::string> chans;
  for (int i = 0; i < 4; ++i) chans.push_back("#c" + std::to_string(i));
  CHECK(submit_server(fields({{"persistent_channels", chans}}), {}, "gw", "a@x", "libera", "libera",
                      {.max_channels = 3}, many));
}

TEST_CASE("forms: a channel submission") {
  SettingsChange on, off;
  REQUIRE_FALSE(submit_channel(fields({{"persistent", {"true"}}}), "gw", "a@x", "libera", "#c", "lbl", on));
  REQUIRE(on.put.size() == 1);
  CHECK(on.put[0] == GatewaySetting{"gw", "a@x", "libera #c", "persistent", "lbl"});
  REQUIRE_FALSE(submit_channel(fields({{"persistent", {"0"}}}), "gw", "a@x", "libera", "#c", "lbl", off));
  REQUIRE(off.del.size() == 1);
}
