#pragma once
// The XMPP c2s plugin (issue 4): clients connect to Parley as to an XMPP server.
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::xmpp {

std::unique_ptr<core::Plugin> make_xmpp_plugin(adapters::Runtime& rt, const config::Config& c);

}  // namespace parley::adapters::xmpp
