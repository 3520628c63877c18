#include "adapters/xmpp/render_presence.hpp"

#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;

std::string render_presence(const Domains& d, const core::PresenceUpdate& p, std::string_view to) {
  std::string out;
  XmlWriter w(out);
  w.open("presence").attr("from", d.jid_of(p.from)).attr("to", to);
  if (p.tuple.basic == core::Basic::closed) {
    w.attr("type", "unavailable");
    if (!p.tuple.note.empty()) w.element("status", p.tuple.note);
  } else {
    switch (p.tuple.availability) {
      case core::Availability::away:
        w.element("show", "away");
        break;
      case core::Availability::xa:
        w.element("show", "xa");
        break;
      case core::Availability::dnd:
        w.element("show", "dnd");
        break;
      case core::Availability::chat:
        w.element("show", "chat");
        break;
      default:
        break;
    }
    if (!p.tuple.note.empty()) w.element("status", p.tuple.note);
    if (p.tuple.priority != 0) w.element("priority", std::to_string(p.tuple.priority));
  }
  w.close();
  return out;
}

std::string render_subscription(const Domains& d, const core::SubscriptionEvent& s, std::string_view to) {
  std::string out;
  XmlWriter w(out);
  w.open("presence")
      .attr("from", d.jid_of(s.from.bare()))
      .attr("to", to)
      .attr("type", core::to_string(s.action));
  if (!s.reason.empty()) w.element("status", s.reason);
  w.close();
  return out;
}

std::string render_roster_item(const Domains& d, const core::RosterItem& item, bool removed) {
  std::string out;
  XmlWriter w(out);
  w.open("item").attr("jid", d.jid_of(item.contact));
  if (removed) {
    w.attr("subscription", "remove");
  } else {
    bool to = item.to == core::SubscriptionState::active, from = item.from == core::SubscriptionState::active;
    w.attr("subscription", to && from ? "both" : to ? "to" : from ? "from" : "none");
    if (item.to == core::SubscriptionState::pending) w.attr("ask", "subscribe");
    w.attr_if("name", item.name);
    for (const auto& g : item.groups) w.element("group", g);
  }
  w.close();
  return out;
}

std::string render_roster_push(const Domains& d, const core::RosterItem& item, bool removed,
                               std::string_view to, std::string_view id) {
  std::string out;
  XmlWriter w(out);
  w.open("iq").attr("type", "set").attr("id", id).attr("to", to);
  w.open("query").attr("xmlns", "jabber:iq:roster").raw(render_roster_item(d, item, removed));
  w.finish();
  return out;
}

}  // namespace parley::adapters::xmpp
