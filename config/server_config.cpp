#include <arpa/inet.h>

#include <set>

#include "config/sections.hpp"

namespace parley::config {

namespace {

// The domain becomes part of every address (alice@DOMAIN, sip:alice@DOMAIN) and the CN/SAN
// of the generated certificate: a DNS name (RFC 1035 §2.3.1 letters, digits, hyphens, with
// '_' tolerated) or an IP address.
bool valid_domain(const std::string& d) {
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, d.c_str(), &a4) == 1 || inet_pton(AF_INET6, d.c_str(), &a6) == 1) return true;
  if (d.empty() || d.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    char c = d[i];
    if (c == '.') {
      if (label == 0 || d[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              (c == '-' && label > 0);
    if (!ok || ++label > 63) return false;
  }
  return label > 0 && d.back() != '-';
}

}  // namespace

void parse_server(Reader& r, ServerConfig& out) {
  r.string("domain", out.domain, Required::non_empty);
  if (r.has("domain") && !out.domain.empty() && !valid_domain(out.domain))
    r.error("domain", "expected a DNS name or an IP address, got '" + out.domain + "'");
  r.string("data_dir", out.data_dir, Required::non_empty);
  r.integer("threads", out.threads, 0, 1024);
  r.one_of("log_level", out.log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  r.integer("store_queue", out.store_queue, 1, 1000000);
  r.one_of("log_format", out.log_format, {"text", "json"});
  r.string("control_socket", out.control_socket, Required::no);
  // sockaddr_un.sun_path holds 108 bytes, the terminating NUL included.
  if (out.control_socket.size() > 107) r.error("control_socket", "a unix socket path is at most 107 bytes");
  r.integer("control_clients", out.control_clients, 1, 1024);
  Reader limits = r.map("limits");
  limits.integer("max_rooms", out.limits.max_rooms, 1, 1000000);
  limits.integer("roster_size", out.limits.roster_size, 1, 1000000);
  limits.integer("offline_messages", out.limits.offline_messages, 0, 100000000);
  limits.integer("offline_bytes", out.limits.offline_bytes, 0, 1LL << 40);
  limits.integer("offline_sender_share", out.limits.offline_sender_share, 1, 100);
  Reader c = r.map("connections");
  c.integer("per_address", out.connections.per_address, 0, 1000000);
  c.integer("rate", out.connections.rate, 0, 1000000);
  c.integer("burst", out.connections.burst, 1, 1000000);
  c.integer("handshake_timeout", out.connections.handshake_timeout, 1, 3600);
  c.integer("close_timeout", out.connections.close_timeout, 1, 3600);
}

void parse_accounts(Reader& root, std::vector<SeedAccount>& out) {
  std::set<std::string> seen;
  root.list("accounts", out, [&seen](Reader& r, SeedAccount& a) {
    r.string("user", a.user, Required::yes);
    r.string("password", a.password, Required::yes);
    if (!a.user.empty() && !seen.insert(a.user).second) r.error("user", "duplicate seed account '" + a.user + "'");
  });
}

}  // namespace parley::config
