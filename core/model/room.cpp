#include "core/model/room.hpp"

namespace parley::core {

std::string_view to_string(Role r) {
  switch (r) {
    case Role::none: return "none";
    case Role::visitor: return "visitor";
    case Role::participant: return "participant";
    case Role::moderator: return "moderator";
  }
  return "none";
}

std::string_view to_string(Affiliation a) {
  switch (a) {
    case Affiliation::outcast: return "outcast";
    case Affiliation::none: return "none";
    case Affiliation::member: return "member";
    case Affiliation::admin: return "admin";
    case Affiliation::owner: return "owner";
  }
  return "none";
}

// Nicks compare case-insensitively in ASCII (ISUPPORT CASEMAPPING=ascii).
const Member* Room::find_nick(std::string_view nick) const {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (const auto& [id, m] : members) {
    if (m.nick.size() != nick.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < nick.size() && same; ++i) same = lower(m.nick[i]) == lower(nick[i]);
    if (same) return &m;
  }
  return nullptr;
}

}  // namespace parley::core
