// Differential tests of the XMPP inbound fast paths (sessions 23 and 25) against the code
// they replaced, kept in reference/: the framer's run skipping, markup pass and scratch
// reuse, the in-place JID checks and Stanza::parse. Random streams and strings built from the characters each
// path treats specially (markup, quotes, entities, CDATA, controls, valid and invalid UTF-8
// of every length, limits hit at every offset), fed in random chunks, must give the same
// events, consumed counts, stanza bytes, header, error and error text, or the same JID.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/jid.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"
#include "tests/unit/protocols/xmpp/reference/framer_ref.hpp"
#include "tests/unit/protocols/xmpp/reference/jid_ref.hpp"
#include "tests/unit/protocols/xmpp/reference/stanza_ref.hpp"

using namespace parley::protocols::xmpp;

namespace {

// PARLEY_DIFF_ITERATIONS raises the case count for a longer hunt (default: a few seconds).
int iterations(int dflt) {
  const char* e = std::getenv("PARLEY_DIFF_ITERATIONS");
  return e ? std::max(1, std::atoi(e)) : dflt;
}

// Pieces a stream is made of: well-formed parts, hostile parts, and single bytes the fast
// paths must stop at.
const std::vector<std::string> kPieces = {
    "<message",
    "<presence",
    "<iq",
    "<body>",
    "</body>",
    "</message>",
    "</iq>",
    "<x xmlns='urn:x'>",
    "</x>",
    "<a:b xmlns:a='urn:a'>",
    "</a:b>",
    "<br/>",
    "<c/>",
    " to='bob@localhost'",
    " type=\"groupchat\"",
    " id='m1'",
    " from='alice@localhost/laptop'",
    " xml:lang='en'",
    " a='1'",
    " b = '2' ",
    ">",
    "/>",
    "/",
    "hello world",
    "  ",
    "\t\r\n",
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    "&#65;",
    "&#x263A;",
    "&#0;",
    "&#xD800;",
    "&#x110000;",
    "&foo;",
    "&;",
    "&#;",
    "&#x;",
    "&aaaaaaaaaaaaaaaaaaaa;",
    "&#1234567890123;",
    "<![CDATA[",
    "]]>",
    "]",
    "]]",
    "<!-- c -->",
    "<?pi x?>",
    "<!DOCTYPE x>",
    "</stream:stream>",
    "\xC3\xA9",
    "\xE2\x82\xAC",
    "\xF0\x9D\x84\x9E",
    "\xC3",
    "\xE2\x82",
    "\xF0\x9D\x84",
    "\x80",
    "\xBF",
    "\xC0\xAF",
    "\xC1\xBF",
    "\xE0\x80\x80",
    "\xED\xA0\x80",
    "\xED\x9F\xBF",
    "\xEF\xBF\xBE",
    "\xEF\xBF\xBF",
    "\xEF\xBF\xBD",
    "\xF4\x8F\xBF\xBF",
    "\xF4\x90\x80\x80",
    "\xF5\x80\x80\x80",
    "\xF8",
    "\xFF",
    std::string(1, '\0'),
    "\x01",
    "\x1F",
    "\x7F",
    "<",
    "&",
    "'",
    "\"",
    "=",
    "#",
    "x",
    ";",
    ":",
    "-",
    ".",
    "\xC3\xA9l\xC3\xA9ment",
    "n\xE2\x82\xAC",
    "<\xC3\xA9>",
    "</\xC3\xA9>",
    " a:c='1'",
    " xmlns:a='urn:a'",
    " xmlns:b=''",
    " xmlns:xml='x'",
    " b:c='2'",
    " xmlns:='u'",
    " :c='3'",
    "<b:d/>",
    "<xmlns:e/>",
    " xml:c='4'",
    " a:x='1' b:x='2'",
    "<xml:e/>",
    " xml:a:b='5'",
    " xmlns:xml='http://www.w3.org/XML/1998/namespace'",
};

constexpr std::string_view kHeaderText =
    "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

std::string well_formed_stanza(std::mt19937& rng) {
  static const std::vector<std::string> bodies = {"hello",
                                                  "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E",
                                                  "a &amp; b &lt; c",
                                                  "<![CDATA[<raw> & ]] ]>]]>",
                                                  "x",
                                                  std::string(300, 'y'),
                                                  "tab\there\r\nnewline",
                                                  "&#x263A;&#65;"};
  std::string s = "<message type='groupchat' to='#chan%irc.example.org@irc.localhost' id='m" +
                  std::to_string(rng() % 1000) + "' from=\"alice@localhost/r\xC3\xA9s\"><body>" +
                  bodies[rng() % bodies.size()] + "</body>";
  if (rng() % 3 == 0) s += "<x xmlns='urn:x' a='1' b='&quot;2&apos;'><y/><z>t</z></x>";
  return s + "</message>";
}

std::string random_stream(std::mt19937& rng) {
  std::string s;
  const unsigned kind = rng() % 4;
  if (kind != 3) s = kHeaderText;  // mostly a valid header, sometimes a random prolog
  const unsigned n = rng() % 12;
  for (unsigned k = 0; k < n; ++k) {
    if (rng() % 2)
      s += well_formed_stanza(rng);
    else
      s += kPieces[rng() % kPieces.size()];
  }
  // Mutations: flip, insert or delete a few bytes anywhere (also inside the header).
  const unsigned m = kind == 0 ? 0 : rng() % 4;
  for (unsigned k = 0; k < m && !s.empty(); ++k) {
    std::size_t at = rng() % s.size();
    switch (rng() % 3) {
      case 0:
        s[at] = static_cast<char>(rng() % 256);
        break;
      case 1:
        s.insert(at, kPieces[rng() % kPieces.size()]);
        break;
      default:
        s.erase(at, 1 + rng() % 3);
        break;
    }
  }
  if (rng() % 4 == 0) s += "</stream:stream>";
  return s;
}

// Everything observable after each feed(), as text.
template <class Framer>
std::vector<std::string> trace(std::string_view input, const std::vector<std::size_t>& chunks,
                               FramerLimits limits) {
  Framer f(limits);
  std::vector<std::string> out;
  std::size_t pos = 0, c = 0;
  int restarts = 0;
  while (pos < input.size()) {
    std::size_t n = std::min(chunks[c++ % chunks.size()], input.size() - pos);
    std::string_view piece = input.substr(pos, n);
    for (int guard = 0; guard < 100000; ++guard) {
      auto step = f.feed(piece);
      std::string e = std::to_string(static_cast<int>(step.status)) + "/" + std::to_string(step.consumed);
      if (step.status == Framer::Status::error)
        e += " " + std::string(to_string(f.error())) + ": " + f.error_text();
      if (step.status == Framer::Status::header) {
        e += " " + f.header().name;
        for (const auto& [k, v] : f.header().attributes) e += " " + k + "=" + v;
        f.release_header();
      }
      if (step.status == Framer::Status::stanza) {
        auto b = f.take_stanza();
        e += " " + std::string(b.begin(), b.end());
      }
      out.push_back(std::move(e));
      if (step.status == Framer::Status::error) return out;
      if (step.status == Framer::Status::stream_end && restarts++ < 1) f.reset();  // a second document
      piece.remove_prefix(step.consumed);
      if (step.status == Framer::Status::need_more) break;
    }
    pos += n;
  }
  return out;
}

FramerLimits random_limits(std::mt19937& rng) {
  FramerLimits l;
  if (rng() % 2) {
    l.max_stanza = 1 + rng() % 400;
    l.max_header = 1 + rng() % 200;
    l.max_depth = 1 + rng() % 4;
    l.max_attributes = rng() % 5;
  }
  return l;
}

std::vector<std::size_t> random_chunks(std::mt19937& rng) {
  switch (rng() % 4) {
    case 0:
      return {1'000'000};
    case 1:
      return {1};
    case 2:
      return {1 + rng() % 7, 1 + rng() % 31};
    default:
      return {1 + rng() % 200, 1, 2, 3};
  }
}

// `in` framed with every max_stanza from 1 to up_to, in each of `chunkings`, gives what the
// reference framer gives.
void same_at_every_stanza_limit(const std::string& in, std::size_t up_to,
                                std::initializer_list<std::vector<std::size_t>> chunkings) {
  for (std::size_t lim = 1; lim <= up_to; ++lim) {
    FramerLimits l;
    l.max_stanza = lim;
    for (const auto& chunks : chunkings) {
      CAPTURE(lim);
      CHECK(trace<StreamFramer>(in, chunks, l) == trace<ref::RefStreamFramer>(in, chunks, l));
    }
  }
}

}  // namespace

