#include "protocols/psyc/uniform.hpp"

#include "protocols/common/ascii.hpp"

namespace parley::protocols::psyc {

namespace {

bool host_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' || c == '-';
}
// Nicknames and place names: what psyced accepts, plus '.' and '-'.
bool name_char(char c) { return host_char(c) || c == '_'; }

constexpr std::size_t kMaxHost = 253;  // RFC 1035 §2.3.4
constexpr std::size_t kMaxName = 64;

}  // namespace

const char* parse_uniform(std::string_view s, Uniform& out) {
  out = {};
  constexpr std::string_view scheme = "psyc://";
  if (s.size() < scheme.size() || !ascii_equal_fold(s.substr(0, scheme.size()), scheme))
    return "not a psyc: uniform";
  s.remove_prefix(scheme.size());
  std::size_t slash = s.find('/');
  std::string_view authority = s.substr(0, slash);
  std::string_view path = slash == s.npos ? std::string_view{} : s.substr(slash + 1);
  if (authority.empty()) return "no host";
  std::size_t host_end;
  if (authority[0] == '[') {
    host_end = authority.find(']');
    if (host_end == authority.npos || host_end == 1) return "bad IPv6 host";
    for (char c : authority.substr(1, host_end - 1))
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
            c == '.'))
        return "bad IPv6 host";
    ++host_end;
  } else {
    host_end = 0;
    while (host_end < authority.size() && host_char(authority[host_end])) ++host_end;
    if (host_end == 0) return "no host";
  }
  out.host = authority.substr(0, host_end);
  if (out.host.size() > kMaxHost) return "host too long";
  std::string_view rest = authority.substr(host_end);
  if (!rest.empty()) {
    if (rest[0] != ':') return "bad character in host";
    rest.remove_prefix(1);
    std::size_t i = (!rest.empty() && rest[0] == '-') ? 1 : 0;
    std::size_t digits_start = i;
    unsigned long port = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      port = port * 10 + static_cast<unsigned long>(rest[i] - '0');
      if (port > 65535) return "port out of range";
      ++i;
    }
    if (i == digits_start) return "port expected after ':'";
    if (port == 0) return "port out of range";
    out.port = rest.substr(0, i);
    rest.remove_prefix(i);
    if (!rest.empty()) {
      if (rest.size() > 1) return "bad port";
      if (rest[0] != 'c' && rest[0] != 'd' && rest[0] != 's') return "unknown transport (c, d or s)";
      out.transport = rest[0];
    }
  }
  if (path.empty()) return nullptr;  // the root entity
  if (path[0] != '~' && path[0] != '@') return "the resource starts with ~ (a person) or @ (a place)";
  out.kind = path[0];
  path.remove_prefix(1);
  std::size_t hash = path.find('#');
  out.name = path.substr(0, hash);
  if (out.name.empty()) return "empty name";
  if (out.name.size() > kMaxName) return "name too long";
  for (char c : out.name)
    if (!name_char(c)) return "bad character in name";
  if (hash != path.npos) {
    out.channel = path.substr(hash + 1);
    if (out.channel.empty()) return "empty channel";
    if (out.channel.size() > kMaxName) return "channel too long";
    for (char c : out.channel)
      if (!name_char(c)) return "bad character in channel";
  }
  return nullptr;
}

std::string person_uniform(std::string_view host, std::string_view name) {
  return "psyc://" + std::string(host) + "/~" + std::string(name);
}
std::string place_uniform(std::string_view host, std::string_view name) {
  return "psyc://" + std::string(host) + "/@" + std::string(name);
}
std::string root_uniform(std::string_view host) { return "psyc://" + std::string(host); }

}  // namespace parley::protocols::psyc
