#pragma once
// RFC 1413 identd for the gateway's IRC connections (irc.identd, off by default). An IRC
// network that does ident lookups connects back to port 113 of the address a puppet came
// from and asks "<our port> , <its port>": the answer is that puppet's user name (the
// USER it registered with, derived from the bare JID), so the network shows "alice"
// rather than "~alice" and can ban one gateway user instead of the whole gateway. Any
// connection the gateway does not own is ERROR : NO-USER - the identd never says who owns
// other processes' connections.
//
// Bounds: one query per connection (answered, then closed), a query line of at most 1000
// bytes (RFC 1413 §6), irc.identd.timeout seconds for the whole exchange, at most
// irc.identd.max_connections at once (more are closed at accept), and the daemon's
// per-address limits (server.connections) as every listener.
//
// Threading: the registry and every identd connection live on the core strand, with the
// puppets that fill it.
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adapters/common/runtime.hpp"
#include "config/listen.hpp"
#include "core/model/error.hpp"

namespace parley::adapters {
class ListenerSet;
}
namespace parley::protocols {
class ConnectionManager;
}

namespace parley::adapters::gateway {

// Puppet connections by (local, remote) endpoint, with the user id each answers to.
// IPv4-mapped IPv6 addresses are kept as IPv4, so a dual-stack listener finds them.
class IdentRegistry {
 public:
  using Endpoint = boost::asio::ip::tcp::endpoint;
  void add(const Endpoint& local, const Endpoint& remote, std::string user);
  void remove(const Endpoint& local, const Endpoint& remote);
  const std::string* find(const Endpoint& local, const Endpoint& remote) const;
  std::size_t size() const { return map_.size(); }

 private:
  std::map<std::pair<Endpoint, Endpoint>, std::string> map_;
};

class Identd {
 public:
  struct Options {
    std::size_t max_connections = 32;
    std::chrono::seconds timeout{10};
  };
  Identd(Runtime& rt, Options options, std::shared_ptr<IdentRegistry> registry);
  ~Identd();
  Identd(const Identd&) = delete;
  Identd& operator=(const Identd&) = delete;

  core::Status start(const std::vector<config::ListenAddress>& listen);
  void stop();

  struct State;  // shared with the connections (identd.cpp)

 private:
  Runtime& rt_;
  std::shared_ptr<State> state_;
  std::unique_ptr<ListenerSet> listeners_;
};

}  // namespace parley::adapters::gateway