TEST_CASE("framer fast paths: random and hostile streams behave exactly as the byte loop did") {
  std::mt19937 rng(20261205);
  const int n = iterations(20000);
  for (int k = 0; k < n; ++k) {
    const std::string in = random_stream(rng);
    const FramerLimits limits = random_limits(rng);
    const auto chunks = random_chunks(rng);
    auto want = trace<ref::RefStreamFramer>(in, chunks, limits);
    auto got = trace<StreamFramer>(in, chunks, limits);
    if (got != want) {
      CAPTURE(k);
      CAPTURE(in);
      CAPTURE(limits.max_stanza);
      CAPTURE(limits.max_header);
      CHECK(got == want);
      break;
    }
  }
}

TEST_CASE("framer fast paths: every limit hit at every offset of a run") {
  // A run of plain bytes in each fast-path state (value, text, CDATA, names, UTF-8), with the
  // stanza and header limits stepped across it: the error must come at the same byte.
  const std::string body = "<message to='" + std::string(40, 'a') + "\xC3\xA9\xE2\x82\xAC'><b" +
                           std::string(20, 'n') + ">" + std::string(50, 't') + "\xF0\x9D\x84\x9E" +
                           "<![CDATA[" + std::string(30, 'c') + "]]></b" + std::string(20, 'n') +
                           "></message>";
  const std::string in = std::string(kHeaderText) + body + body;
  same_at_every_stanza_limit(in, body.size() + 1, {{1'000'000}, {1}, {5, 17}});
  for (std::size_t lim = 1; lim <= kHeaderText.size() + 1; ++lim) {
    FramerLimits l;
    l.max_header = lim;
    CAPTURE(lim);
    CHECK(trace<StreamFramer>(in, {1'000'000}, l) == trace<ref::RefStreamFramer>(in, {1'000'000}, l));
    CHECK(trace<StreamFramer>(in, {3}, l) == trace<ref::RefStreamFramer>(in, {3}, l));
  }
}

