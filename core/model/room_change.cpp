#include "core/model/room_change.hpp"

#include "core/model/ascii.hpp"
#include "core/model/room.hpp"

namespace parley::core {

bool pattern_match(std::string_view pat, std::string_view s) {
  // Iterative with one backtrack point: linear in practice, no recursion on hostile input.
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || ascii_lower(pat[p]) == ascii_lower(s[i]))) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool ban_matches(const BanMask& m, std::string_view nick, std::string_view user, std::string_view host) {
  return pattern_match(m.nick, nick) && pattern_match(m.user, user) && pattern_match(m.host, host);
}

std::string to_storage(const BanMask& m) { return m.nick + "!" + m.user + "@" + m.host; }

BanMask ban_from_storage(std::string_view s) {
  BanMask m;
  auto bang = s.find('!');
  auto at = s.find('@', bang == std::string_view::npos ? 0 : bang);
  if (bang == std::string_view::npos && at == std::string_view::npos) {
    m.nick = std::string(s.empty() ? "*" : s);
    return m;
  }
  std::string_view nick =
      s.substr(0, bang == std::string_view::npos ? (at == std::string_view::npos ? s.size() : at) : bang);
  std::string_view user, host;
  if (bang != std::string_view::npos)
    user = s.substr(bang + 1, at == std::string_view::npos ? std::string_view::npos : at - bang - 1);
  if (at != std::string_view::npos) host = s.substr(at + 1);
  m.nick = nick.empty() ? "*" : std::string(nick);
  m.user = user.empty() ? "*" : std::string(user);
  m.host = host.empty() ? "*" : std::string(host);
  return m;
}

std::string_view to_string(RoomFlag f) {
  switch (f) {
    case RoomFlag::invite_only:
      return "invite-only";
    case RoomFlag::moderated:
      return "moderated";
    case RoomFlag::no_external:
      return "no-external";
    case RoomFlag::secret:
      return "secret";
    case RoomFlag::topic_locked:
      return "topic-locked";
  }
  return "?";
}

RoomChangeItem RoomChangeItem::make_flag(RoomFlag f, bool on) {
  RoomChangeItem i;
  i.kind = Kind::flag;
  i.flag = f;
  i.on = on;
  return i;
}
RoomChangeItem RoomChangeItem::make_key(bool on, std::string key) {
  RoomChangeItem i;
  i.kind = Kind::key;
  i.on = on;
  i.text = std::move(key);
  return i;
}
RoomChangeItem RoomChangeItem::make_limit(bool on, std::uint32_t n) {
  RoomChangeItem i;
  i.kind = Kind::limit;
  i.on = on;
  i.limit = n;
  return i;
}
RoomChangeItem RoomChangeItem::make_ban(bool on, BanMask m) {
  RoomChangeItem i;
  i.kind = Kind::ban;
  i.on = on;
  i.mask = std::move(m);
  return i;
}
RoomChangeItem RoomChangeItem::make_outcast(bool on, std::string address_id) {
  RoomChangeItem i;
  i.kind = Kind::outcast;
  i.on = on;
  i.text = std::move(address_id);
  return i;
}
RoomChangeItem RoomChangeItem::make_status(MemberStatus s, bool on, std::string nick) {
  RoomChangeItem i;
  i.kind = Kind::status;
  i.status = s;
  i.on = on;
  i.text = std::move(nick);
  return i;
}
RoomChangeItem RoomChangeItem::make_member(const Member& before, const Member& after) {
  RoomChangeItem i;
  i.kind = Kind::member;
  i.nick = after.nick;
  i.before_role = before.role;
  i.after_role = after.role;
  i.before_affiliation = before.affiliation;
  i.after_affiliation = after.affiliation;
  i.before_voice = before.voice;
  i.after_voice = after.voice;
  return i;
}

}  // namespace parley::core
