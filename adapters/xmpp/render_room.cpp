#include "adapters/xmpp/render_room.hpp"

#include "adapters/xmpp/render_message.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;

namespace {
std::string_view affiliation_name(core::Affiliation a) {
  switch (a) {
    case core::Affiliation::outcast:
      return "outcast";
    case core::Affiliation::none:
      return "none";
    case core::Affiliation::member:
      return "member";
    case core::Affiliation::admin:
      return "admin";
    case core::Affiliation::owner:
      return "owner";
  }
  return "none";
}
std::string_view role_name(core::Role r) {
  switch (r) {
    case core::Role::none:
      return "none";
    case core::Role::visitor:
      return "visitor";
    case core::Role::participant:
      return "participant";
    case core::Role::moderator:
      return "moderator";
  }
  return "none";
}
}  // namespace

std::string render_occupant(const Domains& d, const std::string& room, const core::Member& m,
                            const std::string& to, bool unavailable, const std::vector<int>& codes,
                            const std::string& new_nick, const std::string& actor,
                            const std::string& reason) {
  std::string out;
  XmlWriter w(out);
  w.open("presence").attr("from", d.room_jid(room, m.nick)).attr("to", to);
  if (unavailable) w.attr("type", "unavailable");
  w.open("x").attr("xmlns", kMucUser);
  w.open("item")
      .attr("affiliation", affiliation_name(m.affiliation))
      .attr("role", unavailable && new_nick.empty() ? "none" : role_name(m.role))
      .attr("jid", d.jid_of(m.user));
  if (!new_nick.empty()) w.attr("nick", new_nick);
  if (!actor.empty()) w.open("actor").attr("nick", actor).close();
  if (!reason.empty()) w.element("reason", reason);
  w.close();
  for (int c : codes) w.open("status").attr("code", std::to_string(c)).close();
  w.close();
  w.close();
  return out;
}

std::string render_room_join(const Domains& d, const core::Room& room, const core::Member& m,
                             const std::string& to, bool self) {
  std::vector<int> codes;
  if (self) {
    codes = {100, 110};  // non-anonymous room; this is you
    if (room.members.size() == 1 && !room.persistent) codes.push_back(201);  // room created
  }
  return render_occupant(d, room.name, m, to, false, codes);
}

std::string render_room_leave(const Domains& d, const core::Room& room, const core::Member& m,
                              const core::LeaveReason& r, const std::string& to, bool self) {
  std::vector<int> codes;
  if (r.kind == core::LeaveReason::Kind::kick) codes.push_back(307);
  if (r.kind == core::LeaveReason::Kind::ban) codes.push_back(301);
  if (self) codes.push_back(110);
  std::string reason =
      r.kind == core::LeaveReason::Kind::kick || r.kind == core::LeaveReason::Kind::ban ? r.text : "";
  core::Member gone = m;
  if (r.kind == core::LeaveReason::Kind::ban) gone.affiliation = core::Affiliation::outcast;  // §9.1
  std::string out = render_occupant(d, room.name, gone, to, true, codes, {}, r.by, reason);
  if (!r.text.empty() && reason.empty()) {
    // part/quit message as <status/>
    auto pos = out.rfind("</presence>");
    std::string st;
    XmlWriter(st).element("status", r.text);
    out.insert(pos, st);
  }
  return out;
}

std::pair<std::string, std::string> render_room_nick(const Domains& d, const core::Room& room,
                                                     const core::Member& before, const std::string& new_nick,
                                                     const std::string& to, bool self) {
  std::vector<int> codes{303};
  if (self) codes.push_back(110);
  std::string gone = render_occupant(d, room.name, before, to, true, codes, new_nick);
  core::Member after = before;
  after.nick = new_nick;
  std::vector<int> codes2;
  if (self) codes2.push_back(110);
  return {std::move(gone), render_occupant(d, room.name, after, to, false, codes2)};
}

std::string render_room_topic(const Domains& d, const core::Room& room, const core::Topic& t,
                              std::string_view to, std::string_view id) {
  std::string out;
  XmlWriter w(out);
  w.open("message")
      .attr("from", t.set_by.empty() ? d.room_jid(room.name) : d.room_jid(room.name, t.set_by))
      .attr("to", to)
      .attr("type", "groupchat")
      .attr("id", id);
  w.element("subject", t.text);
  w.close();
  return out;
}

std::string render_room_config_changed(const Domains& d, const core::Room& room, std::string_view to,
                                       std::string_view id) {
  std::string out;
  XmlWriter w(out);
  w.open("message")
      .attr("from", d.room_jid(room.name))
      .attr("to", to)
      .attr("type", "groupchat")
      .attr("id", id);
  w.open("x").attr("xmlns", kMucUser).open("status").attr("code", "104").close().close();
  w.close();
  return out;
}

std::string render_room_invite(const Domains& d, const std::string& room, const core::Address& from,
                               std::string_view to) {
  std::string out;
  XmlWriter w(out);
  w.open("message").attr("from", d.room_jid(room)).attr("to", to);
  w.open("x").attr("xmlns", kMucUser).open("invite").attr("from", d.jid_of(from)).close().close();
  w.close();
  return out;
}

}  // namespace parley::adapters::xmpp
