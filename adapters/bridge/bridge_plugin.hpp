#pragma once
// Configured bridges (bridges[] in the config, adapters/bridge/bridge.hpp): one Bridge per
// entry, its endpoints made from the room addresses the loader parsed (config/bridge_room).
#include <memory>

#include "adapters/common/runtime.hpp"
#include "adapters/xmpp/xmpp_plugin.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::bridge {

// component: the XMPP plugin's slot (its start() runs first and fills it).
std::unique_ptr<core::Plugin> make_bridge_plugin(Runtime& rt, const config::Config& c,
                                                 std::shared_ptr<xmpp::ComponentSlot> component);

}  // namespace parley::adapters::bridge