TEST_CASE("framer fast paths: each byte value at each position of a value, text and name") {
  const std::string pre = std::string(kHeaderText) + "<message to='ab";
  for (int b = 0; b < 256; ++b) {
    const std::string c(1, static_cast<char>(b));
    for (const std::string& in :
         {pre + c + "cd'/>", std::string(kHeaderText) + "<m><b>ab" + c + "cd</b></m>",
          std::string(kHeaderText) + "<m" + c + "n/>", std::string(kHeaderText) + "<m a" + c + "b='1'/>",
          std::string(kHeaderText) + "<m><![CDATA[a" + c + "b]]></m>",
          "<?xml version='1.0'?><stream:stream a='x" + c + "y'>"}) {
      CAPTURE(b);
      CHECK(trace<StreamFramer>(in, {1'000'000}, {}) == trace<ref::RefStreamFramer>(in, {1'000'000}, {}));
    }
  }
}

TEST_CASE("framer markup pass: malformed and limit-breaking tags fail where the byte loop fails") {
  // Stanzas whose tags the markup pass (markup_run) starts on and must hand back or fail
  // exactly as the byte loop: errors inside names, between attributes, in values, at the
  // '>' (depth, attribute count, duplicates, mismatched inner end tags), each byte of the
  // groupchat stanza as the stanza limit, fed whole, byte by byte and in odd pieces.
  const std::vector<std::string> stanzas = {
      "<message type='groupchat' xml:lang='en' to='#c%irc@gw' from='u@d/r'><body>hi</body></message>",
      "<message a='1' a='2'/>",
      "<message a='1' b='2' c='3' d='4' e='5' f='6'><body>x</body></message>",
      "<message a='1'b='2'/>",
      "<message a ='1'/>",
      "<message a= '1'/>",
      "<message a=1/>",
      "<message a='1\t2' b=\"x'y\" c='&amp;' d='<'/>",
      "<message\ta='1'/>",
      "<message a='1'\tb='2'><body>x</body></message>",
      "<message><body>x</bodx></message>",
      "<message><body>x</body ></message>",
      "<message><a><b><c><d><e>deep</e></d></c></b></a></message>",
      "<message><body/><x xmlns='urn:x'/></message>",
      "<message><1body/></message>",
      "<message><body>x</1body></message>",
      "<message \xC3\xA9='1' a\xC3\xA9"
      "b='2'><b\xC3\xA9>t</b\xC3\xA9></message>",
      "<message a='\xC3\xA9\xC3'/>",
      "<message a='x\x01'/>",
      "<message><body>a&lt;b</body><!-- c --></message>",
      "<message a='1' >  <body>x</body>  </message>",
      "<message/>",
      "<message></message>",
      "</message>",
  };
  for (const auto& st : stanzas) {
    const std::string in = std::string(kHeaderText) + st + st;
    for (std::size_t depth : {std::size_t{1}, std::size_t{2}, std::size_t{32}}) {
      FramerLimits l;
      l.max_depth = depth;
      l.max_attributes = depth == 2 ? 3 : 64;
      for (std::vector<std::size_t> chunks :
           {std::vector<std::size_t>{1'000'000}, {1}, {2, 7}, {kHeaderText.size() + 9, 3}}) {
        CAPTURE(st);
        CAPTURE(depth);
        CHECK(trace<StreamFramer>(in, chunks, l) == trace<ref::RefStreamFramer>(in, chunks, l));
      }
    }
    CAPTURE(st);
    same_at_every_stanza_limit(in, st.size() + 1, {{1'000'000}, {4}});
  }
}

