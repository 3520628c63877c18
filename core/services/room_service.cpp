#include "core/services/room_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "core/core.hpp"

namespace parley::core {

namespace {

// A room nick is protocol-neutral: XEP-0045 §7.2 lets an occupant's nick be any JID
// resourcepart, "Jane Doe" included, and XMPP users are used to that. IRC's stricter
// alphabet is the IRC adapter's business: it shows such members under a derived nick
// (adapters/irc/member_nicks.hpp). Refused here: the empty nick, more than 64 bytes, control
// characters (no line or stanza could carry them) and leading or trailing spaces.
bool valid_nick(std::string_view n) {
  if (n.empty() || n.size() > 64 || n.front() == ' ' || n.back() == ' ') return false;
  for (char c : n)
    if (static_cast<unsigned char>(c) < ' ' || c == '\x7f') return false;
  return true;
}

Role role_for(Affiliation a, bool moderated) {
  switch (a) {
    case Affiliation::owner:
    case Affiliation::admin: return Role::moderator;
    case Affiliation::member: return Role::participant;
    case Affiliation::none: return moderated ? Role::visitor : Role::participant;
    case Affiliation::outcast: return Role::none;
  }
  return Role::participant;
}

Affiliation long_lived(const Room& r, const Address& user) {
  auto it = r.affiliations.find(user);
  return it == r.affiliations.end() ? Affiliation::none : it->second;
}

StoredRoom to_stored(const Room& r) {
  StoredRoom s;
  s.name = r.name;
  s.topic = r.topic;
  s.modes = r.modes;
  for (const auto& b : r.bans) s.bans.push_back(to_storage(b));
  s.affiliations.assign(r.affiliations.begin(), r.affiliations.end());
  return s;
}

}  // namespace

// ---- helpers (file-local access to the private state goes through these lambdas) -------

namespace {

struct Ctx {
  Core& core;
  Room& room;

  template <class F>
  void each(F&& f) {
    for (auto& [id, m] : room.members)
      if (const SessionInfo* s = core.sessions().find(id)) f(*s->sink, m);
  }
  // A message to every member, counted per recipient protocol.
  void deliver(const MessagePtr& p) {
    Metrics& metrics = core.metrics();
    for (auto& [id, m] : room.members)
      if (const SessionInfo* s = core.sessions().find(id)) {
        metrics.routed(p->origin.protocol, s->protocol);
        s->sink->on_message(p);
      }
  }
  // A persistent room's state goes to the store. A failure (disk full...) is logged and
  // returned, so that whoever changed the room hears that the change will not survive a
  // restart; the change itself stays in effect. With the write-behind store (the daemon's)
  // the commit comes later: its failure is logged by the store's on_error, not returned.
  Status save() {
    if (!room.persistent) return {};
    auto st = core.store().put_room(to_stored(room));
    if (!st) spdlog::error("rooms: cannot save #{}: {}", room.name, st.error().text);
    return st;
  }
};

bool banned(const Room& r, const Member& who, const std::string& host) {
  for (const auto& mask : r.bans)
    if (ban_matches(mask, who.nick, who.user.id(), host)) return true;
  return false;
}

}  // namespace

Status RoomService::load() {
  auto stored = core_.store().rooms();
  if (!stored) return stored.error();
  for (auto& s : *stored) {
    Room r;
    r.name = s.name;
    r.topic = s.topic;
    r.modes = s.modes;
    for (const auto& b : s.bans) r.bans.push_back(ban_from_storage(b));
    // Affiliations belong to accounts (or remote users): a local user without an account
    // was a guest whose session ended without Sessions::close (a crash), and its name may
    // go to someone else now.
    for (auto& [a, aff] : s.affiliations)
      if (!a.is_user() || core_.directory().exists(a.id())) {
        r.affiliations[a] = aff;
        note_grant(a);
      }
    r.persistent = true;
    r.created = Clock::now();
    auto h = core_.store().history(s.name, history_limit_);
    if (h)
      for (auto& m : *h) r.history.push_back(std::make_shared<const Message>(std::move(m)));
    rooms_[r.name] = std::move(r);
  }
  return {};
}

Result<const Room*> RoomService::join(SessionId s, const JoinRequest& req) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* info = core_.sessions().find(s);
  if (!info) return make_error(Condition::item_not_found, "no such session");
  if (!is_valid_local_name(req.room)) return make_error(Condition::malformed_address, "invalid room name");
  if (!valid_nick(req.nick)) return make_error(Condition::malformed_address, "invalid nick");

