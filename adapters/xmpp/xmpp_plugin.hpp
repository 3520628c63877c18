#pragma once
// The XMPP c2s plugin (issue 4): clients connect to Parley as to an XMPP server.
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::xmpp {

class Component;
// Filled by the plugin's start() with its XEP-0114 component (xmpp.component), if any:
// configured bridges (adapters/bridge) join remote MUCs through it.
struct ComponentSlot {
  std::shared_ptr<Component> component;
};

std::unique_ptr<core::Plugin> make_xmpp_plugin(adapters::Runtime& rt, const config::Config& c,
                                               std::shared_ptr<ComponentSlot> slot = nullptr);

}  // namespace parley::adapters::xmpp
