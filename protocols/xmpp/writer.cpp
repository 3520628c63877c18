#include "protocols/xmpp/writer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/xml_char.hpp"

namespace parley::protocols::xmpp {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Bytes copied as they are: printable ASCII other than the markup characters (and, in an
// attribute value, the quotes). Everything else takes the slow path below. A gateway renders
// every IRC line once per occupant, so the common all-plain run is scanned by table.
template <bool Attr>
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int b = 0x20; b < 0x80; ++b) t[b] = true;
  t['&'] = t['<'] = t['>'] = false;
  if (Attr) t['"'] = t['\''] = false;
  return t;
}();

template <bool Attr>
void escape(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size());
  std::size_t run = 0;  // start of the pending run of bytes copied as-is
  auto flush = [&](std::size_t i) {
    if (i > run) out.append(s.data() + run, i - run);
  };
  const auto& plain = kPlain<Attr>;
  for (std::size_t i = 0; i < s.size();) {
    while (i < s.size() && plain[static_cast<unsigned char>(s[i])]) ++i;
    if (i == s.size()) break;
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) {
      std::size_t n = xml_char_length(s, i);
      if (n) {
        i += n;
        continue;
      }
      flush(i);
      out += kReplacement;
      run = ++i;
      continue;
    }
    std::string_view rep;
    switch (b) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': if (Attr) rep = "&quot;"; break;
      case '\'': if (Attr) rep = "&apos;"; break;
      case '\t': if (Attr) rep = "&#9;"; break;
      case '\n': if (Attr) rep = "&#10;"; break;
      case '\r': rep = "&#13;"; break;
      default:
        if (b < 0x20) {
          flush(i);
          run = ++i;  // not an XML Char: dropped
          continue;
        }
    }
    if (!rep.empty()) {
      flush(i);
      out += rep;
      run = i + 1;
    }
    ++i;
  }
  flush(s.size());
}

}  // namespace

void escape_text(std::string& out, std::string_view s) { escape<false>(out, s); }
void escape_attr(std::string& out, std::string_view s) { escape<true>(out, s); }

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b >= 0x20 || b == '\t' || b == '\n' || b == '\r') out += static_cast<char>(b);
      ++i;
    } else if (std::size_t n = xml_char_length(s, i)) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

void XmlWriter::end_start_tag() {
  if (in_start_tag_) {
    out_ += '>';
    in_start_tag_ = false;
  }
}

XmlWriter& XmlWriter::open(std::string_view name) {
  end_start_tag();
  out_ += '<';
  out_ += name;
  open_ += name;
  open_ += '\0';
  ++depth_;
  in_start_tag_ = true;
  return *this;
}

XmlWriter& XmlWriter::attr(std::string_view name, std::string_view value) {
  if (!in_start_tag_) return *this;  // misuse: attributes after content are ignored
  out_ += ' ';
  out_ += name;
  out_ += "='";
  escape_attr(out_, value);
  out_ += '\'';
  return *this;
}

XmlWriter& XmlWriter::text(std::string_view s) {
  end_start_tag();
  escape_text(out_, s);
  return *this;
}

XmlWriter& XmlWriter::raw(std::string_view xml) {
  end_start_tag();
  out_ += xml;
  return *this;
}

XmlWriter& XmlWriter::close() {
  if (depth_ == 0) return *this;
  const std::size_t end = open_.size() - 1;  // the innermost name's NUL
  const std::size_t prev = end == 0 ? std::string::npos : open_.rfind('\0', end - 1);
  const std::size_t start = prev == std::string::npos ? 0 : prev + 1;
  if (in_start_tag_) {
    out_ += "/>";
    in_start_tag_ = false;
  } else {
    out_ += "</";
    out_.append(open_, start, end - start);
    out_ += '>';
  }
  open_.resize(start);
  --depth_;
  return *this;
}

XmlWriter& XmlWriter::element(std::string_view name, std::string_view t) {
  open(name);
  if (!t.empty()) text(t);
  return close();
}

void XmlWriter::finish() {
  while (depth_ != 0) close();
}

