#pragma once
// The SIP plugin (issue 12): registrar with digest authentication, pager-mode MESSAGE in
// and out, and the SIMPLE presence server (adapters/sip/presence_agent.*), on libre's
// thread (adapters/common/libre_bridge).
// Built into parley_libre (adapters/sip/libre_sip_plugin.cpp); the core-side state is
// adapters/sip/registrar.*; digest and text rules are protocols/sip/.
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::sip {

std::unique_ptr<core::Plugin> make_sip_plugin(adapters::Runtime& rt, const config::Config& cfg);

}  // namespace parley::adapters::sip
