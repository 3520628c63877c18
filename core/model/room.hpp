#pragma once
// A room has IRC channel semantics: created by the first join, destroyed by the last leave
// unless persistent. Members come from any protocol.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/model/address.hpp"
#include "core/model/message.hpp"
#include "core/model/room_change.hpp"
#include "core/model/time.hpp"

namespace parley::core {

using SessionId = std::uint64_t;

// XEP-0045 §5: role is per visit, affiliation is long-lived. IRC prefixes map onto pairs
// of them (Biboumi's table in DESIGN.md): ~ owner/moderator, & admin/moderator,
// @ admin/moderator, % member/moderator, + member/participant.
enum class Role : std::uint8_t { none, visitor, participant, moderator };
enum class Affiliation : std::uint8_t { outcast, none, member, admin, owner };
std::string_view to_string(Role r);
std::string_view to_string(Affiliation a);

struct Member {
  SessionId session = 0;
  Address user;  // bare user address
  std::string nick;
  Role role = Role::participant;
  Affiliation affiliation = Affiliation::none;
  // Voice, kept apart from role/affiliation so that a moderator can also hold voice and
  // keep it when its moderator status is revoked (IRC shows both with multi-prefix).
  bool voice = false;

  friend bool operator==(const Member&, const Member&) = default;
};

// The room's settings (RoomFlag and the key and limit of RoomChange).
struct RoomModes {
  bool invite_only = false;
  bool moderated = false;
  bool no_external = true;
  bool secret = false;
  bool topic_protected = true;  // RoomFlag::topic_locked
  std::string key;              // empty for none
  std::uint32_t limit = 0;      // 0 for none

  friend bool operator==(const RoomModes&, const RoomModes&) = default;
};

struct Topic {
  std::string text;
  std::string set_by;  // nick
  Timestamp set_at{};

  friend bool operator==(const Topic&, const Topic&) = default;
};

struct Room {
  std::string name;  // local room id ("dev")
  std::map<SessionId, Member> members;
  Topic topic;
  RoomModes modes;
  bool persistent = false;
  std::vector<BanMask> bans;             // ban patterns (BanMask)
  std::vector<Address> invited;          // invitations waiting to be used (invite-only)
  std::map<Address, Affiliation> affiliations;  // long-lived, by bare user address
  std::deque<MessagePtr> history;        // bounded by RoomService's history limit
  Timestamp created{};

  const Member* find_nick(std::string_view nick) const;
  Member* find_nick(std::string_view nick) {
    return const_cast<Member*>(static_cast<const Room&>(*this).find_nick(nick));
  }
};

}  // namespace parley::core
