#include "adapters/irc/irc_plugin.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/common/listeners.hpp"
#include "adapters/common/post_guarded.hpp"
#include "adapters/irc/irc_client.hpp"
#include "adapters/irc/irc_connection.hpp"
#include "adapters/irc/irc_server.hpp"
#include "protocols/common/net.hpp"

namespace parley::adapters::irc {

namespace asio = boost::asio;

namespace {

class IrcPlugin final : public core::Plugin {
 public:
  // Everything after start() runs on the core strand, where SIGHUP replaces the config and
  // start/stop/reload run: accept() and the idle sweep read cfg_ there, never concurrently.
  IrcPlugin(Runtime& rt, const config::Config& cfg) : rt_(rt), cfg_(cfg), sweep_(rt.core_strand) {}
  ~IrcPlugin() override { stop(); }

  std::string_view name() const override { return "irc"; }

  core::Status start() override {
    server_ = std::make_shared<IrcServer>(rt_, cfg_.irc);
    for (const auto& text : cfg_.irc.listen) {
      std::string why;
      auto spec = protocols::parse_listen_spec(text, &why);
      if (!spec) return core::make_error(core::Condition::bad_request, "irc.listen " + text + ": " + why);
      if (spec->tls && !rt_.tls)
        return core::make_error(core::Condition::bad_request, "irc.listen " + text + ": TLS needs a certificate");
      auto l = std::make_unique<protocols::Listener>(
          rt_.io, *spec, [this](protocols::Socket s, bool tls, protocols::Admission admission) {
            post_guarded(rt_.core_strand, "irc: accept",
                         [this, s = std::move(s), tls, admission = std::move(admission)]() mutable {
                           accept(std::move(s), tls, std::move(admission));
                         });
          });
      guard_listener(*l, rt_, "irc", [](protocols::AddressLimiter::Verdict v) -> std::string {
        return v == protocols::AddressLimiter::Verdict::too_many
                   ? "ERROR :Too many connections from your host\r\n"
                   : "ERROR :Trying to reconnect too fast\r\n";
      });
      if (auto ec = l->open())
        return core::make_error(core::Condition::service_unavailable, "irc.listen " + text + ": " + ec.message());
      l->start();
      spdlog::info("irc: listening on {}", text);
      listeners_.push_back(std::move(l));
    }
    schedule_sweep();
    return {};
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    for (auto& l : listeners_) l->stop();
    listeners_.clear();
    sweep_.cancel();
    if (server_)
      post_guarded(rt_.core_strand, "irc: shutdown",
                   [server = server_] { server->shutdown("Server shutting down"); });
  }

  core::Status reload() override {
    if (server_)
      post_guarded(rt_.core_strand, "irc: reload",
                   [server = server_, c = cfg_.irc] { server->set_config(c); });
    return {};
  }

 private:
  void accept(protocols::Socket s, bool tls, protocols::Admission admission) {
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
    auto conn = std::make_shared<IrcConnection>(protocols::rehome(std::move(s), rt_.core_strand),
                                                tls ? rt_.tls : nullptr, limits, server_, flood, fallback);
    auto client = std::make_shared<IrcClient>(*server_, conn, conn->peer_host(), tls);
    conn->set_client(client);
    conn->keep_admission(std::move(admission));
    manager_.add(conn);
    server_->attach(client);
    conn->start();
  }

  void schedule_sweep() {
    sweep_.expires_after(std::chrono::seconds(5));
    sweep_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped_) return;
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
      schedule_sweep();
    });
  }

  Runtime& rt_;
  const config::Config& cfg_;
  std::shared_ptr<IrcServer> server_;
  std::vector<std::unique_ptr<protocols::Listener>> listeners_;
  protocols::ConnectionManager manager_;
  asio::steady_timer sweep_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<core::Plugin> make_irc_plugin(adapters::Runtime& rt, const config::Config& cfg) {
  return std::make_unique<IrcPlugin>(rt, cfg);
}

}  // namespace parley::adapters::irc
