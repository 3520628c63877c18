#include "daemon/plugins.hpp"

#include <spdlog/spdlog.h>

// ---- protocol adapter headers: add yours here ----
#include "adapters/bridge/bridge_plugin.hpp"
#include "adapters/common/http_routes.hpp"
#include "adapters/http/http_plugin.hpp"
#include "adapters/irc/irc_plugin.hpp"
#include "adapters/line/line_plugin.hpp"
#include "adapters/psyc/psyc_plugin.hpp"
#include "adapters/sip/sip_plugin.hpp"
#include "adapters/xmpp/xmpp_plugin.hpp"

namespace parley::daemon {

namespace {

[[maybe_unused]] void not_built(std::string_view protocol) {
  spdlog::warn("{} is enabled in the config but this build has no {} adapter yet; ignoring the section", protocol,
               protocol);
}

}  // namespace

void add_protocol_plugins(core::PluginRegistry& registry, adapters::Runtime& rt, const config::Config& c) {
  // The HTTP route table exists before the plugins that register paths in it start
  // (XMPP /xmpp-websocket, IRC /irc); the http plugin is added last, so it listens once
  // they are in.
  if (c.http.enabled && !rt.http) rt.http = std::make_shared<adapters::HttpRoutes>();
  // ---- one line per protocol adapter: replace not_built(...) with registry.add(...) ----
  if (c.irc.enabled) {
    registry.add(adapters::irc::make_irc_plugin(rt, c));
  }
  // The XEP-0114 component the XMPP plugin makes, for the bridges' remote MUCs.
  auto component = std::make_shared<adapters::xmpp::ComponentSlot>();
  if (c.xmpp.enabled) {
    registry.add(adapters::xmpp::make_xmpp_plugin(rt, c, component));
  }
  if (c.line.enabled) {
    registry.add(adapters::line::make_line_plugin(rt, c));
  }
  if (c.sip.enabled) {
    registry.add(adapters::sip::make_sip_plugin(rt, c));
  }
  if (c.psyc.enabled) {
    registry.add(adapters::psyc::make_psyc_plugin(rt, c));
  }
  // Configured bridges: after XMPP, whose start() makes the component they use.
  if (!c.bridges.empty()) {
    registry.add(adapters::bridge::make_bridge_plugin(rt, c, component));
  }
  // Last: it listens once the other plugins have registered their paths.
  if (c.http.enabled) {
    registry.add(adapters::http::make_http_plugin(rt, c));
  }
}

}  // namespace parley::daemon