  auto existing = rooms_.find(req.room);
  if (existing != rooms_.end() && existing->second.members.count(s))
    return static_cast<const Room*>(&existing->second);  // already there: nothing changes
  // One session's rooms are bounded whatever its protocol (IRC's CHANLIMIT, XMPP has none):
  // every membership costs fan-out work and memory (CoreOptions::max_rooms).
  if (auto mine = by_session_.find(s);
      mine != by_session_.end() && mine->second.size() >= core_.options().max_rooms)
    return make_error(Condition::resource_constraint,
                      "too many rooms (at most " + std::to_string(core_.options().max_rooms) + ")");

  HookContext ctx;
  ctx.payload = &req;
  if (core_.hooks().fire("room/join", ctx) == Verdict::deny) return ctx.deny_error;

  const Address user = info->user;
  check_account(user);
  Member m;
  m.session = s;
  m.user = user;
  m.nick = req.nick;

  const bool creating = existing == rooms_.end();
  if (creating) {
    Room r;
    r.name = req.room;
    r.created = Clock::now();
    r.affiliations[user] = Affiliation::owner;
    note_grant(user);
    existing = rooms_.emplace(req.room, std::move(r)).first;
  } else {
    Room& r = existing->second;
    const Affiliation aff = long_lived(r, user);
    const bool privileged = aff >= Affiliation::admin;
    if (aff == Affiliation::outcast || (!privileged && banned(r, m, info->host)))
      return make_error(Condition::forbidden, "banned from #" + r.name);
    if (!r.modes.key.empty() && req.key != r.modes.key && !privileged)
      return make_error(Condition::not_authorized, "wrong room key");
    auto inv = std::find(r.invited.begin(), r.invited.end(), user);
    // An invitation lets its holder past the limit too (Modern IRC, "Client Limit" mode).
    if (r.modes.limit != 0 && r.members.size() >= r.modes.limit && !privileged && inv == r.invited.end())
      return make_error(Condition::service_unavailable, "room is full");
    if (r.modes.invite_only && aff < Affiliation::member && inv == r.invited.end())
      return make_error(Condition::registration_required, "invitation required");
    if (const Member* other = r.find_nick(req.nick); other && other->user != user)
      return make_error(Condition::conflict, "nick in use");
    if (inv != r.invited.end()) r.invited.erase(inv);
  }

  Room& room = existing->second;
  m.affiliation = long_lived(room, user);
  m.role = role_for(m.affiliation, room.modes.moderated);
  room.members[s] = m;
  by_session_[s].push_back(room.name);

  Ctx c{core_, room};
  SessionSink& self = *info->sink;
  // Others see the newcomer; the newcomer sees everyone else first, then itself
  // (XEP-0045 §7.2.3 order; IRC's NAMES comes from the self event's room).
  c.each([&](SessionSink& sink, const Member& other) {
    if (other.session != s) sink.on_room_join(room, m, false);
  });
  for (const auto& [id, other] : room.members)
    if (id != s) self.on_room_join(room, other, false);
  self.on_room_join(room, room.members[s], true);
  if (req.history > 0) {
    std::size_t n = std::min(req.history, room.history.size());
    for (auto it = room.history.end() - static_cast<std::ptrdiff_t>(n); it != room.history.end(); ++it)
      self.on_message(*it);
  }
  if (!room.topic.text.empty()) self.on_room_topic(room, room.topic);
  // Not persistent yet when just created; save() logs a failure if it ever is.
  if (creating) (void)save(room);
  return static_cast<const Room*>(&room);
}

