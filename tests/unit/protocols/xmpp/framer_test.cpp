#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/stanza.hpp"

using namespace parley::protocols::xmpp;

namespace {

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en'>";

struct Events {
  std::vector<std::string> items;  // "header", "stanza:<bytes>", "end", "error:<cond>"
};

// Feeds input in chunks of `chunk` bytes (0: whole), collecting events.
Events run(std::string_view input, std::size_t chunk, FramerLimits limits = {}) {
  StreamFramer f(limits);
  Events ev;
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t n = chunk ? std::min(chunk, input.size() - pos) : input.size() - pos;
    std::string_view piece = input.substr(pos, n);
    while (true) {
      auto step = f.feed(piece);
      if (step.status == StreamFramer::Status::error) {
        ev.items.push_back("error:" + std::string(to_string(f.error())));
        return ev;
      }
      if (step.status == StreamFramer::Status::header) ev.items.push_back("header");
      if (step.status == StreamFramer::Status::stanza) {
        auto b = f.take_stanza();
        ev.items.push_back("stanza:" + std::string(b.begin(), b.end()));
      }
      if (step.status == StreamFramer::Status::stream_end) ev.items.push_back("end");
      piece.remove_prefix(step.consumed);
      if (step.status == StreamFramer::Status::need_more) break;
    }
    pos += n;
  }
  return ev;
}

void check_both(std::string_view input, const std::vector<std::string>& expected, FramerLimits limits = {}) {
  CAPTURE(input);
  CHECK(run(input, 0, limits).items == expected);
  CHECK(run(input, 1, limits).items == expected);
  CHECK(run(input, 7, limits).items == expected);
}

std::string s(std::string_view a, std::string_view b) { return std::string(a) + std::string(b); }

}  // namespace

TEST_CASE("framer cuts header, stanzas and stream end") {
  std::string in = s(kHeader,
                     "<message to='bob@localhost' type='chat'><body>hi &amp; &lt;3 &#x263A;</body></message>"
                     "\n  <presence/>"
                     "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"
                     "</stream:stream>");
  check_both(in, {"header",
                  "stanza:<message to='bob@localhost' type='chat'><body>hi &amp; &lt;3 &#x263A;</body></message>",
                  "stanza:<presence/>", "stanza:<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>",
                  "end"});
}

TEST_CASE("framer decodes the stream header attributes") {
  StreamFramer f;
  std::string in(kHeader);
  auto step = f.feed(in);
  REQUIRE(step.status == StreamFramer::Status::header);
  CHECK(step.consumed == in.size());
  CHECK(f.header().name == "stream:stream");
  CHECK(f.header().attr("to") == "localhost");
  CHECK(f.header().attr("version") == "1.0");
  CHECK(f.header().attr("xml:lang") == "en");
  CHECK(f.header().attr("xmlns:stream") == "http://etherx.jabber.org/streams");
  CHECK(!f.header().has("from"));
}

TEST_CASE("framer accepts CDATA, multibyte UTF-8 and whitespace keepalives") {
  check_both(s(kHeader, " \n <message><body><![CDATA[a<b]]]>\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80</body></message>  "),
             {"header", "stanza:<message><body><![CDATA[a<b]]]>\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80</body></message>"});
}