TEST_CASE("framer scratch: an idle stream holds none, a stanza cut between reads keeps its state") {
  // Two framers interleaved on one thread share the per-thread spare scratch: a stanza cut
  // in the middle of a name or value in one must not be disturbed by the other.
  StreamFramer a, b;
  REQUIRE(a.feed(kHeaderText).status == StreamFramer::Status::header);
  REQUIRE(b.feed(kHeaderText).status == StreamFramer::Status::header);
  a.release_header();
  b.release_header();
  CHECK(a.feed("<message to='bo").status == StreamFramer::Status::need_more);
  CHECK(b.feed("<iq type='get' id='1'><query xmlns='q'/></iq>").status == StreamFramer::Status::stanza);
  CHECK(b.feed("<presence><sta").status == StreamFramer::Status::need_more);
  CHECK(a.feed("b@x'><body>hi</bo").status == StreamFramer::Status::need_more);
  CHECK(b.feed("tus>away</status></presence>").status == StreamFramer::Status::stanza);
  auto st = a.feed("dy></message>");
  CHECK(st.status == StreamFramer::Status::stanza);
  auto bytes = a.take_stanza();
  CHECK(std::string(bytes.begin(), bytes.end()) == "<message to='bob@x'><body>hi</body></message>");
  // A mismatched end tag is still seen across the shared scratch.
  CHECK(a.feed("<a><b></a>").status == StreamFramer::Status::error);
  CHECK(a.error_text() == "mismatched end tag");
}

namespace {

std::string random_jid_text(std::mt19937& rng) {
  static const std::vector<std::string> atoms = {"a",
                                                 "Z",
                                                 "q",
                                                 "0",
                                                 "9",
                                                 "-",
                                                 "_",
                                                 ".",
                                                 "@",
                                                 "/",
                                                 "[",
                                                 "]",
                                                 ":",
                                                 " ",
                                                 "\t",
                                                 "\"",
                                                 "&",
                                                 "'",
                                                 "<",
                                                 ">",
                                                 "%",
                                                 "#",
                                                 "\x7F",
                                                 "\x01",
                                                 std::string(1, '\0'),
                                                 "\xC3\xA9",
                                                 "\xC3\x89",
                                                 "\xE2\x82\xAC",
                                                 "\xF0\x9D\x84\x9E",
                                                 "\x80",
                                                 "\xC0\xAF",
                                                 "\xED\xA0\x80",
                                                 "\xEF\xBF\xBE",
                                                 "\xF4\x90\x80\x80",
                                                 "\xE2\x82",
                                                 "::1",
                                                 "[::1]",
                                                 "alice",
                                                 "Alice",
                                                 "localhost",
                                                 "irc.localhost",
                                                 "#chan%irc.example.org",
                                                 "example.org.",
                                                 ".",
                                                 ".."};
  std::string s;
  const unsigned n = rng() % 12;
  for (unsigned k = 0; k < n; ++k) s += atoms[rng() % atoms.size()];
  if (rng() % 50 == 0) s += std::string(1010 + rng() % 20, rng() % 2 ? 'a' : 'A');  // around 1023
  if (rng() % 50 == 0) s = std::string(60 + rng() % 8, 'd') + "." + s;              // around 63
  return s;
}

}  // namespace

