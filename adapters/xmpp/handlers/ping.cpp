// XEP-0199 ping (to the server, the MUC service, a room or an occupant: the server answers
// for all of them) and RFC 3921 §3 session establishment, a no-op kept for old clients
// (RFC 6121 Appendix E): both answer with an empty result.
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/handlers/handlers.hpp"
#include "protocols/xmpp/stream_error.hpp"

namespace parley::adapters::xmpp {

namespace {
constexpr std::string_view kPing = "urn:xmpp:ping";

bool ping(C2sConnection& c, const IqRequest& r) {
  if (r.name != "ping") return false;
  c.iq_result(r.s);
  return true;
}

bool session(C2sConnection& c, const IqRequest& r) {
  if (r.name != "session") return false;
  c.iq_result(r.s);
  return true;
}
}  // namespace

void register_ping(HandlerRegistry& r) {
  const Scopes everywhere = Scope::server | Scope::muc_service | Scope::room | Scope::occupant;
  r.iq(everywhere, true, true, kPing, ping, {{scopes(Scope::server), kPing}})
      .iq(scopes(Scope::server), true, true, px::ns::session, session);
}

}  // namespace parley::adapters::xmpp