// Removes one member, tells the others (and the member itself unless it quit: its
// connection is going away), and destroys a non-persistent room that became empty.
static void remove_member(Core& core, std::map<std::string, Room>& rooms,
                          std::map<SessionId, std::vector<std::string>>& by_session, const std::string& name,
                          SessionId s, const LeaveReason& why) {
  auto rit = rooms.find(name);
  if (rit == rooms.end()) return;
  Room& room = rit->second;
  auto mit = room.members.find(s);
  if (mit == room.members.end()) return;
  Member gone = mit->second;
  room.members.erase(mit);
  Ctx{core, room}.each([&](SessionSink& sink, const Member&) { sink.on_room_leave(room, gone, why, false); });
  const bool self_told = why.kind != LeaveReason::Kind::quit && why.kind != LeaveReason::Kind::shutdown;
  if (self_told)
    if (const SessionInfo* info = core.sessions().find(s)) info->sink->on_room_leave(room, gone, why, true);
  auto bs = by_session.find(s);
  if (bs != by_session.end()) {
    std::erase(bs->second, name);
    if (bs->second.empty()) by_session.erase(bs);
  }
  if (room.members.empty() && !room.persistent) rooms.erase(rit);
}

Status RoomService::leave(SessionId s, const std::string& room, const std::string& text) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(room);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::item_not_found, "not in room");
  remove_member(core_, rooms_, by_session_, room, s, LeaveReason{LeaveReason::Kind::part, {}, text});
  return {};
}

Status RoomService::remove_as(SessionId s, const std::string& room, const LeaveReason& reason) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(room);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::item_not_found, "not in room");
  remove_member(core_, rooms_, by_session_, room, s, reason);
  return {};
}

void RoomService::leave_all(SessionId s, LeaveReason reason) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = by_session_.find(s);
  if (it == by_session_.end()) return;
  std::vector<std::string> names = it->second;
  for (const auto& n : names) remove_member(core_, rooms_, by_session_, n, s, reason);
}

Status RoomService::change_nick(SessionId s, const std::string& name, const std::string& nick) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::item_not_found, "not in room");
  if (!valid_nick(nick)) return make_error(Condition::malformed_address, "invalid nick");
  Room& room = it->second;
  Member& me = room.members[s];
  if (const Member* other = room.find_nick(nick); other && other->user != me.user && other->session != s)
    return make_error(Condition::conflict, "nick in use");
  Member before = me;
  me.nick = nick;
  Ctx{core_, room}.each(
      [&](SessionSink& sink, const Member& who) { sink.on_room_nick(room, before, nick, who.session == s); });
  return {};
}

Status RoomService::change_nick_everywhere(SessionId s, const std::string& nick) {
  PARLEY_ASSERT_ON_CORE(core_);
  if (!valid_nick(nick)) return make_error(Condition::malformed_address, "invalid nick");
  auto names = rooms_of(s);
  for (const auto& n : names) {
    const Room& room = rooms_.at(n);
    const Member& me = room.members.at(s);
    if (const Member* other = room.find_nick(nick); other && other->user != me.user && other->session != s)
      return make_error(Condition::conflict, "nick in use in #" + n);
  }
  for (const auto& n : names)
    if (auto st = change_nick(s, n, nick); !st) return st;
  return {};
}

Status RoomService::set_topic(SessionId s, const std::string& name, const std::string& text) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::not_acceptable, "not in room");
  Room& room = it->second;
  const Member& me = room.members[s];
  if (room.modes.topic_protected && me.role != Role::moderator)
    return make_error(Condition::forbidden, "only moderators may change the topic (topic locked)");
  room.topic = Topic{text, me.nick, Clock::now()};
  Ctx c{core_, room};
  c.each([&](SessionSink& sink, const Member&) { sink.on_room_topic(room, room.topic); });
  return save(room);
}

