#include "protocols/xmpp/stanza.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "protocols/xmpp/stanza_buffer.hpp"

namespace parley::protocols::xmpp {

std::string_view StreamNamespaces::lookup(std::string_view prefix) const {
  if (prefix == "xml") return ns::xml;
  for (const auto& [p, uri] : prefixes)
    if (p == prefix) return uri;
  return {};
}

std::string_view local_name(pugi::xml_node n) {
  std::string_view q = n.name();
  auto colon = q.find(':');
  return colon == std::string_view::npos ? q : q.substr(colon + 1);
}

std::string_view prefix_of(pugi::xml_node n) {
  std::string_view q = n.name();
  auto colon = q.find(':');
  return colon == std::string_view::npos ? std::string_view{} : q.substr(0, colon);
}

std::string_view namespace_of(pugi::xml_node n, const StreamNamespaces& stream) {
  std::string_view prefix = prefix_of(n);
  std::string decl = prefix.empty() ? std::string("xmlns") : "xmlns:" + std::string(prefix);
  for (pugi::xml_node e = n; e && e.type() == pugi::node_element; e = e.parent()) {
    if (auto a = e.attribute(decl.c_str())) return a.value();
  }
  return prefix.empty() ? std::string_view(stream.default_ns) : stream.lookup(prefix);
}

pugi::xml_node child(pugi::xml_node n, std::string_view name, std::string_view ns,
                     const StreamNamespaces& stream) {
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element || local_name(c) != name) continue;
    if (ns.empty() || namespace_of(c, stream) == ns) return c;
  }
  return {};
}

std::string_view attr(pugi::xml_node n, const char* name) { return n.attribute(name).value(); }

namespace {

// Namespaces in XML 1.0 §5-6 for one element and its subtree: every prefix in a name is
// declared (on the element, an ancestor or the stream header), no prefix is undeclared
// (xmlns:p=''), the reserved prefixes keep their meaning, and no element carries two
// attributes with the same expanded name. `bound` holds the declarations in scope,
// innermost last.
bool namespaces_ok(pugi::xml_node n, std::vector<std::pair<std::string_view, std::string_view>>& bound,
                   const StreamNamespaces& stream) {
  const std::size_t mark = bound.size();
  bool prefixed = false;  // an attribute other than a declaration has a prefix
  for (auto a : n.attributes()) {
    std::string_view name = a.name();
    const auto colon = name.find(':');
    if (colon == std::string_view::npos) continue;  // "xmlns" or unprefixed
    if (name.substr(0, colon) != "xmlns") {
      prefixed = true;
      continue;
    }
    std::string_view p = name.substr(6), uri = a.value();
    if (p.empty() || uri.empty() || p == "xmlns" || (p == "xml") != (uri == ns::xml) ||
        uri == "http://www.w3.org/2000/xmlns/")
      return false;
    bound.emplace_back(p, uri);
  }
  auto resolve = [&](std::string_view p) -> std::string_view {
    if (p == "xml") return ns::xml;
    for (auto it = bound.rbegin(); it != bound.rend(); ++it)
      if (it->first == p) return it->second;
    return stream.lookup(p);
  };
  auto prefix = [](std::string_view q) {
    auto colon = q.find(':');
    return colon == std::string_view::npos ? std::string_view{} : q.substr(0, colon);
  };
  auto local = [](std::string_view q) {
    auto colon = q.find(':');
    return colon == std::string_view::npos ? q : q.substr(colon + 1);
  };
  std::string_view ep = prefix(n.name());
  if (ep == "xmlns" || (!ep.empty() && resolve(ep).empty())) return false;
  // Prefixed attributes, (uri, local) each: no two alike. Most stanzas have none.
  std::vector<std::pair<std::string_view, std::string_view>> expanded;
  if (prefixed) {
    for (auto a : n.attributes()) {
      std::string_view name = a.name();
      if (name == "xmlns" || name.starts_with("xmlns:")) continue;
      std::string_view p = prefix(name);
      if (p.empty()) continue;  // no namespace; the framer already refused duplicate names
      std::string_view uri = resolve(p);
      if (uri.empty()) return false;
      std::pair<std::string_view, std::string_view> e{uri, local(name)};
      if (std::find(expanded.begin(), expanded.end(), e) != expanded.end()) return false;
      expanded.push_back(e);
    }
  }
  for (auto c : n.children())
    if (c.type() == pugi::node_element && !namespaces_ok(c, bound, stream)) return false;
  bound.resize(mark);
  return true;
}

}  // namespace

Stanza::~Stanza() {
  doc_.reset();  // its nodes point into buffer_
  give_stanza_buffer(std::move(buffer_));
}

std::optional<Stanza> Stanza::parse(std::vector<char> bytes, std::shared_ptr<const StreamNamespaces> stream,
                                    bool prefixed) {
  Stanza s;
  s.size_ = bytes.size();
  s.buffer_ = std::move(bytes);
  s.doc_ = std::make_unique<pugi::xml_document>();
  s.stream_ = stream ? std::move(stream) : std::make_shared<const StreamNamespaces>();
  if (s.buffer_.empty()) return std::nullopt;
  // parse_default keeps CRLF normalisation and entity decoding (XML 1.0 §2.11, §4.6).
  // Whitespace-only text is kept everywhere: in XHTML-IM "<b>a</b> <i>b</i>" the space is
  // part of the message (and a body of spaces is a body).
  // The flags are semantics, not validation the framer could stand in for: parse_minimal
  // would save ~10% of pugixml's ~150 ns per groupchat stanza and leave CRLF, entities and
  // attribute-value whitespace (XML 1.0 §3.3.3) raw. The buffer is parsed in place.
  auto r = s.doc_->load_buffer_inplace(s.buffer_.data(), s.buffer_.size(),
                                       pugi::parse_default | pugi::parse_ws_pcdata, pugi::encoding_utf8);
  if (!r || !(s.root_ = s.doc_->document_element())) return std::nullopt;
  // A stanza that is well-formed XML but not namespace-well-formed is refused here too
  // (RFC 6120 §11.2, <not-well-formed/> covers [XML-NAMES]): Parley forwards subtrees of
  // what it receives and must never write an unbound prefix.
  // Without a prefix other than xml: in any name, every attribute is unprefixed, a default
  // declaration (xmlns='...', any value allowed) or xml:*, and no element has another
  // prefix: namespaces_ok() would walk the tree and refuse nothing (~1,900 instructions for
  // a groupchat message).
  if (!prefixed) return s;
  std::vector<std::pair<std::string_view, std::string_view>> bound;
  if (!namespaces_ok(s.root_, bound, *s.stream_)) return std::nullopt;
  return s;
}

}  // namespace parley::protocols::xmpp
