#include "protocols/common/listen_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <optional>

namespace parley::protocols {

std::string_view to_string(Transport t) {
  switch (t) {
    case Transport::tcp:
      return "tcp";
    case Transport::tls:
      return "tls";
    case Transport::udp:
      return "udp";
  }
  return "tcp";
}

std::string ListenAddress::endpoint() const {
  std::string port_text = std::to_string(port);
  return ipv6 ? "[" + host + "]:" + port_text : host + ":" + port_text;
}

std::string ListenAddress::str() const {
  return transport == Transport::tcp ? endpoint() : std::string(to_string(transport)) + ":" + endpoint();
}

namespace {

bool fail(std::string* why, std::string message) {
  if (why) *why = std::move(message);
  return false;
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// "HOST:PORT" or "[IPV6]:PORT" cut in two (nothing checked yet but the shape); the reason
// when the shape is wrong.
struct HostPort {
  std::string_view host, port;
  bool bracketed = false;
  bool has_port = false;  // a ":PORT" was written (possibly empty)
};
// port_optional: "HOST" and "[V6]" alone are accepted too (has_port false).
const char* split_host_port(std::string_view text, HostPort& out, bool port_optional = false) {
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return "unclosed '['";
    out.host = text.substr(1, close - 1);
    out.bracketed = true;
    if (port_optional && close + 1 == text.size()) return nullptr;
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return port_optional ? "junk after ']'" : "missing :PORT";
    out.port = text.substr(close + 2);
    out.has_port = true;
    return nullptr;
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    if (!port_optional) return "missing :PORT";
    out.host = text;
    return nullptr;
  }
  out.host = text.substr(0, colon);
  out.port = text.substr(colon + 1);
  out.has_port = true;
  if (out.host.find(':') != std::string_view::npos) return "IPv6 addresses must be bracketed";
  return nullptr;
}

// 1..65535, digits only.
std::optional<std::uint16_t> parse_port(std::string_view port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<ListenAddress> parse_listen(std::string_view text, ListenStyle style, std::string* why) {
  const std::string_view example =
      style == ListenStyle::sip ? "expected TRANSPORT:HOST:PORT with TRANSPORT udp, tcp or tls, e.g. "
                                  "\"udp:127.0.0.1:5060\" or \"tcp:[::1]:5060\""
                                : "expected [tls:]HOST:PORT with an IP address, e.g. \"127.0.0.1:6667\", "
                                  "\"tls:0.0.0.0:6697\" or \"[::1]:6667\"";
  auto bad = [&](std::string_view what) -> std::optional<ListenAddress> {
    fail(why, "invalid listen address '" + std::string(text) + "' (" + std::string(what) + "); " +
                  std::string(example));
    return std::nullopt;
  };

  ListenAddress out;
  std::string_view rest = text;
  auto take_prefix = [&](std::string_view p) {
    if (rest.substr(0, p.size()) != p) return false;
    rest.remove_prefix(p.size());
    return true;
  };
  if (take_prefix("tls:")) {
    out.transport = Transport::tls;
  } else if (take_prefix("tcp:")) {
    out.transport = Transport::tcp;
  } else if (take_prefix("udp:")) {
    if (style != ListenStyle::sip) return bad("udp is only for sip");
    out.transport = Transport::udp;
  } else if (style == ListenStyle::sip) {
    return bad("missing transport prefix");
  }

  HostPort hp;
  if (const char* shape = split_host_port(rest, hp)) return bad(shape);
  out.ipv6 = hp.bracketed;
  out.host = std::string(hp.host);
  if (out.host.empty()) return bad("missing host");
  if (out.ipv6 ? !is_ipv6(out.host) : !is_ipv4(out.host)) return bad("host is not an IP address");
  auto port = parse_port(hp.port);
  if (!port) return bad("port must be 1..65535");
  out.port = *port;
  return out;
}

namespace {
bool is_dns_name(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : h) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && !(c == '-' && label > 0)) return false;
      if (++label > 63) return false;
    }
    prev = c;
  }
  if (prev == '-') return false;
  // An all-numeric last label is a mistyped IPv4 address, not a name (RFC 3696 §2).
  const std::string_view last = h.substr(h.rfind('.') == std::string_view::npos ? 0 : h.rfind('.') + 1);
  return last.find_first_not_of("0123456789") != std::string_view::npos;
}
}  // namespace

std::optional<ServerAddress> parse_server_address(std::string_view text, std::string* why) {
  auto bad = [&](std::string_view what) -> std::optional<ServerAddress> {
    fail(why, "invalid server address '" + std::string(text) + "' (" + std::string(what) +
                  "); expected HOST:PORT with a host name or IP address, e.g. \"localhost:5347\", "
                  "\"127.0.0.1:5347\" or \"[::1]:5347\"");
    return std::nullopt;
  };
  HostPort hp;
  if (const char* shape = split_host_port(text, hp)) return bad(shape);
  ServerAddress out;
  out.host = std::string(hp.host);
  if (out.host.empty()) return bad("missing host");
  if (hp.bracketed ? !is_ipv6(out.host) : !(is_ipv4(out.host) || is_dns_name(out.host)))
    return bad(hp.bracketed ? "not an IPv6 address" : "host is neither an IP address nor a host name");
  auto port = parse_port(hp.port);
  if (!port) return bad("port must be 1..65535");
  out.port = *port;
  return out;
}

std::string ProxyAddress::str() const {
  std::string h = ipv6 ? "[" + host + "]" : host;
  return std::string(to_string(transport)) + ":" + h + ":" + std::to_string(port);
}

std::optional<ProxyAddress> parse_proxy_address(std::string_view text, std::string* why) {
  auto bad = [&](std::string_view what) -> std::optional<ProxyAddress> {
    fail(why, "invalid proxy address '" + std::string(text.substr(0, 300)) + "' (" + std::string(what) +
                  "); expected TRANSPORT:HOST[:PORT] with TRANSPORT udp, tcp or tls and HOST a host name or "
                  "IP address, e.g. \"udp:sip.example.org:5060\", \"tls:proxy.example.org\" or "
                  "\"tcp:[2001:db8::1]:5060\"");
    return std::nullopt;
  };
  ProxyAddress out;
  std::string_view rest = text;
  if (rest.substr(0, 4) == "udp:")
    out.transport = Transport::udp;
  else if (rest.substr(0, 4) == "tcp:")
    out.transport = Transport::tcp;
  else if (rest.substr(0, 4) == "tls:")
    out.transport = Transport::tls;
  else
    return bad("missing transport prefix");
  rest.remove_prefix(4);
  HostPort hp;
  if (const char* shape = split_host_port(rest, hp, true)) return bad(shape);
  out.host = std::string(hp.host);
  if (out.host.empty()) return bad("missing host");
  if (hp.bracketed) {
    if (!is_ipv6(out.host)) return bad("not an IPv6 address");
    out.ipv6 = true;
  } else if (!is_ipv4(out.host)) {
    if (!is_dns_name(out.host)) return bad("host is neither an IP address nor a host name");
    out.name = true;
  }
  if (!hp.has_port) {
    out.port = out.transport == Transport::tls ? 5061 : 5060;
  } else {
    auto p = parse_port(hp.port);
    if (!p) return bad("port must be 1..65535");
    out.port = *p;
  }
  return out;
}

}  // namespace parley::protocols
