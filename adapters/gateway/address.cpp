#include "adapters/gateway/address.hpp"

#include <array>

#include "protocols/common/ascii.hpp"

namespace parley::adapters::gateway {

namespace {

struct Escape {
  char c;
  std::string_view code;  // the two hex digits after '\'
};
constexpr std::array<Escape, 10> kEscapes{{{' ', "20"},
                                           {'"', "22"},
                                           {'&', "26"},
                                           {'\'', "27"},
                                           {'/', "2f"},
                                           {':', "3a"},
                                           {'<', "3c"},
                                           {'>', "3e"},
                                           {'@', "40"},
                                           {'\\', "5c"}}};

// The character "\XY" stands for, 0 when XY is no escape.
char escaped_char(std::string_view two) {
  for (const auto& e : kEscapes)
    if (protocols::ascii_equal_fold(two, e.code)) return e.c;
  return 0;
}

bool valid_server(std::string_view s) {
  if (s.empty() || s.size() > kMaxServerName) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return s.front() != '.' && s.front() != '-';
}

// An IRC channel or nick: bounded, and nothing that would end a parameter or a line.
bool valid_target(std::string_view s) {
  if (s.empty() || s.size() > kMaxTarget) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == ' ' || c == ',') return false;
  return s.front() != ':';
}

// jid_unescape, each character passed through `map` (one pass, one string).
template <typename Map>
std::string unescape_mapped(std::string_view s, Map map) {
  std::string out;
  if (s.find('\\') == std::string_view::npos) {  // nothing escaped (the usual address)
    out.assign(s);
    for (char& c : out) c = map(c);
    return out;
  }
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) {
      if (char c = escaped_char(s.substr(i + 1, 2))) {
        out.push_back(map(c));
        i += 2;
        continue;
      }
    }
    out.push_back(map(s[i]));
  }
  return out;
}

// ascii_fold(jid_unescape(s)) without the intermediate string.
std::string unescape_folded(std::string_view s) { return unescape_mapped(s, protocols::ascii_lower); }

}  // namespace

std::string jid_unescape(std::string_view s) {
  return unescape_mapped(s, [](char c) { return c; });
}

std::string jid_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool escape = false;
    std::string_view code;
    for (const auto& e : kEscapes)
      if (e.c == c) code = e.code;
    if (c == '\\')
      escape = i + 2 < s.size() && escaped_char(s.substr(i + 1, 2)) != 0;  // §4.2: only before a code
    else
      escape = !code.empty();
    if (escape) {
      out.push_back('\\');
      out.append(code);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string gateway_local(std::string_view target, std::string_view server) {
  if (target.empty()) return std::string(server);
  std::string out = jid_escape(target);
  out.push_back('%');
  out.append(server);
  return out;
}

std::optional<GatewayAddress> parse_gateway_address(std::string_view local, std::string_view resource,
                                                    std::string_view chantypes) {
  GatewayAddress a;
  auto pct = local.find('%');
  std::string_view target = pct == std::string_view::npos ? std::string_view{} : local.substr(0, pct);
  std::string_view server = pct == std::string_view::npos ? local : local.substr(pct + 1);
  a.server = unescape_folded(server);
  if (!valid_server(a.server)) return std::nullopt;
  a.resource = std::string(resource);
  if (target.empty()) {  // "irc.example.org" or "%irc.example.org": the server
    a.kind = GatewayAddress::Kind::server;
    return a;
  }
  a.target = unescape_folded(target);
  if (!valid_target(a.target)) return std::nullopt;
  a.kind = target_kind(a.target, chantypes);
  return a;
}

GatewayAddress::Kind target_kind(std::string_view target, std::string_view chantypes) {
  return !target.empty() && chantypes.find(target.front()) != std::string_view::npos
             ? GatewayAddress::Kind::channel
             : GatewayAddress::Kind::user;
}

}  // namespace parley::adapters::gateway
