#include "adapters/gateway/render.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "protocols/xmpp/writer.hpp"

using namespace parley::adapters::gateway;

TEST_CASE("body_from_irc: mIRC formatting becomes XHTML-IM beside the plain body") {
  auto b = body_from_irc(
      "hi \x02"
      "bold\x02 <x>");
  CHECK(b.body == "hi bold <x>");
  CHECK(b.html.find("http://jabber.org/protocol/xhtml-im") != std::string::npos);
  CHECK(b.html.find("<strong>bold</strong>") != std::string::npos);
  CHECK(b.html.find("&lt;x&gt;") != std::string::npos);  // text stays text
  // the prefix ("/me ", "[notice] ") shifts the spans
  auto a = body_from_irc(
      "\x1d"
      "waves",
      "/me ");
  CHECK(a.body == "/me waves");
  CHECK(a.html.find("<em>waves</em>") != std::string::npos);
  // plain text: no html
  CHECK(body_from_irc("plain").html.empty());
  // other controls stripped: offsets would be off, so no html (the body is authoritative)
  auto c = body_from_irc(
      "a\x07"
      "b \x02"
      "c");
  CHECK(c.body == "ab c");
  CHECK(c.html.empty());
}

TEST_CASE("render_message carries the html after the body") {
  auto xml = render_message("r@gw/n", "u@d/x", "groupchat", "b", nullptr, {}, "<html/>");
  CHECK(xml.find("<body>b</body><html/>") != std::string::npos);
}

TEST_CASE("render_message: an empty stanza closes itself, an empty subject is kept") {
  const std::string empty;
  CHECK(render_message("a", "b", "chat", "") == "<message from='a' to='b' type='chat'/>");
  CHECK(render_message("a", "b", "groupchat", "", &empty) ==
        "<message from='a' to='b' type='groupchat'><subject/></message>");
  CHECK(render_message("a", "b", "groupchat", "hi", nullptr, "x") ==
        "<message from='a' to='b' type='groupchat' id='x'><body>hi</body></message>");
}

TEST_CASE("render_error: a presence error carries the MUC <x/>, other kinds do not") {
  const auto p = render_error("presence", "#c%net@gw/nick", "u@h/r", "j1", "cancel", "conflict", "in use");
  CHECK(p.find("type='error'") != std::string::npos);
  CHECK(p.find("id='j1'") != std::string::npos);
  CHECK(p.find("<x xmlns='http://jabber.org/protocol/muc'/>") != std::string::npos);
  CHECK(p.find("<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>") != std::string::npos);
  CHECK(p.find("<x xmlns") < p.find("<error"));
  const auto m = render_error("message", "#c%net@gw", "u@h/r", {}, "cancel", "not-allowed", {});
  CHECK(m.find("jabber.org/protocol/muc") == std::string::npos);
  CHECK(m.find("id=") == std::string::npos);
}
