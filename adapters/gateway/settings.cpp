#include "adapters/gateway/settings.hpp"

#include <charconv>

#include "protocols/common/ascii.hpp"
#include "protocols/irc/message.hpp"

namespace parley::adapters::gateway {

using protocols::ascii_fold;

namespace {
bool has_any(std::string_view v, std::string_view chars) {
  return v.find_first_of(chars) != std::string_view::npos;
}
constexpr std::string_view kLineBreakers("\r\n\0", 3);
}  // namespace

std::optional<std::string> check_nick(std::string_view v) {
  if (v.empty() || v.size() > 30) return "a nick is 1 to 30 characters";
  for (char c : v) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("[]\\`_^{|}-").find(c) != std::string_view::npos;
    if (!ok) return "a nick has letters, digits and []\\`_^{|}- only";
  }
  if ((v[0] >= '0' && v[0] <= '9') || v[0] == '-') return "a nick does not start with a digit or '-'";
  return std::nullopt;
}

std::optional<std::string> check_realname(std::string_view v) {
  if (v.empty() || v.size() > 128) return "a realname is 1 to 128 bytes";
  for (unsigned char c : v)
    if (c < 0x20 || c == 0x7f) return "a realname has no control characters (CR, LF, NUL...)";
  if (!protocols::irc::is_valid_utf8(v)) return "a realname is UTF-8";
  return std::nullopt;
}

std::optional<std::string> check_sasl(std::string_view v) {
  if (v.size() > 300) return "SASL credentials are at most 300 bytes";
  if (has_any(v, kLineBreakers)) return "SASL credentials have no CR, LF or NUL";
  if (!protocols::irc::is_valid_utf8(v)) return "SASL credentials are UTF-8";
  return std::nullopt;
}

std::optional<std::string> check_channel(std::string_view v) {
  if (v.size() < 2 || v.size() > 64) return "a channel name is 2 to 64 bytes";
  if (std::string_view("#&+!").find(v[0]) == std::string_view::npos)
    return "a channel name starts with #, &, + or !";
  if (has_any(v, std::string_view(" ,\x07\r\n\0:", 7)))
    return "a channel name has no space, comma, colon or control";
  if (!protocols::irc::is_valid_utf8(v)) return "a channel name is UTF-8";
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view v) {
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_uint(std::string_view v, std::uint64_t lo, std::uint64_t hi) {
  if (v.empty() || v.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) return std::nullopt;
  return n;
}

std::string channel_scope(std::string_view network, std::string_view channel) {
  return ascii_fold(network) + " " + ascii_fold(channel);
}

std::optional<std::pair<std::string, std::string>> split_channel_scope(std::string_view scope) {
  auto sp = scope.find(' ');
  if (sp == std::string_view::npos || sp == 0) return std::nullopt;
  std::string_view chan = scope.substr(sp + 1);
  if (check_channel(chan)) return std::nullopt;
  return std::pair{std::string(scope.substr(0, sp)), std::string(chan)};
}

namespace {
// One row into a network's settings; false when the name is unknown or the value invalid.
bool apply_network_row(NetworkSettings& n, std::string_view name, const std::string& v) {
  if (name == "nick") return !check_nick(v) && (n.nick = v, true);
  if (name == "realname") return !check_realname(v) && (n.realname = v, true);
  if (name == "sasl_user") return !v.empty() && !check_sasl(v) && (n.sasl_user = v, true);
  if (name == "sasl_password") return !check_sasl(v) && (n.sasl_password = v, true);
  if (name == "port") {
    auto p = parse_uint(v, 1, 65535);
    return p && (n.port = static_cast<std::uint16_t>(*p), true);
  }
  if (name == "tls" || name == "verify") {
    auto b = parse_bool(v);
    if (!b) return false;
    (name == "tls" ? n.tls : n.verify) = *b;
    return true;
  }
  if (name == "encoding") return (v == "latin1" || v == "reject") && (n.encoding = v, true);
  if (name == "throttle_burst") {
    auto b = parse_uint(v, 0, 10000);
    return b && (n.throttle_burst = *b, true);
  }
  if (name == "throttle_interval_ms") {
    auto i = parse_uint(v, 1, 600000);
    return i && (n.throttle_interval_ms = *i, true);
  }
  return false;
}
}  // namespace

UserSettings settings_from_rows(const std::vector<core::GatewaySetting>& rows) {
  UserSettings s;
  for (const auto& r : rows) {
    if (r.scope.empty()) {
      if (r.name == "nick" && !check_nick(r.value)) s.nick = r.value;
      if (r.name == "realname" && !check_realname(r.value)) s.realname = r.value;
      continue;
    }
    if (r.scope.find(' ') != std::string::npos) {
      if (r.name == "persistent" && split_channel_scope(r.scope) && !r.value.empty())
        s.persistent[r.scope] = r.value;
      continue;
    }
    NetworkSettings n = s.networks[r.scope];
    if (apply_network_row(n, r.name, r.value)) s.networks[r.scope] = std::move(n);
  }
  return s;
}

Effective effective(const config::IrcNetwork& base, const UserSettings& s, std::string_view nick) {
  Effective e{base, std::string(nick), {}};
  if (s.nick) e.nick = *s.nick;
  if (s.realname) e.realname = *s.realname;
  auto it = s.networks.find(ascii_fold(base.name));
  if (it == s.networks.end()) return e;
  const NetworkSettings& n = it->second;
  if (n.nick) e.nick = *n.nick;
  if (n.realname) e.realname = *n.realname;
  if (n.sasl_user) {
    e.net.sasl_user = *n.sasl_user;
    e.net.sasl_password = n.sasl_password.value_or(std::string());
  } else if (n.sasl_password && !e.net.sasl_user.empty()) {
    e.net.sasl_password = *n.sasl_password;  // the configured account, the user's password
  }
  if (n.port) e.net.port = *n.port;
  if (n.tls) e.net.tls = *n.tls;
  if (n.verify) e.net.verify = *n.verify;
  if (n.encoding) e.net.encoding = *n.encoding;
  // The network's flood limits are the operator's: a user may make them stricter, never lift
  // them (a puppet killed for flooding can get the gateway's address banned, every user's).
  const bool limited = base.throttle_burst != 0;
  if (n.throttle_burst && *n.throttle_burst != 0)
    e.net.throttle_burst = limited ? std::min(*n.throttle_burst, base.throttle_burst) : *n.throttle_burst;
  if (n.throttle_interval_ms)
    e.net.throttle_interval_ms =
        limited ? std::max(*n.throttle_interval_ms, base.throttle_interval_ms) : *n.throttle_interval_ms;
  return e;
}

}  // namespace parley::adapters::gateway
