#include "daemon/plugins.hpp"

#include <spdlog/spdlog.h>

// ---- protocol adapter headers: add yours here ----
#include "adapters/irc/irc_plugin.hpp"
#include "adapters/line/line_plugin.hpp"
#include "adapters/psyc/psyc_plugin.hpp"
#include "adapters/xmpp/xmpp_plugin.hpp"

namespace parley::daemon {

namespace {

void not_built(std::string_view protocol) {
  spdlog::warn("{} is enabled in the config but this build has no {} adapter yet; ignoring the section", protocol,
               protocol);
}

}  // namespace

void add_protocol_plugins(core::PluginRegistry& registry, adapters::Runtime& rt, const config::Config& c) {
  // ---- one line per protocol adapter: replace not_built(...) with registry.add(...) ----
  if (c.irc.enabled) {
    registry.add(adapters::irc::make_irc_plugin(rt, c));
  }
  if (c.xmpp.enabled) {
    registry.add(adapters::xmpp::make_xmpp_plugin(rt, c));
  }
  if (c.line.enabled) {
    registry.add(adapters::line::make_line_plugin(rt, c));
  }
  if (c.sip.enabled) not_built("sip");
  if (c.psyc.enabled) {
    registry.add(adapters::psyc::make_psyc_plugin(rt, c));
  }
}

}  // namespace parley::daemon
