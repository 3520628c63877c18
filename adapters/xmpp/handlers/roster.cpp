// RFC 6121 §2 roster management: get and set (pushes to every resource come from the core
// through Link::on_roster_push).
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/errors.hpp"
#include "adapters/xmpp/handlers/handlers.hpp"
#include "adapters/xmpp/link.hpp"
#include "core/core.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;

namespace {

bool roster_get(C2sConnection& c, const IqRequest& r) {
  if (r.name != "query") return false;
  const auto& link = c.link();
  core::Address me = core::Address::user(std::string(link->user()));
  std::string id(r.s.attr("id"));
  c.to_core("xmpp: roster get", [link, me, id, &core = c.ctx().rt.core, d = c.ctx().domains] {
    auto items = core.presence().roster(me);
    std::string out;
    XmlWriter w(out);
    w.open("iq").attr("type", items ? "result" : "error").attr("id", id).attr("to", link->full_jid());
    if (items) {
      w.open("query").attr("xmlns", "jabber:iq:roster");
      for (const auto& item : *items) w.raw(render_roster_item(d, item, false));
      w.close();
    } else {
      w.raw(
          "<error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    }
    w.close();
    link->deliver(std::move(out));
  });
  return true;
}

// RFC 6121 §2.3.3: exactly one item.
bool roster_set(C2sConnection& c, const IqRequest& r) {
  if (r.name != "query") return false;
  const auto& link = c.link();
  core::Address me = core::Address::user(std::string(link->user()));
  auto item = r.payload.child("item");
  if (!item || item.next_sibling("item")) return c.stanza_error(r.s, "modify", "bad-request"), true;
  auto jid = px::parse_jid(item.attribute("jid").value());
  if (!jid || !jid->is_bare()) return c.stanza_error(r.s, "modify", "bad-request"), true;
  core::Address contact = c.ctx().domains.to_address(*jid);
  if (contact.empty() || contact.is_room() || contact == me)
    return c.stanza_error(r.s, "modify", "not-acceptable"), true;
  bool remove = std::string_view(item.attribute("subscription").value()) == "remove";
  std::string rname = item.attribute("name").value();
  std::vector<std::string> groups;
  for (auto g : item.children("group")) groups.emplace_back(g.text().get());
  std::string id(r.s.attr("id")), sto(r.s.attr("to"));
  c.to_core("xmpp: roster set", [link, me, contact, remove, rname, groups, id, sto, &core = c.ctx().rt.core] {
    auto st = remove ? core.presence().remove_roster_item(me, contact)
                     : core.presence().set_roster_item(me, contact, rname, groups);
    if (st) {
      std::string out;
      XmlWriter(out).open("iq").attr("type", "result").attr("id", id).attr("to", link->full_jid()).close();
      link->deliver(std::move(out));
    } else {
      link->deliver(render_stanza_error("iq", id, sto, link->full_jid(), st.error()));
    }
  });
  return true;
}
}  // namespace

void register_roster(HandlerRegistry& r) {
  const Scopes server = scopes(Scope::server);
  r.iq(server, true, false, px::ns::roster, roster_get, {{server, px::ns::roster}})
      .iq(server, false, true, px::ns::roster, roster_set);
}

}  // namespace parley::adapters::xmpp