Status RoomService::set_topic_as(const std::string& name, const std::string& text, const std::string& set_by,
                                 Timestamp set_at) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end()) return make_error(Condition::item_not_found, "no such room");
  Room& room = it->second;
  room.topic = Topic{text, set_by, set_at == Timestamp{} ? Clock::now() : set_at};
  Ctx c{core_, room};
  c.each([&](SessionSink& sink, const Member&) { sink.on_room_topic(room, room.topic); });
  return save(room);
}

Status RoomService::say(SessionId s, const std::string& name, Message m) {
  return say_in(s, name, std::move(m), false);
}

Status RoomService::say_as(SessionId s, const std::string& name, Message m) {
  return say_in(s, name, std::move(m), true);
}

Status RoomService::say_in(SessionId s, const std::string& name, Message m, bool voice_checked) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* info = core_.sessions().find(s);
  if (!info) return make_error(Condition::item_not_found, "no such session");
  auto it = rooms_.find(name);
  if (it == rooms_.end()) return make_error(Condition::item_not_found, "no such room");
  Room& room = it->second;
  auto mit = room.members.find(s);
  if (mit == room.members.end()) {
    if (room.modes.no_external) return make_error(Condition::not_acceptable, "not in room (no messages from outside)");
    m.nick = info->user.id();
  } else {
    const Member& me = mit->second;
    // Moderated: visitors have no voice (XEP-0045 §8.4).
    if (!voice_checked && (me.role == Role::visitor || me.role == Role::none))
      return make_error(Condition::forbidden, "no voice in a moderated room");
    m.nick = me.nick;
  }
  m.from = info->user;
  m.to = Address::room(name);
  if (m.kind == MessageKind::direct) m.kind = MessageKind::room;
  m.origin.session = s;
  m.origin.protocol = info->protocol;
  bound_client_fields(m);
  if (m.id.empty()) m.id = core_.router().next_id();
  if (m.timestamp == Timestamp{}) m.timestamp = Clock::now();

  HookContext ctx;
  ctx.payload = &m;
  if (core_.hooks().fire("message/room", ctx) == Verdict::deny) return ctx.deny_error;

  MessagePtr p = std::make_shared<const Message>(std::move(m));
  if (history_limit_ > 0) {
    room.history.push_back(p);
    while (room.history.size() > history_limit_) room.history.pop_front();
    if (room.persistent) note_history(name, core_.store().append_history(name, *p, history_limit_));
  }
  // Everyone, the sender included: XMPP reflects the message to its sender
  // (XEP-0045 §7.4); IRC adapters suppress the echo using origin.session.
  Ctx{core_, room}.deliver(p);
  return {};
}

Status RoomService::say_private(SessionId s, const std::string& name, const std::string& nick, Message m) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* info = core_.sessions().find(s);
  if (!info) return make_error(Condition::item_not_found, "no such session");
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::not_acceptable, "not in room");
  Room& room = it->second;
  const Member* target = room.find_nick(nick);
  if (!target) return make_error(Condition::item_not_found, "no such nick");
  const SessionInfo* tinfo = core_.sessions().find(target->session);
  if (!tinfo) return make_error(Condition::recipient_unavailable, "occupant gone");
  m.from = info->user;
  m.to = Address::room(name);
  m.kind = MessageKind::direct;
  m.nick = room.members[s].nick;
  m.origin.session = s;
  m.origin.protocol = info->protocol;
  bound_client_fields(m);
  if (m.id.empty()) m.id = core_.router().next_id();
  if (m.timestamp == Timestamp{}) m.timestamp = Clock::now();
  core_.metrics().routed(info->protocol, tinfo->protocol);
  tinfo->sink->on_message(std::make_shared<const Message>(std::move(m)));
  return {};
}

