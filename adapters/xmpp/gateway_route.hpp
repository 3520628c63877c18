#pragma once
// Parley's own XMPP server as the gateway's XMPP side (adapters/gateway/port.hpp): stanzas
// a bound stream addresses to irc.gateway_domain are copied out of the stream and posted to
// the core strand, where the gateway lives; what the gateway sends goes to the local
// resource named by its 'to'.
#include <string_view>

#include "adapters/gateway/port.hpp"
#include "protocols/xmpp/jid.hpp"
#include "protocols/xmpp/stanza.hpp"

namespace parley::core {
class Core;
}
namespace parley::adapters::gateway {
class Gateway;
}

namespace parley::adapters::xmpp {

class C2sConnection;

// The gateway's copy of a message, presence or iq addressed to `to`, sent by `from` (the
// server's word for it: a c2s stream's bound JID, a component stream's stamped 'from').
gateway::XmppIn gateway_in(protocols::xmpp::Stanza& s, protocols::xmpp::Jid to, std::string from);
// Connection strand: a message, presence or iq to the gateway domain.
void route_to_gateway(C2sConnection& c, protocols::xmpp::Stanza& s, const protocols::xmpp::Jid& to);
// Core strand: a resource's session ended (link.cpp end_session).
void gateway_resource_gone(gateway::Gateway& gw, std::string_view full_jid);
// The gateway's XmppOut for this server: delivers to a local resource of `domain`.
gateway::XmppOut local_delivery(core::Core& core, std::string domain);

}  // namespace parley::adapters::xmpp
