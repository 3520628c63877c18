#include <doctest/doctest.h>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/jid.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"

#include <cstdint>
#include <string>
#include <vector>

using namespace parley::protocols::xmpp;

TEST_CASE("jid parsing and preparation") {
  auto j = parse_jid("Alice@LocalHost./Phone");
  REQUIRE(j);
  CHECK(j->local == "alice");
  CHECK(j->domain == "localhost");
  CHECK(j->resource == "Phone");
  CHECK(j->str() == "alice@localhost/Phone");
  CHECK(j->bare_str() == "alice@localhost");
  CHECK(!j->is_bare());

  auto d = parse_jid("conference.localhost");
  REQUIRE(d);
  CHECK(d->local.empty());
  CHECK(d->str() == "conference.localhost");

  auto r = parse_jid("room@conference.localhost/nick with/slash");
  REQUIRE(r);
  CHECK(r->resource == "nick with/slash");

  CHECK(parse_jid("[::1]"));
  CHECK(parse_jid("a@b/\xC3\xA9"));  // non-ASCII resource
}

TEST_CASE("jid rejects malformed input") {
  for (const std::string& bad : std::vector<std::string>{"", "@d", "a@", "a@d/", "a b@d", "a\"@d", "a&b@d", "a'b@d", "a:b@d", "a<b@d", "a>b@d",
                          "a@b@c", "a@d..e", "a@.d", "a@d/ ", "a@d/\x01", std::string("a\0@d", 4), "a@[::1",
                          "a@d e", "\xC3@d"}) {
    CAPTURE(bad);
    CHECK(!parse_jid(bad));
  }
  CHECK(parse_jid(std::string(1023, 'a') + "@d"));
  CHECK(!parse_jid(std::string(1024, 'a') + "@d"));
  CHECK(!parse_jid("a@d/" + std::string(1024, 'r')));
  CHECK(parse_jid("a@d/" + std::string(1023, 'r')));
}

TEST_CASE("writer escapes text and attributes") {
  std::string out;
  XmlWriter w(out);
  w.open("message").attr("to", "a'b\"c<&>").attr_if("type", "").attr("id", "x\ny");
  w.element("body", "1 < 2 && 3 > 2 ]]> 'q' \"d\"");
  w.open("empty").close();
  w.close();
  CHECK(out ==
        "<message to='a&apos;b&quot;c&lt;&amp;&gt;' id='x&#10;y'><body>1 &lt; 2 &amp;&amp; 3 &gt; 2 ]]&gt; 'q' "
        "\"d\"</body><empty/></message>");
}

TEST_CASE("writer drops non-XML characters and repairs UTF-8") {
  std::string out;
  escape_text(out, "\x02" "bold\x02 \x03" "4red\x0f \xC3\xA9 \xFF x\r");
  CHECK(out == "bold 4red \xC3\xA9 \xEF\xBF\xBD x&#13;");
  CHECK(sanitize_utf8("a\x01\xED\xA0\x80z") == "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz");
}

namespace {
// The escaping rules spelled out byte by byte, as the writer had them before its plain-run
// scan: the scan must not change a single output byte.
std::string reference_escape(std::string_view s, bool attr) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) {
      std::size_t n = b >= 0xC2 && b <= 0xDF   ? 2
                      : b >= 0xE0 && b <= 0xEF ? 3
                      : b >= 0xF0 && b <= 0xF4 ? 4
                                               : 0;
      std::uint32_t cp = n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
      bool ok = n != 0 && i + n <= s.size();
      for (std::size_t k = 1; ok && k < n; ++k) {
        auto c = static_cast<unsigned char>(s[i + k]);
        ok = (c & 0xC0) == 0x80;
        cp = (cp << 6) | (c & 0x3F);
      }
      const std::uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
      ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE &&
           cp != 0xFFFF;
      if (ok) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\xEF\xBF\xBD";
        ++i;
      }
      continue;
    }
    ++i;
    if (b == '&')
      out += "&amp;";
    else if (b == '<')
      out += "&lt;";
    else if (b == '>')
      out += "&gt;";
    else if (b == '"' && attr)
      out += "&quot;";
    else if (b == '\'' && attr)
      out += "&apos;";
    else if (b == '\t' && attr)
      out += "&#9;";
    else if (b == '\n' && attr)
      out += "&#10;";
    else if (b == '\r')
      out += "&#13;";
    else if (b >= 0x20 || b == '\t' || b == '\n')
      out += static_cast<char>(b);
  }
  return out;
}
}  // namespace

TEST_CASE("escaping matches the byte-by-byte rules on mixed input") {
  // Runs of plain ASCII between every kind of byte the slow path handles, at every offset.
  const std::vector<std::string> pieces = {"plain text ",
                                           "&",
                                           "<",
                                           ">",
                                           "\"",
                                           "'",
                                           "\t",
                                           "\n",
                                           "\r",
                                           "\x01",
                                           "\x7F",
                                           "\xC3\xA9",
                                           "\xE2\x82\xAC",
                                           "\xF0\x9F\x98\x80",
                                           "\xFF",
                                           "\xC3",
                                           "\xED\xA0\x80",
                                           "\xEF\xBF\xBE",
                                           "x",
                                           "]]>"};
  std::uint32_t seed = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string in;
    const int n = 1 + round % 12;
    for (int k = 0; k < n; ++k) {
      seed = seed * 1103515245u + 12345u;
      in += pieces[(seed >> 16) % pieces.size()];
    }
    std::string text, attr;
    escape_text(text, in);
    escape_attr(attr, in);
    REQUIRE(text == reference_escape(in, false));
    REQUIRE(attr == reference_escape(in, true));
  }
}

TEST_CASE("rendered output is accepted by the framer") {
  std::string hostile;
  for (int c = 0; c < 256; ++c) hostile += static_cast<char>(c);
  std::string out =
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
  XmlWriter w(out);
  w.open("message").attr("to", hostile).element("body", hostile).close();
  StreamFramer f;
  auto a = f.feed(out);
  REQUIRE(a.status == StreamFramer::Status::header);
  auto b = f.feed(std::string_view(out).substr(a.consumed));
  REQUIRE(b.status == StreamFramer::Status::stanza);
  auto st = Stanza::parse(f.take_stanza(), nullptr);
  REQUIRE(st);
  // Re-render a parsed element: round trip is stable.
  std::string again;
  render(again, st->root());
  std::string again2;
  StreamFramer f2;
  std::string stream2 =
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + again;
  auto c = f2.feed(stream2);
  REQUIRE(c.status == StreamFramer::Status::header);
  auto d = f2.feed(std::string_view(stream2).substr(c.consumed));
  REQUIRE(d.status == StreamFramer::Status::stanza);
  auto st2 = Stanza::parse(f2.take_stanza(), nullptr);
  REQUIRE(st2);
  render(again2, st2->root());
  CHECK(again == again2);
}

TEST_CASE("render adds a missing xmlns") {
  StreamFramer f;
  std::string in = "<stream:stream xmlns='jabber:client'><x><y a='1'>t</y></x>";
  auto a = f.feed(in);
  f.feed(std::string_view(in).substr(a.consumed));
  auto st = Stanza::parse(f.take_stanza(), nullptr);
  REQUIRE(st);
  std::string out;
  render(out, st->root().first_child(), "jabber:client");
  CHECK(out == "<y a='1' xmlns='jabber:client'>t</y>");
}
