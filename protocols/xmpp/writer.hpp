#pragma once
// Rendering stanzas. Everything written goes through escaping: text escapes & < >,
// attribute values also " ' and whitespace controls; characters XML 1.0 does not allow
// (C0 controls such as IRC formatting codes, U+FFFE/FFFF) are dropped and invalid UTF-8 is
// replaced by U+FFFD, so no input can make Parley emit a not-well-formed stream.
#include <pugixml.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace parley::protocols::xmpp {

struct StreamNamespaces;

void escape_text(std::string& out, std::string_view s);
void escape_attr(std::string& out, std::string_view s);
// Valid UTF-8 made of XML Chars only (what escape_* would keep).
std::string sanitize_utf8(std::string_view s);

// Streaming element builder:
//   XmlWriter w(out);
//   w.open("message").attr("to", jid).attr("type", "chat");
//   w.open("body").text(body).close();
//   w.close();
class XmlWriter {
 public:
  explicit XmlWriter(std::string& out) : out_(out) {}
  ~XmlWriter() = default;

  XmlWriter& open(std::string_view name);
  // Only directly after open() (or another attr()). Empty values are written too; use
  // attr_if() to skip them.
  XmlWriter& attr(std::string_view name, std::string_view value);
  XmlWriter& attr_if(std::string_view name, std::string_view value) {
    return value.empty() ? *this : attr(name, value);
  }
  XmlWriter& text(std::string_view s);
  // Pre-rendered XML produced by this writer or render(); never untrusted input.
  XmlWriter& raw(std::string_view xml);
  XmlWriter& close();
  // <name>text</name>
  XmlWriter& element(std::string_view name, std::string_view text);
  // Closes everything still open.
  void finish();
  std::size_t depth() const { return depth_; }

 private:
  void end_start_tag();
  std::string& out_;
  // The open elements' names, each followed by a NUL (XML names hold none): one buffer, held
  // inline for a stanza's usual "message" + "body" (no allocation per rendered stanza).
  std::string open_;
  std::size_t depth_ = 0;
  bool in_start_tag_ = false;
};

// Serialises an element (e.g. a payload received from a client) with full escaping, as a
// namespace-well-formed fragment that does not depend on where it came from (Namespaces in
// XML 1.0 §5): every prefix its subtree uses (element or attribute names) but declares
// outside it, on an ancestor in the received stanza or on the stream header (`scope`), is
// declared again on the fragment's root, and so is the default namespace when the subtree
// relies on one that differs from `out_default_ns`, the default in effect where the
// fragment is written (jabber:client inside a stanza Parley builds).
void render(std::string& out, pugi::xml_node n, const StreamNamespaces& scope,
            std::string_view out_default_ns = "jabber:client");
// The same with the stream's standard declarations as scope. If ns_if_missing is given and
// the element has no xmlns attribute, xmlns is added to the root (for forwarding a child
// element out of the scope of its original stream).
void render(std::string& out, pugi::xml_node n, std::string_view ns_if_missing = {});
// The prefixed namespace declarations (xmlns:p='...') of element n, as attributes of the
// element open in w: a stanza Parley rebuilds keeps the declarations the sender put on it.
void copy_prefix_declarations(XmlWriter& w, pugi::xml_node n);

}  // namespace parley::protocols::xmpp
