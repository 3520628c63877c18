#include "adapters/xmpp/xmpp_plugin.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "adapters/common/http_routes.hpp"
#include "adapters/common/listener_set.hpp"
#include "adapters/common/post_guarded.hpp"
#include "adapters/gateway/gateway.hpp"
#include "adapters/gateway/identd.hpp"
#include "adapters/xmpp/bosh_session.hpp"
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/component.hpp"
#include "adapters/xmpp/context.hpp"
#include "adapters/xmpp/gateway_route.hpp"
#include "protocols/common/listen_address.hpp"
#include "protocols/xmpp/writer.hpp"
#include "protocols/xmpp/ws_framing.hpp"

namespace parley::adapters::xmpp {

namespace {

std::string refusal(const std::string& domain, std::string_view text) {
  std::string out =
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
      "xmlns:stream='http://etherx.jabber.org/streams' "
      "version='1.0' from='";
  px::escape_attr(out, domain);
  out +=
      "'><stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
      "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>";
  out += text;
  out += "</text></stream:error></stream:stream>";
  return out;
}

class XmppPlugin : public core::Plugin {
 public:
  XmppPlugin(Runtime& rt, const config::Config& c, std::shared_ptr<ComponentSlot> slot)
      : rt_(rt), config_(c), slot_(std::move(slot)) {}

  std::string_view name() const override { return "xmpp"; }

  core::Status start() override {
    const auto& x = config_.xmpp;
    Domains d;
    d.domain = config_.server.domain;
    d.muc = x.muc.domain.empty() ? "conference." + d.domain : x.muc.domain;
    px::FramerLimits limits;
    limits.max_stanza = x.c2s.limits.stanza_size;
    limits.max_depth = x.c2s.limits.depth;
    limits.max_attributes = x.c2s.limits.attributes;
    ctx_ = std::make_unique<Context>(rt_, d, limits);
    ctx_->resume_timeout = std::chrono::seconds(x.c2s.resume_timeout);
    ctx_->flood.bytes_per_second = x.c2s.rate.bytes_per_second;
    ctx_->flood.burst = x.c2s.rate.burst;
    ctx_->flood.stanzas_per_second = x.c2s.rate.stanzas_per_second;
    ctx_->flood.stanza_burst = x.c2s.rate.stanza_burst;
    ctx_->flood.core_queue = x.c2s.core_queue;
    ctx_->flood.max_unacked = x.c2s.max_unacked;
    ctx_->flood.max_unacked_bytes = x.c2s.max_unacked_bytes;
    // A login gets its offline box one batch at a time, the next once the client acked the
    // last (Router::flush_offline): a batch larger than the XEP-0198 bound would close it.
    const std::size_t batch = rt_.core.options().offline_batch;
    if (x.c2s.max_unacked != 0 && x.c2s.max_unacked <= batch)
      spdlog::warn("xmpp.c2s.max_unacked ({}) should exceed the offline batch ({}): a login with a full "
                   "offline box would overflow it",
                   x.c2s.max_unacked, batch);
    ctx_->auth_timeout = std::chrono::seconds(x.c2s.auth_timeout);
    ctx_->preauth_stanza = x.c2s.limits.preauth_stanza_size;
    ctx_->handshake_timeout_ms = config_.server.connections.handshake_timeout * 1000;
    ctx_->close_timeout_ms = config_.server.connections.close_timeout * 1000;
    start_gateway(d.domain);
    start_component(limits);
    if (auto st = start_identd(); !st) return st;
    Context* ctx = ctx_.get();
    listeners_ = std::make_unique<ListenerSet>(
        rt_, ListenerSet::Options{
                 .protocol = "xmpp",
                 .key = "xmpp.c2s.listen",
                 // RFC 6120 §4.9.1.2: an error before the client's header still opens a stream first.
                 .refusal =
                     [domain = d.domain](protocols::AddressLimiter::Verdict v) {
                       return refusal(domain, v == protocols::AddressLimiter::Verdict::too_many
                                                  ? "too many connections from your address"
                                                  : "connecting too fast from your address");
                     },
                 .accept =
                     [this, ctx](protocols::Socket s, std::shared_ptr<boost::asio::ssl::context> tls,
                                 protocols::Admission admission) {
                       auto c = std::make_shared<C2sConnection>(std::move(s), std::move(tls), *ctx);
                       listeners_->adopt(c, std::move(admission), ctx->manager);
                       c->start();
                     },
                 // RFC 6120 §5.3.1: STARTTLS is mandatory, so even plain listeners need the certificate.
                 .starttls = true,
                 .log_name = "xmpp: c2s",
                 .tag = core::Protocol::xmpp,
             });
    if (auto st = listeners_->start(x.c2s.listen); !st) return st;
    // XMPP over WebSocket (RFC 7395) on the HTTP listener: subprotocol "xmpp" (§3.1), the
    // same streams as TCP clients; plain ws:// only from loopback (§3.5: TLS is HTTP's).
    if (rt_.http)
      rt_.http->websocket("/xmpp-websocket",
                          WsEndpoint{{"xmpp"}, true, true, [ctx](WsUpgrade u) {
                                       auto c = std::make_shared<C2sConnection>(
                                           std::move(u.connection),
                                           std::make_unique<px::XmppWsFraming>(u.limits), *ctx, u.write_queue);
                                       ctx->manager.add(c);
                                       c->start();
                                     }});
    // BOSH (XEP-0124/0206): each session one c2s stream over a socketpair (bosh_session.hpp).
    if (rt_.http) {
      const auto& h = config_.http;
      bosh_ = std::make_shared<BoshService>(
          *ctx, BoshService::Options{h.bosh, h.limits.body_bytes, h.limits.write_queue,
                                     protocols::ws::Limits{h.limits.websocket_message, h.limits.websocket_fragments}});
      rt_.http->handle("/http-bind", {"POST", "OPTIONS"},
                       [b = bosh_](const HttpRequest& q, HttpReply r) { b->handle(q, std::move(r)); });
    }
    return {};
  }

