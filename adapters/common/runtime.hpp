#pragma once
// What the daemon hands every adapter: the io_context, the core and the strand it lives on
// (docs/ARCHITECTURE.md, Threads), and the server TLS identity (ServerTls: the context
// current now). Every core call runs on core_strand: an adapter whose connections live on their own strand (XMPP) posts it there
// and posts deliveries back; one whose connections live on core_strand (IRC, line) calls
// the core directly.
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>

#include "adapters/common/server_tls.hpp"
#include "core/core.hpp"
#include "protocols/common/address_limiter.hpp"
#include "protocols/common/lane.hpp"

namespace parley::adapters {

class AuthService;  // adapters/common/auth.hpp
class HttpRoutes;   // adapters/common/http_routes.hpp

// A strand, or with server.threads >= 2 the direct lane of the core's own io_context, which
// one thread runs (protocols/common/lane.hpp).
using CoreStrand = protocols::Lane;

struct Runtime {
  boost::asio::io_context& io;
  CoreStrand core_strand;
  core::Core& core;
  // Server side, cert/key loaded and checked; tls->current() for each new connection (SIGHUP
  // swaps it). Null in unit tests: tls: listeners and STARTTLS are then refused.
  std::shared_ptr<ServerTls> tls;
  // Password checks off the core strand, and their throttle (adapters/common/auth.hpp).
  // Null in unit tests: checks then run inline, unthrottled.
  AuthService* auth = nullptr;
  // Per-address connection limits shared by every listener of every adapter, so that an
  // address cannot multiply its share by the number of protocols (server.connections).
  // Null: no limits.
  std::shared_ptr<protocols::AddressLimiter> connections = nullptr;
  // The HTTP listener's route table (adapters/http): plugins add their paths in start()
  // (XMPP /xmpp-websocket, IRC /irc, /metrics). Null: no HTTP, nothing to register.
  std::shared_ptr<HttpRoutes> http = nullptr;
};

}  // namespace parley::adapters
