#include "adapters/xmpp/carbons.hpp"

#include "adapters/xmpp/link.hpp"
#include "core/core.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;

bool carbon_copies_received(const core::Message& m, std::string_view user, std::string_view resource) {
  return !m.to.is_room() && !m.no_copy && m.kind != core::MessageKind::notice && !m.to.resource().empty() &&
         m.to.resource() == resource && m.to.is_user() && m.to.id() == user;
}

std::string render_carbon(std::string_view bare, std::string_view to, std::string_view direction,
                          std::string_view message) {
  std::string out;
  XmlWriter w(out);
  w.open("message").attr("from", bare).attr("to", to).attr("type", "chat");
  w.open(direction).attr("xmlns", "urn:xmpp:carbons:2").open("forwarded").attr("xmlns", "urn:xmpp:forward:0");
  std::string inner(message);
  if (inner.rfind("<message", 0) == 0 && inner.find("xmlns=") > inner.find('>'))
    inner.insert(8, " xmlns='jabber:client'");
  w.raw(inner);
  w.finish();
  return out;
}

void send_carbons(Context& ctx, std::string_view user, const Link* except, std::string_view direction,
                  std::string_view message) {
  core::Core& core = ctx.rt.core;
  const std::string bare = ctx.domains.user_jid(std::string(user));
  for (core::SessionId id : core.sessions().of_user(core::Address::user(std::string(user)))) {
    const core::SessionInfo* si = core.sessions().find(id);
    if (!si || si->protocol != core::Protocol::xmpp) continue;
    auto* other = dynamic_cast<Link*>(si->sink);
    if (!other || other == except || !other->carbons.load()) continue;
    other->deliver(render_carbon(bare, other->full_jid(), direction, message));
  }
}

}  // namespace parley::adapters::xmpp