  // SIGHUP: the daemon has swapped the TLS context already (new STARTTLS and direct TLS
  // connections get it); listen addresses that changed are re-bound.
  core::Status reload() override {
    if (listeners_) listeners_->reload(config_.xmpp.c2s.listen);
    return {};
  }

  void stop() override {
    if (rt_.http) rt_.http->remove("/xmpp-websocket");
    if (rt_.http) rt_.http->remove("/http-bind");
    if (bosh_) bosh_->stop();
    if (listeners_) listeners_->stop();
    if (identd_) identd_->stop();
    if (gateway_)  // every puppet QUITs its IRC network
      post_guarded(rt_.core_strand, "gateway: stop", [gw = gateway_] { gw->stop(); });
    if (component_)  // its puppets QUIT, then the component's stream ends
      post_guarded(rt_.core_strand, "component: stop", [gw = component_gateway_, c = component_] {
        gw->stop();
        c->stop();
      });
    if (!ctx_) return;
    // Streams waiting for XEP-0198 resumption end now instead of holding the shutdown for
    // resume_timeout: a cancelled timer ends its session like an expired one, and what the
    // client never acknowledged goes to offline storage. Streams that drop from here on are
    // not kept at all (C2sConnection::on_close).
    std::set<std::shared_ptr<boost::asio::steady_timer>> timers;
    {
      std::lock_guard lock(ctx_->mu);
      ctx_->stopping = true;
      timers.swap(ctx_->resume_timers);
    }
    for (const auto& t : timers) t->cancel();
    ctx_->manager.for_each_posted([](protocols::Connection& c) {
      static_cast<C2sConnection&>(c).stream_error(px::StreamError::system_shutdown);
    });
  }

 private:
  // The IRC gateway on irc.gateway_domain, when some network may be reached through it.
  gateway::GatewayOptions gateway_options(const std::string& domain) const {
    const auto& irc = config_.irc;
    gateway::GatewayOptions o;
    o.domain = domain;
    o.networks = irc.networks;
    o.open_networks = irc.open_networks;
    o.open_networks_allow_private = irc.open_networks_allow_private;
    o.max_links_per_user = irc.gateway_max_links_per_user;
    o.queue = irc.gateway_queue;
    o.max_lines = irc.max_lines_per_message;
    o.max_channels = irc.max_channels;
    o.registration_timeout = std::chrono::seconds(irc.registration_timeout);
    o.ping_interval = std::chrono::seconds(irc.ping_interval);
    o.ping_timeout = std::chrono::seconds(irc.ping_timeout);
    o.store = &rt_.core.store();
    o.record_history = domain == config_.xmpp.component.domain ? config_.xmpp.component.record_history
                                                               : irc.gateway_record_history;
    o.history_keep = irc.gateway_history_keep;
    o.history_join = irc.gateway_history_join;
    o.mam_page_max = irc.gateway_mam_page_max;
    o.admins = irc.gateway_admins;
    o.adhoc_sessions = irc.gateway_adhoc_sessions;
    o.persistent_backlog = irc.gateway_persistent_backlog;
    o.ident = ident_;
    if (domain == config_.xmpp.component.domain) o.read_defer = gateway::kComponentReadDefer;
    // PARLEY_GATEWAY_SHARED_READS=0: every puppet reads every copy itself (A/B benchmarks).
    if (const char* env = std::getenv("PARLEY_GATEWAY_SHARED_READS"))
      o.shared_reads = std::string_view(env) != "0";
    // PARLEY_GATEWAY_READ_DEFER_MS: deferred leader reads, 0 off (gateway.hpp read_defer; A/B
    // benchmarks).
    if (const char* env = std::getenv("PARLEY_GATEWAY_READ_DEFER_MS"))
      o.read_defer = std::chrono::milliseconds(std::atoi(env));
    return o;
  }

