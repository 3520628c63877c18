#include "config/sections.hpp"

namespace parley::config {

void parse_http(Reader& r, HttpConfig& out) {
  r.listen("listen", out.listen, ListenStyle::stream);
  r.listen("metrics_listen", out.metrics_listen, ListenStyle::stream);
  Reader l = r.map("limits");
  // Lower bounds keep a real browser working (its headers and cookies, a stanza of a few
  // KiB); upper bounds keep one connection's share of memory small.
  l.integer("header_bytes", out.limits.header_bytes, 1024, 64 * 1024);
  l.integer("body_bytes", out.limits.body_bytes, 1024, 16 * 1024 * 1024);
  l.integer("requests_per_connection", out.limits.requests_per_connection, 1, 100000);
  l.integer("idle_timeout", out.limits.idle_timeout, 1, 3600);
  l.integer("read_timeout", out.limits.read_timeout, 1, 600);
  l.integer("websocket_message", out.limits.websocket_message, 4096, 16 * 1024 * 1024);
  l.integer("websocket_fragments", out.limits.websocket_fragments, 1, 4096);
  l.integer("write_queue", out.limits.write_queue, 64 * 1024, 64 * 1024 * 1024);
  // BOSH: a held request costs a connection and a timer, a session a c2s stream and queue.
  Reader b = r.map("bosh");
  b.integer("sessions_per_address", out.bosh.sessions_per_address, 1, 10000);
  b.integer("max_sessions", out.bosh.max_sessions, 1, 1000000);
  b.integer("hold_max", out.bosh.hold_max, 1, 16);
  b.integer("wait_max", out.bosh.wait_max, 1, 300);
  b.integer("inactivity", out.bosh.inactivity, 2, 3600);
  b.integer("queued_bytes", out.bosh.queued_bytes, 16 * 1024, 64 * 1024 * 1024);
  b.string("allow_origin", out.bosh.allow_origin);
  // An origin is scheme://host[:port] (RFC 6454 §6.2); a bare host would never match.
  Reader w = r.map("websocket");
  w.strings("allowed_origins", out.websocket.allowed_origins);
  for (const auto& o : out.websocket.allowed_origins)
    if (o.find("://") == std::string::npos || o.find_first_of(" \t,") != std::string::npos)
      w.error("allowed_origins",
              "\"" + o + "\" is not an origin: expected scheme://host[:port], e.g. https://chat.example");
}

}  // namespace parley::config
