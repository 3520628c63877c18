#pragma once
// The PSYC plugin: PSYC 1.0 clients on psyc.listen (TCP and tls:), linked to Parley
// accounts or as guests, in the hub's rooms as places (psyc://DOMAIN/@dev is IRC's #dev).
// The circuit protocol is described in psyc_circuit.hpp; the codec is protocols/psyc/.
//
// Not built yet: node-to-node context multicast over psyc.peers (the keys are read).
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::psyc {

std::unique_ptr<core::Plugin> make_psyc_plugin(adapters::Runtime& rt, const config::Config& cfg);

}  // namespace parley::adapters::psyc
