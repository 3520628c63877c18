#include "adapters/bridge/bridge_plugin.hpp"

#include <spdlog/spdlog.h>

#include "adapters/bridge/irc_endpoint.hpp"
#include "adapters/bridge/local_endpoint.hpp"
#include "adapters/bridge/muc_endpoint.hpp"
#include "adapters/common/post_guarded.hpp"
#include "protocols/common/ascii.hpp"

namespace parley::adapters::bridge {

namespace {

class BridgePlugin : public core::Plugin {
 public:
  BridgePlugin(Runtime& rt, const config::Config& c, std::shared_ptr<xmpp::ComponentSlot> slot)
      : rt_(rt), config_(c), slot_(std::move(slot)) {}
  std::string_view name() const override { return "bridges"; }

  // Runs before the io threads: the bridges are built and started on the core strand.
  core::Status start() override {
    const auto& irc = config_.irc;
    BridgeOptions bo{.max_lines = irc.max_lines_per_message, .queue = irc.gateway_queue};
    IrcEndpointOptions io;
    io.registration_timeout = std::chrono::seconds(irc.registration_timeout);
    io.ping_interval = std::chrono::seconds(irc.ping_interval);
    io.ping_timeout = std::chrono::seconds(irc.ping_timeout);
    io.recvq = irc.recvq;
    io.sendq = irc.sendq;
    for (const auto& cfg : config_.bridges) {
      auto b = std::make_unique<Bridge>(cfg, bo);
      for (const auto& r : cfg.endpoints) {
        switch (r.kind) {
          case config::BridgeRoom::Kind::irc: {
            const config::IrcNetwork* net = nullptr;
            for (const auto& n : irc.networks)
              if (protocols::ascii_equal_fold(n.name, r.network) || protocols::ascii_equal_fold(n.host, r.network))
                net = &n;
            if (!net) return core::Error{core::Condition::bad_request, "bridge " + cfg.name + ": no network " + r.network};
            b->add(std::make_unique<IrcEndpoint>(*b, ids_, rt_.core_strand, *net, r.channel, io));
            break;
          }
          case config::BridgeRoom::Kind::muc:
            if (!slot_ || !slot_->component)
              return core::Error{core::Condition::bad_request,
                                 "bridge " + cfg.name + ": " + r.uri + " needs xmpp.component (and the xmpp section)"};
            b->add(std::make_unique<MucEndpoint>(*b, ids_, rt_.core_strand, slot_->component, r.jid));
            break;
          case config::BridgeRoom::Kind::local:
            b->add(std::make_unique<LocalEndpoint>(*b, rt_, r.room));
            break;
        }
      }
      spdlog::info("bridge {}: {} mode, {} rooms", cfg.name, cfg.mode, cfg.endpoints.size());
      bridges_.push_back(std::move(b));
    }
    post_guarded(rt_.core_strand, "bridges: start", [this] {
      for (auto& b : bridges_) b->start();
    });
    return {};
  }

  // On the core strand (PluginRegistry::stop_all): bots QUIT, occupants leave, sessions close.
  void stop() override {
    for (auto& b : bridges_) b->stop();
  }

 private:
  Runtime& rt_;
  const config::Config& config_;
  std::shared_ptr<xmpp::ComponentSlot> slot_;
  BridgeIdentities ids_;
  std::vector<std::unique_ptr<Bridge>> bridges_;
};

}  // namespace

std::unique_ptr<core::Plugin> make_bridge_plugin(Runtime& rt, const config::Config& c,
                                                 std::shared_ptr<xmpp::ComponentSlot> component) {
  return std::make_unique<BridgePlugin>(rt, c, std::move(component));
}

}  // namespace parley::adapters::bridge
