// XEP-0198 stream management on a bound stream: <enable/>, <r/>, <a/> (C2sConnection::on_sm).
// <resume/> comes before binding and is part of stream negotiation (c2s_connection.cpp).
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/handlers/handlers.hpp"

namespace parley::adapters::xmpp {

namespace {
constexpr std::string_view kSm = "urn:xmpp:sm:3";

void sm(C2sConnection& c, px::Stanza& s) { c.on_sm(s); }
}  // namespace

void register_sm(HandlerRegistry& r) { r.nonza(kSm, sm, {{scopes(Scope::server), kSm}}); }

}  // namespace parley::adapters::xmpp
