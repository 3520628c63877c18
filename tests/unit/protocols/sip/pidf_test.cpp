#include "protocols/sip/pidf.hpp"

#include <doctest/doctest.h>

using namespace parley::protocols::sip;

namespace {
const char* kBaresipLike =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n"
    "    xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\r\n"
    "    xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\r\n"
    "    entity=\"sip:alice@example.com\">\r\n"
    "  <dm:person id=\"p4159\"><rpid:activities><rpid:busy/></rpid:activities></dm:person>\r\n"
    "  <tuple id=\"t4109\"><status><basic>open</basic></status>\r\n"
    "    <contact priority=\"0.8\">sip:alice@127.0.0.1</contact><note>in a call</note></tuple>\r\n"
    "</presence>\r\n";
}

TEST_CASE("pidf: a document with RPID activities maps to show and note") {
  auto d = parse_pidf(kBaresipLike);
  REQUIRE(d);
  CHECK(d->entity == "sip:alice@example.com");
  REQUIRE(d->tuples.size() == 1);
  CHECK(d->tuples[0].id == "t4109");
  CHECK(d->tuples[0].open);
  CHECK(d->tuples[0].priority == doctest::Approx(0.8));
  CHECK(d->show == PidfShow::dnd);
  CHECK(d->note == "in a call");
}

TEST_CASE("pidf: prefixes do not matter, namespaces do") {
  auto d = parse_pidf(
      "<p:presence xmlns:p='urn:ietf:params:xml:ns:pidf' xmlns:r='urn:ietf:params:xml:ns:pidf:rpid' "
      "entity='pres:bob@x'><p:tuple id='a'><p:status><p:basic>closed</p:basic>"
      "<r:activities><r:away/></r:activities></p:status></p:tuple></p:presence>");
  REQUIRE(d);
  CHECK_FALSE(d->tuples[0].open);
  CHECK(d->show == PidfShow::away);
  // The right local names in the wrong namespace are not PIDF.
  CHECK_FALSE(
      parse_pidf("<presence xmlns='jabber:client' entity='x'><tuple id='a'><status/></tuple></presence>"));
  // Activities outside the RPID namespace are ignored.
  auto e = parse_pidf(
      "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><tuple id='a'><status><basic>open</basic>"
      "<activities><busy/></activities></status></tuple></presence>");
  REQUIRE(e);
  CHECK(e->show == PidfShow::available);
}

TEST_CASE("pidf: malformed documents are refused") {
  CHECK_FALSE(parse_pidf(""));
  CHECK_FALSE(parse_pidf("<presence"));
  CHECK_FALSE(parse_pidf("not xml at all"));
  CHECK_FALSE(parse_pidf("<presence xmlns='urn:ietf:params:xml:ns:pidf'/>"));  // no entity
  CHECK_FALSE(
      parse_pidf("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><tuple><status/></tuple>"
                 "</presence>"));  // tuple without id
  CHECK_FALSE(
      parse_pidf("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><tuple id='a'/></presence>"));
  CHECK_FALSE(
      parse_pidf("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><tuple id='a'><status>"
                 "<basic>maybe</basic></status></tuple></presence>"));
  CHECK_FALSE(
      parse_pidf("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><tuple id='a'><status/>"
                 "<contact priority='7'>sip:a@b</contact></tuple></presence>"));
  // No DOCTYPE, hence no entity expansion games.
  CHECK_FALSE(
      parse_pidf("<!DOCTYPE presence [<!ENTITY a 'aaaa'>]><presence "
                 "xmlns='urn:ietf:params:xml:ns:pidf' entity='&a;'/>"));
  // Size limit.
  std::string big = "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><note>" +
                    std::string(kMaxPresenceDocument, 'a') + "</note></presence>";
  CHECK_FALSE(parse_pidf(big));
}

TEST_CASE("pidf: tuples and notes are bounded, notes are clean text") {
  std::string doc = "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'>";
  for (int i = 0; i < 100; ++i) doc += "<tuple id='t" + std::to_string(i) + "'><status/></tuple>";
  doc += "<note>a&#x1;b\xc3\xa9</note></presence>";
  auto d = parse_pidf(doc);
  REQUIRE(d);
  CHECK(d->tuples.size() == kMaxPidfTuples);
  CHECK(d->note == "ab\xc3\xa9");
}

TEST_CASE("pidf: render then parse keeps state, note and show, hostile text stays inside") {
  PidfDocument d;
  d.entity = "pres:bob@example.com";
  d.tuples.push_back({"sip-1", true, 0.5, "sip:bob@127.0.0.1", "</note><x/>"});
  d.tuples.push_back({"xmpp-2", false, std::nullopt, "", ""});
  d.show = PidfShow::dnd;
  d.note =
      "busy \x03"
      "4red & <b>";
  auto xml = render_pidf(d);
  CHECK(xml.find("<rpid:busy") != std::string::npos);
  CHECK(xml.find("<x/>") == std::string::npos);
  auto back = parse_pidf(xml);
  REQUIRE(back);
  CHECK(back->entity == d.entity);
  REQUIRE(back->tuples.size() == 2);
  CHECK(back->tuples[0].note == "</note><x/>");
  CHECK_FALSE(back->tuples[1].open);
  CHECK(back->show == PidfShow::dnd);
  CHECK(back->note == "busy 4red & <b>");
  for (auto s : {PidfShow::away, PidfShow::xa, PidfShow::available}) {
    d.show = s;
    CHECK(parse_pidf(render_pidf(d))->show == s);
  }
}

TEST_CASE("watcherinfo: RFC 3858 document") {
  auto xml = render_watcherinfo("sip:bob@example.com", 3, true,
                                {{"w1", "sip:alice@example.com", "pending", "subscribe"},
                                 {"w2", "sip:carol@example.com", "active", "approved"}});
  CHECK(xml.find("<watcherinfo xmlns=\"urn:ietf:params:xml:ns:watcherinfo\" version=\"3\" state=\"full\">") !=
        std::string::npos);
  CHECK(xml.find("<watcher-list resource=\"sip:bob@example.com\" package=\"presence\">") !=
        std::string::npos);
  CHECK(
      xml.find("<watcher id=\"w1\" status=\"pending\" event=\"subscribe\">sip:alice@example.com</watcher>") !=
      std::string::npos);
}

TEST_CASE("isComposing: parse and render (RFC 3994)") {
  auto c = parse_is_composing(
      "<?xml version='1.0'?><isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'>"
      "<state>active</state><contenttype>text/plain</contenttype><refresh>60</refresh></isComposing>");
  REQUIRE(c);
  CHECK(c->active);
  CHECK(c->refresh == 60);
  CHECK(c->content_type == "text/plain");
  auto idle = parse_is_composing(render_is_composing({false, 0, "text/plain"}));
  REQUIRE(idle);
  CHECK_FALSE(idle->active);
  CHECK(parse_is_composing(render_is_composing({true, 90, ""}))->refresh == 90);
  CHECK_FALSE(parse_is_composing("<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'/>"));
  CHECK_FALSE(
      parse_is_composing("<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>typing"
                         "</state></isComposing>"));
  CHECK_FALSE(parse_is_composing("<isComposing><state>active</state></isComposing>"));
  CHECK_FALSE(parse_is_composing("<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>"));
}
