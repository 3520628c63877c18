#include "protocols/xmpp/jid.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/xmpp/xml_char.hpp"

namespace parley::protocols::xmpp {

namespace {

// Valid UTF-8 of XML Chars (what sanitize_utf8 keeps unchanged), no C0/DEL controls,
// length 1..1023 (RFC 7622 §3.1). Checked in place: two JIDs per stanza are prepared.
bool basic_ok(std::string_view s) {
  if (s.empty() || s.size() > kMaxJidPart) return false;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) return false;
      ++i;
    } else if (std::size_t n = xml_char_length(s, i)) {
      i += n;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string Jid::bare_str() const {
  std::string out;
  out.reserve(local.size() + domain.size() + 1);
  if (!local.empty()) {
    out += local;
    out += '@';
  }
  out += domain;
  return out;
}

std::string Jid::str() const {
  std::string out = bare_str();
  if (!resource.empty()) {
    out += '/';
    out += resource;
  }
  return out;
}

namespace {

bool localpart_ok(std::string_view s) {
  if (!basic_ok(s)) return false;
  for (char c : s) {
    switch (c) {
      case '"': case '&': case '\'': case '/': case ':': case '<': case '>': case '@': case ' ':
        return false;  // RFC 7622 §3.3.1
      default:
        break;
    }
  }
  return true;
}

// s without the one trailing dot §3.2 allows.
bool domain_ok(std::string_view s) {
  if (!basic_ok(s)) return false;
  if (s.front() == '[') {  // IPv6 literal
    if (s.back() != ']' || s.size() < 3) return false;
    for (char c : s.substr(1, s.size() - 2))
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
        return false;
    return true;
  }
  std::size_t label = 0;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || u >= 0x80) {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label != 0;
}

bool resource_ok(std::string_view s) {
  return basic_ok(s) && s.find_first_not_of(" \t") != std::string_view::npos;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace

std::optional<std::string> prep_localpart(std::string_view s) {
  if (!localpart_ok(s)) return std::nullopt;
  return lowered(s);
}

std::optional<std::string> prep_domain(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);  // §3.2
  if (!domain_ok(s)) return std::nullopt;
  return lowered(s);
}

std::optional<std::string> prep_resource(std::string_view s) {
  if (!resource_ok(s)) return std::nullopt;
  return std::string(s);
}

bool valid_jid(std::string_view text) {
  std::string_view rest = text;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (!resource_ok(rest.substr(slash + 1))) return false;
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    if (!localpart_ok(rest.substr(0, at))) return false;
    rest = rest.substr(at + 1);
  }
  if (!rest.empty() && rest.back() == '.') rest.remove_suffix(1);
  return domain_ok(rest);
}

std::optional<Jid> parse_jid(std::string_view text) {
  Jid j;
  std::string_view rest = text;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    auto r = prep_resource(rest.substr(slash + 1));
    if (!r) return std::nullopt;
    j.resource = std::move(*r);
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto l = prep_localpart(rest.substr(0, at));
    if (!l) return std::nullopt;
    j.local = std::move(*l);
    rest = rest.substr(at + 1);
  }
  auto d = prep_domain(rest);
  if (!d) return std::nullopt;
  j.domain = std::move(*d);
  return j;
}

}  // namespace parley::protocols::xmpp
