#include "adapters/psyc/psyc_plugin.hpp"

#include <spdlog/spdlog.h>

#include "adapters/common/listener_set.hpp"
#include "adapters/common/listeners.hpp"
#include "adapters/common/post_guarded.hpp"
#include "adapters/psyc/peer_link.hpp"
#include "adapters/psyc/psyc_circuit.hpp"
#include "protocols/common/net.hpp"
#include "protocols/psyc/packet.hpp"
#include "protocols/psyc/uniform.hpp"

namespace parley::adapters::psyc {

namespace asio = boost::asio;

namespace {

class PsycPlugin final : public core::Plugin {
 public:
  PsycPlugin(Runtime& rt, const config::Config& cfg) : rt_(rt), cfg_(cfg) {}
  ~PsycPlugin() override { stop(); }
  std::string_view name() const override { return "psyc"; }

  core::Status start() override {
    if (!cfg_.psyc.peers.empty()) {
      hub_ = std::make_unique<PeerHub>(rt_, cfg_);
      hub_->start();
    }
    listeners_ = std::make_unique<ListenerSet>(
        rt_, ListenerSet::Options{
                 .protocol = "psyc",
                 .key = "psyc.listen",
                 // server.connections: per-address count and rate, like every listener. A
                 // refused client gets the greeting and an error packet.
                 // (A copy of the domain: the refusal runs on an io thread, the config is the core strand's.)
                 .refusal = [root = protocols::psyc::root_uniform(cfg_.server.domain)](
                                protocols::AddressLimiter::Verdict) -> std::string {
                   return "|\n:_source\t" + root + "\n\n_error_limit_connections\nToo many connections.\n|\n";
                 },
                 .accept =
                     [this](protocols::Socket s, std::shared_ptr<asio::ssl::context> tls,
                            protocols::Admission admission) {
                       post_guarded(rt_.core_strand, "psyc: accept",
                                    [this, s = std::move(s), tls = std::move(tls),
                                     admission = std::move(admission)]() mutable {
                                      accept(std::move(s), std::move(tls), std::move(admission));
                                    });
                     },
                 .tag = core::Protocol::psyc,
             });
    if (auto st = listeners_->start(cfg_.psyc.listen); !st) return st;
    // psyc.idle_timeout: a silent circuit is closed (clients keep alive with "|" LF).
    listeners_->sweep_every(std::chrono::seconds(5), [this] {
      auto now = std::chrono::steady_clock::now();
      manager_.for_each_posted([now](protocols::Connection& c) { check_idle(c, now); });
      if (hub_) post_guarded(rt_.core_strand, "psyc: peer tick", [this] { if (hub_) hub_->tick(); });
    });
    return {};
  }

  core::Status reload() override {
    if (listeners_) listeners_->reload(cfg_.psyc.listen);
    return {};
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (listeners_) listeners_->stop();
    if (hub_) hub_->stop();
    manager_.close_all("server shutting down");
  }

 private:
  void accept(protocols::Socket s, std::shared_ptr<asio::ssl::context> tls,
              protocols::Admission admission) {  // core strand
    if (stopped_) return;
    const auto& l = cfg_.psyc.limits;
    protocols::Connection::Limits limits;
    // One packet at the limits, the most a parse can need buffered.
    limits.max_read_buffer =
        protocols::psyc::max_packet_size({l.max_name, l.max_value, l.max_content, l.max_modifiers});
    limits.max_write_queue = cfg_.psyc.sendq;
    // server.connections.handshake_timeout bounds the time until _request_link succeeds.
    limits = connection_limits(limits, cfg_.server.connections);
    auto conn =
        make_circuit(protocols::rehome(std::move(s), rt_.core_strand), std::move(tls), limits, rt_, cfg_,
                     hub_.get());
    listeners_->adopt(conn, std::move(admission), manager_);
    conn->start();
  }

  Runtime& rt_;
  const config::Config& cfg_;
  std::unique_ptr<ListenerSet> listeners_;
  std::unique_ptr<PeerHub> hub_;  // psyc.peers: node-to-node links
  protocols::ConnectionManager manager_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<core::Plugin> make_psyc_plugin(adapters::Runtime& rt, const config::Config& cfg) {
  return std::make_unique<PsycPlugin>(rt, cfg);
}

}  // namespace parley::adapters::psyc
