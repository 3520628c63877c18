// XEP-0030 service discovery of the server (and the user's account) and of the MUC service:
// disco#info is rendered from the handler registry, so it lists exactly what is handled.
// Rooms answer for themselves (handlers/muc.cpp): their features follow their settings.
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/handlers/handlers.hpp"
#include "adapters/xmpp/link.hpp"
#include "core/core.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;

namespace {
constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";

bool disco_info(C2sConnection& c, const IqRequest& r) {
  std::string p;
  XmlWriter w(p);
  w.open("query").attr("xmlns", kDiscoInfo);
  // XEP-0030 §3.1; an account (the user's own bare JID) is an account/registered entity
  // with no features of its own (the server's are the server's).
  if (r.to_account)
    w.open("identity").attr("category", "account").attr("type", "registered").close();
  else
    c2s_handlers().write_disco_info(w, r.scope);
  w.close();
  c.iq_result(r.s, p);
  return true;
}

bool disco_items(C2sConnection& c, const IqRequest& r) {
  if (r.scope == Scope::server) {
    std::string p;
    XmlWriter w(p);
    w.open("query").attr("xmlns", kDiscoItems);
    if (!r.to_account) w.open("item").attr("jid", c.ctx().domains.muc).attr("name", "Rooms").close();
    w.close();
    c.iq_result(r.s, p);
    return true;
  }
  // The MUC service lists its rooms, secret ones left out (XEP-0045 §6.3).
  std::string id(r.s.attr("id")), sto(r.s.attr("to"));
  c.to_core("xmpp: room list", [link = c.link(), id, sto, &core = c.ctx().rt.core, d = c.ctx().domains] {
    std::string out;
    XmlWriter w(out);
    w.open("iq").attr("type", "result").attr("id", id).attr("from", sto).attr("to", link->full_jid());
    w.open("query").attr("xmlns", kDiscoItems);
    for (const core::Room* room : core.rooms().list())
      if (!room->modes.secret)
        w.open("item").attr("jid", d.room_jid(room->name)).attr("name", room->name).close();
    w.finish();
    link->deliver(std::move(out));
  });
  return true;
}
}  // namespace

void register_disco(HandlerRegistry& r) {
  const Scopes where = Scope::server | Scope::muc_service;
  r.iq(where, true, false, kDiscoInfo, disco_info, {{where, kDiscoInfo}},
       {{scopes(Scope::server), "server", "im", "Parley"}})
      .iq(where, true, false, kDiscoItems, disco_items, {{where, kDiscoItems}});
}

}  // namespace parley::adapters::xmpp