TEST_CASE("framer: stream restart") {
  StreamFramer f;
  std::string in = s(kHeader, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  auto a = f.feed(in);
  REQUIRE(a.status == StreamFramer::Status::header);
  auto b = f.feed(std::string_view(in).substr(a.consumed));
  REQUIRE(b.status == StreamFramer::Status::stanza);
  f.reset();
  auto c = f.feed(kHeader);
  CHECK(c.status == StreamFramer::Status::header);
}

// The error the framer ends with, fed whole, byte by byte and in 7-byte chunks (all three
// must agree), or "" when there is none.
std::string final_error(std::string_view input, FramerLimits limits = {}) {
  std::string results[3];
  std::size_t chunks[3] = {0, 1, 7};
  for (int k = 0; k < 3; ++k) {
    auto ev = run(input, chunks[k], limits);
    std::string last = ev.items.empty() ? "" : ev.items.back();
    results[k] = last.rfind("error:", 0) == 0 ? last.substr(6) : "";
  }
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
  return results[0];
}

TEST_CASE("framer rejects restricted XML") {
  struct Case {
    std::string input;
    std::string error;
  };
  std::vector<Case> cases = {
      {"<!DOCTYPE foo [<!ENTITY x 'y'>]><stream:stream>", "restricted-xml"},
      {s(kHeader, "<!-- hi --><presence/>"), "restricted-xml"},
      {s(kHeader, "<message><!-- hi --></message>"), "restricted-xml"},
      {s(kHeader, "<?php echo 1 ?>"), "restricted-xml"},
      {s(kHeader, "<message><?pi x?></message>"), "restricted-xml"},
      {s(kHeader, "<message><body>&xxe;</body></message>"), "restricted-xml"},
      {s(kHeader, "<message to='&ent;'/>"), "restricted-xml"},
      {s(kHeader, "<!ENTITY lol 'lol'>"), "restricted-xml"},
      {"<?xml version='1.0'?><?xml version='1.0'?>", "restricted-xml"},
      {"<?xml-stylesheet href='x'?><stream:stream>", "restricted-xml"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    CHECK(final_error(c.input) == c.error);
  }
}

TEST_CASE("framer rejects malformed XML as not-well-formed") {
  std::vector<std::string> cases = {
      s(kHeader, std::string("<message>\0</message>", 20)),
      s(kHeader, "<message><body>\x01</body></message>"),
      s(kHeader, "<message><body>\xC3\x28</body></message>"),      // bad continuation
      s(kHeader, "<message><body>\xC0\xAF</body></message>"),      // overlong
      s(kHeader, "<message><body>\xED\xA0\x80</body></message>"),  // surrogate
      s(kHeader, "<message><body>\xEF\xBF\xBE</body></message>"),  // U+FFFE
      s(kHeader, "<message><body>&#0;</body></message>"),
      s(kHeader, "<message><body>&#x110000;</body></message>"),
      s(kHeader, "<message><body>& x</body></message>"),
      s(kHeader, "<message></presence>"),
      s(kHeader, "<message a='1' a='2'/>"),
      s(kHeader, "<message a=1/>"),
      s(kHeader, "<message a='1'b='2'/>"),
      s(kHeader, "<message a='<'/>"),
      s(kHeader, "hello"),
      s(kHeader, "<1message/>"),
      s(kHeader, "<![CDATA[x]]>"),
      s(kHeader, "<message><![CDAT[x]]></message>"),
      "junk<stream:stream>",
      "</stream:stream>",
  };
  for (const auto& c : cases) {
    CAPTURE(c);
    CHECK(final_error(c) == "not-well-formed");
  }
}

TEST_CASE("framer enforces configurable limits with policy-violation") {
  FramerLimits l;
  l.max_stanza = 64;
  l.max_depth = 3;
  l.max_attributes = 2;
  l.max_header = 300;
  CHECK(final_error(s(kHeader, "<message><body>" + std::string(100, 'x') + "</body></message>"), l) ==
        "policy-violation");
  CHECK(final_error(s(kHeader, "<message><body>" + std::string(30, 'x') + "</body></message>"), l) == "");
  CHECK(final_error(s(kHeader, "<a><b><c/></b></a>"), l) == "");
  CHECK(final_error(s(kHeader, "<a><b><c><d/></c></b></a>"), l) == "policy-violation");
  CHECK(final_error(s(kHeader, "<a x='1' y='2'/>"), l) == "");
  CHECK(final_error(s(kHeader, "<a x='1' y='2' z='3'/>"), l) == "policy-violation");
  l.max_header = 50;
  CHECK(final_error(kHeader, l) == "policy-violation");
  // An endless stream of small stanzas is fine: the limit is per stanza.
  std::string many(kHeader);
  for (int i = 0; i < 1000; ++i) many += "<presence/>";
  CHECK(final_error(many, FramerLimits{.max_stanza = 16}) == "");
}

TEST_CASE("framer is sticky after an error") {
  StreamFramer f;
  auto a = f.feed("<!-- x -->");
  CHECK(a.status == StreamFramer::Status::error);
  CHECK(f.feed(kHeader).status == StreamFramer::Status::error);
  f.reset();
  CHECK(f.feed(kHeader).status == StreamFramer::Status::header);
}

TEST_CASE("stanza parses in place and resolves namespaces") {
  StreamFramer f;
  std::string in = s(kHeader,
                     "<message to='a@b' xml:lang='en'><body>x &amp; y</body>"
                     "<active xmlns='http://jabber.org/protocol/chatstates'/>"
                     "<p:thing xmlns:p='urn:x'><p:inner/><plain/></p:thing></message>"
                     "<stream:features/><foo:bar/>");
  std::string_view rest = in;
  auto a = f.feed(rest);
  rest.remove_prefix(a.consumed);
  auto ns_ctx = std::make_shared<StreamNamespaces>();
  auto b = f.feed(rest);
  rest.remove_prefix(b.consumed);
  REQUIRE(b.status == StreamFramer::Status::stanza);
  auto st = Stanza::parse(f.take_stanza(), ns_ctx);
  REQUIRE(st);
  CHECK(st->name() == "message");
  CHECK(st->ns() == "jabber:client");
  CHECK(st->attr("to") == "a@b");
  CHECK(std::string_view(st->child("body", "jabber:client").text().get()) == "x & y");
  CHECK(st->child("active", "http://jabber.org/protocol/chatstates"));
  CHECK(!st->child("active", "jabber:client"));
  auto thing = st->child("thing", "urn:x");
  REQUIRE(thing);
  CHECK(namespace_of(thing.child("p:inner"), *ns_ctx) == "urn:x");
  CHECK(namespace_of(thing.child("plain"), *ns_ctx) == "jabber:client");
  Stanza moved = std::move(*st);
  CHECK(moved.name() == "message");

  auto c = f.feed(rest);
  rest.remove_prefix(c.consumed);
  auto feat = Stanza::parse(f.take_stanza(), ns_ctx);
  REQUIRE(feat);
  CHECK(feat->name() == "features");
  CHECK(feat->ns() == "http://etherx.jabber.org/streams");
  f.feed(rest);
  // An undeclared prefix is not namespace-well-formed: refused (namespaces_test.cpp).
  CHECK_FALSE(Stanza::parse(f.take_stanza(), ns_ctx));
}

TEST_CASE("framer tells whether a stanza has a name with a prefix other than xml:") {
  // (stanza, prefixed): what Stanza::parse's namespace walk is skipped for.
  const std::vector<std::pair<std::string, bool>> cases = {
      {"<message to='a@b' type='groupchat' id='x:y'><body>a:b &lt;c:d/&gt; &amp;</body></message>", false},
      {"<message xmlns='jabber:client' xml:lang='en'><body xml:lang='de'>x</body></message>", false},
      {"<message><x xmlns='urn:x' a='1'/><xml:y/></message>", false},
      {"<message xmlns=''/>", false},
      {"<message xml:a:b='1'/>", false},
      {"<message><a:b xmlns:a='urn:a'/></message>", true},
      {"<message xmlns:a='urn:a'/>", true},
      {"<message><foo:query/></message>", true},  // unbound: Stanza::parse must refuse it
      {"<message><q foo:a='1'/></message>", true},
      {"<message :x='1'/>", true},
      {"<message><xmlns:e/></message>", true},
      {"<message><xmlx:e/></message>", true},
      {"<message xmlns:xml='http://www.w3.org/XML/1998/namespace'/>", true},
      {"<stream:features/>", true},
  };
  for (const auto& [stanza, prefixed] : cases) {
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
      CAPTURE(stanza);
      CAPTURE(chunk);
      // After a prefixed stanza, so a flag left over from it would show.
      const std::string input =
          std::string(kHeader) + "<iq xmlns:p='urn:p' type='get'><p:q/></iq>" + stanza + "<x/>";
      StreamFramer f;
      std::vector<bool> flags;
      std::size_t pos = 0;
      while (pos < input.size()) {
        std::string_view piece = std::string_view(input).substr(
            pos, chunk ? std::min(chunk, input.size() - pos) : input.size() - pos);
        pos += piece.size();
        for (;;) {
          auto step = f.feed(piece);
          REQUIRE(step.status != StreamFramer::Status::error);
          if (step.status == StreamFramer::Status::header) f.release_header();
          if (step.status == StreamFramer::Status::stanza) {
            flags.push_back(f.stanza_prefixed());
            f.take_stanza();
          }
          piece.remove_prefix(step.consumed);
          if (step.status == StreamFramer::Status::need_more) break;
        }
      }
      REQUIRE(flags.size() == 3);
      CHECK(flags[0]);
      CHECK(flags[1] == prefixed);
      CHECK_FALSE(flags[2]);
    }
  }
}

TEST_CASE("stanza: the framer's unprefixed verdict skips nothing that would be refused") {
  // Stanzas the namespace check refuses are all flagged prefixed by the framer, and parse
  // with the flag as they parse without it.
  for (std::string_view xml :
       {"<iq><foo:query/></iq>", "<iq><query foo:a='1'/></iq>",
        "<m xmlns:a='u' xmlns:b='u' a:x='1' b:x='2'/>", "<m xmlns:a=''/>", "<m xmlns:xml='bad'/>",
        "<xmlns:m/>", "<m xml:lang='en' xml:x='1'/>", "<m xmlns='' xml:lang='en'><body>x</body></m>"}) {
    CAPTURE(xml);
    StreamFramer f;
    const std::string input = std::string(kHeader) + std::string(xml);
    auto step = f.feed(input);
    REQUIRE(step.status == StreamFramer::Status::header);
    step = f.feed(std::string_view(input).substr(step.consumed));
    REQUIRE(step.status == StreamFramer::Status::stanza);
    auto bytes = f.take_stanza();
    auto copy = bytes;
    const bool prefixed = f.stanza_prefixed();
    CHECK(Stanza::parse(std::move(bytes), nullptr, prefixed).has_value() ==
          Stanza::parse(std::move(copy), nullptr).has_value());
  }
}
