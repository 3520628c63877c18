#include "adapters/xmpp/xhtml_im.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <pugixml.hpp>
#include <random>
#include <string>
#include <vector>

using parley::core::StyleSpan;
using namespace parley::adapters::xmpp;

namespace {

std::vector<StyleSpan> parse(const std::string& xml, std::string_view plain) {
  pugi::xml_document doc;
  REQUIRE(doc.load_string(xml.c_str(), pugi::parse_default | pugi::parse_ws_pcdata));
  return parse_xhtml_im(doc.document_element(), plain);
}

std::string html(const std::string& inner) {
  return "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>" + inner +
         "</body></html>";
}

}  // namespace

TEST_CASE("xhtml-im: no styled span, no <html/>") {
  CHECK(render_xhtml_im("plain", {}).empty());
  CHECK(render_xhtml_im("plain", {StyleSpan{0, 5, 0, std::nullopt, std::nullopt}}).empty());
  CHECK(render_xhtml_im("", {StyleSpan{0, 5, StyleSpan::bold, std::nullopt, std::nullopt}}).empty());
}

TEST_CASE("xhtml-im: bold, italic, code, underline and colours render and escape") {
  std::string body = "a <b>&c\nd";
  std::vector<StyleSpan> spans{{0, 1, StyleSpan::bold, std::nullopt, std::nullopt},
                               {2, 5, StyleSpan::italic | StyleSpan::underline, 0xff0000, std::nullopt},
                               {6, 9, StyleSpan::monospace, std::nullopt, 0x00ff00}};
  auto out = render_xhtml_im(body, spans);
  CHECK(out == html("<strong>a</strong> <span style='text-decoration: underline;color: #ff0000;'><em>&lt;b&gt;</em>"
                    "</span>&amp;<span style='background-color: #00ff00;'><code>c<br/>d</code></span>"));
  // and back: the same spans over the same body
  auto back = parse(out, body);
  CHECK(back == spans);
}

TEST_CASE("xhtml-im: overlapping spans combine - offsets never split a UTF-8 character") {
  std::string body = "\xc3\xa9t\xc3\xa9";  // "été"
  std::vector<StyleSpan> spans{{0, 3, StyleSpan::bold, std::nullopt, std::nullopt},
                               {1, 5, StyleSpan::italic, std::nullopt, std::nullopt}};
  auto out = render_xhtml_im(body, spans);
  // 1 is inside "é": moved to 2
  CHECK(out == html("<strong>\xc3\xa9</strong><strong><em>t</em></strong><em>\xc3\xa9</em>"));
}

TEST_CASE("xhtml-im: synonyms and CSS from clients") {
  auto spans = parse(html("<p><b>bold</b> <i>it</i> <u>un</u> <tt>mono</tt> <del>gone</del> "
                          "<span style='font-weight: 700; color: #0f0; background-color: Navy'>x</span></p>"),
                     "bold it un mono gone x");
  REQUIRE(spans.size() == 6);
  CHECK(spans[0] == StyleSpan{0, 4, StyleSpan::bold, std::nullopt, std::nullopt});
  CHECK(spans[1] == StyleSpan{5, 7, StyleSpan::italic, std::nullopt, std::nullopt});
  CHECK(spans[2] == StyleSpan{8, 10, StyleSpan::underline, std::nullopt, std::nullopt});
  CHECK(spans[3] == StyleSpan{11, 15, StyleSpan::monospace, std::nullopt, std::nullopt});
  CHECK(spans[4] == StyleSpan{16, 20, StyleSpan::strike, std::nullopt, std::nullopt});
  CHECK(spans[5] == StyleSpan{21, 22, StyleSpan::bold, 0x00ff00, 0x000080});
}

