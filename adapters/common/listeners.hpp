#pragma once
// What every adapter's listeners share (server.connections): the per-address limiter of
// the Runtime, the handshake and close deadlines, and logging of refusals and accept
// pauses. A new listening adapter (SIP-TCP, PSYC) calls guard_listener() on each Listener
// and connection_limits() for each connection and gets the same bounds.
#include <optional>
#include <string_view>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "protocols/common/net.hpp"

namespace parley::adapters {

protocols::AddressLimiter::Policy limiter_policy(const config::ConnectionLimits& c);

// `base` (read buffer and write queue bounds) with server.connections' handshake and close
// deadlines.
protocols::Connection::Limits connection_limits(protocols::Connection::Limits base,
                                                const config::ConnectionLimits& c);

// Applies the runtime's per-address limiter to `l` (refused plain connections are told
// refusal(verdict)) and logs its events as "<protocol>: ...". Call before l.start().
// Refusals count in parley_rejected_inputs_total{protocol, reason="refused_connection"}.
void guard_listener(protocols::Listener& l, const Runtime& rt, std::string_view protocol,
                    protocols::Listener::Refusal refusal, std::optional<core::Protocol> tag = std::nullopt);

}  // namespace parley::adapters