  // irc.identd: one RFC 1413 responder for the puppets of both gateways (identd.hpp).
  core::Status start_identd() {
    const auto& irc = config_.irc;
    if (irc.identd_listen.empty() || (!gateway_ && !component_gateway_)) return {};
    identd_ = std::make_unique<gateway::Identd>(
        rt_, gateway::Identd::Options{irc.identd_max_connections, std::chrono::seconds(irc.identd_timeout)},
        ident_);
    return identd_->start(irc.identd_listen);
  }

  void start_gateway(const std::string& domain) {
    const auto& irc = config_.irc;
    if (irc.networks.empty() && !irc.open_networks) return;
    gateway_ = std::make_shared<gateway::Gateway>(rt_.core_strand, gateway_options(irc.gateway_domain),
                                                  local_delivery(rt_.core, domain));
    ctx_->gateway = gateway_.get();
    ctx_->gateway_domain = irc.gateway_domain;
    spdlog::info("xmpp: IRC gateway on {} ({} networks{})", irc.gateway_domain, irc.networks.size(),
                 irc.open_networks ? ", open to any host" : "");
    // Users' persistent channels are joined again without them (adapters/gateway/settings.hpp).
    post_guarded(rt_.core_strand, "gateway: persistent channels",
                 [gw = gateway_] { gw->restore_persistent(); });
  }

  // XEP-0114: the same gateway served as a component of another XMPP server
  // (xmpp.component), a second Gateway on the component's domain.
  void start_component(const px::FramerLimits& limits) {
    const auto& c = config_.xmpp.component;
    if (c.domain.empty()) return;
    const auto& irc = config_.irc;
    // Configured bridges join remote MUCs through the component (adapters/bridge).
    bool bridges = false;
    for (const auto& b : config_.bridges)
      for (const auto& r : b.endpoints) bridges |= r.kind == config::BridgeRoom::Kind::muc;
    if (irc.networks.empty() && !irc.open_networks && !bridges) {
      spdlog::warn("xmpp: component {} not started: no irc.networks to serve (nor irc.open_networks)", c.domain);
      return;
    }
    // A host name is resolved at each connection attempt (connector.hpp), so a server whose
    // address changes, or whose name does not resolve yet, is retried with the backoff.
    auto server = protocols::parse_server_address(c.server);
    if (!server) return;  // the loader refused it already
    ComponentOptions o;
    o.domain = c.domain;
    o.host = server->host;
    o.port = server->port;
    o.secret = c.secret;
    o.limits = limits;
    component_ = std::make_shared<Component>(rt_.core_strand, std::move(o));
    if (slot_) slot_->component = component_;
    component_gateway_ =
        std::make_shared<gateway::Gateway>(rt_.core_strand, gateway_options(c.domain), component_->output());
    component_gateway_->set_output_parts(component_->output_parts());
    spdlog::info("xmpp: IRC gateway as component {} of {}", c.domain, c.server);
    post_guarded(rt_.core_strand, "component: start", [c = component_, gw = component_gateway_] {
      c->start(gw.get());
      gw->restore_persistent();
    });
  }

  Runtime& rt_;
  const config::Config& config_;
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<ListenerSet> listeners_;
  std::shared_ptr<BoshService> bosh_;
  // Filled by the gateways' puppets, read by the identd; made before either gateway.
  std::shared_ptr<gateway::IdentRegistry> ident_ =
      config_.irc.identd_listen.empty() ? nullptr : std::make_shared<gateway::IdentRegistry>();
  std::unique_ptr<gateway::Identd> identd_;
  std::shared_ptr<gateway::Gateway> gateway_;
  std::shared_ptr<Component> component_;
  std::shared_ptr<gateway::Gateway> component_gateway_;
  std::shared_ptr<ComponentSlot> slot_;
};

}  // namespace

std::unique_ptr<core::Plugin> make_xmpp_plugin(Runtime& rt, const config::Config& c,
                                               std::shared_ptr<ComponentSlot> slot) {
  return std::make_unique<XmppPlugin>(rt, c, std::move(slot));
}

}  // namespace parley::adapters::xmpp