namespace {

bool is_declaration(std::string_view name) { return name == "xmlns" || name.starts_with("xmlns:"); }

std::string_view prefix_of_name(std::string_view qname) {
  auto colon = qname.find(':');
  return colon == std::string_view::npos ? std::string_view{} : qname.substr(0, colon);
}

// What a subtree uses without declaring it itself: prefixes (of element and attribute
// names; "xml" is bound by definition) and whether an unprefixed element relies on an
// inherited default namespace.
struct FreeNames {
  std::vector<std::string_view> prefixes;
  bool default_ns = false;
};

void collect_free(pugi::xml_node n, std::vector<std::string_view>& declared, bool default_declared,
                  FreeNames& free) {
  if (n.type() != pugi::node_element) return;
  const std::size_t mark = declared.size();
  for (auto a : n.attributes()) {
    std::string_view name = a.name();
    if (name == "xmlns")
      default_declared = true;
    else if (name.starts_with("xmlns:"))
      declared.push_back(name.substr(6));
  }
  auto use = [&](std::string_view p) {
    if (p.empty() || p == "xml") return;
    if (std::find(declared.begin(), declared.end(), p) != declared.end()) return;
    if (std::find(free.prefixes.begin(), free.prefixes.end(), p) == free.prefixes.end())
      free.prefixes.push_back(p);
  };
  std::string_view prefix = prefix_of_name(n.name());
  if (prefix.empty())
    free.default_ns = free.default_ns || !default_declared;
  else
    use(prefix);
  for (auto a : n.attributes())
    if (!is_declaration(a.name())) use(prefix_of_name(a.name()));  // unprefixed attributes have no namespace
  for (auto c : n.children()) collect_free(c, declared, default_declared, free);
  declared.resize(mark);
}

// The namespace bound to `prefix` ("" for the default namespace) at element n of the
// received stanza: the nearest declaration on n or an ancestor, else the stream header's.
std::string_view binding_at(pugi::xml_node n, std::string_view prefix, const StreamNamespaces& scope) {
  std::string decl = prefix.empty() ? std::string("xmlns") : "xmlns:" + std::string(prefix);
  for (pugi::xml_node e = n; e && e.type() == pugi::node_element; e = e.parent())
    if (auto a = e.attribute(decl.c_str())) return a.value();
  return prefix.empty() ? std::string_view(scope.default_ns) : scope.lookup(prefix);
}

void render_node(XmlWriter& w, pugi::xml_node n) {
  switch (n.type()) {
    case pugi::node_element: {
      w.open(n.name());
      for (auto a : n.attributes()) w.attr(a.name(), a.value());
      for (auto c : n.children()) render_node(w, c);
      w.close();
      break;
    }
    case pugi::node_pcdata:
    case pugi::node_cdata:
      w.text(n.value());
      break;
    default:
      break;  // comments, PIs, doctype: never produced by the framer
  }
}

void render_root(std::string& out, pugi::xml_node n, const StreamNamespaces& scope,
                 std::string_view out_default_ns, std::string_view ns_if_missing) {
  XmlWriter w(out);
  if (n.type() != pugi::node_element) return render_node(w, n);
  FreeNames free;
  std::vector<std::string_view> declared;
  collect_free(n, declared, false, free);
  w.open(n.name());
  bool has_xmlns = false;
  for (auto a : n.attributes()) {
    if (std::string_view(a.name()) == "xmlns") has_xmlns = true;
    w.attr(a.name(), a.value());
  }
  if (!has_xmlns && !ns_if_missing.empty()) {
    w.attr("xmlns", ns_if_missing);
  } else if (free.default_ns) {
    // The parent's default namespace, which the subtree inherited where it was received.
    std::string_view inherited = binding_at(n.parent(), "", scope);
    if (inherited != out_default_ns) w.attr("xmlns", inherited);
  }
  for (std::string_view p : free.prefixes) {
    std::string_view uri = binding_at(n.parent(), p, scope);
    // Stanza::parse refuses unbound prefixes, so uri is never empty for a parsed stanza.
    if (!uri.empty()) w.attr("xmlns:" + std::string(p), uri);
  }
  for (auto c : n.children()) render_node(w, c);
  w.close();
}

}  // namespace

void render(std::string& out, pugi::xml_node n, const StreamNamespaces& scope,
            std::string_view out_default_ns) {
  render_root(out, n, scope, out_default_ns, {});
}

void render(std::string& out, pugi::xml_node n, std::string_view ns_if_missing) {
  static const StreamNamespaces standard;
  render_root(out, n, standard, standard.default_ns, ns_if_missing);
}

void copy_prefix_declarations(XmlWriter& w, pugi::xml_node n) {
  for (auto a : n.attributes())
    if (std::string_view(a.name()).starts_with("xmlns:")) w.attr(a.name(), a.value());
}

}  // namespace parley::protocols::xmpp