TEST_CASE("xhtml-im: the plain body is authoritative") {
  // different words in the markup: no spans at all
  CHECK(parse(html("<strong>something else</strong>"), "hello").empty());
  // no <body/>: nothing
  CHECK(parse("<html xmlns='http://jabber.org/protocol/xhtml-im'/>", "hello").empty());
  // markup whitespace around the text is layout
  auto spans = parse(html("\n  <p>hi <em>there</em></p>\n"), "hi there");
  REQUIRE(spans.size() == 1);
  CHECK(spans[0] == StyleSpan{3, 8, StyleSpan::italic, std::nullopt, std::nullopt});
  // line breaks
  spans = parse(html("<p>one</p><p><strong>two</strong></p>"), "one\ntwo");
  REQUIRE(spans.size() == 1);
  CHECK(spans[0] == StyleSpan{4, 7, StyleSpan::bold, std::nullopt, std::nullopt});
  // unknown colours and hostile CSS are ignored
  spans = parse(html("<span style='color: url(javascript:x); font-weight'>a</span>"), "a");
  CHECK(spans.empty());
}

namespace {

struct ByteStyle {
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> fg, bg;
  bool operator==(const ByteStyle&) const = default;
};

std::vector<ByteStyle> per_byte(std::size_t n, const std::vector<StyleSpan>& spans) {
  std::vector<ByteStyle> out(n);
  for (const auto& s : spans)
    for (std::size_t i = s.begin; i < s.end && i < n; ++i) {
      out[i].flags |= s.flags;
      if (s.fg) out[i].fg = s.fg;
      if (s.bg) out[i].bg = s.bg;
    }
  return out;
}

}  // namespace

TEST_CASE("xhtml-im: random overlapping spans render and parse back to the same styles") {
  std::mt19937 rng(71);
  for (int round = 0; round < 200; ++round) {
    const std::size_t n = 1 + rng() % 40;
    std::string body;
    for (std::size_t i = 0; i < n; ++i) body += "ab<&\n"[rng() % 5];
    if (body.front() == '\n') body.front() = 'a';  // leading/trailing breaks are layout
    if (body.back() == '\n') body.back() = 'b';
    std::vector<StyleSpan> spans;
    for (int k = 0, count = static_cast<int>(rng() % 6); k < count; ++k) {
      StyleSpan s;
      s.begin = rng() % (n + 1);
      s.end = rng() % (n + 1);
      s.flags = static_cast<std::uint8_t>(rng() % 32);
      if (rng() % 3 == 0) s.fg = 0x123456u * (1 + rng() % 3);
      if (rng() % 4 == 0) s.bg = 0x00ff00u;
      spans.push_back(s);
    }
    auto out = render_xhtml_im(body, spans);
    INFO("round ", round, " ", out);
    if (out.empty()) {
      CHECK(per_byte(n, spans) == std::vector<ByteStyle>(n));
      continue;
    }
    CHECK(per_byte(n, parse(out, body)) == per_byte(n, spans));
  }
}

TEST_CASE("xhtml-im: 28k alternating spans render and parse in linear time, bounded") {
  // The message: ~250 KB of text, 28k spans; the old renderer was quadratic.
  std::string body;
  std::vector<StyleSpan> spans;
  std::string markup;
  for (std::uint32_t i = 0; i < 28000; ++i) {
    spans.push_back(StyleSpan{static_cast<std::uint32_t>(body.size()),
                              static_cast<std::uint32_t>(body.size() + 4), StyleSpan::bold, std::nullopt,
                              std::nullopt});
    body += "word";
    markup += "<strong>word</strong>";
    body += " plain ";
    markup += " plain ";
  }
  auto t0 = std::chrono::steady_clock::now();
  auto out = render_xhtml_im(body, spans);
  auto back = parse(html(markup), body);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(took < 5.0);
  // Rendering uses the first kMaxStyleSpans spans, parsing makes no more; the text is whole.
  CHECK(back.size() == parley::core::kMaxStyleSpans);
  auto rendered = parse(out, body);
  CHECK(rendered.size() == parley::core::kMaxStyleSpans);
  CHECK(rendered.back() == spans[parley::core::kMaxStyleSpans - 1]);
  pugi::xml_document doc;
  REQUIRE(doc.load_string(out.c_str(), pugi::parse_default | pugi::parse_ws_pcdata));
  std::string text;
  struct Walker : pugi::xml_tree_walker {
    std::string* t;
    bool for_each(pugi::xml_node& n) override {
      if (n.type() == pugi::node_pcdata) *t += n.value();
      return true;
    }
  } walker;
  walker.t = &text;
  doc.traverse(walker);
  CHECK(text == body);
}
