// gateway_in (adapters/xmpp/gateway_route): the gateway's copy of a stanza. Its one pass
// over the children must find what px::child(name, ns) finds for each of body, subject,
// status, html and x: the first element child with that local name in that namespace.
#include "adapters/xmpp/gateway_route.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adapters/xmpp/xhtml_im.hpp"

namespace px = parley::protocols::xmpp;
using parley::adapters::xmpp::gateway_in;

namespace {

std::optional<px::Stanza> parse(const std::string& xml, std::shared_ptr<const px::StreamNamespaces> ns) {
  return px::Stanza::parse(std::vector<char>(xml.begin(), xml.end()), std::move(ns));
}

std::optional<std::string> text_of(pugi::xml_node n) {
  if (!n) return std::nullopt;
  return std::string(n.text().get());
}

}  // namespace

TEST_CASE("gateway_in: each child is the first of its name in its namespace, as px::child finds it") {
  auto scope = std::make_shared<px::StreamNamespaces>();
  scope->default_ns = "jabber:component:accept";
  scope->prefixes.emplace_back("hdr", "jabber:component:accept");
  const std::vector<std::string> roots = {"<message",
                                          "<message xmlns='jabber:client'",
                                          "<message xmlns=''",
                                          "<c:message xmlns:c='jabber:client'",
                                          "<hdr:message",
                                          "<presence",
                                          "<presence xmlns='urn:other'"};
  const std::vector<std::string> kids = {"<body>b1</body>",
                                         "<body xmlns='urn:other'>b2</body>",
                                         "<body xmlns='jabber:client'>b3</body>",
                                         "<c:body xmlns:c='jabber:client'>b4</c:body>",
                                         "<hdr:body>b5</hdr:body>",
                                         "<body xmlns=''>b6</body>",
                                         "<subject>s1</subject>",
                                         "<subject xmlns='urn:other'>s2</subject>",
                                         "<status>t1</status>",
                                         "<status xmlns='jabber:client'>t2</status>",
                                         "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
                                         "xmlns='http://www.w3.org/1999/xhtml'><b>b1</b></body></html>",
                                         "<html><body><b>x</b></body></html>",
                                         "<x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='3' "
                                         "xmlns='http://jabber.org/protocol/muc'/></x>",
                                         "<x xmlns='jabber:x:data'/>",
                                         "<m:x xmlns:m='http://jabber.org/protocol/muc'/>",
                                         "text",
                                         "<y/>"};
  std::mt19937 rng(6121);
  for (int k = 0; k < 5000; ++k) {
    const std::string& root = roots[rng() % roots.size()];
    const std::string name =
        root.substr(1, root.find(' ') == std::string::npos ? std::string::npos : root.find(' ') - 1);
    const bool typed = rng() % 4 != 0, with_id = rng() % 4 != 0;
    std::string xml = root + " to='#c%irc@irc.localhost' from='a@b/c'" + (typed ? " type='groupchat'" : "") +
                      (rng() % 3 == 0 ? " xml:lang='en'" : "") + (with_id ? " id='i'" : "") + ">";
    const unsigned n = rng() % 6;
    for (unsigned i = 0; i < n; ++i) xml += kids[rng() % kids.size()];
    xml += "</" + name + ">";
    CAPTURE(xml);
    auto s = parse(xml, scope);
    REQUIRE(s);
    auto to = px::parse_jid(s->attr("to"));
    REQUIRE(to);
    const auto in = gateway_in(*s, *to, "a@b/c");
    const std::string_view ns = s->ns();
    const auto body = text_of(s->child("body", ns));
    CHECK(in.body == body);
    CHECK(in.subject == text_of(s->child("subject", ns)));
    if (in.kind == parley::adapters::gateway::XmppIn::Kind::presence)
      CHECK(in.status == s->child("status", ns).text().get());
    CHECK(in.muc_join == static_cast<bool>(s->child("x", "http://jabber.org/protocol/muc")));
    if (in.muc_join) {
      const auto h = px::child(s->child("x", "http://jabber.org/protocol/muc"), "history",
                               "http://jabber.org/protocol/muc", s->stream());
      CHECK(in.history.maxstanzas.has_value() == static_cast<bool>(h));
    }
    const auto html = s->child("html", parley::adapters::xmpp::kXhtmlIm);
    CHECK(in.spans.size() == (body && html ? parley::adapters::xmpp::parse_xhtml_im(html, *body).size() : 0));
    CHECK(in.to_local == "#c%irc");
    CHECK(in.to_domain == "irc.localhost");
    CHECK(in.from == "a@b/c");
    CHECK(in.type == s->attr("type"));
    CHECK(in.id == s->attr("id"));
    CHECK(in.type == (typed ? "groupchat" : ""));
    CHECK(in.id == (with_id ? "i" : ""));
  }
}