Status RoomService::kick(SessionId s, const std::string& name, const std::string& nick,
                         const std::string& reason, bool chanops_are_peers) {
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::not_acceptable, "not in room");
  Room& room = it->second;
  const Member& me = room.members[s];
  if (me.role != Role::moderator) return make_error(Condition::forbidden, "not a moderator");
  const Member* target = room.find_nick(nick);
  if (!target) return make_error(Condition::item_not_found, "no such nick");
  // XEP-0045 §8.2: a moderator cannot kick someone of higher affiliation. On IRC every
  // channel operator may kick anyone, the channel's creator included (RFC 2812 §3.2.8).
  const bool peer = chanops_are_peers && me.affiliation >= Affiliation::admin;
  if (target->affiliation > me.affiliation && !peer)
    return make_error(Condition::not_allowed, "target outranks you");
  remove_member(core_, rooms_, by_session_, name, target->session,
                LeaveReason{LeaveReason::Kind::kick, me.nick, reason});
  return {};
}

Status RoomService::apply_change(SessionId s, const std::string& name, const RoomChange& change) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::not_acceptable, "not in room");
  Room& room = it->second;
  const Member me = room.members[s];
  if (me.role != Role::moderator) return make_error(Condition::forbidden, "not a moderator");
  return apply_change_in(room, &me, me.nick, change);
}

Status RoomService::change_as(const std::string& name, const RoomChange& change, const std::string& by) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end()) return make_error(Condition::item_not_found, "no such room");
  return apply_change_in(it->second, nullptr, by, change);
}

