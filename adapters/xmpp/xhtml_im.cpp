#include "adapters/xmpp/xhtml_im.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>

#include "protocols/common/style_runs.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

namespace px = parley::protocols::xmpp;
using core::StyleSpan;

namespace {

struct Style {
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> fg, bg;
  bool plain() const { return flags == 0 && !fg && !bg; }
  friend bool operator==(const Style&, const Style&) = default;
};

std::string hex_colour(std::uint32_t c) {
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "#%06x", static_cast<unsigned>(c & 0xffffff));
  return buf.data();
}

void text_with_breaks(px::XmlWriter& w, std::string_view s) {
  for (;;) {
    auto nl = s.find('\n');
    w.text(s.substr(0, nl));
    if (nl == std::string_view::npos) return;
    w.open("br").close();
    s.remove_prefix(nl + 1);
  }
}

// ---- CSS (the few properties XEP-0071 §7 lists) ----------------------------------------

std::string lower_trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string out(v);
  for (auto& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

std::optional<std::uint32_t> parse_colour(const std::string& v) {
  static constexpr std::pair<std::string_view, std::uint32_t> names[] = {
      {"black", 0x000000}, {"white", 0xffffff}, {"red", 0xff0000},    {"green", 0x008000},
      {"blue", 0x0000ff},  {"yellow", 0xffff00}, {"orange", 0xffa500}, {"purple", 0x800080},
      {"gray", 0x808080},  {"grey", 0x808080},  {"maroon", 0x800000}, {"navy", 0x000080},
      {"teal", 0x008080},  {"olive", 0x808000}, {"lime", 0x00ff00},   {"aqua", 0x00ffff},
      {"cyan", 0x00ffff},  {"fuchsia", 0xff00ff}, {"magenta", 0xff00ff}, {"silver", 0xc0c0c0}};
  for (auto [n, c] : names)
    if (v == n) return c;
  if (v.size() != 4 && v.size() != 7) return std::nullopt;
  if (v[0] != '#') return std::nullopt;
  std::uint32_t c = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    char ch = v[i];
    std::uint32_t d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : 16;
    if (d == 16) return std::nullopt;
    c = c * 16 + d;
    if (v.size() == 4) c = c * 16 + d;  // #abc = #aabbcc
  }
  return c;
}

void apply_css(Style& st, std::string_view css) {
  while (!css.empty()) {
    auto semi = css.find(';');
    std::string_view decl = css.substr(0, semi);
    css = semi == std::string_view::npos ? std::string_view{} : css.substr(semi + 1);
    auto colon = decl.find(':');
    if (colon == std::string_view::npos) continue;
    std::string prop = lower_trim(decl.substr(0, colon)), val = lower_trim(decl.substr(colon + 1));
    if (prop == "font-weight") {
      if (val == "bold" || val == "bolder" || val == "600" || val == "700" || val == "800" || val == "900")
        st.flags |= StyleSpan::bold;
      else if (val == "normal") st.flags &= ~StyleSpan::bold;
    } else if (prop == "font-style") {
      if (val == "italic" || val == "oblique") st.flags |= StyleSpan::italic;
      else if (val == "normal") st.flags &= ~StyleSpan::italic;
    } else if (prop == "text-decoration" || prop == "text-decoration-line") {
      if (val.find("underline") != std::string::npos) st.flags |= StyleSpan::underline;
      if (val.find("line-through") != std::string::npos) st.flags |= StyleSpan::strike;
    } else if (prop == "font-family") {
      if (val.find("monospace") != std::string::npos) st.flags |= StyleSpan::monospace;
    } else if (prop == "color") {
      if (auto c = parse_colour(val)) st.fg = c;
    } else if (prop == "background-color" || prop == "background") {
      if (auto c = parse_colour(val)) st.bg = c;
    }
  }
}

struct Collector {
  std::string text;
  std::vector<std::pair<std::size_t, Style>> marks;  // style in force from this offset on

  void add(std::string_view s, const Style& st) {
    if (s.empty()) return;
    if (marks.empty() || !(marks.back().second == st)) marks.emplace_back(text.size(), st);
    text.append(s);
  }

