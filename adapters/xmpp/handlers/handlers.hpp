#pragma once
// The c2s handler groups, one file each (adapters/xmpp/handlers/*.cpp). Each registers
// what it handles together with what it announces in disco#info; handlers.cpp calls them.
#include "adapters/xmpp/handler_registry.hpp"

namespace parley::adapters::xmpp {

void register_disco(HandlerRegistry& r);    // XEP-0030 for the server and the MUC service
void register_ping(HandlerRegistry& r);     // XEP-0199, RFC 3921 session
void register_version(HandlerRegistry& r);  // XEP-0092
void register_roster(HandlerRegistry& r);   // RFC 6121 §2
void register_carbons(HandlerRegistry& r);  // XEP-0280
void register_sid(HandlerRegistry& r);      // XEP-0359 origin-id
void register_im(HandlerRegistry& r);       // RFC 6121 messages and presence, message extensions
void register_sm(HandlerRegistry& r);       // XEP-0198 on a bound stream
void register_muc(HandlerRegistry& r);      // XEP-0045

}  // namespace parley::adapters::xmpp
