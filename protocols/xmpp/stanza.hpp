#pragma once
// One parsed top-level element (stanza or nonza) and namespace helpers.
//
// The framer hands over the raw bytes; pugixml parses them in place (the Stanza owns the
// buffer; a std::vector keeps its heap block when moved, so moving a Stanza is safe).
// pugixml does not resolve namespaces: namespace_of() walks up the element's ancestors for
// the matching xmlns / xmlns:prefix declaration and falls back to the stream header's
// declarations, so a <message/> without xmlns is in the stream's default namespace
// (jabber:client, RFC 6120 §4.8.3).
#include <pugixml.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/xmpp/stream_error.hpp"

namespace parley::protocols::xmpp {

// Namespace declarations in scope at stream level (from the stream header).
struct StreamNamespaces {
  std::string default_ns = std::string(ns::client);
  std::vector<std::pair<std::string, std::string>> prefixes = {{"stream", std::string(ns::stream)}};

  std::string_view lookup(std::string_view prefix) const;  // "" for unknown
};

std::string_view local_name(pugi::xml_node n);
std::string_view prefix_of(pugi::xml_node n);
// The namespace of element n (see above); "" when an unknown prefix is used.
std::string_view namespace_of(pugi::xml_node n, const StreamNamespaces& stream);
// The first child element with this local name and namespace (namespace "" matches any).
pugi::xml_node child(pugi::xml_node n, std::string_view name, std::string_view ns,
                     const StreamNamespaces& stream);
std::string_view attr(pugi::xml_node n, const char* name);

class Stanza {
 public:
  // Parses bytes cut out by the framer. nullopt when pugixml refuses them (cannot happen
  // for framer output unless the framer is wrong: treat as not-well-formed) or when they
  // are not namespace-well-formed. prefixed: false only when no element or attribute name
  // has a prefix other than "xml" (StreamFramer::stanza_prefixed()), which skips the
  // namespace walk: with no such prefix and no xmlns:p declaration it has nothing to refuse.
  static std::optional<Stanza> parse(std::vector<char> bytes, std::shared_ptr<const StreamNamespaces> stream,
                                     bool prefixed = true);
  Stanza() = default;
  Stanza(Stanza&&) noexcept = default;
  Stanza& operator=(Stanza&&) noexcept = default;
  // Its byte block goes back to the framers of this thread (stanza_buffer.hpp).
  ~Stanza();

  // Found once at parse (document_element() walks the document's children on every call;
  // the node lives in doc_'s heap block, which a move does not touch).
  pugi::xml_node root() const { return root_; }
  std::string_view name() const { return local_name(root()); }
  std::string_view ns() const { return namespace_of(root(), *stream_); }
  std::string_view attr(const char* n) const { return xmpp::attr(root(), n); }
  pugi::xml_node child(std::string_view name, std::string_view ns_ = {}) const {
    return xmpp::child(root(), name, ns_, *stream_);
  }
  const StreamNamespaces& stream() const { return *stream_; }
  // The raw bytes as received (before in-place parsing modified the buffer they are gone;
  // use render() to serialise).
  std::size_t size() const { return size_; }

 private:
  std::vector<char> buffer_;
  std::unique_ptr<pugi::xml_document> doc_;
  pugi::xml_node root_;
  std::shared_ptr<const StreamNamespaces> stream_;
  std::size_t size_ = 0;
};

}  // namespace parley::protocols::xmpp