Status RoomService::apply_change_in(Room& room, const Member* actor, const std::string& by,
                                    const RoomChange& change) {
  RoomChange applied;
  using Kind = RoomChangeItem::Kind;
  // Members whose role/affiliation/voice one item changes become one member item each,
  // placed where the change happened.
  auto set_member = [&](Member& m, Role r, Affiliation a, bool voice) {
    if (m.role == r && m.affiliation == a && m.voice == voice) return;
    Member before = m;
    m.role = r;
    m.affiliation = a;
    m.voice = voice;
    applied.items.push_back(RoomChangeItem::make_member(before, m));
  };

  Status first_error;
  auto fail = [&](Condition c, std::string text) {
    if (first_error.ok()) first_error = make_error(c, std::move(text));
  };
  for (const RoomChangeItem& item : change.items) {
    const bool plus = item.on;
    switch (item.kind) {
      case Kind::flag:
        switch (item.flag) {
          case RoomFlag::invite_only: room.modes.invite_only = plus; break;
          case RoomFlag::no_external: room.modes.no_external = plus; break;
          case RoomFlag::secret: room.modes.secret = plus; break;
          case RoomFlag::topic_locked: room.modes.topic_protected = plus; break;
          case RoomFlag::moderated: room.modes.moderated = plus; break;
        }
        applied.items.push_back(item);
        if (item.flag == RoomFlag::moderated) {
          // Moderated: whoever has no voice or status can no longer speak.
          for (auto& [id, m] : room.members) {
            if (plus && m.role == Role::participant && m.affiliation == Affiliation::none)
              set_member(m, Role::visitor, m.affiliation, m.voice);
            else if (!plus && m.role == Role::visitor)
              set_member(m, Role::participant, m.affiliation, m.voice);
          }
        }
        break;
      case Kind::key:
        if (plus) {
          if (item.text.empty()) {
            fail(Condition::bad_request, "a key must not be empty");
            break;
          }
          room.modes.key = item.text;
          applied.items.push_back(item);
        } else {
          room.modes.key.clear();
          applied.items.push_back(RoomChangeItem::make_key(false));
        }
        break;
      case Kind::limit:
        if (plus && item.limit == 0) {
          fail(Condition::bad_request, "a limit must be a positive number");
          break;
        }
        room.modes.limit = plus ? item.limit : 0;
        applied.items.push_back(plus ? item : RoomChangeItem::make_limit(false));
        break;
      case Kind::status: {
        Member* target = room.find_nick(item.text);
        if (!target) {
          fail(Condition::item_not_found, "no such nick");
          break;
        }
        // IRC: channel operators are peers and may change anyone's status (RFC 2812 §3.2.3);
        // a moderator without operator affiliation may only grant or revoke voice, and not
        // touch those who outrank it (XEP-0045 §8 rank rule).
        const bool chanop = !actor || actor->affiliation >= Affiliation::admin;
        const bool voice = item.status == MemberStatus::voice;
        if ((!voice && !chanop) || (!plus && !chanop && target->affiliation > actor->affiliation)) {
          fail(Condition::not_allowed, "target outranks you");
          break;
        }
        // Biboumi's table (DESIGN.md): operator admin/moderator, moderator member/moderator,
        // voice member/participant. Removing status falls back to the long-lived
        // affiliation, except that revoking operator/moderator takes it away even from the
        // room's owner until it rejoins, and a voiced member keeps its voice.
        const Affiliation base = long_lived(room, target->user);
        Member& t = *target;
        if (plus) {
          if (item.status == MemberStatus::operator_status)
            set_member(t, Role::moderator, std::max(base, Affiliation::admin), t.voice);
          else if (item.status == MemberStatus::moderator)
            set_member(t, Role::moderator, std::max(base, Affiliation::member), t.voice);
          else
            set_member(t, t.role == Role::moderator ? Role::moderator : Role::participant,
                       std::max(t.affiliation, Affiliation::member), true);
        } else if (voice) {
          if (t.role != Role::moderator)
            set_member(t, room.modes.moderated && base == Affiliation::none ? Role::visitor : Role::participant,
                       base, false);
          else
            set_member(t, t.role, t.affiliation, false);
        } else {
          const Affiliation kept = base >= Affiliation::admin ? Affiliation::none : base;
          const Affiliation aff = t.voice ? std::max(kept, Affiliation::member) : kept;
          set_member(t, room.modes.moderated && aff == Affiliation::none ? Role::visitor : Role::participant, aff,
                     t.voice);
        }
        break;
      }
      case Kind::ban:
        if (item.mask.nick.empty() || item.mask.user.empty() || item.mask.host.empty()) {
          fail(Condition::bad_request, "a ban needs a pattern");
          break;
        }
        if (plus) {
          if (std::find(room.bans.begin(), room.bans.end(), item.mask) == room.bans.end())
            room.bans.push_back(item.mask);
        } else {
          std::erase(room.bans, item.mask);
          // A mask naming exactly one user id ("*", id, "*": how an outcast is shown as a
          // pattern) lifts that user's outcast affiliation too, so removing what a protocol
          // shows as a ban works whichever protocol set it.
          if (item.mask.nick == "*" && item.mask.host == "*") {
            auto a = room.affiliations.find(Address::user(item.mask.user));
            if (a != room.affiliations.end() && a->second == Affiliation::outcast) {
              room.affiliations.erase(a);
              applied.items.push_back(RoomChangeItem::make_outcast(false, item.mask.user));
              continue;
            }
          }
        }
        applied.items.push_back(item);
        break;
      case Kind::member:
      case Kind::outcast:
        fail(Condition::bad_request, "a member or outcast item reports a change, it cannot ask for one");
        break;
    }
  }

  if (applied.empty()) return first_error;
  Ctx{core_, room}.each([&](SessionSink& sink, const Member&) { sink.on_room_change(room, applied, by); });
  return save(room);
}

