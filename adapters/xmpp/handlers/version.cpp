// XEP-0092 software version of the server (not of an account: RFC 6121 §8.5.1 leaves
// that to the user's resources).
#include "parley/version.hpp"

#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/handlers/handlers.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

namespace {
constexpr std::string_view kVersion = "jabber:iq:version";

bool version(C2sConnection& c, const IqRequest& r) {
  if (r.name != "query" || r.to_account) return false;
  std::string p;
  px::XmlWriter(p)
      .open("query")
      .attr("xmlns", kVersion)
      .element("name", "Parley")
      .element("version", parley::kVersion)
      .close();
  c.iq_result(r.s, p);
  return true;
}
}  // namespace

void register_version(HandlerRegistry& r) {
  r.iq(scopes(Scope::server), true, false, kVersion, version, {{scopes(Scope::server), kVersion}});
}

}  // namespace parley::adapters::xmpp
