#pragma once
#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::daemon {

// Adds one plugin per enabled protocol section to `registry`. `c` is the daemon's live
// config: it outlives the plugins, and on SIGHUP it is replaced in place (on the core strand)
// just before reload_all(), so a plugin may keep `const config::Config&` and re-read its
// section in reload(). Read it only on the core strand or in start()/reload().
void add_protocol_plugins(core::PluginRegistry& registry, adapters::Runtime& rt, const config::Config& c);

}  // namespace parley::daemon
