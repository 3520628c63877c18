#pragma once
// A plugin's listeners, from its typed listen addresses (config::ListenAddress, parsed once
// by the config loader): opens them (plain and tls:), applies the shared per-address limiter
// (guard_listener), checks at start that TLS is usable when the plugin needs it, hands every
// accepted socket with the TLS context current at that moment (SIGHUP swaps it: see
// server_tls.hpp), re-binds on reload the addresses that changed, and runs the plugin's
// periodic sweep (idle pings, registration backstops) on the core strand.
//
//   set_ = std::make_unique<ListenerSet>(rt, ListenerSet::Options{"irc", "irc.listen", refusal,
//       [this](Socket s, std::shared_ptr<ssl::context> tls, Admission a) { ... }});
//   if (auto st = set_->start(cfg.irc.listen); !st) return st;     // Plugin::start
//   set_->reload(cfg.irc.listen);                                   // Plugin::reload (core strand)
//   set_->stop();                                                   // Plugin::stop
//
// Threading: start() before the io threads run or on the core strand; reload(), stop() and
// the sweep on the core strand. The accept callback runs on the new socket's own strand.
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/common/runtime.hpp"
#include "config/listen.hpp"
#include "core/model/error.hpp"
#include "protocols/common/net.hpp"

namespace parley::adapters {

class ListenerSet {
 public:
  // tls: the server context for a tls: listener (current at accept time), null for a plain one.
  using Accept = std::function<void(protocols::Socket socket, std::shared_ptr<boost::asio::ssl::context> tls,
                                    protocols::Admission admission)>;
  struct Options {
    std::string protocol;                  // "irc": log lines and the limiter's notices
    std::string key;                       // "irc.listen": error messages name the config key
    protocols::Listener::Refusal refusal;  // what a refused plain connection is told
    Accept accept;
    // The protocol upgrades plain connections (XMPP STARTTLS, RFC 6120 §5): TLS must be
    // usable even without a tls: listener.
    bool starttls = false;
    // Log prefix of "... listening on ADDRESS"; empty: "<protocol>:".
    std::string log_name;
    // The core's tag of the sessions this plugin opens: metrics count its connections,
    // refusals and sessions under the label `protocol` (core::Metrics::name_protocol).
    // Empty for a plugin that opens no sessions of its own (HTTP: an upgraded connection
    // becomes an XMPP or IRC one): it must not rename another plugin's tag.
    std::optional<core::Protocol> tag;
  };

  ListenerSet(Runtime& rt, Options options);
  // For the accept handler: the connection keeps its per-address admission and, with a
  // tag, is counted in parley_connections{protocol} while open; the manager tracks it.
  // The caller starts it (after any wiring of its own).
  void adopt(const std::shared_ptr<protocols::Connection>& c, protocols::Admission admission,
             protocols::ConnectionManager& manager) const;
  ~ListenerSet();
  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;

  // Checks TLS, then binds and starts every address. On error nothing stays open and the
  // message names the key, the address and the reason.
  core::Status start(const std::vector<config::ListenAddress>& addresses);
  // SIGHUP: closes listeners whose address left the list and opens the new ones (a failure
  // is logged and that address skipped); unchanged addresses keep their socket, and nothing
  // happens to established connections. The TLS context is not the set's: the daemon swaps
  // rt.tls once for every plugin.
  void reload(const std::vector<config::ListenAddress>& addresses);
  // Closes every listener and ends the sweep. Established connections are the plugin's.
  void stop();

  // Calls f on the core strand every `interval` until stop(). One sweep per set.
  void sweep_every(std::chrono::milliseconds interval, std::function<void()> f);

  std::size_t size() const { return listeners_.size(); }
  // The bound endpoints, in list order (port 0 addresses show the port picked).
  std::vector<protocols::tcp::endpoint> endpoints() const;

 private:
  core::Status tls_usable(const config::ListenAddress* address) const;
  core::Status open(const config::ListenAddress& address);
  void schedule_sweep();

  Runtime& rt_;
  Options options_;
  std::vector<std::unique_ptr<protocols::Listener>> listeners_;
  boost::asio::steady_timer sweep_;
  std::chrono::milliseconds sweep_interval_{0};
  std::function<void()> sweep_fn_;
  bool stopped_ = false;
};

}  // namespace parley::adapters