  void walk(pugi::xml_node n, Style st, int depth) {
    if (depth > 32) return;
    for (auto c : n.children()) {
      if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
        add(c.value(), st);
        continue;
      }
      if (c.type() != pugi::node_element) continue;
      std::string name = lower_trim(px::local_name(c));
      Style inner = st;
      if (name == "br") {
        add("\n", st);
        continue;
      }
      if (name == "img") {
        add(c.attribute("alt").value(), st);
        continue;
      }
      const bool block = name == "p" || name == "div" || name == "blockquote" || name == "pre" || name == "li" ||
                         (name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6');
      if (block && !text.empty() && text.back() != '\n') add("\n", st);
      if (name == "strong" || name == "b") inner.flags |= StyleSpan::bold;
      else if (name == "em" || name == "i" || name == "cite" || name == "var" || name == "dfn") inner.flags |= StyleSpan::italic;
      else if (name == "u" || name == "ins") inner.flags |= StyleSpan::underline;
      else if (name == "code" || name == "tt" || name == "pre" || name == "samp" || name == "kbd")
        inner.flags |= StyleSpan::monospace;
      else if (name == "del" || name == "s" || name == "strike") inner.flags |= StyleSpan::strike;
      if (auto style = c.attribute("style")) apply_css(inner, style.value());
      walk(c, inner, depth + 1);
    }
  }
};

}  // namespace

std::string render_xhtml_im(std::string_view body, const std::vector<StyleSpan>& spans) {
  // One pass over the runs of one effective style each (linear; the segments between span
  // boundaries used to ask every span: quadratic in the spans, issue 9).
  const auto runs = protocols::style_runs(body, spans, core::kMaxStyleSpans);
  if (runs.empty()) return {};
  std::string out;
  out.reserve(body.size() + runs.size() * 24 + 128);
  px::XmlWriter w(out);
  w.open("html").attr("xmlns", kXhtmlIm).open("body").attr("xmlns", kXhtml);
  std::size_t pos = 0;
  std::string css;
  for (const auto& r : runs) {
    if (r.begin > pos) text_with_breaks(w, body.substr(pos, r.begin - pos));
    const std::size_t depth = w.depth();
    css.clear();
    if (r.flags & (StyleSpan::underline | StyleSpan::strike)) {
      css += "text-decoration:";
      if (r.flags & StyleSpan::underline) css += " underline";
      if (r.flags & StyleSpan::strike) css += " line-through";
      css += ';';
    }
    if (r.fg) css += "color: " + hex_colour(*r.fg) + ';';
    if (r.bg) css += "background-color: " + hex_colour(*r.bg) + ';';
    if (!css.empty()) w.open("span").attr("style", css);
    if (r.flags & StyleSpan::bold) w.open("strong");
    if (r.flags & StyleSpan::italic) w.open("em");
    if (r.flags & StyleSpan::monospace) w.open("code");
    text_with_breaks(w, body.substr(r.begin, r.end - r.begin));
    while (w.depth() > depth) w.close();
    pos = r.end;
  }
  if (pos < body.size()) text_with_breaks(w, body.substr(pos));
  w.finish();
  return out;
}

std::vector<StyleSpan> parse_xhtml_im(pugi::xml_node html, std::string_view plain) {
  pugi::xml_node body;
  for (auto c : html.children())
    if (c.type() == pugi::node_element && px::local_name(c) == "body") {
      body = c;
      break;  // §6: one <body/> per language; the first is the default
    }
  if (!body) return {};
  Collector col;
  col.walk(body, Style{}, 0);
  // Leading/trailing whitespace of the markup is layout, not text.
  std::string_view t = col.text;
  std::size_t lead = 0;
  while (lead < t.size() && (t[lead] == ' ' || t[lead] == '\n' || t[lead] == '\t' || t[lead] == '\r')) ++lead;
  std::size_t plain_lead = 0;
  while (plain_lead < plain.size() && (plain[plain_lead] == ' ' || plain[plain_lead] == '\n' ||
                                       plain[plain_lead] == '\t' || plain[plain_lead] == '\r'))
    ++plain_lead;
  auto trim_end = [](std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  };
  std::string_view tt = trim_end(t.substr(lead)), pt = trim_end(plain.substr(plain_lead));
  if (tt != pt) return {};
  const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(plain_lead) - static_cast<std::ptrdiff_t>(lead);

  std::vector<StyleSpan> out;
  for (std::size_t i = 0; i < col.marks.size(); ++i) {
    const auto& [from, st] = col.marks[i];
    if (st.plain()) continue;
    std::size_t to = i + 1 < col.marks.size() ? col.marks[i + 1].first : col.text.size();
    std::ptrdiff_t b = std::max<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(from) + shift, plain_lead);
    std::ptrdiff_t e = std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(to) + shift,
                                                static_cast<std::ptrdiff_t>(plain_lead + pt.size()));
    if (b >= e) continue;
    if (out.size() == core::kMaxStyleSpans) break;  // the rest of the text stays plain
    out.push_back(StyleSpan{static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e), st.flags, st.fg, st.bg});
  }
  return out;
}

}  // namespace parley::adapters::xmpp
