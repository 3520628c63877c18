#include <doctest/doctest.h>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/jid.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"

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
