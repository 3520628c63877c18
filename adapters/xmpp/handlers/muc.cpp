// XEP-0045 multi-user chat on the muc domain, backed by the core room service: the room
// dev@conference.DOMAIN is #dev to IRC users. Joining, leaving and speaking (presence and
// message to a room or occupant), a room's disco, and its admin and owner iqs. The MUC
// service's own disco lives with the server's (handlers/disco.cpp).
#include <optional>

#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/errors.hpp"
#include "adapters/xmpp/handlers/handlers.hpp"
#include "adapters/xmpp/link.hpp"
#include "core/core.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;

namespace {
constexpr std::string_view kMuc = "http://jabber.org/protocol/muc";
constexpr std::string_view kMucAdmin = "http://jabber.org/protocol/muc#admin";
constexpr std::string_view kMucOwner = "http://jabber.org/protocol/muc#owner";
constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";
constexpr std::string_view kRoomConfig = "http://jabber.org/protocol/muc#roomconfig";
constexpr std::size_t kDefaultHistory = 20;

// A submitted muc#roomconfig form (§10.2); unset fields leave the setting as it is.
struct RoomConfig {
  std::optional<bool> persistent, secret, moderated, members_only, topic_protected, password_protected;
  std::optional<std::string> secret_text;
};

// Applies the form as one RoomChange (flags and key) plus persistence. Owners only.
core::Status apply_room_config(core::Core& core, core::SessionId sid, const std::string& name,
                               const RoomConfig& c) {
  const core::Room* r = core.rooms().find(name);
  if (!r) return core::make_error(core::Condition::item_not_found, "no such room");
  auto me = r->members.find(sid);
  if (me == r->members.end() || me->second.affiliation != core::Affiliation::owner)
    return core::make_error(core::Condition::forbidden, "owner only");
  core::RoomChange mc;
  auto flag = [&mc](std::optional<bool> want, bool now, core::RoomFlag f) {
    if (!want || *want == now) return;
    mc.items.push_back(core::RoomChangeItem::make_flag(f, *want));
  };
  flag(c.secret, r->modes.secret, core::RoomFlag::secret);
  flag(c.moderated, r->modes.moderated, core::RoomFlag::moderated);
  flag(c.members_only, r->modes.invite_only, core::RoomFlag::invite_only);
  flag(c.topic_protected, r->modes.topic_protected, core::RoomFlag::topic_locked);
  // The password: protected with a secret sets the key, unprotected (or an empty secret) clears it.
  bool protect =
      c.password_protected.value_or(!r->modes.key.empty() || (c.secret_text && !c.secret_text->empty()));
  std::string key = c.secret_text.value_or(r->modes.key);
  if (protect && key.empty())
    return core::make_error(core::Condition::not_acceptable, "a password is required");
  if (protect && key != r->modes.key)
    mc.items.push_back(core::RoomChangeItem::make_key(true, key));
  else if (!protect && !r->modes.key.empty())
    mc.items.push_back(core::RoomChangeItem::make_key(false));
  if (!mc.empty())
    if (auto st = core.rooms().apply_change(sid, name, mc); !st) return st;
  if (c.persistent)
    if (auto st = core.rooms().set_persistent(sid, name, *c.persistent); !st) return st;
  return {};
}

// ---- occupancy (§7) -------------------------------------------------------------------------

void muc_presence(C2sConnection& c, px::Stanza& s, const px::Jid* jid) {
  const px::Jid& to = *jid;
  const Context& ctx = c.ctx();
  std::string room = to.local;
  if (!core::is_valid_local_name(room)) return c.stanza_error(s, "modify", "jid-malformed");
  if (to.resource.empty()) return c.stanza_error(s, "modify", "jid-malformed");  // §7.2.1: nick required
  std::string nick = to.resource;
  std::string type(s.attr("type"));
  core::Core& core = c.ctx().rt.core;
  const auto& link = c.link();
  std::string from = ctx.domains.room_jid(room, nick);
  std::string id(s.attr("id"));
  if (type == "unavailable") {
    std::string status = s.child("status", px::ns::client).text().get();
    c.to_core("xmpp: room leave",
              [link, room, status, &core] { (void)core.rooms().leave(link->sid, room, status); });
    return;
  }
  if (!type.empty()) return;
  core::JoinRequest req;
  req.room = room;
  req.nick = nick;
  req.history = kDefaultHistory;
  if (auto x = s.child("x", kMuc)) {
    req.key = x.child("password").text().get();
    if (auto h = x.child("history")) {
      if (auto a = h.attribute("maxstanzas")) req.history = a.as_uint(0);
      if (auto a = h.attribute("maxchars"); a && a.as_uint(1) == 0) req.history = 0;
    }
  }
  c.to_core("xmpp: room join", [link, req, from, id, &core, d = ctx.domains] {
    const core::Room* existing = core.rooms().find(req.room);
    if (existing && existing->members.count(link->sid)) {
      // Already an occupant: a new nick is a nick change (§7.6), otherwise a status update.
      const auto& me = existing->members.at(link->sid);
      if (me.nick == req.nick) return;
      auto st = core.rooms().change_nick(link->sid, req.room, req.nick);
      if (!st) link->deliver(render_stanza_error("presence", id, from, link->full_jid(), st.error()));
      return;
    }
    auto r = core.rooms().join(link->sid, req);
    if (!r) {
      std::string out = render_stanza_error("presence", id, from, link->full_jid(), r.error());
      // §7.2.x: the error echoes the <x xmlns=muc/> element.
      auto pos = out.find("<error");
      out.insert(pos, "<x xmlns='http://jabber.org/protocol/muc'/>");
      link->deliver(std::move(out));
      return;
    }
    // §7.2.15: the subject is always sent after history, even when empty.
    if ((*r)->topic.text.empty()) {
      std::string out;
      XmlWriter w(out);
      w.open("message")
          .attr("from", d.room_jid(req.room))
          .attr("to", link->full_jid())
          .attr("type", "groupchat")
          .attr("id", random_id());
      w.open("subject").close();
      w.close();
      link->deliver(std::move(out));
    }
  });
}

void muc_message(C2sConnection& c, px::Stanza& s, const px::Jid* jid) {
  const px::Jid& to = *jid;
  std::string room = to.local;
  core::Core& core = c.ctx().rt.core;
  const auto& link = c.link();
  std::string type(s.attr("type"));
  std::string id(s.attr("id")), sto(s.attr("to"));
  core::Message m = message_from_stanza(s);
  if (!to.resource.empty()) {
    // §7.5 private message to an occupant.
    std::string nick = to.resource;
    c.to_core("xmpp: room private message", [link, room, nick, m = std::move(m), id, sto, &core]() mutable {
      auto st = core.rooms().say_private(link->sid, room, nick, std::move(m));
      if (!st) link->deliver(render_stanza_error("message", id, sto, link->full_jid(), st.error()));
    });
    return;
  }
  if (type != "groupchat") return c.stanza_error(s, "modify", "bad-request");
  if (m.subject && m.body.empty()) {
    std::string subject = *m.subject;
    c.to_core("xmpp: room subject", [link, room, subject, id, sto, &core] {
      auto st = core.rooms().set_topic(link->sid, room, subject);
      if (!st) link->deliver(render_stanza_error("message", id, sto, link->full_jid(), st.error()));
    });
    return;
  }
  m.to = core::Address::room(room);
  m.kind = m.kind == core::MessageKind::action ? core::MessageKind::action : core::MessageKind::room;
  c.to_core("xmpp: room message", [link, room, m = std::move(m), id, sto, &core]() mutable {
    m.from = core::Address::user(std::string(link->user()));
    m.origin.session = link->sid;
    m.origin.protocol = core::Protocol::xmpp;
    if (m.body.empty() && !m.subject) return;  // chat states alone are not stored in history
    auto st = core.rooms().say(link->sid, room, std::move(m));
    if (!st) link->deliver(render_stanza_error("message", id, sto, link->full_jid(), st.error()));
  });
}

// ---- a room's disco (§6.4) and administration (§8, §9, §10) ----------------------------------

void reply_ok(const std::shared_ptr<Link>& link, const std::string& id, const std::string& sto) {
  std::string out;
  XmlWriter(out)
      .open("iq")
      .attr("type", "result")
      .attr("id", id)
      .attr("from", sto)
      .attr("to", link->full_jid())
      .close();
  link->deliver(std::move(out));
}

bool room_disco_info(C2sConnection& c, const IqRequest& q) {
  const auto& link = c.link();
  core::Core& core = c.ctx().rt.core;
  std::string id(q.s.attr("id")), sto(q.s.attr("to"));
  const std::string& room = q.to->local;
  c.to_core("xmpp: room disco#info", [link, id, sto, room, &core] {
    const core::Room* r = core.rooms().find(room);
    std::string out;
    XmlWriter w(out);
    w.open("iq").attr("id", id).attr("from", sto).attr("to", link->full_jid());
    if (!r) {
      w.attr("type", "error")
          .raw("<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    } else {
      w.attr("type", "result").open("query").attr("xmlns", kDiscoInfo);
      w.open("identity").attr("category", "conference").attr("type", "text").attr("name", r->name).close();
      // What the handlers announce for rooms, then what this room's settings make true (§15.6).
      for (std::string_view f : c2s_handlers().features(Scope::room))
        w.open("feature").attr("var", f).close();
      w.open("feature").attr("var", r->persistent ? "muc_persistent" : "muc_temporary").close();
      w.open("feature").attr("var", r->modes.key.empty() ? "muc_unsecured" : "muc_passwordprotected").close();
      w.open("feature").attr("var", r->modes.moderated ? "muc_moderated" : "muc_unmoderated").close();
      w.open("feature").attr("var", r->modes.invite_only ? "muc_membersonly" : "muc_open").close();
    }
    w.finish();
    link->deliver(std::move(out));
  });
  return true;
}

bool room_disco_items(C2sConnection& c, const IqRequest& q) {
  c.iq_result(q.s, "<query xmlns='http://jabber.org/protocol/disco#items'/>");
  return true;
}

// §8.2 kick (role none), §8.x roles, §9.1 ban (affiliation outcast).
bool muc_admin(C2sConnection& c, const IqRequest& q) {
  const auto& link = c.link();
  core::Core& core = c.ctx().rt.core;
  std::string id(q.s.attr("id")), sto(q.s.attr("to"));
  const std::string& room = q.to->local;
  auto item = q.payload.child("item");
  if (!item) return c.stanza_error(q.s, "modify", "bad-request"), true;
  std::string nick = item.attribute("nick").value();
  std::string role = item.attribute("role").value();
  std::string aff = item.attribute("affiliation").value();
  std::string jid = item.attribute("jid").value();
  std::string reason = item.child("reason").text().get();
  core::Address user;
  if (!jid.empty()) {
    auto j = px::parse_jid(jid);
    if (!j) return c.stanza_error(q.s, "modify", "jid-malformed"), true;
    user = c.ctx().domains.to_address(j->bare());
  }
  c.to_core("xmpp: muc#admin", [link, room, nick, role, aff, user, reason, id, sto, &core] {
    core::Status st = core::make_error(core::Condition::bad_request, "unsupported change");
    if (!role.empty() && !nick.empty()) {
      if (role == "none")
        st = core.rooms().kick(link->sid, room, nick, reason);
      else if (role == "moderator")
        st = core.rooms().set_role(link->sid, room, nick, core::Role::moderator);
      else if (role == "participant")
        st = core.rooms().set_role(link->sid, room, nick, core::Role::participant);
      else if (role == "visitor")
        st = core.rooms().set_role(link->sid, room, nick, core::Role::visitor);
    } else if (!aff.empty()) {
      core::Address target = user;
      if (target.empty() && !nick.empty())
        if (const core::Room* r = core.rooms().find(room))
          if (const core::Member* m = r->find_nick(nick)) target = m->user;
      std::optional<core::Affiliation> a;
      if (aff == "outcast")
        a = core::Affiliation::outcast;
      else if (aff == "none")
        a = core::Affiliation::none;
      else if (aff == "member")
        a = core::Affiliation::member;
      else if (aff == "admin")
        a = core::Affiliation::admin;
      else if (aff == "owner")
        a = core::Affiliation::owner;
      if (a && !target.empty()) st = core.rooms().set_affiliation(link->sid, room, target, *a);
    }
    if (st)
      reply_ok(link, id, sto);
    else
      link->deliver(render_stanza_error("iq", id, sto, link->full_jid(), st.error()));
  });
  return true;
}

bool muc_owner(C2sConnection& c, const IqRequest& q) {
  const auto& link = c.link();
  core::Core& core = c.ctx().rt.core;
  std::string id(q.s.attr("id")), sto(q.s.attr("to"));
  const std::string& room = q.to->local;
  if (q.payload.child("destroy")) return c.stanza_error(q.s, "cancel", "feature-not-implemented"), true;
  if (q.s.attr("type") == "get") {
    // §10.2: the configuration form with the room's current settings (owners only).
    c.to_core("xmpp: room config form", [link, room, id, sto, &core] {
      const core::Room* r = core.rooms().find(room);
      const core::Member* me = nullptr;
      if (r)
        if (auto it = r->members.find(link->sid); it != r->members.end()) me = &it->second;
      if (!r || !me || me->affiliation != core::Affiliation::owner) {
        link->deliver(
            render_stanza_error("iq", id, sto, link->full_jid(),
                                r ? core::make_error(core::Condition::forbidden, "owner only")
                                  : core::make_error(core::Condition::item_not_found, "no such room")));
        return;
      }
      std::string out;
      XmlWriter w(out);
      w.open("iq").attr("type", "result").attr("id", id).attr("from", sto).attr("to", link->full_jid());
      w.open("query").attr("xmlns", kMucOwner).open("x").attr("xmlns", "jabber:x:data").attr("type", "form");
      w.element("title", "Configuration of " + r->name);
      w.open("field").attr("var", "FORM_TYPE").attr("type", "hidden").element("value", kRoomConfig).close();
      auto boolean = [&w](std::string_view var, std::string_view label, bool v) {
        w.open("field")
            .attr("var", var)
            .attr("type", "boolean")
            .attr("label", label)
            .element("value", v ? "1" : "0")
            .close();
      };
      boolean("muc#roomconfig_persistentroom", "Persistent", r->persistent);
      boolean("muc#roomconfig_publicroom", "Listed in the directory", !r->modes.secret);
      boolean("muc#roomconfig_moderatedroom", "Moderated (+m)", r->modes.moderated);
      boolean("muc#roomconfig_membersonly", "Members only (+i)", r->modes.invite_only);
      boolean("muc#roomconfig_changesubject", "Occupants may change the subject (-t)",
              !r->modes.topic_protected);
      boolean("muc#roomconfig_passwordprotectedroom", "Password protected (+k)", !r->modes.key.empty());
      w.open("field")
          .attr("var", "muc#roomconfig_roomsecret")
          .attr("type", "text-private")
          .attr("label", "Password")
          .element("value", r->modes.key)
          .close();
      w.finish();
      link->deliver(std::move(out));
    });
    return true;
  }
  auto x = q.payload.child("x");
  // An instant room (§10.1.2, empty submit) is already usable; a cancelled form changes nothing.
  if (!x || std::string_view(x.attribute("type").value()) == "cancel") return c.iq_result(q.s), true;
  if (std::string_view(x.attribute("type").value()) != "submit")
    return c.stanza_error(q.s, "modify", "bad-request"), true;
  RoomConfig cfg;
  for (auto f : x.children("field")) {
    std::string_view var = f.attribute("var").value();
    std::string v = f.child("value").text().get();
    const bool on = v == "1" || v == "true";
    if (var == "muc#roomconfig_persistentroom")
      cfg.persistent = on;
    else if (var == "muc#roomconfig_publicroom")
      cfg.secret = !on;
    else if (var == "muc#roomconfig_moderatedroom")
      cfg.moderated = on;
    else if (var == "muc#roomconfig_membersonly")
      cfg.members_only = on;
    else if (var == "muc#roomconfig_changesubject")
      cfg.topic_protected = !on;
    else if (var == "muc#roomconfig_passwordprotectedroom")
      cfg.password_protected = on;
    else if (var == "muc#roomconfig_roomsecret")
      cfg.secret_text = v;
  }
  c.to_core("xmpp: room config", [link, room, cfg, id, sto, &core] {
    auto st = apply_room_config(core, link->sid, room, cfg);
    if (st)
      reply_ok(link, id, sto);
    else
      link->deliver(render_stanza_error("iq", id, sto, link->full_jid(), st.error()));
  });
  return true;
}
}  // namespace

void register_muc(HandlerRegistry& r) {
  const Scopes in_rooms = Scope::room | Scope::occupant;
  r.stanza(Kind::presence, in_rooms, muc_presence,
           {{Scope::muc_service | Scope::room, kMuc}, {scopes(Scope::room), "muc_nonanonymous"}},
           {{scopes(Scope::muc_service), "conference", "text", "Parley rooms"}})
      .stanza(Kind::message, in_rooms, muc_message)
      .iq(scopes(Scope::room), true, false, kDiscoInfo, room_disco_info)
      .iq(scopes(Scope::room), true, false, kDiscoItems, room_disco_items)
      .iq(scopes(Scope::room), false, true, kMucAdmin, muc_admin)
      .iq(scopes(Scope::room), true, true, kMucOwner, muc_owner);
}

}  // namespace parley::adapters::xmpp
