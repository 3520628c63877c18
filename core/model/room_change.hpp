#pragma once
// A change to a room, in neutral terms: every protocol builds one from its own vocabulary
// (IRC mode letters in adapters/irc/modes.hpp, XEP-0045 forms and admin items in
// adapters/xmpp) and every adapter renders the same applied change back
// (SessionSink::on_room_change).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::core {

enum class Role : std::uint8_t;
enum class Affiliation : std::uint8_t;
struct Member;

// A room's ban pattern: who is kept out, by nick, by user id (the bare address's local
// part or id) and by host. Each field is a pattern where '*' matches any run of characters
// and '?' one character, compared case-insensitively in ASCII; a visitor is banned when all
// three fields match. "*" in a field matches anything.
struct BanMask {
  std::string nick = "*";
  std::string user = "*";
  std::string host = "*";

  friend bool operator==(const BanMask&, const BanMask&) = default;
};

// The room's ban-pattern semantics (see BanMask).
bool pattern_match(std::string_view pattern, std::string_view text);
bool ban_matches(const BanMask& mask, std::string_view nick, std::string_view user, std::string_view host);
// The store keeps a mask as one string "nick!user@host"; a string without '!' or '@' is a
// nick pattern (older rooms).
std::string to_storage(const BanMask& m);
BanMask ban_from_storage(std::string_view s);

enum class RoomFlag : std::uint8_t {
  invite_only,   // only invited users or members may join
  moderated,     // visitors (no voice) cannot speak
  no_external,   // only members may send to the room
  secret,        // hidden from room lists
  topic_locked,  // only moderators may change the topic
};
std::string_view to_string(RoomFlag f);

// A member's standing a change may grant or revoke. operator_status: the admin affiliation
// for the visit and the moderator role; moderator: the moderator role (member affiliation);
// voice: may speak in a moderated room.
enum class MemberStatus : std::uint8_t { operator_status, moderator, voice };

struct RoomChangeItem {
  enum class Kind : std::uint8_t {
    flag,     // flag on/off
    key,      // on: set `text` as the key; off: clear it
    limit,    // on: at most `limit` members; off: no limit
    ban,      // on: add `mask`; off: remove it
    status,   // request only: grant (on) or revoke `status` for the member named `text`
    member,   // result only: a member's role/affiliation/voice went from `before` to `after`
    outcast,  // result only: the user whose address id is `text` was made (on) or is no
              // longer (off) an outcast of the room (XEP-0045 §9.1 ban by address)
  };
  Kind kind = Kind::flag;
  bool on = true;
  RoomFlag flag = RoomFlag::moderated;
  MemberStatus status = MemberStatus::voice;
  std::string text;  // key, or the member's nick for status
  std::uint32_t limit = 0;
  BanMask mask;
  // For Kind::member (pointers would dangle once the change is stored or copied).
  std::string nick;
  Role before_role{}, after_role{};
  Affiliation before_affiliation{}, after_affiliation{};
  bool before_voice = false, after_voice = false;

  static RoomChangeItem make_flag(RoomFlag f, bool on);
  static RoomChangeItem make_key(bool on, std::string key = {});
  static RoomChangeItem make_limit(bool on, std::uint32_t n = 0);
  static RoomChangeItem make_ban(bool on, BanMask m);
  static RoomChangeItem make_status(MemberStatus s, bool on, std::string nick);
  static RoomChangeItem make_member(const Member& before, const Member& after);
  static RoomChangeItem make_outcast(bool on, std::string address_id);
};

// A list of items applied in order. As asked (RoomService::change) it holds flag, key,
// limit, ban and status items; as applied (on_room_change) it holds what took effect, with
// status requests replaced by the member items they caused, in the order they happened.
struct RoomChange {
  std::vector<RoomChangeItem> items;
  bool empty() const { return items.empty(); }
};

}  // namespace parley::core
