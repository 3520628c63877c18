#include "adapters/http/http_plugin.hpp"

#include "adapters/common/listener_set.hpp"
#include "adapters/common/listeners.hpp"
#include "adapters/common/metrics_exposition.hpp"
#include "adapters/http/http_connection.hpp"

namespace parley::adapters::http {

namespace asio = boost::asio;

namespace {

std::string refusal(protocols::AddressLimiter::Verdict v) {
  const std::string_view body = v == protocols::AddressLimiter::Verdict::too_many
                                    ? "too many connections from your address\n"
                                    : "connecting too fast from your address\n";
  return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + std::string(body);
}

// Connections run on their own strand (the socket's, from the Listener), like XMPP's: a
// request's parsing never holds the core strand; a WebSocket endpoint then carries the
// connection on (XMPP on that same strand, IRC re-homed onto the core strand).
class HttpPlugin final : public core::Plugin {
 public:
  HttpPlugin(Runtime& rt, const config::Config& c) : rt_(rt), config_(c) {}
  ~HttpPlugin() override { stop(); }

  std::string_view name() const override { return "http"; }

  core::Status start() override {
    const auto& h = config_.http;
    auto base = std::make_shared<HttpSettings>();
    base->limits = h.limits;
    base->routes = rt_.http ? rt_.http : std::make_shared<HttpRoutes>();
    base->metrics_elsewhere = !h.metrics_listen.empty();
    base->allowed_origins = h.websocket.allowed_origins;
    // The scrape reads only atomics and the registry's mutex: answered on the connection's
    // strand, never through the core strand (a busy core does not delay monitoring).
    base->routes->handle("/metrics", {"GET"}, [&core = rt_.core](const HttpRequest&, HttpReply reply) {
      reply({200, kMetricsContentType, metrics_exposition(core.metrics().registry()), {}});
    });
    main_ = make_set("http.listen", "http", base);
    if (auto st = main_->start(h.listen); !st) return st;
    if (!h.metrics_listen.empty()) {
      auto m = std::make_shared<HttpSettings>(*base);
      m->metrics_elsewhere = false;
      m->metrics_only = true;
      metrics_ = make_set("http.metrics_listen", "http: metrics", m);
      if (auto st = metrics_->start(h.metrics_listen); !st) {
        main_->stop();
        return st;
      }
    }
    return {};
  }

  // SIGHUP: addresses that changed are re-bound; limits are read at start only.
  core::Status reload() override {
    if (main_) main_->reload(config_.http.listen);
    if (metrics_) metrics_->reload(config_.http.metrics_listen);
    return {};
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (main_) main_->stop();
    if (metrics_) metrics_->stop();
    if (rt_.http) rt_.http->remove("/metrics");
    manager_.close_all("Server shutting down");
  }

 private:
  std::unique_ptr<ListenerSet> make_set(std::string key, std::string log_name,
                                        std::shared_ptr<const HttpSettings> settings) {
    return std::make_unique<ListenerSet>(
        rt_,
        ListenerSet::Options{
            .protocol = "http",
            .key = std::move(key),
            .refusal = refusal,
            .accept =
                [this, settings, connections = config_.server.connections](
                    protocols::Socket s, std::shared_ptr<asio::ssl::context> tls, protocols::Admission a) {
                  auto limits = http_connection_limits(*settings);
                  limits.close_timeout_ms = connections.close_timeout * 1000;
                  auto c = std::make_shared<HttpConnection>(std::move(s), std::move(tls), limits, settings);
                  c->keep_admission(std::move(a));
                  manager_.add(c);
                  c->start();
                },
            .log_name = std::move(log_name),
        });
  }

  Runtime& rt_;
  const config::Config& config_;
  std::unique_ptr<ListenerSet> main_, metrics_;
  protocols::ConnectionManager manager_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<core::Plugin> make_http_plugin(Runtime& rt, const config::Config& c) {
  return std::make_unique<HttpPlugin>(rt, c);
}

}  // namespace parley::adapters::http
