// XEP-0280 message carbons: a session turns them on or off; the copies themselves are made
// where messages are sent (handlers/im.cpp) and delivered (link.cpp, send_carbons).
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/handlers/handlers.hpp"
#include "adapters/xmpp/link.hpp"

namespace parley::adapters::xmpp {

namespace {
constexpr std::string_view kCarbons = "urn:xmpp:carbons:2";

bool carbons(C2sConnection& c, const IqRequest& r) {
  if (r.name != "enable" && r.name != "disable") return false;
  if (r.name == "enable") c.ctx().carbons_used = true;
  c.link()->carbons = r.name == "enable";
  c.iq_result(r.s);
  return true;
}
}  // namespace

void register_carbons(HandlerRegistry& r) {
  r.iq(scopes(Scope::server), false, true, kCarbons, carbons, {{scopes(Scope::server), kCarbons}});
}

}  // namespace parley::adapters::xmpp
