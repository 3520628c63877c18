#include "protocols/xmpp/stanza.hpp"

#include <cstring>

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

std::optional<Stanza> Stanza::parse(std::vector<char> bytes, std::shared_ptr<const StreamNamespaces> stream) {
  Stanza s;
  s.size_ = bytes.size();
  s.buffer_ = std::move(bytes);
  s.doc_ = std::make_unique<pugi::xml_document>();
  s.stream_ = stream ? std::move(stream) : std::make_shared<const StreamNamespaces>();
  if (s.buffer_.empty()) return std::nullopt;
  // parse_default keeps CRLF normalisation and entity decoding (XML 1.0 §2.11, §4.6).
  // Whitespace-only text is kept everywhere: in XHTML-IM "<b>a</b> <i>b</i>" the space is
  // part of the message (and a body of spaces is a body).
  auto r = s.doc_->load_buffer_inplace(s.buffer_.data(), s.buffer_.size(),
                                       pugi::parse_default | pugi::parse_ws_pcdata,
                                       pugi::encoding_utf8);
  if (!r || !s.doc_->document_element()) return std::nullopt;
  return s;
}

}  // namespace parley::protocols::xmpp
