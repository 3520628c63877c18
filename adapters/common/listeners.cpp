#include "adapters/common/listeners.hpp"

#include <spdlog/spdlog.h>

#include <string>

namespace parley::adapters {

protocols::AddressLimiter::Policy limiter_policy(const config::ConnectionLimits& c) {
  protocols::AddressLimiter::Policy p;
  p.per_address = c.per_address;
  p.rate = static_cast<double>(c.rate);
  p.burst = c.burst;
  return p;
}

protocols::Connection::Limits connection_limits(protocols::Connection::Limits base,
                                                const config::ConnectionLimits& c) {
  base.handshake_timeout_ms = c.handshake_timeout * 1000;
  base.close_timeout_ms = c.close_timeout * 1000;
  return base;
}

void guard_listener(protocols::Listener& l, const Runtime& rt, std::string_view protocol,
                    protocols::Listener::Refusal refusal, std::optional<core::Protocol> tag) {
  if (rt.connections) l.set_limiter(rt.connections, std::move(refusal));
  l.set_notify([name = std::string(protocol), &metrics = rt.core.metrics(), tag](protocols::Listener::Event e,
                                                                                 std::string_view text) {
    using E = protocols::Listener::Event;
    switch (e) {
      // Debug only: under attack a line per refused connection would be the attack.
      case E::refused:
        if (tag) metrics.rejected(*tag, core::Rejection::refused_connection);  // untagged: nobody's label
        spdlog::debug("{}: refused connection from {}", name, text);
        break;
      case E::accept_paused:
        spdlog::warn("{}: cannot accept connections: {}", name, text);
        break;
      case E::accept_resumed:
        spdlog::info("{}: accepting connections again after {}", name, text);
        break;
    }
  });
}

}  // namespace parley::adapters