Status RoomService::set_role(SessionId s, const std::string& name, const std::string& nick, Role role) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::not_acceptable, "not in room");
  Room& room = it->second;
  const Member& me = room.members[s];
  if (me.role != Role::moderator) return make_error(Condition::forbidden, "not a moderator");
  Member* target = room.find_nick(nick);
  if (!target) return make_error(Condition::item_not_found, "no such nick");
  if (role == Role::none) return kick(s, name, nick, {});
  if (target->affiliation > me.affiliation) return make_error(Condition::not_allowed, "target outranks you");
  const Member before = *target;
  target->role = role;
  if (role == Role::visitor) target->voice = false;  // XEP-0045 §8.4: revoking voice
  // XEP-0045 §8.3: a visitor made participant is granted voice, which protocols that show
  // voice apart from role must see.
  if (role == Role::participant && before.role == Role::visitor) target->voice = true;
  if (*target == before) return {};
  RoomChange applied;
  applied.items.push_back(RoomChangeItem::make_member(before, *target));
  const std::string by = me.nick;
  Ctx{core_, room}.each([&](SessionSink& sink, const Member&) { sink.on_room_change(room, applied, by); });
  return {};
}

Status RoomService::set_affiliation(SessionId s, const std::string& name, const Address& user_in, Affiliation a) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::not_acceptable, "not in room");
  Room& room = it->second;
  const Member me = room.members[s];
  // XEP-0045 §9/§10: admins manage members and outcasts, owners manage admins and owners.
  const Affiliation needed = (a >= Affiliation::admin) ? Affiliation::owner : Affiliation::admin;
  if (me.affiliation < needed) return make_error(Condition::forbidden, "insufficient affiliation");
  const Address user = user_in.bare();
  // A local name with no account and nobody online is nobody yet: a guest who later takes
  // it would find the affiliation waiting.
  if (a != Affiliation::none && user.is_user() && !core_.directory().exists(user.id()) &&
      !core_.sessions().user_online(user))
    return make_error(Condition::item_not_found, "no such user");
  check_account(user);
  auto had = room.affiliations.find(user);
  const bool was_outcast = had != room.affiliations.end() && had->second == Affiliation::outcast;
  if (a == Affiliation::none) {
    room.affiliations.erase(user);
  } else {
    room.affiliations[user] = a;
    note_grant(user);
  }
  Ctx ctx{core_, room};
  // Every member learns of a ban by address (or its end) as a room change, before the
  // banned leave: protocols with ban lists show it there (IRC +b).
  if (was_outcast != (a == Affiliation::outcast)) {
    RoomChange applied;
    applied.items.push_back(RoomChangeItem::make_outcast(a == Affiliation::outcast, user.id()));
    ctx.each([&](SessionSink& sink, const Member&) { sink.on_room_change(room, applied, me.nick); });
  }
  std::vector<SessionId> affected;
  for (auto& [id, m] : room.members)
    if (m.user == user) affected.push_back(id);
  for (SessionId id : affected) {
    if (a == Affiliation::outcast) {
      remove_member(core_, rooms_, by_session_, name, id, LeaveReason{LeaveReason::Kind::ban, me.nick, {}});
      continue;
    }
    Member& m = room.members[id];
    const Member before = m;
    m.affiliation = a;
    m.role = role_for(a, room.modes.moderated);
    RoomChange applied;
    applied.items.push_back(RoomChangeItem::make_member(before, m));
    ctx.each([&](SessionSink& sink, const Member&) { sink.on_room_change(room, applied, me.nick); });
  }
  // remove_member never erases this room here: the actor (not an outcast of itself, since
  // it needs admin) is still a member... unless it banned itself.
  auto again = rooms_.find(name);
  if (again != rooms_.end()) return save(again->second);
  return {};
}

