#pragma once
// The IRC server plugin: listens on irc.listen and serves IRC clients (issue 3).
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::irc {

std::unique_ptr<core::Plugin> make_irc_plugin(adapters::Runtime& rt, const config::Config& cfg);

}  // namespace parley::adapters::irc
