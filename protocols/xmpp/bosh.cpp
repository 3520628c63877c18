#include "protocols/xmpp/bosh.hpp"

#include <algorithm>
#include <charconv>
#include <pugixml.hpp>

#include "protocols/common/xml_string_writer.hpp"

namespace parley::protocols::xmpp {
namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

BoshParse fail(std::string condition, std::string text) {
  return {std::nullopt, {std::move(condition), std::move(text)}};
}

bool has_namespace(pugi::xml_node n) {
  std::string_view name = n.name();
  if (name.find(':') != std::string_view::npos)
    return true;  // prefixed: declared on it or refused by the c2s framer
  return !n.attribute("xmlns").empty();
}

}  // namespace

BoshParse parse_bosh_body(std::string_view xml, std::size_t max_bytes) {
  if (xml.size() > max_bytes) return fail("policy-violation", "body too large");
  pugi::xml_document doc;
  // parse_default without doctype nodes, comments or PIs kept; no entity but the predefined.
  auto r = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return fail("bad-request", "not well-formed");
  pugi::xml_node root = doc.document_element();
  std::size_t roots = 0;
  for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling())
    if (n.type() == pugi::node_element) ++roots;
  if (roots != 1 || std::string_view(root.name()) != "body" ||
      std::string_view(root.attribute("xmlns").as_string()) != kBoshNs)
    return fail("bad-request", "not a BOSH body");
  BoshBody b;
  std::uint64_t rid = 0;
  if (!parse_number(root.attribute("rid").as_string(), rid) || rid == 0 || rid > (1ULL << 53))
    return fail("bad-request", "missing or invalid rid");  // §7: up to 2^53
  b.rid = rid;
  b.sid = root.attribute("sid").as_string();
  b.to = root.attribute("to").as_string();
  b.type = root.attribute("type").as_string();
  b.lang = root.attribute("xml:lang").as_string();
  b.ver = root.attribute("ver").as_string();
  b.route = root.attribute("route").as_string();
  if (auto a = root.attribute("wait"); !a.empty()) {
    if (!parse_number(a.as_string(), b.wait)) return fail("bad-request", "invalid wait");
    b.has_wait = true;
  }
  if (auto a = root.attribute("hold"); !a.empty()) {
    if (!parse_number(a.as_string(), b.hold)) return fail("bad-request", "invalid hold");
    b.has_hold = true;
  }
  // XEP-0206 §5/§3: the attributes live in the urn:xmpp:xbosh namespace; clients use the
  // "xmpp" prefix for it (pugixml does not resolve prefixes, so the prefix is checked).
  std::string_view restart = root.attribute("xmpp:restart").as_string();
  b.restart = restart == "true" || restart == "1";
  b.xmpp_version = root.attribute("xmpp:version").as_string();
  std::size_t children = 0;
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_pcdata) {
      std::string_view t = c.value();
      if (t.find_first_not_of(" \t\r\n") != std::string_view::npos)
        return fail("bad-request", "text in body");
      continue;
    }
    if (c.type() != pugi::node_element) continue;  // comments and PIs are not kept by the parser
    if (++children > kMaxBoshChildren) return fail("policy-violation", "too many elements");
    if (!has_namespace(c)) c.prepend_attribute("xmlns") = "jabber:client";
    std::string s;
    XmlStringWriter w(s);
    c.print(w, "", pugi::format_raw, pugi::encoding_utf8);
    b.payload.push_back(std::move(s));
  }
  return {std::move(b), {}};
}

RidWindow::RidWindow(std::uint64_t first_rid, std::uint32_t window)
    : highest_(first_rid), window_(std::max<std::uint32_t>(window, 1)) {
  seen_.push_back(first_rid);
}

RidWindow::Verdict RidWindow::check(std::uint64_t rid) {
  if (std::find(seen_.begin(), seen_.end(), rid) != seen_.end()) return Verdict::duplicate;
  if (rid > highest_) {
    if (rid - highest_ > window_) return Verdict::out_of_window;
    highest_ = rid;
    seen_.push_back(rid);
    while (!seen_.empty() && seen_.front() + 2ULL * window_ <= highest_) seen_.pop_front();
    return Verdict::fresh;
  }
  // A gap being filled (requests sent together arrive out of order), within the window.
  if (highest_ - rid >= window_) return Verdict::out_of_window;
  seen_.insert(std::upper_bound(seen_.begin(), seen_.end(), rid), rid);
  return Verdict::fresh;
}

void ResponseCache::put(std::uint64_t rid, std::string body) {
  items_.emplace_back(rid, std::move(body));
  while (items_.size() > keep_) items_.pop_front();
}

const std::string* ResponseCache::find(std::uint64_t rid) const {
  for (const auto& [r, b] : items_)
    if (r == rid) return &b;
  return nullptr;
}

std::string escape_bosh_attr(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_bosh_body(std::string_view attributes, std::string_view payload) {
  std::string out;
  out.reserve(160 + attributes.size() + payload.size());
  out +=
      "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' "
      "xmlns:stream='http://etherx.jabber.org/streams'";
  out += attributes;
  if (payload.empty()) {
    out += "/>";
    return out;
  }
  out += '>';
  out += payload;
  out += "</body>";
  return out;
}

std::string render_bosh_terminate(std::string_view condition) {
  std::string a = " type='terminate'";
  if (!condition.empty()) a += " condition='" + escape_bosh_attr(condition) + "'";
  return render_bosh_body(a, {});
}

}  // namespace parley::protocols::xmpp