Status RoomService::invite(SessionId s, const std::string& name, const Address& invitee) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::not_acceptable, "not in room");
  Room& room = it->second;
  const Member& me = room.members[s];
  // RFC 2812 §3.2.7: on an invite-only channel only operators may invite.
  if (room.modes.invite_only && me.role != Role::moderator) return make_error(Condition::forbidden, "not a moderator");
  const Address who = invitee.bare();
  if (who.is_room() || who.empty()) return make_error(Condition::bad_request, "invalid invitee");
  if (std::find(room.invited.begin(), room.invited.end(), who) == room.invited.end()) room.invited.push_back(who);
  if (who.is_user()) {
    auto ids = core_.sessions().of_user(who);
    if (ids.empty() && !core_.directory().exists(who.id())) return make_error(Condition::item_not_found, "no such user");
    for (SessionId id : ids)
      if (const SessionInfo* info = core_.sessions().find(id)) info->sink->on_room_invite(name, me.user, me.nick);
  }
  return {};
}

Status RoomService::set_persistent(SessionId s, const std::string& name, bool persistent) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.members.count(s)) return make_error(Condition::not_acceptable, "not in room");
  Room& room = it->second;
  if (room.members[s].affiliation != Affiliation::owner) return make_error(Condition::forbidden, "owner only");
  if (room.persistent == persistent) return {};
  if (persistent) {
    // Waits for the commit (Store::sync): the owner is told whether the room will survive a
    // restart, and this is rare.
    Status st = core_.store().put_room(to_stored(room));
    if (st) st = core_.store().sync();
    if (!st) {
      spdlog::error("rooms: cannot save #{}: {}", name, st.error().text);
      return st;  // still not persistent: it would not survive a restart
    }
    room.persistent = true;
    for (const auto& m : room.history) {
      auto h = core_.store().append_history(name, *m, history_limit_);
      note_history(name, h);
      if (!h) return h;
    }
  } else {
    Status st = core_.store().delete_room(name);
    if (st) st = core_.store().sync();
    if (!st) {
      spdlog::error("rooms: cannot delete #{} from the store: {}", name, st.error().text);
      return st;  // still stored, so still persistent
    }
    room.persistent = false;
  }
  return {};
}

void RoomService::forget_user(const Address& user_in) {
  PARLEY_ASSERT_ON_CORE(core_);
  const Address user = user_in.bare();
  for (auto& [name, room] : rooms_) {
    const bool had = room.affiliations.erase(user) > 0;
    std::erase(room.invited, user);
    if (had) (void)Ctx{core_, room}.save();  // logged; the account is gone either way
  }
  account_created_.erase(user);
}

void RoomService::check_account(const Address& user) {
  auto it = account_created_.find(user);
  if (it == account_created_.end()) return;  // no account affiliation anywhere
  auto rec = core_.store().get_account(user.id());
  if (!rec) return;  // a store error demotes nobody
  if (rec->has_value() && (*rec)->created == it->second) return;
  forget_user(user);  // removed, or removed and added again: someone else now
}

void RoomService::note_grant(const Address& user) {
  if (!user.is_user()) return;
  auto rec = core_.store().get_account(user.id());
  if (rec && rec->has_value()) account_created_[user] = (*rec)->created;
}

Status RoomService::save(Room& room) {
  if (!room.persistent) return {};
  std::vector<Address> users;
  for (const auto& [a, aff] : room.affiliations)
    if (account_created_.count(a)) users.push_back(a);
  for (const auto& a : users) check_account(a);  // never write back a removed account's status
  return Ctx{core_, room}.save();
}

void RoomService::note_history(const std::string& room, const Status& st) {
  // Once per run of failures (every message of a busy room would repeat it), and again
  // when the store works again.
  if (!st && !history_failing_) spdlog::error("rooms: history of #{} not stored: {}", room, st.error().text);
  else if (st && history_failing_) spdlog::info("rooms: room history is stored again");
  history_failing_ = !st;
}

const Room* RoomService::find(const std::string& room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? nullptr : &it->second;
}

std::vector<const Room*> RoomService::list() const {
  std::vector<const Room*> out;
  out.reserve(rooms_.size());
  for (const auto& [n, r] : rooms_) out.push_back(&r);
  return out;
}

std::vector<std::string> RoomService::rooms_of(SessionId s) const {
  auto it = by_session_.find(s);
  return it == by_session_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace parley::core
