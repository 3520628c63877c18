#pragma once
// The PSYC plugin: PSYC 1.0 clients on psyc.listen (TCP and tls:), linked to Parley
// accounts or as guests, in the hub's rooms as places (psyc://DOMAIN/@dev is IRC's #dev).
// The circuit protocol is described in psyc_circuit.hpp; the codec is protocols/psyc/.
// Other Parley nodes (psyc.peers) link over the same listener or are dialed: peer_link.hpp.
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::psyc {

std::unique_ptr<core::Plugin> make_psyc_plugin(adapters::Runtime& rt, const config::Config& cfg);

}  // namespace parley::adapters::psyc
