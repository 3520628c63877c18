#include "adapters/irc/irc_plugin.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "adapters/common/http_routes.hpp"
#include "adapters/common/listener_set.hpp"
#include "adapters/common/listeners.hpp"
#include "adapters/common/post_guarded.hpp"
#include "adapters/irc/irc_client.hpp"
#include "adapters/irc/irc_connection.hpp"
#include "adapters/irc/irc_server.hpp"
#include "protocols/common/net.hpp"
#include "protocols/irc/ws_framing.hpp"

namespace parley::adapters::irc {

namespace asio = boost::asio;

namespace {

class IrcPlugin final : public core::Plugin {
 public:
  // Everything after start() runs on the core strand, where SIGHUP replaces the config and
  // start/stop/reload run: accept() and the idle sweep read cfg_ there, never concurrently.
  IrcPlugin(Runtime& rt, const config::Config& cfg) : rt_(rt), cfg_(cfg) {}
  ~IrcPlugin() override { stop(); }

  std::string_view name() const override { return "irc"; }

  core::Status start() override {
    server_ = std::make_shared<IrcServer>(rt_, cfg_.irc);
    listeners_ = std::make_unique<ListenerSet>(
        rt_, ListenerSet::Options{
                 .protocol = "irc",
                 .key = "irc.listen",
                 .refusal = [](protocols::AddressLimiter::Verdict v) -> std::string {
                   return v == protocols::AddressLimiter::Verdict::too_many
                              ? "ERROR :Too many connections from your host\r\n"
                              : "ERROR :Trying to reconnect too fast\r\n";
                 },
                 .accept =
                     [this](protocols::Socket s, std::shared_ptr<asio::ssl::context> tls,
                            protocols::Admission admission) {
                       post_guarded(rt_.core_strand, "irc: accept",
                                    [this, s = std::move(s), tls = std::move(tls),
                                     admission = std::move(admission)]() mutable {
                                      accept(std::move(s), std::move(tls), std::move(admission));
                                    });
                     },
                 .tag = core::Protocol::irc,
             });
    if (auto st = listeners_->start(cfg_.irc.listen); !st) return st;
    listeners_->sweep_every(std::chrono::seconds(5), [this] { sweep(); });
    // IRC over WebSocket (IRCv3) on the HTTP listener, path /irc: "binary.ircv3.net",
    // "text.ircv3.net", or none (text). Into the same IrcServer as TCP clients.
    if (rt_.http)
      rt_.http->websocket("/irc", WsEndpoint{{std::string(protocols::irc::kWsText),
                                              std::string(protocols::irc::kWsBinary)},
                                             false, false, [this](WsUpgrade u) {
                                               post_guarded(rt_.core_strand, "irc: websocket accept",
                                                            [this, u = std::make_shared<WsUpgrade>(std::move(u))] {
                                                              accept_websocket(std::move(*u));
                                                            });
                                             }});
    return {};
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (rt_.http) rt_.http->remove("/irc");
    if (listeners_) listeners_->stop();
    if (server_)
      post_guarded(rt_.core_strand, "irc: shutdown",
                   [server = server_] { server->shutdown("Server shutting down"); });
  }

  core::Status reload() override {
    if (listeners_) listeners_->reload(cfg_.irc.listen);
    if (server_)
      post_guarded(rt_.core_strand, "irc: reload",
                   [server = server_, c = cfg_.irc] { server->set_config(c); });
    return {};
  }

 private:
  void accept(protocols::Socket s, std::shared_ptr<asio::ssl::context> tls, protocols::Admission admission) {
    if (stopped_) return;
    protocols::Connection::Limits limits;
    limits.max_read_buffer = cfg_.irc.recvq;
    limits.max_write_queue = cfg_.irc.sendq;
    limits = connection_limits(limits, cfg_.server.connections);
    FloodPolicy flood;
    flood.burst = cfg_.irc.flood_burst;
    flood.cost = std::chrono::milliseconds(cfg_.irc.flood_interval_ms);
    auto fallback = cfg_.irc.fallback_encoding == "reject" ? protocols::irc::Fallback::reject
                                                            : protocols::irc::Fallback::latin1;
    // The connection runs on the core strand (see irc_connection.hpp), like this function.
    auto conn = std::make_shared<IrcConnection>(protocols::rehome(std::move(s), rt_.core_strand), tls, limits,
                                                server_, flood, fallback);
    auto client = std::make_shared<IrcClient>(*server_, conn, conn->peer_host(), tls != nullptr);
    conn->set_client(client);
    listeners_->adopt(conn, std::move(admission), manager_);
    server_->attach(client);
    conn->start();
  }

  // The WebSocket twin of accept(): the same limits, flood policy and server.
  void accept_websocket(WsUpgrade u) {
    if (stopped_) return;
    protocols::Connection::Limits limits;
    limits.max_read_buffer = cfg_.irc.recvq;
    limits.max_write_queue = std::min<std::size_t>(cfg_.irc.sendq, u.write_queue);
    limits = connection_limits(limits, cfg_.server.connections);
    FloodPolicy flood;
    flood.burst = cfg_.irc.flood_burst;
    flood.cost = std::chrono::milliseconds(cfg_.irc.flood_interval_ms);
    auto fallback = cfg_.irc.fallback_encoding == "reject" ? protocols::irc::Fallback::reject
                                                            : protocols::irc::Fallback::latin1;
    const bool binary = u.subprotocol == protocols::irc::kWsBinary;
    u.connection.socket = protocols::rehome(std::move(u.connection.socket), rt_.core_strand);
    auto conn = std::make_shared<IrcConnection>(std::move(u.connection),
                                                std::make_unique<protocols::irc::IrcWsFraming>(u.limits, binary),
                                                limits, server_, flood, fallback);
    auto client = std::make_shared<IrcClient>(*server_, conn, conn->peer_host(), conn->is_tls());
    conn->set_client(client);
    manager_.add(conn);
    server_->attach(client);
    conn->start();
  }

  // Every 5 s on the core strand (ListenerSet::sweep_every): idle pings and timeouts.
  void sweep() {
    auto interval = std::chrono::seconds(cfg_.irc.ping_interval);
    auto timeout = std::chrono::seconds(cfg_.irc.ping_timeout);
    std::string name = cfg_.irc.server_name;
    manager_.for_each_posted([=](protocols::Connection& c) {
      static_cast<IrcConnection&>(c).check_idle(interval, timeout, name);
    });
    // Each connection has its own registration deadline (IrcConnection::on_open); this
    // sweep is the backstop for a client without one.
    post_guarded(rt_.core_strand, "irc: registration sweep",
                 [server = server_, t = std::chrono::seconds(cfg_.irc.registration_timeout)] {
                   server->sweep_unregistered(t);
                 });
  }

  Runtime& rt_;
  const config::Config& cfg_;
  std::shared_ptr<IrcServer> server_;
  std::unique_ptr<ListenerSet> listeners_;
  protocols::ConnectionManager manager_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<core::Plugin> make_irc_plugin(adapters::Runtime& rt, const config::Config& cfg) {
  return std::make_unique<IrcPlugin>(rt, cfg);
}

}  // namespace parley::adapters::irc
