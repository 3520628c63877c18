#include "adapters/irc/room_nicks.hpp"

#include <algorithm>

#include "core/services/room_service.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;

std::string RoomNicks::choose(const core::Room& room, const core::Member& m) {
  const std::size_t len = cfg_.nick_length;
  auto taken = [&](std::string_view candidate) {
    for (const auto& [id, other] : room.members) {
      if (id == m.session || other.user == m.user) continue;  // one user's sessions may share a nick
      std::string_view shown;
      if (owners_.is_irc(id))
        shown = other.nick;
      else if (const auto* e = nicks_.find(room.name, id); e && e->source == other.nick)
        shown = e->nick;
      else if (pi::is_valid_nick(other.nick, len))
        shown = other.nick;  // will keep its own
      else
        continue;
      if (pi::equal_fold(shown, candidate)) return true;
    }
    // An IRC user elsewhere: PRIVMSG to the nick must reach this member, not them.
    return owners_.irc_nick_of_other(candidate, m.user);
  };
  return dedup_nick(pi::is_valid_nick(m.nick, len) ? m.nick : irc_nick_base(m.nick, len), len, taken);
}

std::string RoomNicks::irc_nick(const core::Room& room, const core::Member& m) {
  if (owners_.is_irc(m.session)) return m.nick;  // an IRC client: its own, valid, nick
  if (const auto* e = nicks_.find(room.name, m.session); e && e->source == m.nick) return e->nick;
  sweep_.insert(room.name);  // kept only while an IRC client is there to see it
  return nicks_.set(room.name, m.session, m.nick, choose(room, m)).nick;
}

std::string RoomNicks::irc_nick_of(const core::Room& room, std::string_view neutral) {
  if (const core::Member* m = room.find_nick(neutral)) return irc_nick(room, *m);
  return irc_nick_base(neutral, cfg_.nick_length);
}

const core::Member* RoomNicks::member_by_irc_nick(const core::Room& room, std::string_view nick) {
  const std::size_t len = cfg_.nick_length;
  // The nick without a dedup suffix: only a member whose base nick starts with it can show
  // `nick`, so a lookup (PRIVMSG to anyone, over every room) derives no other member's nick.
  std::string_view stem = nick;
  while (!stem.empty() && stem.back() >= '0' && stem.back() <= '9') stem.remove_suffix(1);
  for (const auto& [id, m] : room.members) {
    if (owners_.is_irc(id)) {
      if (pi::equal_fold(m.nick, nick)) return &m;
      continue;
    }
    if (const auto* e = nicks_.find(room.name, id); e && e->source == m.nick) {
      if (pi::equal_fold(e->nick, nick)) return &m;
      continue;
    }
    const std::string base = pi::is_valid_nick(m.nick, len) ? m.nick : irc_nick_base(m.nick, len);
    const bool plausible =
        pi::equal_fold(base, nick) || (stem.size() < nick.size() && stem.size() <= base.size() &&
                                       pi::equal_fold(std::string_view(base).substr(0, stem.size()), stem));
    if (plausible && pi::equal_fold(irc_nick(room, m), nick)) return &m;
  }
  return nullptr;
}

std::pair<std::string, std::string> RoomNicks::irc_renick(const core::Room& room,
                                                          const core::Member& before) {
  auto now = room.members.find(before.session);
  if (now == room.members.end()) return {before.nick, before.nick};
  if (owners_.is_irc(before.session)) return {before.nick, now->second.nick};
  const auto* e = nicks_.find(room.name, before.session);
  if (e && e->source == now->second.nick) return {e->previous, e->nick};  // told to another member already
  std::string old = e && e->source == before.nick ? e->nick : choose(room, before);
  nicks_.set(room.name, before.session, before.nick, old);
  const auto& after = nicks_.set(room.name, before.session, now->second.nick, choose(room, now->second));
  return {after.previous, after.nick};
}

bool RoomNicks::shown_in_rooms(core::SessionId self, const core::Address* self_user, std::string_view nick,
                               const core::Room* only) {
  auto check = [&](const core::Room& r) {
    for (const auto& [id, m] : r.members)
      if (id != self && (!self_user || m.user != *self_user) && pi::equal_fold(irc_nick(r, m), nick))
        return true;
    return false;
  };
  if (only) return check(*only);
  for (const auto& rn : rooms_.rooms_of(self))
    if (const core::Room* r = rooms_.find(rn); r && check(*r)) return true;
  return false;
}

void RoomNicks::sweep_rooms() {
  for (const auto& name : sweep_) {
    const core::Room* r = rooms_.find(name);
    bool irc_here = r && std::any_of(r->members.begin(), r->members.end(),
                                     [&](const auto& kv) { return owners_.is_irc(kv.first); });
    if (!irc_here)
      nicks_.forget_room(name);
    else
      nicks_.sweep(name, [&](core::SessionId s) { return r->members.count(s) > 0; });
  }
  sweep_.clear();
}

}  // namespace parley::adapters::irc
