#include "core/model/room.hpp"

#include "core/model/ascii.hpp"

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
  for (const auto& [id, m] : members)
    if (ascii_equal_fold(m.nick, nick)) return &m;
  return nullptr;
}

}  // namespace parley::core
