// Namespace well-formedness of what Parley forwards: a subtree taken out of a received
// stanza keeps the meaning of every prefix it uses (Namespaces in XML 1.0 §5), and a stanza
// that uses an undeclared prefix is refused on input.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"

using namespace parley::protocols::xmpp;

namespace {

std::optional<Stanza> parse(const std::string& xml, std::shared_ptr<const StreamNamespaces> scope = nullptr) {
  return Stanza::parse(std::vector<char>(xml.begin(), xml.end()), std::move(scope));
}

std::string render_first_child(const Stanza& s) {
  std::string out;
  for (auto c : s.root().children())
    if (c.type() == pugi::node_element) {
      render(out, c, s.stream());
      break;
    }
  return out;
}

// Every prefix used in `xml` (a fragment rendered on its own) is declared in it: parsing it
// alone, with no stream declarations but the default, succeeds.
bool stands_alone(const std::string& xml) {
  auto empty = std::make_shared<StreamNamespaces>();
  empty->prefixes.clear();
  return parse(xml, empty).has_value();
}

}  // namespace

TEST_CASE("namespaces: a prefix declared on the stanza is declared again on the forwarded child") {
  auto s = parse("<iq type='get' id='1' xmlns:foo='urn:x'><foo:query/></iq>");
  REQUIRE(s);
  std::string out = render_first_child(*s);
  CHECK(out == "<foo:query xmlns:foo='urn:x'/>");
  CHECK(stands_alone(out));
}

TEST_CASE("namespaces: prefixed attributes and prefixes from the stream header") {
  auto scope = std::make_shared<StreamNamespaces>();
  scope->prefixes.emplace_back("hdr", "urn:header");
  auto s = parse("<message xmlns:a='urn:a'><x xmlns='urn:x' a:k='1' hdr:k='2'><hdr:y a:z='3'/></x></message>",
                 scope);
  REQUIRE(s);
  std::string out = render_first_child(*s);
  CHECK(out ==
        "<x xmlns='urn:x' a:k='1' hdr:k='2' xmlns:a='urn:a' xmlns:hdr='urn:header'><hdr:y a:z='3'/></x>");
  CHECK(stands_alone(out));
}

TEST_CASE("namespaces: declarations inside the subtree are kept and not repeated") {
  auto s = parse(
      "<message xmlns:p='urn:outer'><p:a><p:b xmlns:p='urn:inner'/><q:c xmlns:q='urn:q'/></p:a></message>");
  REQUIRE(s);
  std::string out = render_first_child(*s);
  CHECK(out == "<p:a xmlns:p='urn:outer'><p:b xmlns:p='urn:inner'/><q:c xmlns:q='urn:q'/></p:a>");
}

TEST_CASE("namespaces: an inherited default namespace other than jabber:client is declared") {
  auto s = parse("<message xmlns='urn:other'><x/></message>");
  REQUIRE(s);
  CHECK(render_first_child(*s) == "<x xmlns='urn:other'/>");
  auto plain = parse("<message><body>hi</body></message>");
  REQUIRE(plain);
  CHECK(render_first_child(*plain) == "<body>hi</body>");  // jabber:client, as where it goes
}

TEST_CASE("namespaces: stanzas that are not namespace-well-formed are refused") {
  CHECK_FALSE(parse("<iq><foo:query/></iq>"));                                  // unbound element prefix
  CHECK_FALSE(parse("<iq><query foo:a='1'/></iq>"));                            // unbound attribute prefix
  CHECK_FALSE(parse("<iq xmlns:foo=''><foo:query/></iq>"));                     // undeclaring a prefix
  CHECK_FALSE(parse("<iq xmlns:a='u' xmlns:b='u'><q a:x='1' b:x='2'/></iq>"));  // same expanded name twice
  CHECK_FALSE(parse("<iq xmlns:xml='urn:not-xml'/>"));
  CHECK_FALSE(parse("<iq xmlns:x='http://www.w3.org/XML/1998/namespace'/>"));
  CHECK_FALSE(parse("<xmlns:iq/>"));
  CHECK(parse("<iq xml:lang='en'><q xmlns:a='u' a:x='1' x='2'/></iq>"));
  // The stream header's prefix is in scope.
  CHECK(parse("<stream:features/>"));
}

TEST_CASE("namespaces: the compatibility render keeps prefixes bound") {
  auto s = parse("<iq xmlns:foo='urn:x'><foo:query foo:a='1'/></iq>");
  REQUIRE(s);
  std::string out;
  render(out, s->root().first_child());
  CHECK(out == "<foo:query foo:a='1' xmlns:foo='urn:x'/>");
}
