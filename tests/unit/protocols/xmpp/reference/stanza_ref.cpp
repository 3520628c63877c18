// The pre-session-23 Stanza::parse body (see stanza_ref.hpp).
#include "tests/unit/protocols/xmpp/reference/stanza_ref.hpp"

#include <algorithm>
#include <cstring>

namespace parley::protocols::xmpp::ref {

namespace {

// Namespaces in XML 1.0 §5-6 for one element and its subtree: every prefix in a name is
// declared (on the element, an ancestor or the stream header), no prefix is undeclared
// (xmlns:p=''), the reserved prefixes keep their meaning, and no element carries two
// attributes with the same expanded name. `bound` holds the declarations in scope,
// innermost last.
bool namespaces_ok(pugi::xml_node n, std::vector<std::pair<std::string_view, std::string_view>>& bound,
                   const StreamNamespaces& stream) {
  const std::size_t mark = bound.size();
  for (auto a : n.attributes()) {
    std::string_view name = a.name();
    if (!name.starts_with("xmlns:")) continue;
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
  std::vector<std::pair<std::string_view, std::string_view>> expanded;  // prefixed attributes: (uri, local)
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
  for (auto c : n.children())
    if (c.type() == pugi::node_element && !namespaces_ok(c, bound, stream)) return false;
  bound.resize(mark);
  return true;
}

}  // namespace

std::unique_ptr<pugi::xml_document> parse_stanza(std::vector<char>& buffer, const StreamNamespaces& stream) {
  auto doc = std::make_unique<pugi::xml_document>();
  if (buffer.empty()) return nullptr;
  auto r = doc->load_buffer_inplace(buffer.data(), buffer.size(), pugi::parse_default | pugi::parse_ws_pcdata,
                                    pugi::encoding_utf8);
  if (!r || !doc->document_element()) return nullptr;
  std::vector<std::pair<std::string_view, std::string_view>> bound;
  if (!namespaces_ok(doc->document_element(), bound, stream)) return nullptr;
  return doc;
}

}  // namespace parley::protocols::xmpp::ref
