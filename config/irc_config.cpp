#include "config/sections.hpp"
#include "core/services/password_hash.hpp"

namespace parley::config {

namespace {
// A value that looks like a hash must be one: otherwise it would be compared as a
// plaintext password nobody could type, and the operator would not know why.
void check_hash(Reader& r, std::string_view key, const std::string& value) {
  if (core::is_password_hash(value) && !core::parse_password_hash(value))
    r.error(key, "malformed password hash; expected $pbkdf2-sha256$ITERATIONS$SALT$KEY as printed by "
                 "`parleyd hash-password`");
}
}  // namespace

void parse_irc(Reader& r, IrcConfig& out) {
  r.listen("listen", out.listen, ListenStyle::stream);
  r.string("server_name", out.server_name, Required::non_empty);
  r.string("network_name", out.network_name, Required::non_empty);
  r.string("motd", out.motd);
  r.list("opers", out.opers, [](Reader& o, IrcOper& oper) {
    o.string("name", oper.name, Required::yes);
    o.string("password", oper.password, Required::yes);
    check_hash(o, "password", oper.password);
  });
  r.string("password", out.password);
  check_hash(r, "password", out.password);
  r.boolean("guests", out.guests);
  r.boolean("reserve_account_nicks", out.reserve_account_nicks);
  r.integer("nick_length", out.nick_length, 1, 512);
  r.integer("channel_length", out.channel_length, 2, 512);
  r.integer("max_channels", out.max_channels, 1, 100000);
  r.list("networks", out.networks, [](Reader& n, IrcNetwork& net) {
    n.string("name", net.name, Required::yes);
    n.string("host", net.host, Required::yes);
    n.integer("port", net.port, 1, 65535);
    n.boolean("tls", net.tls);
    n.boolean("verify", net.verify);
    n.string("fingerprint", net.fingerprint);
    check_fingerprint(n, net.fingerprint, net.tls);
    n.string("password", net.password);
    if (n.has("webirc")) {
      Reader w = n.map("webirc");
      w.string("password", net.webirc_password, Required::yes);
      w.string("gateway", net.webirc_gateway, Required::non_empty);
      if (w.has("password") && net.webirc_password.empty())
        w.error("password", "expected a non-empty string (the network's WEBIRC password)");
      // Each is one IRC parameter: a space would shift the others, CR/LF would end the line.
      auto one_param = [&](std::string_view key, const std::string& v) {
        if (v.size() > 100 || v.front() == ':' ||
            v.find_first_of(std::string_view(" \r\n\0", 4)) != std::string::npos)
          w.error(key, "expected at most 100 characters with no space, CR, LF or NUL, not starting with ':'");
      };
      if (!net.webirc_password.empty()) one_param("password", net.webirc_password);
      if (!net.webirc_gateway.empty()) one_param("gateway", net.webirc_gateway);
    }
    if (n.has("sasl")) {
      Reader sasl = n.map("sasl");
      sasl.string("user", net.sasl_user, Required::yes);
      sasl.string("password", net.sasl_password, Required::yes);
    }
    n.one_of("encoding", net.encoding, {"latin1", "latin-1", "reject"});
    // throttle: off, or { burst, interval_ms }
    if (n.is_scalar("throttle")) {
      std::string off;
      n.one_of("throttle", off, {"off"});
      net.throttle_burst = 0;
    } else if (n.has("throttle")) {
      Reader t = n.map("throttle");
      t.integer("burst", net.throttle_burst, 1, 10000);
      t.integer("interval_ms", net.throttle_interval_ms, 1, 600000);
    }
  });
  r.string("gateway_domain", out.gateway_domain);
  r.boolean("open_networks", out.open_networks);
  r.boolean("open_networks_allow_private", out.open_networks_allow_private);
  if (r.has("identd")) {
    Reader id = r.map("identd");
    id.listen("listen", out.identd_listen, ListenStyle::stream);
    for (const auto& a : out.identd_listen)
      if (a.tls()) id.error("listen", "identd is plain TCP (RFC 1413): no tls: prefix");
    id.integer("max_connections", out.identd_max_connections, 1, 10000);
    id.integer("timeout", out.identd_timeout, 1, 600);
  }
  r.integer("gateway_max_links_per_user", out.gateway_max_links_per_user, 1, 1000);
  r.integer("gateway_queue", out.gateway_queue, 1, 100000);
  r.boolean("gateway_record_history", out.gateway_record_history);
  r.integer("gateway_history_keep", out.gateway_history_keep, 1, 1000000);
  r.integer("gateway_history_join", out.gateway_history_join, 0, 1000);
  r.integer("gateway_mam_page_max", out.gateway_mam_page_max, 1, 1000);
  r.strings("gateway_admins", out.gateway_admins);
  r.integer("gateway_adhoc_sessions", out.gateway_adhoc_sessions, 1, 100);
  r.integer("gateway_persistent_backlog", out.gateway_persistent_backlog, 0, 10000);
  r.integer("flood_burst", out.flood_burst, 0, 100000);
  r.integer("flood_interval_ms", out.flood_interval_ms, 0, 60000);
  r.integer("recvq", out.recvq, 9000, 16 * 1024 * 1024);
  r.integer("sendq", out.sendq, 4096, 1024 * 1024 * 1024);
  r.integer("max_lines_per_message", out.max_lines_per_message, 1, 1000);
  r.integer("ping_interval", out.ping_interval, 5, 86400);
  r.integer("ping_timeout", out.ping_timeout, 10, 86400);
  r.integer("registration_timeout", out.registration_timeout, 1, 86400);
  r.string("fallback_encoding", out.fallback_encoding);
}

}  // namespace parley::config