TEST_CASE("JID fast paths: random and hostile parts prepare exactly as before (valid_jid: whether they do)") {
  std::mt19937 rng(7622);
  const int n = iterations(50000);
  for (int k = 0; k < n; ++k) {
    const std::string s = random_jid_text(rng);
    CAPTURE(s);
    REQUIRE(parse_jid(s) == ref::parse_jid(s));
    REQUIRE(valid_jid(s) == ref::parse_jid(s).has_value());
    REQUIRE(prep_localpart(s) == ref::prep_localpart(s));
    REQUIRE(prep_domain(s) == ref::prep_domain(s));
    REQUIRE(prep_resource(s) == ref::prep_resource(s));
  }
  for (int b = 0; b < 256; ++b) {  // each byte alone and inside each part
    const std::string c(1, static_cast<char>(b));
    for (const std::string& s : {c, "a" + c + "b@d/r", "a@d" + c + "e/r", "a@d/r" + c + "s", "A@" + c}) {
      CAPTURE(s);
      REQUIRE(parse_jid(s) == ref::parse_jid(s));
      REQUIRE(valid_jid(s) == ref::parse_jid(s).has_value());
    }
  }
}

TEST_CASE("Stanza::parse: the same stanzas are accepted and render the same as before") {
  std::mt19937 rng(6120);
  auto ns = std::make_shared<const StreamNamespaces>();
  const int n = iterations(20000);
  std::size_t parsed = 0, unprefixed = 0;
  for (int k = 0; k < n; ++k) {
    const std::string in = random_stream(rng);
    StreamFramer f;
    std::string_view piece = in;
    for (int guard = 0; guard < 1000; ++guard) {
      auto step = f.feed(piece);
      if (step.status == StreamFramer::Status::error || step.status == StreamFramer::Status::stream_end)
        break;
      if (step.status == StreamFramer::Status::stanza) {
        auto bytes = f.take_stanza();
        std::vector<char> copy = bytes, framed = bytes;
        auto want = ref::parse_stanza(copy, *ns);
        auto got = Stanza::parse(std::move(bytes), ns);
        REQUIRE(static_cast<bool>(got) == static_cast<bool>(want));
        // As the streams call it: the framer's "no ':' in any name" skips the namespace walk.
        auto skipped = Stanza::parse(std::move(framed), ns, f.stanza_prefixed());
        REQUIRE(static_cast<bool>(skipped) == static_cast<bool>(want));
        if (got) {
          std::string a, b, c;
          render(a, got->root());
          render(b, want->document_element());
          render(c, skipped->root());
          CHECK(a == b);
          CHECK(c == b);
          ++parsed;
          unprefixed += f.stanza_prefixed() ? 0 : 1;
        }
      }
      piece.remove_prefix(step.consumed);
      if (step.status == StreamFramer::Status::need_more) break;
    }
  }
  CHECK(parsed > 1000);  // the generator makes plenty of valid stanzas
  CHECK(unprefixed > 100);
  CHECK(unprefixed < parsed);
}

TEST_CASE("Stanza::parse: namespace edge cases are decided as before") {
  auto ns = std::make_shared<const StreamNamespaces>();
  const std::vector<std::pair<std::string, bool>> cases = {
      {"<m xmlns:a='u' a:x='1'/>", true},
      {"<m xmlns:a='u' xmlns:b='u' a:x='1' b:x='2'/>", false},  // same expanded name twice
      {"<m a:x='1'/>", false},                                  // unbound attribute prefix
      {"<m xmlns:a='u'><a:b a:c='1'/></m>", true},
      {"<m><a:b xmlns:a='u'/><a:c/></m>", false},  // the binding ended with its element
      {"<m :x='1'/>", true},
      {"<m xmlns:='u'/>", false},
      {"<m xml:lang='en' xml:x='1'/>", true},
      {"<m xmlns:xml='bad'/>", false},
      {"<m xmlns:xmlns='u'/>", false},
      {"<m xmlns:a=''/>", false},
      {"<xmlns:m/>", false},
      {"<stream:m a='1'/>", true},  // the stream header's prefix
      {"<a:m xmlns:a='u' xmlns:b='v' b:x='1' a:x='1'/>", true},
  };
  for (const auto& [text, ok] : cases) {
    CAPTURE(text);
    std::vector<char> a(text.begin(), text.end()), b = a;
    auto want = ref::parse_stanza(a, *ns);
    CHECK(static_cast<bool>(want) == ok);
    CHECK(static_cast<bool>(Stanza::parse(std::move(b), ns)) == ok);
  }
}
