#include <doctest/doctest.h>

#include <pugixml.hpp>

#include <string>
#include <vector>

#include "adapters/xmpp/xhtml_im.hpp"

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
