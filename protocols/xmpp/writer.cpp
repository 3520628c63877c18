#include "protocols/xmpp/writer.hpp"

#include <cstdint>

namespace parley::protocols::xmpp {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence of XML Chars at s[i], or 0 if invalid.
std::size_t valid_sequence(std::string_view s, std::size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n;
  std::uint32_t cp, min;
  if (b >= 0xC2 && b <= 0xDF) n = 2, cp = b & 0x1F, min = 0x80;
  else if (b >= 0xE0 && b <= 0xEF) n = 3, cp = b & 0x0F, min = 0x800;
  else if (b >= 0xF0 && b <= 0xF4) n = 4, cp = b & 0x07, min = 0x10000;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return 0;
  return n;
}

template <bool Attr>
void escape(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size());
  std::size_t run = 0;  // start of the pending run of bytes copied as-is
  auto flush = [&](std::size_t i) {
    if (i > run) out.append(s.data() + run, i - run);
  };
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) {
      std::size_t n = valid_sequence(s, i);
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
    } else if (std::size_t n = valid_sequence(s, i)) {
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
  stack_.emplace_back(name);
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
  if (stack_.empty()) return *this;
  if (in_start_tag_) {
    out_ += "/>";
    in_start_tag_ = false;
  } else {
    out_ += "</";
    out_ += stack_.back();
    out_ += '>';
  }
  stack_.pop_back();
  return *this;
}

XmlWriter& XmlWriter::element(std::string_view name, std::string_view t) {
  open(name);
  if (!t.empty()) text(t);
  return close();
}

void XmlWriter::finish() {
  while (!stack_.empty()) close();
}

namespace {
void render_node(XmlWriter& w, pugi::xml_node n, std::string_view ns_if_missing) {
  switch (n.type()) {
    case pugi::node_element: {
      w.open(n.name());
      bool has_xmlns = false;
      for (auto a : n.attributes()) {
        if (std::string_view(a.name()) == "xmlns") has_xmlns = true;
        w.attr(a.name(), a.value());
      }
      if (!has_xmlns && !ns_if_missing.empty()) w.attr("xmlns", ns_if_missing);
      for (auto c : n.children()) render_node(w, c, {});
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
}  // namespace

void render(std::string& out, pugi::xml_node n, std::string_view ns_if_missing) {
  XmlWriter w(out);
  render_node(w, n, ns_if_missing);
}

}  // namespace parley::protocols::xmpp
