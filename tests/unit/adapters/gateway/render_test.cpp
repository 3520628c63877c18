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

namespace {
// render_message as it was written with the XmlWriter before session 25.
std::string render_message_ref(std::string_view from, std::string_view to, std::string_view type,
                               std::string_view body, const std::string* subject, std::string_view id,
                               std::string_view html, std::string_view delay_stamp,
                               std::string_view delay_from, std::string_view stanza_id,
                               std::string_view stanza_id_by) {
  std::string out;
  parley::protocols::xmpp::XmlWriter w(out);
  w.open("message").attr("from", from).attr("to", to).attr("type", type).attr_if("id", id);
  if (subject) w.element("subject", *subject);
  if (!body.empty()) w.element("body", body);
  if (!html.empty()) w.raw(html);
  if (!delay_stamp.empty())
    w.open("delay")
        .attr("xmlns", "urn:xmpp:delay")
        .attr_if("from", delay_from)
        .attr("stamp", delay_stamp)
        .close();
  if (!stanza_id.empty())
    w.open("stanza-id")
        .attr("xmlns", "urn:xmpp:sid:0")
        .attr("id", stanza_id)
        .attr("by", stanza_id_by)
        .close();
  w.finish();
  return out;
}
}  // namespace

TEST_CASE("render_message writes what the XmlWriter wrote, for every combination of parts") {
  const std::vector<std::string> values = {
      "",       "a",           "#c%irc@gw/Nick", "<&>\"'",         "\x01\x02",
      "\t\r\n", "caf\xc3\xa9", "\xff\xfe",       "T1:2:3 &amp; x", "\x7f"};
  std::uint32_t seed = 25;
  auto pick = [&]() -> const std::string& {
    seed = seed * 1664525u + 1013904223u;
    return values[(seed >> 8) % values.size()];
  };
  const std::string empty;
  CHECK(render_message("a", "b", "chat", "") == "<message from='a' to='b' type='chat'/>");
  CHECK(render_message("a", "b", "groupchat", "", &empty) ==
        render_message_ref("a", "b", "groupchat", "", &empty, {}, {}, {}, {}, {}, {}));
  CHECK(render_message("a", "b", "groupchat", "hi", nullptr, "x") ==
        "<message from='a' to='b' type='groupchat' id='x'><body>hi</body></message>");
  for (int k = 0; k < 5000; ++k) {
    const std::string from = pick(), to = pick(), type = pick(), body = pick(), subj = pick(), id = pick();
    const std::string html = (seed & 1) ? "<html xmlns='http://jabber.org/protocol/xhtml-im'/>" : "";
    const std::string stamp = pick(), dfrom = pick(), sid = pick(), by = pick();
    const std::string* subject = (seed & 2) ? &subj : nullptr;
    CAPTURE(k);
    CHECK(render_message(from, to, type, body, subject, id, html, stamp, dfrom, sid, by) ==
          render_message_ref(from, to, type, body, subject, id, html, stamp, dfrom, sid, by));
  }
}
